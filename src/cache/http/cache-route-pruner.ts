import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { NEST_INTERCEPTORS_METADATA, RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHED_METADATA } from './cached.metadata.js';

/**
 * When caching is disabled, unbinds the interceptor that `@Cached()` attached, so decorated routes run exactly
 * like undecorated ones (Nest builds a route's interceptor chain once, when it registers the route).
 *
 * The metadata is shared by every application in the process, so it is changed only while this application
 * registers its routes: {@link unbindForRouteRegistration} runs from the module's `configure()`, which Nest
 * calls right before route registration, and `onModuleInit`, which Nest calls right after, puts the original
 * lists back. A module compiled without an HTTP application never touches them.
 */
@Injectable()
export class CacheRoutePruner implements OnModuleInit, OnApplicationShutdown {
  private readonly unbound: Array<{ target: object; interceptors: unknown[] }> = [];

  constructor(
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    private readonly discovery: DiscoveryService,
  ) {}

  unbindForRouteRegistration(): void {
    if (this.options.enabled) return;
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: unknown[]) => object) | null | undefined;
      if (typeof controller !== 'function') continue;
      this.unbind(controller);
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
        if (typeof method === 'function' && name !== 'constructor') this.unbind(method);
      }
    }
  }

  onModuleInit(): void {
    this.restore();
  }

  onApplicationShutdown(): void {
    this.restore();
  }

  private unbind(target: object): void {
    if (Reflect.getOwnMetadata(CACHED_METADATA.KEY, target) === undefined) return;
    const interceptors = Reflect.getOwnMetadata(NEST_INTERCEPTORS_METADATA, target) as unknown[] | undefined;
    if (interceptors === undefined || !interceptors.includes(CacheInterceptor)) return;
    this.unbound.push({ target, interceptors });
    Reflect.defineMetadata(
      NEST_INTERCEPTORS_METADATA,
      interceptors.filter((interceptor) => interceptor !== CacheInterceptor),
      target,
    );
  }

  private restore(): void {
    for (const { target, interceptors } of this.unbound.splice(0)) {
      Reflect.defineMetadata(NEST_INTERCEPTORS_METADATA, interceptors, target);
    }
  }
}
