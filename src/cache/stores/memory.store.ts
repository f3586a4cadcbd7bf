import type { CacheStore, StoredResponse } from './cache-store.interface.js';

interface Slot {
  readonly value: StoredResponse;
  readonly bytes: number;
  /** Read since it last reached the eviction end (second-chance LRU). */
  referenced: boolean;
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
 * In-process cache bounded by entry count and by bytes, evicting in least-recently-used order (second-chance:
 * a read only flags the entry, which is moved behind the others when it reaches the eviction end, so the hit
 * path never reorders a large Map). Entries are frozen records of strings and numbers, so what a caller reads
 * can never alias what a handler returned or change what the next caller reads.
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

  /** Keys currently held, oldest first (entries read since are moved back when eviction reaches them). */
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
    slot.referenced = true;
    return slot.value;
  }

  set(key: string, value: StoredResponse, _ttlMs: number): void {
    const bytes = sizeOf(key, value);
    const existing = this.slots.get(key);
    if (existing !== undefined) this.remove(key, existing);
    if (bytes > this.maxBytes) return;
    this.slots.set(key, { value: Object.freeze({ ...value, ...bytesOf(value) }), bytes, referenced: false });
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
    // Oldest first. A recently read entry gets a second chance: it moves behind the others (once; the Map's
    // iteration then meets it again at the end, unflagged).
    for (const [key, slot] of this.slots) {
      if (this.slots.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
      if (slot.referenced && slot.value.staleUntil > now) {
        slot.referenced = false;
        this.slots.delete(key);
        this.slots.set(key, slot);
        continue;
      }
      this.remove(key, slot);
    }
  }
}
