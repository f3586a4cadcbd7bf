import { Reflector } from '@nestjs/core';
import type { CacheRequest, KeyBuilder } from './cache-key.js';

/** Tags of a cached response, from the handler's result and the request. */
export type TagsOf = (result: unknown, request: CacheRequest) => readonly string[];

/** Options of {@link Cached}. */
export interface CachedOptions {
  /**
   * Groups the route's entries for `invalidateNamespace()`. Any non-empty string of at most 128 bytes (UTF-8),
   * taken literally: `'products:123'` is a namespace of its own, not a part of `'products'` (invalidate part of
   * a namespace with `invalidateScope()`), and characters such as `:`, `*`, `?` or spaces never widen an
   * invalidation. Anything else throws a `CacheDefinitionError` naming the route.
   * @default 'default'
   * @example 'products:123'
   */
  namespace?: string;
  /** Time to live in seconds. @default the module's `defaultTtl` (`CACHE_DEFAULT_TTL`, 300) */
  expire?: number;
  /**
   * Builds the key from the request; may be async. Return `undefined` to serve a request uncached.
   * @default the module's `keyBuilder`, else the method, route, path params and normalised query
   * @example userScopedKeyBuilder
   * @example paginatedKeyBuilder
   * @example paginatedKeyBuilder({ defaultSize: 20 })
   */
  keyBuilder?: KeyBuilder;
  /**
   * Seconds after expiry during which the stale entry is still served (`X-Cache: STALE`) while one request
   * refreshes it, and instead of an error when that refresh fails.
   * @default 0
   */
  grace?: number;
  /**
   * Recompute before expiry, probabilistically (XFetch): the closer to expiry and the slower the handler, the
   * likelier one request refreshes early while the others still hit. `true` is beta 1; larger is earlier.
   * @default false
   */
  refreshAhead?: boolean | number;
  /**
   * Concurrent misses of one key in this process run the handler once; the others receive its response.
   * @default true
   */
  coalesce?: boolean;
  /**
   * Also coalesce across processes sharing Redis, with a lock (`SET NX PX` with a token): one instance runs
   * the handler, the others wait for its entry (up to the module's `stampede.lockTtl`).
   * @default false
   */
  lock?: boolean;
  /**
   * Tags of the response (fixed, or computed from the handler's result): `invalidateTags()` of any of them
   * makes it a miss. One call reaches every page that shows an entity.
   * @example (users: User[]) => users.map((u) => `user:${u.id}`)
   */
  tags?: readonly string[] | TagsOf;
  /**
   * Seconds a client (a browser, any private cache) may reuse a response without asking, capped at the entry's
   * remaining lifetime. `0` sends `no-cache`: clients keep the response but revalidate it with its `ETag` every
   * time (a `304` with no body and no handler run), so an invalidation is visible to them at once. A lifetime
   * saves those round trips but lets a client show a response up to that many seconds after a write changed it.
   * @default the module's `clientMaxAge` (`CACHE_CLIENT_MAX_AGE`, 0)
   */
  clientMaxAge?: number;
  /**
   * Declares that the route answers the same response to every caller: responses say `Cache-Control: public`
   * (shared caches and CDNs may store them), also to requests that carry credentials, and name no credential
   * header in `Vary`. Never combined with a user-scoped key builder (a `CacheDefinitionError`).
   * @default false
   */
  public?: boolean;
  /**
   * With `public: true` only: seconds shared caches (CDNs, reverse proxies) may serve a response without
   * revalidating (`s-maxage`), capped at the entry's remaining lifetime. Like `clientMaxAge`, a write becomes
   * visible through such a cache only once that lifetime ends.
   * @default 0 (shared caches revalidate like clients)
   */
  sharedMaxAge?: number;
}

/** Metadata written by `@Cached()` and read by the interceptor (method wins over class). */
export const CACHED_METADATA = Reflector.createDecorator<CachedOptions>();
