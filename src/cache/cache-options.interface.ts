import type { KeyBuilder, UserIdResolver } from './http/cache-key.js';

/** Connection settings of the Redis backend. */
export interface RedisCacheOptions {
  /**
   * Whether responses are stored in Redis. When false, or while Redis is unreachable, the memory store is used.
   * @default false
   */
  enabled?: boolean;
  /**
   * A full connection URL (`redis://[:password@]host:port[/db]`). Wins over `host`/`port`/`password`/`db`.
   * @example 'redis://cache.internal:6379/2'
   */
  url?: string;
  /**
   * `host:port` of some nodes of a Redis Cluster: selects cluster mode (the other nodes are discovered). The
   * password, user and `rediss:` scheme of `url` (or `password`) apply to every node.
   * @example ['10.0.0.1:7000', '10.0.0.2:7000']
   */
  clusterNodes?: string[];
  /** @default 'localhost' */
  host?: string;
  /** @default 6379 */
  port?: number;
  /** Never logged. Special characters are URL-encoded for you. @default undefined (no AUTH) */
  password?: string;
  /** Logical database number. @default 0 */
  db?: number;
  /**
   * Upper bound, in milliseconds, of every Redis operation issued on the request path. A slower operation is
   * abandoned and the request is served as if the cache had missed.
   * @default 150
   */
  operationTimeout?: number;
  /** Milliseconds to wait for a TCP connection before the attempt counts as failed. @default 2000 */
  connectTimeout?: number;
  /**
   * Longest an invalidation call waits for Redis, in milliseconds. A slower one goes on in the background,
   * and until it completes reads are served from memory, so nothing it removes can be read from Redis.
   * @default 1000
   */
  invalidationTimeout?: number;
  /**
   * Seconds an entry written to memory while Redis is away may live (it is local to this process, so it is
   * kept short).
   * @default 10
   */
  fallbackTtl?: number;
}

/** Bounds of the in-process memory store (also the fallback while Redis is unreachable). */
export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used entry is evicted first. @default 10000 */
  maxEntries?: number;
  /** Most bytes of stored bodies kept (UTF-16 length × 2, approximately). @default 67108864 (64 MiB) */
  maxBytes?: number;
}

/** Options of {@link CacheModule}. Every field is optional; defaults are listed per field. */
export interface CacheModuleOptions {
  /**
   * Master switch. When false, `@Cached()` routes run their handler every time with no cache headers, no store
   * is created, no Redis connection is attempted and invalidation calls do nothing.
   * @default false
   */
  enabled?: boolean;
  /** Time to live of an entry, in seconds, for routes that do not set `expire`. @default 300 */
  defaultTtl?: number;
  /**
   * Seconds a client (a browser, any private cache) may reuse a cached route's response without revalidating,
   * for routes that do not set `clientMaxAge`; capped at the entry's remaining lifetime. `0` sends `no-cache`:
   * clients revalidate with the `ETag` every time (a `304`, no handler run) and see an invalidation at once.
   * @default 0
   */
  clientMaxAge?: number;
  /**
   * Response bodies of at least this many bytes with a compressible type (JSON, text, XML, JavaScript) are
   * stored gzip-compressed, in memory and in Redis. Requests that accept gzip get the stored bytes as they are
   * (`Content-Encoding: gzip`, an `ETag` of their own, never compressed again by `compression` or
   * `@fastify/compress`); others get the decompressed body. `false` stores every body as it was sent.
   * @default 4096
   */
  compressAbove?: number | false;
  /** Prefix of every key this module writes; `invalidateAll()` removes only keys under it. @default 'cache' */
  keyPrefix?: string;
  /** Name of the response header that says `HIT` or `MISS`. @default 'X-Cache' */
  statusHeader?: string;
  /** Redis backend. @default { enabled: false } */
  redis?: RedisCacheOptions;
  /** Memory store bounds. */
  memory?: MemoryCacheOptions;
  /**
   * Request headers that carry credentials. User-scoped responses name them in `Vary`, and a response to a
   * request that carries one is marked `private`.
   * @default ['Authorization', 'X-API-Key']
   */
  authHeaders?: string[];
  /**
   * How to find the authenticated user's id for user-scoped keys.
   * @default request.user.id (the Passport convention)
   */
  userId?: UserIdResolver;
  /** Key builder for routes that do not set one. @default the method, route, params and normalised query */
  keyBuilder?: KeyBuilder;
  /** Stampede protection (see `@Cached({ coalesce, lock, grace, refreshAhead })`). */
  stampede?: StampedeOptions;
  /**
   * An in-process tier (L1) in front of Redis: a hit from it costs no round trip. Instances keep their copies
   * coherent through Redis pub/sub. Ignored without Redis.
   */
  l1?: L1CacheOptions;
  /**
   * `prometheus` serves the counters of `CacheStatsService` on `GET /metrics` (needs the `prom-client`
   * package).
   * @default undefined (no endpoint)
   */
  metrics?: 'prometheus';
}

/** The in-process tier in front of Redis. */
export interface L1CacheOptions {
  /** @default false */
  enabled?: boolean;
  /** @default 1000 */
  maxEntries?: number;
  /** @default 16777216 (16 MiB) */
  maxBytes?: number;
}

/** Bounds of stampede protection. */
export interface StampedeOptions {
  /**
   * Longest followers wait for a coalesced leader, in milliseconds; then they run the handler themselves and
   * later requests start a new flight.
   * @default 5000
   */
  coalesceTimeout?: number;
  /** Lifetime of a distributed lock, in milliseconds: a crashed holder blocks others no longer. @default 5000 */
  lockTtl?: number;
}

/** Options with every default applied; what the rest of the module reads. */
export interface ResolvedCacheOptions {
  enabled: boolean;
  defaultTtl: number;
  clientMaxAge: number;
  /** Smallest body stored compressed, in bytes; `undefined` when compression is off. */
  compressAbove: number | undefined;
  keyPrefix: string;
  statusHeader: string;
  redis: {
    enabled: boolean;
    url: string;
    /** The URL with the password masked, safe to log. */
    safeUrl: string;
    hasPassword: boolean;
    operationTimeout: number;
    connectTimeout: number;
    invalidationTimeout: number;
    fallbackTtl: number;
    clusterNodes: string[] | undefined;
  };
  memory: Required<MemoryCacheOptions>;
  authHeaders: string[];
  userId: UserIdResolver;
  keyBuilder: KeyBuilder | undefined;
  stampede: Required<StampedeOptions>;
  l1: Required<L1CacheOptions>;
  metrics: 'prometheus' | undefined;
}
