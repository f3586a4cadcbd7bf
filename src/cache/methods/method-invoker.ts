import { Inject, Injectable } from '@nestjs/common';
import { isObservable } from 'rxjs';
import { CacheDefinitionError } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheBackend } from '../engine/cache-backend.js';
import type { EntryKey } from '../engine/entry-key.js';
import { InvalidationService } from '../invalidation/invalidation.service.js';
import { CacheStatsService } from '../observability/cache-stats.service.js';
import { argumentsKey } from './argument-key.js';
import type { CacheableOptions } from './cacheable.options.js';
import { builtKey, keyOfInput } from './call-key.js';
import type { MethodInvoker } from './method-binding.js';
import { definitionsOf, type MethodDefinition } from './method-definition.js';
import { invalidatingCall } from './method-invalidation.js';
import { compileMethodPlan, declaredKind, type MethodPlan } from './method-plan.js';
import { cachedObservable } from './observable-values.js';
import { SyncValues, isDeferred } from './sync-values.js';
import { READ_WRITE, ValueCache, WRITE_ONLY, type ValueCall } from './value-cache.js';
import { iterationKind } from '../values/value-encoder.js';

type Method = (...args: unknown[]) => unknown;

/** Entry keys remembered per method (then forgotten all at once): bounded memory for a cheaper hit. */
const KEY_MEMO_SIZE = 1_000;

/** Nest's controller marker: `@InvalidateCache` on a route is the interceptor's job. */
const PATH_METADATA = 'path';

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Runs decorated provider methods through the cache of this application: `@Cacheable` and `@CachePut` through
 * the engine (async and Observable methods) or this process's tier (sync methods), `@InvalidateCache` through
 * `InvalidationService`. Plans are compiled once per method and runtime class.
 */
@Injectable()
export class MethodCacheInvoker implements MethodInvoker {
  private readonly plans = new WeakMap<MethodDefinition, WeakMap<object, MethodPlan>>();
  private readonly sync: SyncValues;

