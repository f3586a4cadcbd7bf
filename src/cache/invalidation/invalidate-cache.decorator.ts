import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { InvalidateCacheInterceptor } from './invalidate-cache.interceptor.js';
import { INVALIDATE_CACHE_METADATA, type InvalidateCacheOptions } from './invalidate-cache.metadata.js';

/**
 * Invalidates after the handler succeeds and before the response is sent (a handler that throws invalidates
 * nothing). Reads better than an explicit `InvalidationService` call when the targets follow from the route.
 *
 * @example
 * ```ts
 * @Post('register')
 * @InvalidateCache({ keys: ['users:list'] })
 * register(@Body() dto: RegisterDto) { ... }
 * ```
 */
export function InvalidateCache(options: InvalidateCacheOptions): MethodDecorator & ClassDecorator {
  return applyDecorators(INVALIDATE_CACHE_METADATA(options), UseInterceptors(InvalidateCacheInterceptor));
}
