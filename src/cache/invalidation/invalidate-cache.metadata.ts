import { Reflector } from '@nestjs/core';
import type { CacheRequest } from '../http/cache-key.js';

/** Computes invalidation targets of a route from the handler's result and the request. */
export type InvalidationTargets = (result: unknown, request: CacheRequest) => readonly string[];

/** A key prefix to invalidate: `'namespace:segment:…'`, or `[namespace, ...segments]`. */
export type InvalidationKey = string | readonly [string, ...Array<string | number>];

/**
 * What `@InvalidateCache()` invalidates once the method has succeeded. `A` is what target functions receive
 * after the result: the request on a route, the method's arguments on a provider method.
 */
export interface InvalidateCacheOptions<A extends unknown[] = [request: CacheRequest]> {
  /** Whole namespaces. */
  namespaces?: readonly string[];
  /**
   * Tags (see `@Cached({ tags })`), fixed or computed: `(result, request)` on a route, `(result, ...args)` on
   * a provider method.
   */
  tags?: readonly string[] | ((result: unknown, ...context: A) => readonly string[]);
  /**
   * Key prefixes written `namespace:segment:…` (each segment is encoded as the key builders encode it):
   * `'users:list'` is every page of the users list, `` `apikey:${userId}` `` one user's keys; or as an array
   * `[namespace, ...segments]`, whose segments may hold `:` (`['pages', url]` reaches the key `url`). Fixed or
   * computed like `tags`.
   */
  keys?: readonly InvalidationKey[] | ((result: unknown, ...context: A) => readonly InvalidationKey[]);
  /**
   * Invalidate before the method runs (and whether or not it then succeeds) instead of after it succeeded.
   * @default false
   */
  beforeInvocation?: boolean;
}

/** Metadata written by `@InvalidateCache()`. */
export const INVALIDATE_CACHE_METADATA = Reflector.createDecorator<InvalidateCacheOptions<unknown[]>>();
