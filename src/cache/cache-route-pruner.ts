import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { ResolvedCacheOptions } from './cache-options.interface.js';
import { NEST_INTERCEPTORS_METADATA, RESOLVED_CACHE_OPTIONS } from './cache.constants.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHED_METADATA } from './cached.metadata.js';

/**
 * When caching is disabled, unbinds the interceptor that `@Cached()` attached, so decorated routes run exactly
 * like undecorated ones. Providers are created before Nest registers routes, which is when it reads the
 * interceptor metadata, so doing this in the constructor is in time.
 */
@Injectable()
export class CacheRoutePruner {
  constructor(@Inject(RESOLVED_CACHE_OPTIONS) options: ResolvedCacheOptions, discovery: DiscoveryService) {
    if (options.enabled) return;
    for (const wrapper of discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => object) | null | undefined;
      if (typeof controller !== 'function') continue;
      CacheRoutePruner.unbind(controller);
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
        if (typeof method === 'function' && name !== 'constructor') CacheRoutePruner.unbind(method);
      }
    }
  }

  private static unbind(target: object): void {
    if (Reflect.getMetadata(CACHED_METADATA.KEY, target) === undefined) return;
    const bound = Reflect.getMetadata(NEST_INTERCEPTORS_METADATA, target) as unknown[] | undefined;
    if (bound === undefined) return;
    const kept = bound.filter((interceptor) => interceptor !== CacheInterceptor);
    if (kept.length !== bound.length) Reflect.defineMetadata(NEST_INTERCEPTORS_METADATA, kept, target);
  }
}
