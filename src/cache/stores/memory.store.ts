import type { CacheStore, StoredResponse } from './cache-store.interface.js';

interface Slot {
  readonly value: StoredResponse;
  readonly bytes: number;
}

const ENTRY_OVERHEAD_BYTES = 160;

function sizeOf(key: string, value: StoredResponse): number {
  return (
    (key.length + (value.body?.length ?? 0) + (value.contentType?.length ?? 0) + value.etag.length) * 2 +
    ENTRY_OVERHEAD_BYTES
  );
}

/**
 * In-process LRU bounded by entry count and by bytes. Entries are frozen records of strings and numbers, so
 * what a caller reads can never alias what a handler returned or change what the next caller reads.
 */
export class MemoryStore implements CacheStore {
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /** Keys currently held, least recently used first. */
  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  get(key: string): StoredResponse | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.value.staleUntil <= this.now()) {
      this.remove(key, slot);
      return undefined;
    }
    // Re-inserting moves the key to the most recently used end of the Map's order.
    this.slots.delete(key);
    this.slots.set(key, slot);
    return slot.value;
  }

  set(key: string, value: StoredResponse, _ttlMs: number): void {
    const bytes = sizeOf(key, value);
    const existing = this.slots.get(key);
    if (existing !== undefined) this.remove(key, existing);
    if (bytes > this.maxBytes) return;
    this.slots.set(key, { value: Object.freeze({ ...value }), bytes });
    this.bytes += bytes;
    this.evict();
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot !== undefined) this.remove(key, slot);
  }

  clear(): void {
    this.slots.clear();
    this.bytes = 0;
  }

  async close(): Promise<void> {
    this.clear();
  }

  private remove(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, slot] of this.slots) {
      if (this.slots.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
      // Oldest first; an expired entry anywhere would also go, but the LRU end is where the waste usually is.
      if (slot.value.staleUntil <= now || this.slots.size > this.maxEntries || this.bytes > this.maxBytes) {
        this.remove(key, slot);
      }
    }
  }
}
