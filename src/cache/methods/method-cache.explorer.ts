import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CacheDefinitionError } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import {
  bindClass,
  bindInstance,
  claimClassWhileDisabled,
  DisabledApp,
  setLive,
  setLiveDisabled,
  wrappersNeeded,
} from './method-binding.js';
import { definitionsOf } from './method-definition.js';
import { MethodCacheInvoker } from './method-invoker.js';
import { installWrappers } from './method-wrapper.js';

/**
 * Connects the application's decorated provider methods to its cache at bootstrap: each singleton instance is
 * bound to this application (so two applications in one process never share a cache), and the classes of
 * request-scoped and transient providers are registered, after checking that their cached methods declare a
 * `key` (an arguments-only key there would share one user's result with every other).
 */
@Injectable()
export class MethodCacheExplorer implements OnModuleInit, OnApplicationShutdown {
  /** Classes registered for per-request instances (forgotten at shutdown). */
  private readonly classes: object[] = [];
  /** Default namespaces seen, and the class that owns each. */
  private readonly labels = new Map<string, unknown>();
  private stopped = false;
  /** This application, where an instance records it when its caching is disabled. */
  private readonly disabledApp = new DisabledApp();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly invoker: MethodCacheInvoker,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {
    // In the constructor, before the router or any explorer takes a method (they run after providers are made).
    if (options.enabled) setLive(invoker, true);
    else setLiveDisabled(this.disabledApp, true);
    installWrappers(wrappersNeeded());
  }

  onModuleInit(): void {
    try {
      this.bindAll();
    } catch (error) {
      // A failed bootstrap leaves nothing registered behind (an application that never starts is never closed).
      this.onApplicationShutdown();
      throw error;
    }
  }

  onApplicationShutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.options.enabled) setLive(this.invoker, false, this.classes);
    else {
      for (const type of this.classes) claimClassWhileDisabled(type, false);
      setLiveDisabled(this.disabledApp, false);
    }
    this.classes.length = 0;
    installWrappers(wrappersNeeded());
  }

  private bindAll(): void {
    const bound = this.options.enabled ? this.invoker : this.disabledApp;
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const type: unknown = wrapper.metatype;
      const scoped = wrapper.isTransient || !wrapper.isDependencyTreeStatic();
      if (scoped) {
        // A factory's instances cannot be bound or checked: they are never found, so they run uncached.
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
        this.checkNames(type);
        if (!(bound instanceof DisabledApp)) bindClass(type, bound);
        else claimClassWhileDisabled(type, true);
        this.classes.push(type);
        continue;
      }
      const instance: unknown = wrapper.instance;
      if (instance === null || typeof instance !== 'object') continue;
      if (definitionsOf(instance.constructor).length === 0) continue;
      this.checkNames(instance.constructor);
      bindInstance(instance, bound);
    }
  }

  /**
   * Default namespaces are `Class.method`: two different classes of one name (made by a factory function, or
   * anonymous) would share entries, so that fails bootstrap unless they declare a namespace.
   */
  private checkNames(type: unknown): void {
    if (typeof type !== 'function') return;
    for (const definition of definitionsOf(type)) {
      if (definition.kind === 'invalidate' || definition.options.namespace !== undefined) continue;
      const label = `${type.name || '(anonymous class)'}.${definition.methodName}`;
      const known = this.labels.get(label);
      if (known === undefined) this.labels.set(label, type);
      else if (known !== type) {
        throw new CacheDefinitionError(
          `@Cacheable() on ${label}: another class of the same name caches the same method, and they would share entries; declare a namespace on one of them`,
        );
      }
    }
  }
}
