import { CacheDefinitionError } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import type { EntryPolicy } from '../engine/cache-engine.js';
import type { EntryKey } from '../engine/entry-key.js';
import { entryPolicy, validateEntryOptions } from '../entry-options.js';
import type { CacheStatsService, MethodCounters } from '../observability/cache-stats.service.js';
import type { CacheableOptions } from './cacheable.options.js';

/** How a method returns: learned from its declaration, or from its first call. */
export type MethodKind = 'unknown' | 'sync' | 'async' | 'observable' | 'stream';

/** Everything about a decorated method on one runtime class that does not change between calls. */
export interface MethodPlan {
  /** The entries' namespace: the option, else `Class.method` of the runtime class. */
  readonly namespace: string;
  /** `Class.method` of the runtime class: names the method in logs, stats and metrics. */
  readonly label: string;
  readonly policy: EntryPolicy & { readonly counters: MethodCounters };
  /** Fixed tags (stored with each entry). */
  readonly fixedTags: readonly string[];
  kind: MethodKind;
  /** This is the nearest cached declaration of the method on the runtime class (not one `super` reaches). */
  readonly outermost: boolean;
  /** Entry keys already built, by key below the namespace (bounded: forgotten all at once). */
  readonly keys: Map<string, EntryKey>;
}

function nameOf(owner: unknown): string {
  return typeof owner === 'function' && owner.name !== '' ? owner.name : '(anonymous class)';
}

/** Throws a {@link CacheDefinitionError} naming the method when a `@Cacheable`/`@CachePut` option is invalid. */
export function checkCacheableOptions(
  options: CacheableOptions,
  target: object,
  name: string | symbol,
  decorator: string,
): void {
  const where = `${decorator} on ${nameOf(target.constructor)}.${String(name)}`;
  validateEntryOptions(options, where);
  for (const field of ['key', 'condition', 'unless'] as const) {
    const value: unknown = options[field];
    if (value !== undefined && typeof value !== 'function') {
      throw new CacheDefinitionError(`${where}: ${field} must be a function, got ${typeof value}`);
    }
  }
  const tags: unknown = options.tags;
  if (tags !== undefined && typeof tags !== 'function' && !Array.isArray(tags)) {
    throw new CacheDefinitionError(`${where}: tags must be an array of strings or a function`);
  }
}

/** What a method's declaration says it returns (`design:returntype`, async functions, generators). */
export function declaredKind(prototype: object, methodName: string, original: unknown): MethodKind {
  const kindOfFunction = typeof original === 'function' ? original.constructor.name : '';
  if (kindOfFunction === 'AsyncFunction') return 'async';
  if (kindOfFunction === 'AsyncGeneratorFunction' || kindOfFunction === 'GeneratorFunction') return 'stream';
  const declared: unknown = Reflect.getMetadata('design:returntype', prototype, methodName);
  if (declared === Promise) return 'async';
  if (typeof declared === 'function' && declared.name === 'Observable') return 'observable';
  return 'unknown';
}

/** The plan of a decorated method as called on an instance of `runtimeClass`. */
export function compileMethodPlan(
  outermost: boolean,
  options: CacheableOptions,
  declaringClass: object,
  methodName: string,
  original: unknown,
  runtimeClass: unknown,
  resolved: ResolvedCacheOptions,
  stats: CacheStatsService,
): MethodPlan {
  const label = `${nameOf(runtimeClass)}.${methodName}`;
  const tags = options.tags;
  const prototype = (declaringClass as { prototype?: object }).prototype ?? {};
  return {
    namespace: options.namespace ?? label,
    label,
    policy: entryPolicy(options, resolved.defaultTtl, stats.method(label)),
    fixedTags: tags === undefined || typeof tags === 'function' ? [] : [...new Set(tags)],
    kind: declaredKind(prototype, methodName, original),
    outermost,
    keys: new Map(),
  };
}
