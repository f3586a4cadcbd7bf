import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CacheDefinitionError } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { bindClass, bindInstance, setLive } from './method-binding.js';
import { definitionsOf } from './method-definition.js';
import { MethodCacheInvoker } from './method-invoker.js';

/**
 * Connects the application's decorated provider methods to its cache at bootstrap: each singleton instance is
 * bound to this application (so two applications in one process never share a cache), and the classes of
 * request-scoped and transient providers are registered, after checking that their cached methods declare a
 * `key` (an arguments-only key there would share one user's result with every other).
 */
@Injectable()
export class MethodCacheExplorer implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly invoker: MethodCacheInvoker,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {
    if (options.enabled) setLive(invoker, true);
  }

  onModuleInit(): void {
    const bound = this.options.enabled ? this.invoker : false;
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const type: unknown = wrapper.metatype;
      const scoped = wrapper.isTransient || !wrapper.isDependencyTreeStatic();
      if (scoped) {
        if (typeof type !== 'function' || wrapper.inject != null) continue;
        const definitions = definitionsOf(type);
        if (definitions.length === 0) continue;
        for (const definition of definitions) {
          if (definition.kind !== 'invalidate' && definition.options.key === undefined) {
            const decorator = definition.kind === 'put' ? '@CachePut()' : '@Cacheable()';
            throw new CacheDefinitionError(
              `${decorator} on ${type.name}.${definition.methodName}: ${type.name} is request-scoped or transient (or depends on such a provider), so its cached methods must declare a key that tells callers apart`,
            );
          }
        }
        if (bound !== false) bindClass(type, bound);
        continue;
      }
      const instance: unknown = wrapper.instance;
      if (instance === null || typeof instance !== 'object') continue;
      if (definitionsOf(instance.constructor).length > 0) bindInstance(instance, bound);
    }
  }

  onApplicationShutdown(): void {
    setLive(this.invoker, false);
  }
}
