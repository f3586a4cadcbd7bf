/** A key given to `CacheService`: a string or number is one segment; an array is one segment per element. */
export type CacheKeyInput = string | number | readonly (string | number)[];

/** A class whose instances a cached value is given back as (its constructor is not run). */
export type ValueType = abstract new (...args: never[]) => object;

/** Options of one cached value, shared by `CacheService` calls and the method decorators. */
export interface CacheCallOptions<R = unknown> {
  /**
   * Groups entries for `invalidateNamespace()` and `invalidateScope()`: any non-empty string of at most 128
   * bytes, taken literally (as for `@Cached`).
   * @default 'default' (`CacheService`), `Class.method` of the runtime class (`@Cacheable`, `@CachePut`)
   */
  namespace?: string;
  /** Time to live in seconds. @default the module's `defaultTtl` (`CACHE_DEFAULT_TTL`, 300) */
  expire?: number;
  /**
   * Tags of the entry, fixed or computed from the result: `invalidateTags()` of any of them makes it a miss.
   * @example (user: User) => [`user:${user.id}`]
   */
  tags?: readonly string[] | ((result: R) => readonly string[]);
  /**
   * Seconds after expiry during which the stale value is still returned while one caller recomputes it, and
   * instead of the error when that recomputation throws (the error is logged).
   * @default 0
   */
  grace?: number;
  /** Recompute before expiry, probabilistically (XFetch); `true` is beta 1. @default false */
  refreshAhead?: boolean | number;
  /** Concurrent misses of one key in this process compute once. @default true */
  coalesce?: boolean;
  /** Also across processes sharing Redis, with a lock. @default false */
  lock?: boolean;
  /**
   * The class a cached object (or each object of a cached array) comes back as. Without it, class instances
   * come back from the cache as plain data.
   */
  type?: ValueType;
}

/** Options of `CacheService.get()`, `set()` and `delete()`: where the entry lives. */
export interface CacheEntryOptions {
  /** @default 'default' */
  namespace?: string;
  /** The class a cached object comes back as (`get()` only). */
  type?: ValueType;
}

/** Options of `CacheService.set()`. */
export interface CacheSetOptions<R = unknown> extends CacheEntryOptions {
  /** Time to live in seconds. @default the module's `defaultTtl` */
  expire?: number;
  /** Tags of the entry, fixed or computed from the value. */
  tags?: readonly string[] | ((value: R) => readonly string[]);
  /** Seconds after expiry during which the value may still be served stale. @default 0 */
  grace?: number;
}
