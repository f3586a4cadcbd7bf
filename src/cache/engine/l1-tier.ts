import { Logger } from '@nestjs/common';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { recordsAllow } from '../stores/cache-tier.interface.js';
import { MemoryStore } from '../stores/memory.store.js';
import type { EntryKey } from './entry-key.js';

/**
 * This instance's copies of Redis-held record ticks, for validating L1 entries without a round trip. Kept
 * coherent by the bus: an invalidation message forgets the records it names. A copy learned from a read that
 * was in flight while a message arrived is not kept (it may predate the change the message announced).
 */
class LocalRecords {
  private readonly known = new Map<string, number>();
  private epochValue = 0;

  constructor(private readonly maxRecords: number) {}

  get epoch(): number {
    return this.epochValue;
  }

  /** The ticks of all of `keys`, or `undefined` when one is not known here. */
  get(keys: readonly string[]): number[] | undefined {
    const out = new Array<number>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const tick = this.known.get(keys[i] ?? '');
      if (tick === undefined) return undefined;
      out[i] = tick;
    }
    return out;
  }

  learn(keys: readonly string[], ticks: ReadonlyArray<number | undefined>, epochAtRead: number): void {
    if (epochAtRead !== this.epochValue) return;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const tick = ticks[i];
      if (key !== undefined && tick !== undefined) this.known.set(key, tick);
    }
    // Whole-map reset past the bound: O(1) amortized, and forgetting only costs round trips.
    if (this.known.size > this.maxRecords) this.clear();
  }

  forget(keys: readonly string[]): void {
    this.epochValue++;
    for (const key of keys) this.known.delete(key);
  }

  clear(): void {
    this.epochValue++;
    this.known.clear();
  }
}

/**
 * The optional in-process tier in front of Redis: entries read from (or written to) Redis, served without a
 * round trip while their records' local copies allow them. Trusted only while the coherence bus delivers.
 */
export class L1Tier {
  private readonly logger = new Logger('Cache');
  private readonly store: MemoryStore;
  private readonly records: LocalRecords;
  private live = false;
  private losses = 0;

  constructor(
    maxEntries: number,
    maxBytes: number,
    private readonly tagRecordKeys: (tags: readonly string[]) => string[],
  ) {
    this.store = new MemoryStore(maxEntries, maxBytes);
    this.records = new LocalRecords(Math.max(1000, maxEntries * 8));
  }

  /** Entries held. */
  get size(): number {
    return this.store.size;
  }

  /** Whether L1 copies are served (the bus is subscribed). */
  get serving(): boolean {
    return this.live;
  }

  /** How many times the bus subscription was lost (and L1 flushed). */
  get subscriptionLosses(): number {
    return this.losses;
  }

  /** Changes whenever a local copy is forgotten; a Redis read records it before it starts. */
  get epoch(): number {
    return this.records.epoch;
  }

  /** A valid local entry of `key`, or `undefined` (then Redis answers). */
  get(key: EntryKey): StoredResponse | undefined {
    if (!this.live) return undefined;
    const ticks = this.records.get(key.recordKeys);
    if (ticks === undefined) return undefined;
    const entry = this.store.get(key.key);
    if (entry === undefined || !recordsAllow(entry.tick, ticks)) return undefined;
    if (entry.tags !== undefined && entry.tags.length > 0) {
      const tagTicks = this.records.get(this.tagRecordKeys(entry.tags));
      if (tagTicks === undefined || !recordsAllow(entry.tick, tagTicks)) return undefined;
    }
    return entry;
  }

  /** Keeps what a Redis read returned (records, and the entry when valid), unless a message came meanwhile. */
  learn(
    recordKeys: readonly string[],
    ticks: ReadonlyArray<number | undefined>,
    epochAtRead: number,
    entry?: { key: string; value: StoredResponse },
  ): void {
    if (!this.live) return;
    this.records.learn(recordKeys, ticks, epochAtRead);
    if (entry !== undefined && epochAtRead === this.records.epoch) {
      this.store.set(entry.key, entry.value, entry.value.staleUntil - Date.now());
    }
  }

  /** Keeps an entry this instance just wrote to Redis. */
  keep(key: string, entry: StoredResponse, ttlMs: number): void {
    if (this.live) this.store.set(key, entry, ttlMs);
  }

  /** Records invalidated (here, or by another instance): their local copies are no longer trusted. */
  forget(recordKeys: readonly string[]): void {
    this.records.forget(recordKeys);
  }

  /** An entry overwritten by another instance. */
  drop(key: string): void {
    this.store.delete(key);
  }

  /** The bus went down or came back: whatever was local may have missed messages, so start over. */
  setLive(live: boolean): void {
    if (!live) this.losses++;
    this.store.clear();
    this.records.clear();
    if (live !== this.live) {
      this.logger.log(
        live
          ? 'L1 coherence bus subscribed; serving L1 copies'
          : 'L1 coherence bus lost; serving from Redis only',
      );
    }
    this.live = live;
  }

  clear(): void {
    this.store.clear();
    this.records.clear();
  }
}
