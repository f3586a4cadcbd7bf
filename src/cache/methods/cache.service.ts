import { Inject, Injectable } from '@nestjs/common';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheBackend } from '../engine/cache-backend.js';
import { Scopes, type EntryKey } from '../engine/entry-key.js';
import { entryPolicy, validateEntryOptions } from '../entry-options.js';
import { validateNamespace } from '../http/namespace.js';
import { CacheStatsService, type MethodCounters } from '../observability/cache-stats.service.js';
import type {
  CacheCallOptions,
  CacheEntryOptions,
  CacheKeyInput,
  CacheSetOptions,
} from './cache-call.options.js';
import { builtKey, keyOfInput } from './call-key.js';
import { definitionsOf } from './method-definition.js';
import { ValueCache, type ValueCall } from './value-cache.js';

const DEFAULT_NAMESPACE = 'default';

/** Entry keys remembered (then forgotten all at once): bounded memory for a cheaper hit. */
const KEY_MEMO_SIZE = 10_000;

/**
 * The cache as a service: any code (a resolver, a cron job, a microservice handler) can cache a value under a
 * key, on the same engine, stores and invalidation as `@Cached` routes. Keys are encoded like route keys: a
 * string or number is one segment, an array one segment per element, and no key collides with another.
 * Every call fails open: a slow or broken Redis makes it compute (or miss), never fail or hang.
 *
 * @example
 * ```ts
 * const stats = await this.cache.getOrSet(['stats', teamId], () => this.computeStats(teamId), { expire: 60 });
 * await this.cache.delete(['stats', teamId]);
 * ```
 */
@Injectable()
export class CacheService {
  /** Entry keys without fixed tags, per namespace and key (see {@link entryKey}). */
  private readonly keys = new Map<string, Map<string, EntryKey>>();
  /** Entry keys with fixed tags, per namespace, key and tags. */
  private readonly taggedKeys = new Map<string, EntryKey>();
  private remembered = 0;
  /** The counters every call adds to (one bucket: namespaces may be per tenant, and unbounded). */
  private readonly counters: MethodCounters;

  constructor(
    private readonly values: ValueCache,
    private readonly backend: CacheBackend,
    private readonly stats: CacheStatsService,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {
    this.counters = stats.method('CacheService');
  }

  /**
   * The cached value of `key`, else `compute()`'s, stored. `compute` runs at most once per key at a time in this
   * process (and across processes with `lock`); its error reaches the caller unchanged and nothing is stored
   * (with `grace`, the stale value is returned instead and the error logged). `undefined` is never stored.
   */
  async getOrSet<T>(
    key: CacheKeyInput,
    compute: () => T | Promise<T>,
    options: CacheCallOptions<T> = {},
  ): Promise<T> {
    const call = this.callOf(key, options, 'CacheService.getOrSet()');
    if (call === undefined) return compute();
    return this.values.getOrSet(call, compute);
  }

  /** The cached value of `key`, or `undefined`. */
  async get<T = unknown>(key: CacheKeyInput, options: CacheEntryOptions = {}): Promise<T | undefined> {
    const call = this.callOf(key, options, 'CacheService.get()');
    if (call === undefined) return undefined;
    const found = await this.values.get(call);
    return found?.value as T | undefined;
  }

  /** Stores `value` under `key`; resolves to whether it was stored (`undefined` never is). */
  async set<T>(key: CacheKeyInput, value: T, options: CacheSetOptions<T> = {}): Promise<boolean> {
    const call = this.callOf(key, options, 'CacheService.set()');
    if (call === undefined) return false;
    return this.values.set(call, value);
  }

  /**
   * Makes `key` a miss, in memory at once and in Redis before this resolves. An array key also reaches the keys
   * that extend it (`delete(['team', 5])` covers `['team', 5, 'stats']`), as `invalidateScope()` does.
   */
  async delete(key: CacheKeyInput, options: CacheEntryOptions = {}): Promise<void> {
    const namespace = validateNamespace(options.namespace ?? DEFAULT_NAMESPACE, 'CacheService.delete()');
    const rest = keyOfInput(key, 'CacheService.delete()');
    await this.backend.invalidate([Scopes.prefix(namespace, rest.split(':'))]);
  }

  /** The counters of a cached method (`@Cacheable`/`@CachePut`) as called on instances of `type`. */
  cacheInfo(type: abstract new (...args: never[]) => object, method: string): MethodCounters {
    return { ...this.stats.method(`${type.name}.${method}`) };
  }

  /** Makes every entry of a cached method a miss (its namespace: the declared one, else `Class.method`). */
  async clearMethod(type: abstract new (...args: never[]) => object, method: string): Promise<void> {
    const definition = definitionsOf(type).find((d) => d.methodName === method && d.kind !== 'invalidate');
    const declared = definition?.kind === 'invalidate' ? undefined : definition?.options.namespace;
    await this.backend.invalidate([Scopes.namespace(declared ?? `${type.name}.${method}`)]);
  }

  /**
   * The entry key of a key in a namespace, remembered (bounded). Fixed tags are stored with the entry, which
   * every reader checks; a reader that names them also reads their records in its lookup (one round trip).
   */
  private entryKey(namespace: string, rest: string, tags: readonly string[]): EntryKey {
    if (tags.length > 0) {
      const id = `${namespace}\u0000${rest}\u0000${JSON.stringify(tags)}`;
      let key = this.taggedKeys.get(id);
      if (key === undefined) {
        key = this.remember(namespace, rest, tags);
        this.taggedKeys.set(id, key);
      }
      return key;
    }
    // Two levels: no string is built to look a key up (this is on every call).
    let key = this.keys.get(namespace)?.get(rest);
    if (key === undefined) {
      key = this.remember(namespace, rest, tags);
      let inNamespace = this.keys.get(namespace);
      if (inNamespace === undefined) {
        inNamespace = new Map();
        this.keys.set(namespace, inNamespace);
      }
      inNamespace.set(rest, key);
    }
    return key;
  }

  /** A new entry key, counted against the memo's bound (past it, everything remembered is forgotten). */
  private remember(namespace: string, rest: string, tags: readonly string[]): EntryKey {
    if (this.remembered >= KEY_MEMO_SIZE) {
      this.keys.clear();
      this.taggedKeys.clear();
      this.remembered = 0;
    }
    this.remembered++;
    return this.backend.keys.entry(namespace, builtKey(namespace, rest), tags, 'value');
  }

  private callOf(
    key: CacheKeyInput,
    options: CacheCallOptions<never> | CacheSetOptions<never> | CacheEntryOptions,
    where: string,
  ): ValueCall | undefined {
    validateEntryOptions(options, where);
    const namespace = options.namespace ?? DEFAULT_NAMESPACE;
    const rest = keyOfInput(key, where);
    if (!this.options.enabled) return undefined;
    const full = options as CacheCallOptions<unknown>;
    const tags = full.tags;
    const label = 'CacheService';
    const fixedTags = tags === undefined || typeof tags === 'function' ? [] : [...new Set(tags)];
    return {
      key: this.entryKey(namespace, rest, fixedTags),
      namespace,
      rest,
      policy: entryPolicy(full, this.options.defaultTtl, this.counters),
      fixedTags,
      tagsOf: typeof tags === 'function' ? tags : undefined,
      unless: undefined,
      type: options.type,
      label,
    };
  }
}
