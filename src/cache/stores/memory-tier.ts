import type { EntryKey } from '../engine/entry-key.js';
import type { StoredResponse } from './cache-store.interface.js';
import type { CacheTier, TierRead } from './cache-tier.interface.js';
import { MemoryRecords } from './memory-records.js';
import { MemoryStore } from './memory.store.js';

/** Records kept per entry allowed (records are made by invalidations only; past the bound the floor rises). */
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
    const now = this.now();
    const recordKeys = key.recordKeys;
    const records = new Array<number>(recordKeys.length);
    for (let i = 0; i < recordKeys.length; i++) records[i] = this.records.get(recordKeys[i] ?? '', now);
    return {
      entry: withEntry ? this.store.get(key.key) : undefined,
      clock: this.records.current,
      records,
    };
  }

  /**
   * The entry of `key` if its records allow it (scope records only: the caller checks result tags), without
   * building the read's record list: the hit and miss path of the memory backend.
   */
  lookup(key: EntryKey): StoredResponse | undefined {
    const now = this.now();
    // Past its grace at `now`, an entry is dropped by the store and not returned.
    const entry = this.store.get(key.key, now);
    if (entry === undefined) return undefined;
    const recordKeys = key.recordKeys;
    for (let i = 0; i < recordKeys.length; i++) {
      if (this.records.get(recordKeys[i] ?? '', now) > entry.tick) return undefined;
    }
    return entry;
  }

  /** The current clock: the stamp of anything computed from now on. */
  get clock(): number {
    return this.records.current;
  }

  readRecords(recordKeys: readonly string[]): number[] {
    const now = this.now();
    return recordKeys.map((key) => this.records.get(key, now));
  }

  write(key: EntryKey, recordKeys: readonly string[], entry: StoredResponse, ttlMs: number): boolean {
    // No record is written: a scope that was never invalidated needs none (docs/storage-model.md).
    if (!this.records.admit(entry.tick, recordKeys, entry.staleUntil)) return false;
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
