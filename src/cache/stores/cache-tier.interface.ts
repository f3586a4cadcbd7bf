import type { EntryKey } from '../engine/entry-key.js';
import type { StoredResponse } from './cache-store.interface.js';

/** What one lookup read: the entry as stored (not yet validated), the clock and the entry's records. */
export interface TierRead {
  /** The stored entry, or `undefined` when there is none (or it was not asked for). */
  readonly entry: StoredResponse | undefined;
  /**
   * The invalidation clock (made by the read when missing; 0 only when that failed, and a write stamped 0 is
   * refused). The stamp of anything computed after this read.
   */
  readonly clock: number;
  /**
   * The ticks held by `key.recordKeys`, in order; `undefined` for a missing (or unreadable) record (the
   * in-process tier answers a missing record with its floor instead, see docs/storage-model.md).
   */
  readonly records: ReadonlyArray<number | undefined>;
}

/**
 * One place that holds entries together with their invalidation metadata (docs/storage-model.md): the
 * in-process tier and Redis implement the same rules. Methods answer synchronously where they can (memory);
 * callers accept both. Redis methods may reject: the backend bounds and fails them open.
 */
export interface CacheTier {
  /** Reads the entry (unless `withEntry` is false), the clock and the entry's records in one round trip. */
  read(key: EntryKey, withEntry: boolean): TierRead | Promise<TierRead>;
  /** The ticks of some records (the tags of an entry just read), in order. */
  readRecords(recordKeys: readonly string[]): Array<number | undefined> | Promise<Array<number | undefined>>;
  /**
   * Stores `entry` (stamped with `entry.tick`) unless a record of `recordKeys` moved past the stamp since; creates
   * missing records (see the write rule) and makes every record outlive the entry. Resolves to whether the entry
   * was stored.
   */
  write(
    key: EntryKey,
    recordKeys: readonly string[],
    entry: StoredResponse,
    ttlMs: number,
  ): boolean | Promise<boolean>;
  /** Ticks the clock and moves the existing records among `recordKeys` to the new tick; resolves to it. */
  invalidate(recordKeys: readonly string[]): number | Promise<number>;
}

/** Whether an entry stamped `tick` is valid against these record ticks: all present, none later than it. */
export function recordsAllow(tick: number, records: ReadonlyArray<number | undefined>): boolean {
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record === undefined || record > tick) return false;
  }
  return true;
}

/**
 * The entry a read found, if it is valid: not past its grace, and allowed by its scope records. Tags computed
 * from the result are checked by the caller (their records are read once the entry is known).
 */
export function validEntry(
  entry: StoredResponse | undefined,
  records: ReadonlyArray<number | undefined>,
  now = Date.now(),
): StoredResponse | undefined {
  if (entry === undefined || entry.staleUntil <= now || !recordsAllow(entry.tick, records)) return undefined;
  return entry;
}
