import { CacheDefinitionError } from './cache.errors.js';
import type { EntryPolicy } from './engine/cache-engine.js';
import { validateNamespace } from './http/namespace.js';
import type { NamespaceCounters } from './observability/cache-stats.service.js';

/** The options every cache declaration shares (`@Cached`, `@Cacheable`, `@CachePut`, `CacheService`). */
export interface EntryOptions {
  namespace?: unknown;
  expire?: unknown;
  grace?: unknown;
  refreshAhead?: unknown;
}

/** A rejected option value as a message shows it. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return value === null ? 'null' : typeof value;
}

/** Throws a {@link CacheDefinitionError} starting with `where` when one of the shared options is invalid. */
export function validateEntryOptions(options: EntryOptions, where: string): void {
  if (options.namespace !== undefined) validateNamespace(options.namespace, where);
  if (
    options.expire !== undefined &&
    (!Number.isSafeInteger(options.expire) || (options.expire as number) < 1)
  ) {
    throw new CacheDefinitionError(
      `${where}: expire must be a positive integer (seconds), got ${shown(options.expire)}`,
    );
  }
  if (
    options.grace !== undefined &&
    (!Number.isSafeInteger(options.grace) || (options.grace as number) < 0)
  ) {
    throw new CacheDefinitionError(
      `${where}: grace must be a non-negative integer (seconds), got ${shown(options.grace)}`,
    );
  }
  const refresh = options.refreshAhead;
  if (
    refresh !== undefined &&
    typeof refresh !== 'boolean' &&
    !(typeof refresh === 'number' && refresh > 0 && Number.isFinite(refresh))
  ) {
    throw new CacheDefinitionError(
      `${where}: refreshAhead must be true, false or a positive number, got ${shown(refresh)}`,
    );
  }
}

/** The options an {@link EntryPolicy} is made of. */
export interface PolicyOptions {
  expire?: number;
  grace?: number;
  refreshAhead?: boolean | number;
  coalesce?: boolean;
  lock?: boolean;
}

/** The policy of a cache declaration: its options over the module's defaults (`defaultTtl` in seconds). */
export function entryPolicy<C extends NamespaceCounters>(
  options: PolicyOptions,
  defaultTtl: number,
  counters: C,
): EntryPolicy & { readonly counters: C } {
  const refresh = options.refreshAhead ?? false;
  return {
    ttlMs: (options.expire ?? defaultTtl) * 1000,
    graceMs: (options.grace ?? 0) * 1000,
    refreshBeta: refresh === true ? 1 : refresh === false ? 0 : refresh,
    coalesce: options.coalesce ?? true,
    lock: options.lock ?? false,
    counters,
  };
}
