import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { CacheDefinitionError } from '../cache.errors.js';
import { isValidKeyName } from './cache-key.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHED_METADATA, type CachedOptions } from './cached.metadata.js';

function validate(options: CachedOptions): void {
  if (options.namespace !== undefined && !isValidKeyName(options.namespace)) {
    throw new CacheDefinitionError(
      `@Cached(): namespace must be 1-64 characters of A-Z a-z 0-9 _ . -, got "${options.namespace}"`,
    );
  }
  if (options.expire !== undefined && (!Number.isSafeInteger(options.expire) || options.expire < 1)) {
    throw new CacheDefinitionError(
      `@Cached(): expire must be a positive integer (seconds), got ${String(options.expire)}`,
    );
  }
  if (options.grace !== undefined && (!Number.isSafeInteger(options.grace) || options.grace < 0)) {
    throw new CacheDefinitionError(
      `@Cached(): grace must be a non-negative integer (seconds), got ${String(options.grace)}`,
    );
  }
  const refresh = options.refreshAhead;
  if (typeof refresh === 'number' && !(refresh > 0 && Number.isFinite(refresh))) {
    throw new CacheDefinitionError(
      `@Cached(): refreshAhead must be true, false or a positive number, got ${refresh}`,
    );
  }
}

/**
 * Caches the responses of a GET route (or of every route of a controller). On its own it is enough: it binds
 * the cache interceptor. Does nothing (and costs nothing) when caching is disabled.
 *
 * @example
 * ```ts
 * @Get('me')
 * @Cached({ namespace: 'user', expire: 60, keyBuilder: userScopedKeyBuilder })
 * me(@Req() req) { ... }
 * ```
 */
export function Cached(options: CachedOptions = {}): MethodDecorator & ClassDecorator {
  validate(options);
  return applyDecorators(CACHED_METADATA(options), UseInterceptors(CacheInterceptor));
}
