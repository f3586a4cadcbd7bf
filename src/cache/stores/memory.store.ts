import type { CacheStore, StoredResponse } from './cache-store.interface.js';

/** One entry, and its place in the recency list (`prev` towards the oldest, `next` towards the newest). */
class Slot {
  prev: Slot | undefined = undefined;
  next: Slot | undefined = undefined;

  /** Whether `value` already carries `bodyBytes` (added on the first read, so a never-read entry costs none). */
  withBytes = false;

  constructor(
    readonly key: string,
    public value: StoredResponse,
    public bytes: number,
  ) {}
}

const ENTRY_OVERHEAD_BYTES = 160;

/**
 * The bytes a hit sends, computed once: only for entries with a content type (an adapter given bytes without
 * one would label them `application/octet-stream`, unlike the text it stored).
 */
function bytesOf(value: StoredResponse): { bodyBytes?: Buffer } {
  if (value.body === undefined || value.contentType === undefined) return {};
  return {
    bodyBytes:
      value.encoding === 'base64' ? Buffer.from(value.body, 'base64') : Buffer.from(value.body, 'utf8'),
  };
}

function sizeOf(key: string, value: StoredResponse): number {
  return (
    (key.length + (value.body?.length ?? 0) + (value.contentType?.length ?? 0) + value.etag.length) * 2 +
    (value.body?.length ?? 0) +
    ENTRY_OVERHEAD_BYTES
  );
}

/**
 * In-process cache bounded by entry count and by bytes, evicting in least-recently-used order. Recency is a
 * doubly linked list threaded through the entries, so a hit moves its entry to the newest end with a few
 * pointer writes and an eviction drops the oldest entry without a scan. Entries are frozen records of strings
 * and numbers, so what a caller reads can never alias what a handler returned or change what the next caller
 * reads.
 *
 * @example
 * const store = new MemoryStore(10_000, 64 * 1024 * 1024);
 * store.set(key, response, 60_000);
 * const hit = store.get(key);
 */
export class MemoryStore implements CacheStore {
  private readonly slots = new Map<string, Slot>();
  private oldest: Slot | undefined = undefined;
  private newest: Slot | undefined = undefined;
  private bytes = 0;

  /**
   * @param maxEntries Most entries held at once; the least recently used go first beyond it.
   * @param maxBytes Most bytes held at once, as estimated per entry (two bytes per character of its strings,
   *   its body's bytes, and a fixed overhead); an entry larger than this on its own is not stored.
   * @param now Clock in epoch milliseconds, against which `staleUntil` is checked on reads.
   */
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries currently held (expired ones included until a read or an eviction removes them). */
  get size(): number {
    return this.slots.size;
  }

  /** Estimated bytes of the entries currently held. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Keys currently held, least recently used first: a snapshot, so the store may change while it is read. */
  keys(): IterableIterator<string> {
    const keys: string[] = [];
    for (let slot = this.oldest; slot !== undefined; slot = slot.next) keys.push(slot.key);
    return keys.values();
  }

  /**
   * The entry stored under `key`, frozen and with `bodyBytes` when it has a content type, which becomes the
   * most recently used; `undefined` when there is none or it is past `staleUntil` at `now` (it is then
   * removed).
   */
  get(key: string, now = this.now()): StoredResponse | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.value.staleUntil <= now) {
      this.remove(slot);
      return undefined;
    }
    if (slot !== this.newest) {
      this.unlink(slot);
      this.append(slot);
    }
    if (!slot.withBytes) {
      slot.value = Object.freeze(Object.assign({}, slot.value, bytesOf(slot.value)));
      slot.withBytes = true;
    }
    return slot.value;
  }

  /**
   * Stores `value` under `key` (itself when it is frozen, else a frozen copy) as the most recently used entry,
   * replacing any previous one, then evicts the least recently used entries until both bounds hold. A value
   * larger than `maxBytes` is not stored (and the previous one is still dropped). `_ttlMs` is unused: expiry is
   * the entry's `staleUntil`.
   */
  set(key: string, value: StoredResponse, _ttlMs: number): void {
    const bytes = sizeOf(key, value);
    const existing = this.slots.get(key);
    if (bytes > this.maxBytes) {
      if (existing !== undefined) this.remove(existing);
      return;
    }
    // A frozen value is kept as it is; any other is copied, shallowly and frozen (Object.assign, not a spread:
    // on Node 20 it is cheaper, bench/memory-store.mjs). The bytes a hit sends are added on the first read, so an
    // entry that is never read costs none.
    const stored = Object.isFrozen(value) ? value : Object.freeze(Object.assign({}, value));
    if (existing === undefined) {
      const slot = new Slot(key, stored, bytes);
      this.slots.set(key, slot);
      this.append(slot);
    } else {
      // Replaced in place: the Map keeps its slot, and only the recency list changes.
      this.bytes -= existing.bytes;
      existing.value = stored;
      existing.withBytes = false;
      existing.bytes = bytes;
      if (existing !== this.newest) {
        this.unlink(existing);
        this.append(existing);
      }
    }
    this.bytes += bytes;
    this.evict();
  }

  /** Removes the entry stored under `key`, if any. */
  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot !== undefined) this.remove(slot);
  }

  /** Removes every entry. */
  clear(): void {
    this.slots.clear();
    this.oldest = undefined;
    this.newest = undefined;
    this.bytes = 0;
  }

  /** Removes every entry; the store stays usable. */
  async close(): Promise<void> {
    this.clear();
  }

  private remove(slot: Slot): void {
    this.slots.delete(slot.key);
    this.unlink(slot);
    this.bytes -= slot.bytes;
  }

  private unlink(slot: Slot): void {
    if (slot.prev === undefined) this.oldest = slot.next;
    else slot.prev.next = slot.next;
    if (slot.next === undefined) this.newest = slot.prev;
    else slot.next.prev = slot.prev;
    slot.prev = undefined;
    slot.next = undefined;
  }

  private append(slot: Slot): void {
    slot.prev = this.newest;
    if (this.newest === undefined) this.oldest = slot;
    else this.newest.next = slot;
    this.newest = slot;
  }

  private evict(): void {
    while (this.slots.size > this.maxEntries || this.bytes > this.maxBytes) {
      const victim = this.oldest;
      if (victim === undefined) return;
      this.remove(victim);
    }
  }
}
