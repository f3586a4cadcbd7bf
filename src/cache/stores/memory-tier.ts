import type { EntryKey } from '../engine/entry-key.js';
import type { StoredResponse } from './cache-store.interface.js';
import type { CacheTier, TierRead } from './cache-tier.interface.js';
import { MemoryRecords } from './memory-records.js';
import { MemoryStore } from './memory.store.js';

/** Records kept per entry allowed: an entry depends on a handful, most of them shared. */
const RECORDS_PER_ENTRY = 8;

/** Entries and their invalidation metadata in this process: the memory backend, and the fallback of Redis. */
export class MemoryTier implements CacheTier {
  readonly store: MemoryStore;
  readonly records: MemoryRecords;

  constructor(
    maxEntries: number,
    maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new MemoryStore(maxEntries, maxBytes, now);
    this.records = new MemoryRecords(Math.max(1000, maxEntries * RECORDS_PER_ENTRY), now);
  }

  read(key: EntryKey, withEntry: boolean): TierRead {
    const recordKeys = key.recordKeys;
    const records = new Array<number | undefined>(recordKeys.length);
    for (let i = 0; i < recordKeys.length; i++) records[i] = this.records.get(recordKeys[i] ?? '');
    return {
      entry: withEntry ? this.store.get(key.key) : undefined,
      clock: this.records.current,
      records,
    };
  }

  readRecords(recordKeys: readonly string[]): Array<number | undefined> {
    return recordKeys.map((key) => this.records.get(key));
  }

  write(key: EntryKey, recordKeys: readonly string[], entry: StoredResponse, ttlMs: number): boolean {
    const tick = entry.tick;
    const clock = this.records.current;
    const expiresAt = this.now() + ttlMs;
    let fenced = false;
    for (const recordKey of recordKeys) {
      const record = this.records.get(recordKey);
      if (record !== undefined && record > tick) return false;
      // Missing while the clock moved: it may have been invalidated and dropped since the lookup.
      if (record === undefined && clock !== tick) {
        this.records.ensure(recordKey, clock, expiresAt);
        fenced = true;
      }
    }
    if (fenced) return false;
    for (const recordKey of recordKeys) this.records.ensure(recordKey, tick, expiresAt);
    this.store.set(key.key, entry, ttlMs);
    return true;
  }

  invalidate(recordKeys: readonly string[]): number {
    return this.records.invalidate(recordKeys);
  }

  clear(): void {
    this.store.clear();
    this.records.clear();
  }
}
