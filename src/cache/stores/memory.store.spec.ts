import { describe, expect, it } from 'vitest';
import type { StoredResponse } from './cache-store.interface.js';
import { MemoryStore } from './memory.store.js';

/** What a store returned, minus the bytes an in-process store keeps beside the body. */
function withoutBytes<T extends object | undefined>(value: T): T {
  if (value === undefined) return value;
  const { bodyBytes: _bytes, ...rest } = value as T & { bodyBytes?: unknown };
  return rest as T;
}

const BIG = Number.MAX_SAFE_INTEGER;

function entry(body: string | undefined = 'body', expiresAt = BIG): StoredResponse {
  return {
    status: 200,
    contentType: 'application/json',
    body,
    etag: '"etag"',
    expiresAt,
    staleUntil: expiresAt,
    tick: 1,
    computeMs: 1,
  };
}

/** Deterministic numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** The bytes a store counts for `value` under `key`. */
function sizeOfAlone(key: string, value: StoredResponse): number {
  const alone = new MemoryStore(1, BIG);
  alone.set(key, value, 1);
  return alone.usedBytes;
}

/** An exact LRU over a small Map (deleted and re-inserted on use), against which the store is compared. */
class ReferenceLru {
  readonly entries = new Map<string, { bytes: number; staleUntil: number }>();
  bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number,
  ) {}

  get(key: string): boolean {
    const found = this.entries.get(key);
    if (found === undefined) return false;
    this.delete(key);
    if (found.staleUntil <= this.now()) return false;
    this.entries.set(key, found);
    this.bytes += found.bytes;
    return true;
  }

  set(key: string, value: StoredResponse): void {
    this.delete(key);
    const bytes = sizeOfAlone(key, value);
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { bytes, staleUntil: value.staleUntil });
    this.bytes += bytes;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const found = this.entries.get(key);
    if (found === undefined) return;
    this.entries.delete(key);
    this.bytes -= found.bytes;
  }
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    set: (value: number) => {
      now = value;
    },
  };
}

