import { Reflector } from '@nestjs/core';
import type { CacheRequest } from '../http/cache-key.js';

/** Computes invalidation targets from the handler's result and the request. */
export type InvalidationTargets = (result: unknown, request: CacheRequest) => readonly string[];

/** What `@InvalidateCache()` invalidates once the handler has succeeded. */
export interface InvalidateCacheOptions {
  /** Whole namespaces. */
  namespaces?: readonly string[];
  /** Tags (see `@Cached({ tags })`). */
  tags?: readonly string[] | InvalidationTargets;
  /**
   * Key prefixes written `namespace:segment:…` (each segment is encoded as the key builders encode it):
   * `'users:list'` is every page of the users list, `` `apikey:${userId}` `` one user's keys.
   */
  keys?: readonly string[] | InvalidationTargets;
}

/** Metadata written by `@InvalidateCache()`. */
export const INVALIDATE_CACHE_METADATA = Reflector.createDecorator<InvalidateCacheOptions>();
