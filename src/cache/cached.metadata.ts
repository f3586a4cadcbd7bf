import { Reflector } from '@nestjs/core';
import type { KeyBuilder } from './cache-key.js';

/** Options of {@link Cached}. */
export interface CachedOptions {
  /**
   * Groups the route's entries for `invalidateNamespace()`. 1-64 characters of `A-Z a-z 0-9 _ . -`.
   * @default 'default'
   */
  namespace?: string;
  /** Time to live in seconds. @default the module's `defaultTtl` (`CACHE_DEFAULT_TTL`, 300) */
  expire?: number;
  /**
   * Builds the key from the request; may be async. Return `undefined` to serve a request uncached.
   * @default the module's `keyBuilder`, else the method, route, path params and normalised query
   * @example userScopedKeyBuilder
   */
  keyBuilder?: KeyBuilder;
}

/** Metadata written by `@Cached()` and read by the interceptor (method wins over class). */
export const CACHED_METADATA = Reflector.createDecorator<CachedOptions>();