  constructor(
    private readonly values: ValueCache,
    private readonly backend: CacheBackend,
    private readonly invalidation: InvalidationService,
    private readonly stats: CacheStatsService,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {
    this.sync = new SyncValues(backend, values);
  }

  invoke(definition: MethodDefinition, instance: object, original: Method, args: unknown[]): unknown {
    if (!this.options.enabled) return original.apply(instance, args);
    if (definition.kind === 'invalidate') return this.invalidating(definition, instance, original, args);
    const options = definition.options;
    const plan = this.planOf(definition, instance, original);
    const compute = () => original.apply(instance, args);
    // An overridden cached method calling `super`: only the outer layer caches (both would use one key).
    if (!plan.outermost) return compute();
    let key: { key: EntryKey; rest: string } | undefined;
    try {
      const bypass =
        plan.kind === 'stream' ||
        (options.condition !== undefined && !options.condition.apply(instance, args));
      key = bypass ? undefined : this.keyOf(plan, options, instance, args);
    } catch (error) {
      // A throwing condition, or strictKeys: an async method reports it as a rejection, as everything else.
      if (plan.kind === 'async')
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    if (key === undefined) {
      plan.policy.counters.bypasses++;
      return compute();
    }
    const call = this.callOf(plan, options, key, instance, args);
    const mode = definition.kind === 'put' ? WRITE_ONLY : READ_WRITE;
    switch (plan.kind) {
      case 'async':
        return this.values.getOrSet(call, compute, mode);
      case 'observable':
        return cachedObservable(this.values, call, compute, mode);
      default: {
        const result = this.sync.run(call, compute, mode);
        if (!isDeferred(result)) {
          // A stream or an iterator (the codec refused it): passed through, and bypassed from now on.
          if (typeof result === 'object' && result !== null && iterationKind(result) !== undefined) {
            this.learn(plan, result);
          } else plan.kind = 'sync';
          return result;
        }
        this.learn(plan, result);
        // An Observable does nothing until subscribed: this first one is cached like the ones after it.
        return isObservable(result) ? cachedObservable(this.values, call, () => result, mode) : result;
      }
    }
  }

  /** The plan of a method as called on this instance's class (two subclasses never share entries). */
  private planOf(
    definition: MethodDefinition & { kind: 'cacheable' | 'put' },
    instance: object,
    original: Method,
  ): MethodPlan {
    let byClass = this.plans.get(definition);
    if (byClass === undefined) this.plans.set(definition, (byClass = new WeakMap()));
    const runtimeClass = instance.constructor as object;
    let plan = byClass.get(runtimeClass);
    if (plan === undefined) {
      const nearest = definitionsOf(runtimeClass).find(
        (d) => d.methodName === definition.methodName && d.kind !== 'invalidate',
      );
      plan = compileMethodPlan(
        nearest === definition,
        definition.options,
        definition.declaringClass,
        definition.methodName,
        original,
        runtimeClass,
        this.options,
        this.stats,
      );
      byClass.set(runtimeClass, plan);
      if (plan.kind === 'stream') {
        this.values.warnOnce(plan.label, `${plan.label} is a generator function; it is not cached`);
      }
    }
    return plan;
  }

  /** A method first seen returning a promise or an Observable is treated as such from then on. */
  private learn(plan: MethodPlan, result: unknown): void {
    if (result instanceof Promise) plan.kind = 'async';
    else if (isObservable(result)) plan.kind = 'observable';
    else if (isThenable(result)) {
      // A query builder (Prisma, Mongoose, knex): caching would hand back a plain Promise instead of it.
      plan.kind = 'stream';
      this.values.warnOnce(
        plan.label,
        `${plan.label} returns a thenable that is not a Promise (a query builder?); it is not cached (declare it async to cache its result)`,
      );
    } else {
      plan.kind = 'stream';
      this.values.warnOnce(
        plan.label,
        `${plan.label} returns a stream or an async iterator; it is not cached`,
      );
    }
  }

  private keyOf(
    plan: MethodPlan,
    options: CacheableOptions,
    instance: object,
    args: unknown[],
  ): { key: EntryKey; rest: string } | undefined {
    let rest: string;
    try {
      if (options.key !== undefined) {
        rest = keyOfInput(options.key.apply(instance, args), `key of ${plan.label}`);
      } else {
        const found = argumentsKey(args);
        if ('unencodable' in found) {
          const message = `${plan.label}: arguments cannot be keyed (${found.unencodable}); declare a key`;
          if (options.strictKeys === true) throw new CacheDefinitionError(message);
          this.values.warnOnce(plan.label, `${message}; such calls run uncached`);
          return undefined;
        }
        rest = found.key;
      }
    } catch (error) {
      if (error instanceof CacheDefinitionError && options.strictKeys === true) throw error;
      this.values.warnOnce(
        plan.label,
        `${plan.label}: ${error instanceof Error ? error.message : String(error)}; such calls run uncached`,
      );
      return undefined;
    }
    const known = plan.keys.get(rest);
    if (known !== undefined) return { key: known, rest };
    // Fixed tags are stored with the entry (see `ValueCall.fixedTags`); their records are also read with it.
    const key = this.backend.keys.entry(
      plan.namespace,
      builtKey(plan.namespace, rest),
      plan.fixedTags,
      'value',
    );
    if (plan.keys.size >= KEY_MEMO_SIZE) plan.keys.clear();
    plan.keys.set(rest, key);
    return { key, rest };
  }

  private callOf(
    plan: MethodPlan,
    options: CacheableOptions,
    { key, rest }: { key: EntryKey; rest: string },
    instance: object,
    args: unknown[],
  ): ValueCall {
    const { tags, unless } = options;
    return {
      key,
      namespace: plan.namespace,
      rest,
      policy: plan.policy,
      fixedTags: plan.fixedTags,
      tagsOf: typeof tags === 'function' ? (result) => tags.call(instance, result, ...args) : undefined,
      unless: unless === undefined ? undefined : (result) => unless.call(instance, result, ...args),
      type: options.type,
      label: plan.label,
    };
  }

  /** `@InvalidateCache` on a provider method (on a controller, the interceptor does it). */
  private invalidating(
    definition: MethodDefinition & { kind: 'invalidate' },
    instance: object,
    original: Method,
    args: unknown[],
  ): unknown {
    const run = () => original.apply(instance, args);
    if (Reflect.getMetadata(PATH_METADATA, instance.constructor) !== undefined) return run();
    const prototype = (definition.declaringClass as { prototype?: object }).prototype ?? {};
    return invalidatingCall(
      this.invalidation,
      `${(instance.constructor as { name?: string }).name ?? '?'}.${definition.methodName}`,
      definition.options,
      run,
      args,
      declaredKind(prototype, definition.methodName, original) === 'async',
    );
  }
}