describe('MemoryStore', () => {
  it('returns what was stored, and undefined for unknown keys', () => {
    const store = new MemoryStore(10, 1024 * 1024);
    const value = entry('{"a":1}');
    store.set('k', value, 60_000);
    expect(withoutBytes(store.get('k'))).toEqual(value);
    expect(store.get('k')?.bodyBytes?.toString()).toBe(value.body);
    expect(store.get('missing')).toBeUndefined();
    expect(store.size).toBe(1);
  });

  it('stores a frozen copy that the caller cannot alter afterwards', () => {
    const store = new MemoryStore(10, 1024 * 1024);
    const value = { ...entry('original') };
    store.set('k', value, 60_000);
    (value as { body: string }).body = 'changed';
    const read = store.get('k');
    expect(read?.body).toBe('original');
    expect(Object.isFrozen(read)).toBe(true);
  });

  it('replaces an existing key without counting it twice', () => {
    const store = new MemoryStore(10, 1024 * 1024);
    store.set('k', entry('a'), 60_000);
    const bytesOfOne = store.usedBytes;
    store.set('k', entry('b'), 60_000);
    expect(store.size).toBe(1);
    expect(store.usedBytes).toBe(bytesOfOne);
    expect(store.get('k')?.body).toBe('b');
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const store = new MemoryStore(3, 1024 * 1024);
    for (const key of ['a', 'b', 'c', 'd']) store.set(key, entry(key), 60_000);
    expect(store.size).toBe(3);
    expect(store.get('a')).toBeUndefined();
    expect([...store.keys()]).toEqual(['b', 'c', 'd']);
    store.set('e', entry('e'), 60_000);
    expect([...store.keys()]).toEqual(['c', 'd', 'e']);
  });

  it('refreshes recency on get', () => {
    const store = new MemoryStore(3, 1024 * 1024);
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key), 60_000);
    expect(store.get('a')?.body).toBe('a');
    store.set('d', entry('d'), 60_000);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.body).toBe('a');
    expect([...store.keys()]).toEqual(['c', 'd', 'a']);
  });

  it('refreshes recency on set of an existing key', () => {
    const store = new MemoryStore(2, 1024 * 1024);
    store.set('a', entry('a'), 60_000);
    store.set('b', entry('b'), 60_000);
    store.set('a', entry('a2'), 60_000);
    store.set('c', entry('c'), 60_000);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.body).toBe('a2');
  });

  it('a miss does not change recency', () => {
    const store = new MemoryStore(2, 1024 * 1024);
    store.set('a', entry('a'), 60_000);
    store.set('b', entry('b'), 60_000);
    expect(store.get('zzz')).toBeUndefined();
    store.set('c', entry('c'), 60_000);
    expect([...store.keys()]).toEqual(['b', 'c']);
  });

  it('evicts least recently used entries to stay within maxBytes', () => {
    const probe = new MemoryStore(10, 1024 * 1024);
    probe.set('k1', entry('x'.repeat(200)), 60_000);
    const one = probe.usedBytes;
    expect(one).toBeGreaterThan(400);

    const store = new MemoryStore(100, Math.floor(one * 2.5));
    store.set('k1', entry('x'.repeat(200)), 60_000);
    store.set('k2', entry('y'.repeat(200)), 60_000);
    expect(store.size).toBe(2);
    expect(store.usedBytes).toBe(2 * one);
    store.get('k1');
    store.set('k3', entry('z'.repeat(200)), 60_000);
    expect(store.size).toBe(2);
    expect(store.get('k2')).toBeUndefined();
    expect(store.get('k1')?.body).toBe('x'.repeat(200));
    expect(store.get('k3')?.body).toBe('z'.repeat(200));
    expect(store.usedBytes).toBeLessThanOrEqual(Math.floor(one * 2.5));
  });

  it('evicts as many entries as a large newcomer needs', () => {
    const probe = new MemoryStore(10, 1024 * 1024);
    probe.set('s1', entry('x'.repeat(100)), 60_000);
    const small = probe.usedBytes;
    const store = new MemoryStore(100, small * 4);
    for (const key of ['s1', 's2', 's3', 's4']) store.set(key, entry('x'.repeat(100)), 60_000);
    expect(store.size).toBe(4);
    store.set('big', entry('b'.repeat(400)), 60_000);
    expect(store.get('big')).toBeDefined();
    expect(store.usedBytes).toBeLessThanOrEqual(small * 4);
    expect(store.get('s1')).toBeUndefined();
  });

  it('never stores an entry larger than maxBytes', () => {
    const store = new MemoryStore(100, 1024);
    store.set('small', entry('s'), 60_000);
    const before = store.usedBytes;
    store.set('huge', entry('h'.repeat(2000)), 60_000);
    expect(store.get('huge')).toBeUndefined();
    expect(store.size).toBe(1);
    expect(store.usedBytes).toBe(before);
    expect(store.get('small')?.body).toBe('s');
  });

  it('drops the old value when an oversized value replaces it', () => {
    const store = new MemoryStore(100, 1024);
    store.set('k', entry('small'), 60_000);
    store.set('k', entry('h'.repeat(2000)), 60_000);
    expect(store.get('k')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.usedBytes).toBe(0);
  });

  it('counts the key, body, content type and etag in usedBytes', () => {
    const sizes = (value: StoredResponse, key = 'k') => {
      const store = new MemoryStore(10, 1024 * 1024);
      store.set(key, value, 60_000);
      return store.usedBytes;
    };
    const base = sizes(entry('x'));
    expect(sizes(entry('x'.repeat(101)))).toBeGreaterThan(base);
    expect(sizes(entry('x'), 'k'.repeat(101))).toBeGreaterThan(base);
    expect(sizes({ ...entry('x'), contentType: 'x'.repeat(200) })).toBeGreaterThan(base);
    expect(sizes({ ...entry('x'), etag: `"${'e'.repeat(200)}"` })).toBeGreaterThan(base);
    expect(sizes(entry(undefined))).toBeGreaterThan(0);
    expect(sizes({ ...entry(undefined), contentType: undefined })).toBeGreaterThan(0);
  });

  it('does not return expired entries, and forgets them', () => {
    const clock = manualClock(1_000);
    const store = new MemoryStore(10, 1024 * 1024, clock.now);
    store.set('k', entry('v', 2_000), 1_000);
    expect(store.get('k')?.body).toBe('v');
    clock.set(1_999);
    expect(store.get('k')?.body).toBe('v');
    clock.set(2_000);
    expect(store.get('k')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.usedBytes).toBe(0);
  });

  it('does not return an entry stored already expired', () => {
    const clock = manualClock(5_000);
    const store = new MemoryStore(10, 1024 * 1024, clock.now);
    store.set('k', entry('v', 4_000), 1_000);
    expect(store.get('k')).toBeUndefined();
  });

  it('usedBytes goes back to 0 after clear and after close', async () => {
    const store = new MemoryStore(100, 1024 * 1024);
    for (let i = 0; i < 20; i++) store.set(`k${i}`, entry(`v${i}`), 60_000);
    expect(store.usedBytes).toBeGreaterThan(0);
    store.clear();
    expect(store.usedBytes).toBe(0);
    expect(store.size).toBe(0);
    expect(store.get('k1')).toBeUndefined();
    store.set('again', entry(), 60_000);
    expect(store.usedBytes).toBeGreaterThan(0);
    await store.close();
    expect(store.usedBytes).toBe(0);
    expect(store.size).toBe(0);
  });

  it('keeps usedBytes equal to the sum of what it holds through evictions and expiry', () => {
    const clock = manualClock(0);
    const store = new MemoryStore(7, 6_000, clock.now);
    const random = seededRandom(1);
    const lastSet = new Map<string, StoredResponse>();
    for (let i = 0; i < 500; i++) {
      const key = `k${Math.floor(random() * 15)}`;
      const roll = random();
      if (roll < 0.6) {
        const value = entry(
          'x'.repeat(Math.floor(random() * 1500)),
          clock.now() + Math.floor(random() * 100),
        );
        store.set(key, value, 100);
        lastSet.set(key, value);
      } else if (roll < 0.8) {
        store.get(key);
      } else {
        clock.set(clock.now() + 10);
      }
      let sum = 0;
      for (const k of store.keys()) {
        const value = lastSet.get(k);
        expect(value).toBeDefined();
        if (value !== undefined) sum += sizeOfAlone(k, value);
      }
      expect(store.usedBytes).toBe(sum);
      expect(store.size).toBeLessThanOrEqual(7);
      expect(store.usedBytes).toBeLessThanOrEqual(6_000);
    }
  });

  it('moves an entry to the most recent end on a hit', () => {
    const store = new MemoryStore(3, 1024 * 1024);
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key), 60_000);
    store.get('a');
    expect([...store.keys()]).toEqual(['b', 'c', 'a']);
    store.get('b');
    store.get('b');
    expect([...store.keys()]).toEqual(['c', 'a', 'b']);
    store.set('d', entry('d'), 60_000);
    expect([...store.keys()]).toEqual(['a', 'b', 'd']);
    expect(store.get('c')).toBeUndefined();
  });

  it('keeps the order of the others when entries are deleted at either end or in the middle', () => {
    const store = new MemoryStore(4, 1024 * 1024);
    for (const key of ['a', 'b', 'c', 'd', 'e']) store.set(key, entry(key), 60_000);
    expect([...store.keys()]).toEqual(['b', 'c', 'd', 'e']);
    store.delete('c');
    store.delete('b');
    store.delete('e');
    store.delete('missing');
    expect([...store.keys()]).toEqual(['d']);
    for (const key of ['f', 'g', 'h', 'i']) store.set(key, entry(key), 60_000);
    expect([...store.keys()]).toEqual(['f', 'g', 'h', 'i']);
    store.clear();
    expect([...store.keys()]).toEqual([]);
    store.set('j', entry('j'), 60_000);
    store.set('k', entry('k'), 60_000);
    expect([...store.keys()]).toEqual(['j', 'k']);
  });

  it('lists keys as a snapshot that the store may change while it is read', () => {
    const store = new MemoryStore(10, 1024 * 1024);
    for (const key of ['a', 'b', 'c']) store.set(key, entry(key), 60_000);
    const seen: string[] = [];
    for (const key of store.keys()) {
      seen.push(key);
      store.delete(key);
      store.get('c');
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(store.size).toBe(0);
  });

  it('evicts the least recently used entries, whatever their count, until a newcomer fits in maxBytes', () => {
    const one = sizeOfAlone('a', entry('x'.repeat(100)));
    const store = new MemoryStore(1_000, one * 3);
    for (const key of ['a', 'b', 'c']) store.set(key, entry('x'.repeat(100)), 60_000);
    expect(store.usedBytes).toBe(one * 3);
    store.get('a');
    const big = entry('y'.repeat(250));
    expect(sizeOfAlone('big', big)).toBeGreaterThan(one);
    expect(sizeOfAlone('big', big)).toBeLessThanOrEqual(one * 2);
    store.set('big', big, 60_000);
    expect([...store.keys()]).toEqual(['a', 'big']);
    expect(store.usedBytes).toBe(one + sizeOfAlone('big', big));
  });

  it('evicts others, not the entry itself, when a replacement grows past maxBytes', () => {
    const one = sizeOfAlone('a', entry('x'.repeat(100)));
    const store = new MemoryStore(1_000, one * 3);
    for (const key of ['a', 'b', 'c']) store.set(key, entry('x'.repeat(100)), 60_000);
    const grown = entry('z'.repeat(200));
    store.set('a', grown, 60_000);
    expect([...store.keys()]).toEqual(['c', 'a']);
    expect(store.get('a')?.body).toBe(grown.body);
    expect(store.usedBytes).toBe(one + sizeOfAlone('a', grown));
  });

  it('evicts in exact least-recently-used order under churn', () => {
    const store = new MemoryStore(8, BIG);
    const reference = new ReferenceLru(8, BIG, Date.now);
    const random = seededRandom(7);
    for (let i = 0; i < 5_000; i++) {
      const key = `k${Math.floor(random() * 40)}`;
      const roll = random();
      if (roll < 0.5) {
        const value = entry(`v${i}`);
        store.set(key, value, 60_000);
        reference.set(key, value);
      } else if (roll < 0.85) {
        expect(store.get(key) !== undefined).toBe(reference.get(key));
      } else {
        store.delete(key);
        reference.delete(key);
      }
      expect([...store.keys()]).toEqual([...reference.entries.keys()]);
    }
  });

  it('never exceeds its bounds under churn of sets, hits, deletes, expiry and oversized values', () => {
    const clock = manualClock(0);
    const maxEntries = 30;
    const maxBytes = 20_000;
    const store = new MemoryStore(maxEntries, maxBytes, clock.now);
    const reference = new ReferenceLru(maxEntries, maxBytes, clock.now);
    const random = seededRandom(11);
    let evictions = 0;
    let oversized = 0;
    let largestSize = 0;
    let largestBytes = 0;
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(random() * 200)}`;
      const roll = random();
      if (roll < 0.45) {
        const kind = random();
        const length =
          kind < 0.8 ? Math.floor(random() * 40) : kind < 0.99 ? Math.floor(random() * 1_500) : 8_000;
        const value = entry('x'.repeat(length), clock.now() + Math.floor(random() * 2_000));
        if (sizeOfAlone(key, value) > maxBytes) oversized++;
        const before = new Set(store.keys());
        store.set(key, value, 2_000);
        reference.set(key, value);
        for (const k of store.keys()) before.delete(k);
        before.delete(key);
        evictions += before.size;
      } else if (roll < 0.85) {
        expect(store.get(key) !== undefined).toBe(reference.get(key));
      } else if (roll < 0.95) {
        store.delete(key);
        reference.delete(key);
      } else {
        clock.set(clock.now() + 50);
      }
      expect(store.size).toBeLessThanOrEqual(maxEntries);
      expect(store.usedBytes).toBeLessThanOrEqual(maxBytes);
      expect(store.usedBytes).toBe(reference.bytes);
      expect([...store.keys()]).toEqual([...reference.entries.keys()]);
      largestSize = Math.max(largestSize, store.size);
      largestBytes = Math.max(largestBytes, store.usedBytes);
    }
    // Both bounds were reached, and evicted: the churn exercised what it checks.
    expect(largestSize).toBe(maxEntries);
    expect(largestBytes).toBeGreaterThan(maxBytes * 0.9);
    expect(evictions).toBeGreaterThan(1_000);
    expect(oversized).toBeGreaterThan(0);
  });
});
