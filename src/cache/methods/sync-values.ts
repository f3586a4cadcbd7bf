import type { CacheBackend } from '../engine/cache-backend.js';
import type { AccessMode } from '../engine/cache-engine.js';
import { errorMessage } from '../cache.errors.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { recordsAllow } from '../stores/cache-tier.interface.js';
import { VALUE_STATUS, type ValueCache, type ValueCall } from './value-cache.js';

/** Whether a method's result says it is not synchronous after all (then it is passed through, not stored). */
export function isDeferred(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { then?: unknown; subscribe?: unknown };
  return typeof v.then === 'function' || typeof v.subscribe === 'function';
}

/**
 * Synchronous methods, cached like `lru_cache`: in this process's tier only (`CacheBackend.local`), so a hit
 * and a miss both return synchronously whatever the backend. Stamps, scopes and tags follow the same rules as
 * every other entry, so `InvalidationService` reaches these entries too.
 */
export class SyncValues {
  constructor(
    private readonly backend: CacheBackend,
    private readonly values: ValueCache,
  ) {}

  /** The cached value, or `compute()`'s (stored unless it turns out to be a promise or an Observable). */
  run(call: ValueCall, compute: () => unknown, mode: AccessMode): unknown {
    const counters = call.policy.counters;
    let stale: StoredResponse | undefined;
    if (mode.read) {
      const entry = this.lookup(call);
      if (entry !== undefined) {
        if (entry.expiresAt > Date.now()) {
          const found = this.values.decode(entry, call);
          if (found !== undefined) {
            counters.hits++;
            return found.value;
          }
        } else {
          stale = entry;
        }
      }
    }
    // A write-only call (`@CachePut`) first invalidates the entry: memory and this process at once, Redis after.
    if (!mode.read) void this.values.evictOwn(call);
    const stamp = this.backend.local.clock;
    counters.misses++;
    counters.inFlight++;
    let value: unknown;
    try {
      value = compute();
    } catch (error) {
      const fallback = stale === undefined ? undefined : this.values.decode(stale, call);
      if (fallback === undefined) throw error;
      this.values.warnOnce(
        call.label,
        `${call.label}: recomputing failed (${errorMessage(error)}); returning the stale value`,
      );
      counters.stale++;
      return fallback.value;
    } finally {
      counters.inFlight--;
    }
    if (!mode.write || isDeferred(value)) return value;
    return this.store(call, value, stamp);
  }

  private lookup(call: ValueCall): StoredResponse | undefined {
    const local = this.backend.local;
    const entry = local.lookup(call.key);
    if (entry?.tags === undefined || entry.tags.length === 0) return entry;
    return recordsAllow(entry.tick, local.readRecords(this.backend.keys.tagRecords(entry.tags)))
      ? entry
      : undefined;
  }

  private store(call: ValueCall, value: unknown, stamp: number): unknown {
    const encoded = this.values.encode(call, value);
    if (encoded === undefined) return value;
    const { ttlMs, graceMs } = call.policy;
    const now = Date.now();
    const entry: StoredResponse = {
      status: VALUE_STATUS,
      contentType: undefined,
      body: encoded.text,
      etag: '',
      expiresAt: now + ttlMs,
      staleUntil: now + ttlMs + graceMs,
      tick: stamp,
      computeMs: 0,
      ...(encoded.tags !== undefined && encoded.tags.length > 0 ? { tags: encoded.tags } : {}),
    };
    const records =
      entry.tags === undefined
        ? call.key.recordKeys
        : [...call.key.recordKeys, ...this.backend.keys.tagRecords(entry.tags)];
    this.backend.local.write(call.key, records, entry, ttlMs + graceMs);
    return this.values.copyOf(call, encoded, value);
  }
}
