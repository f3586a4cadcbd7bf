import { applyDecorators, UseInterceptors } from '@nestjs/common';
import type { CacheRequest } from '../http/cache-key.js';
import { wrapMethod } from '../methods/method-wrapper.js';
import { InvalidateCacheInterceptor } from './invalidate-cache.interceptor.js';
import { INVALIDATE_CACHE_METADATA, type InvalidateCacheOptions } from './invalidate-cache.metadata.js';

/**
 * Invalidates after the method succeeds (a method that throws invalidates nothing), or before it runs with
 * `beforeInvocation`. On a route, before the response is sent; target functions get `(result, request)`. On a
 * provider method (a service, a resolver, a cron job), once the returned promise or Observable has settled;
 * target functions get `(result, ...args)`. Reads better than an explicit `InvalidationService` call when the
 * targets follow from the call.
 *
 * @example
 * ```ts
 * @Post('register')
 * @InvalidateCache({ keys: ['users:list'] })
 * register(@Body() dto: RegisterDto) { ... }
 *
 * @InvalidateCache({ keys: (_user, id: number) => [`users:${id}`] })
 * async rename(id: number, name: string): Promise<User> { ... }
 * ```
 */
export function InvalidateCache<A extends unknown[] = [request: CacheRequest]>(
  options: InvalidateCacheOptions<A>,
): MethodDecorator & ClassDecorator {
  const general = options as InvalidateCacheOptions<unknown[]>;
  const forRoutes = applyDecorators(
    INVALIDATE_CACHE_METADATA(general),
    UseInterceptors(InvalidateCacheInterceptor),
  );
  return ((target: object, name?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined && name !== undefined) {
      wrapMethod(target, name, descriptor, { kind: 'invalidate', options: general }, '@InvalidateCache()');
      forRoutes(target, name, descriptor as TypedPropertyDescriptor<unknown>);
      return descriptor;
    }
    forRoutes(target as (...args: unknown[]) => unknown);
    return undefined;
  }) as MethodDecorator & ClassDecorator;
}
