import { describe, expect, it } from 'vitest';
import { KeySpace, Scopes } from '../engine/entry-key.js';
import type { StoredResponse } from './cache-store.interface.js';
import { recordsAllow, validEntry } from './cache-tier.interface.js';
import { MemoryTier } from './memory-tier.js';

const TTL = 60_000;

/** A tier on a clock the test moves by hand (epoch milliseconds). */
function setup(maxEntries = 1000) {
  let t = 1_000_000;
  const now = () => t;
  const tier = new MemoryTier(maxEntries, 64 * 1024 * 1024, now);
  const space = new KeySpace('mt');
  const entry = (tick: number, body = 'body', ttlMs = TTL): StoredResponse => ({
    status: 200,
    contentType: 'application/json',
    body,
    etag: '"e"',
    expiresAt: t + ttlMs,
    staleUntil: t + ttlMs,
    tick,
    computeMs: 1,
  });
  return { tier, space, now, entry, advance: (ms: number) => void (t += ms) };
}

describe('MemoryTier', () => {
  describe('read', () => {
    it('finds nothing at first: no entry, the current clock, every record missing', () => {
      const { tier, space } = setup();
      const key = space.entry('users', 'users:1');
      const read = tier.read(key, true);
      expect(read.entry).toBeUndefined();
      expect(read.clock).toBe(tier.records.current);
      expect(read.records).toEqual(key.recordKeys.map(() => undefined));
      expect(recordsAllow(read.clock, read.records)).toBe(false);
    });

    it('returns the entry, the clock and the ticks of the records in their order', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1:x');
      const stamp = tier.read(key, true).clock;
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(true);
      const namespace = space.record(Scopes.namespace('users'));
      const tick = tier.invalidate([namespace]);
      const read = tier.read(key, true);
      expect(read.entry?.tick).toBe(stamp);
      expect(read.clock).toBe(tick);
      expect(read.records).toEqual(key.recordKeys.map((record) => (record === namespace ? tick : stamp)));
    });

    it('leaves the entry out when it is not asked for', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      const read = tier.read(key, false);
      expect(read.entry).toBeUndefined();
      expect(read.records.every((record) => record !== undefined)).toBe(true);
    });

    it('readRecords gives the ticks of any records, in order', () => {
      const { tier, space, entry } = setup();
      const tags = space.tagRecords(['a', 'b']);
      const key = space.entry('users', 'users:1');
      const stamp = tier.read(key, true).clock;
      tier.write(key, [...key.recordKeys, tags[0] ?? ''], entry(stamp), TTL);
      expect(tier.readRecords(tags)).toEqual([stamp, undefined]);
      expect(tier.readRecords([])).toEqual([]);
    });
  });

  describe('write', () => {
    it('creates the missing records at the stamp when no invalidation happened since the read', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1:x', ['user:1']);
      const stamp = tier.read(key, true).clock;
      expect(tier.write(key, key.recordKeys, entry(stamp, 'v1'), TTL)).toBe(true);
      const read = tier.read(key, true);
      expect(read.records).toEqual(key.recordKeys.map(() => stamp));
      expect(read.entry?.body).toBe('v1');
      expect(validEntry(read.entry, read.records, 0)).toBe(read.entry);
    });

    it('stores over present records that an invalidation elsewhere did not move', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v1'), TTL);
      const stamp = tier.read(key, true).clock;
      tier.invalidate([space.record(Scopes.namespace('other'))]);
      expect(tier.write(key, key.recordKeys, entry(stamp, 'v2'), TTL)).toBe(true);
      expect(tier.read(key, true).entry?.body).toBe('v2');
    });

    it('refuses when a record moved past the stamp, and keeps what was stored', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v1'), TTL);
      const stamp = tier.read(key, true).clock;
      const tick = tier.invalidate([space.record(Scopes.prefix('users', ['1']))]);
      expect(tier.write(key, key.recordKeys, entry(stamp, 'v2'), TTL)).toBe(false);
      const read = tier.read(key, true);
      expect(read.entry?.body).toBe('v1');
      expect(recordsAllow(read.entry?.tick ?? 0, read.records)).toBe(false);
      // A value computed after the invalidation is stored.
      expect(read.clock).toBe(tick);
      expect(tier.write(key, key.recordKeys, entry(read.clock, 'v3'), TTL)).toBe(true);
      const after = tier.read(key, true);
      expect(after.entry?.body).toBe('v3');
      expect(recordsAllow(after.entry?.tick ?? 0, after.records)).toBe(true);
    });

    it('fences missing records at the current clock when the clock moved, and refuses', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      const stamp = tier.read(key, true).clock;
      // The records did not exist, so the invalidation moved nothing; only the clock tells it happened.
      const tick = tier.invalidate(key.recordKeys);
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
      const read = tier.read(key, true);
      expect(read.entry).toBeUndefined();
      expect(read.records).toEqual(key.recordKeys.map(() => tick));
      expect(tier.write(key, key.recordKeys, entry(read.clock), TTL)).toBe(true);
      const after = tier.read(key, true);
      expect(recordsAllow(after.entry?.tick ?? 0, after.records)).toBe(true);
    });

    it('fences only the missing records and leaves the present ones at their tick', () => {
      const { tier, space, entry } = setup();
      const shared = space.entry('users', 'users:1');
      const first = tier.read(shared, true).clock;
      tier.write(shared, shared.recordKeys, entry(first), TTL);
      const key = space.entry('users', 'users:1:deeper');
      const stamp = tier.read(key, true).clock;
      const tick = tier.invalidate([space.record(Scopes.namespace('other'))]);
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
      expect(tier.read(key, true).records).toEqual([first, first, first, tick]);
    });

    it('refuses a stamp older than a record even when the other records are missing', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1', ['t']);
      const plain = space.entry('users', 'users:1');
      const stamp = tier.read(key, true).clock;
      tier.write(plain, plain.recordKeys, entry(stamp), TTL);
      tier.invalidate([space.record(Scopes.all)]);
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
    });

    it('makes every record live at least as long as the entry, and never shortens one', () => {
      const { tier, space, entry, advance } = setup();
      const short = space.entry('users', 'users:short');
      const long = space.entry('users', 'users:long');
      tier.write(short, short.recordKeys, entry(tier.read(short, true).clock, 's', 1000), 1000);
      tier.write(long, long.recordKeys, entry(tier.read(long, true).clock, 'l', 5000), 5000);
      // A shorter entry written later does not shorten the shared records.
      const again = space.entry('users', 'users:again');
      tier.write(again, again.recordKeys, entry(tier.read(again, true).clock, 'a', 100), 100);
      advance(1000);
      expect(
        tier.readRecords([space.record(Scopes.all), space.record(Scopes.namespace('users'))]),
      ).not.toContain(undefined);
      expect(tier.readRecords([space.record(Scopes.prefix('users', ['short']))])).toEqual([undefined]);
      expect(tier.read(short, true).entry).toBeUndefined();
      advance(3999);
      expect(tier.read(long, true).records).not.toContain(undefined);
      advance(1);
      expect(tier.read(long, true).records).toEqual(long.recordKeys.map(() => undefined));
    });

    it('extends the records of an entry that is written again', () => {
      const { tier, space, entry, advance } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v1', 1000), 1000);
      advance(900);
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v2', 1000), 1000);
      advance(900);
      const read = tier.read(key, true);
      expect(read.entry?.body).toBe('v2');
      expect(recordsAllow(read.entry?.tick ?? 0, read.records)).toBe(true);
    });
  });

  describe('invalidate', () => {
    it('ticks the clock and moves the existing records only', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      const absent = space.record(Scopes.namespace('nobody'));
      const namespace = space.record(Scopes.namespace('users'));
      const before = tier.read(key, true).clock;
      const tick = tier.invalidate([namespace, absent]);
      expect(tick).toBe(before + 1);
      expect(tier.readRecords([namespace, absent])).toEqual([tick, undefined]);
      expect(tier.records.size).toBe(key.recordKeys.length);
    });

    it('makes the entry a miss through exactly the records it targets', () => {
      const { tier, space, entry } = setup();
      const one = space.entry('apikey', 'apikey:5:1');
      const fifty = space.entry('apikey', 'apikey:50:1');
      for (const key of [one, fifty]) tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      tier.invalidate([space.record(Scopes.prefix('apikey', ['5']))]);
      const readOne = tier.read(one, true);
      const readFifty = tier.read(fifty, true);
      expect(validEntry(readOne.entry, readOne.records, 0)).toBeUndefined();
      expect(validEntry(readFifty.entry, readFifty.records, 0)).toBeDefined();
    });

    it('reaches an entry through its tags', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:list');
      const tags = space.tagRecords(['user:7']);
      tier.write(key, [...key.recordKeys, ...tags], entry(tier.read(key, true).clock), TTL);
      const stamp = tier.read(key, true).entry?.tick ?? 0;
      expect(recordsAllow(stamp, tier.readRecords(tags))).toBe(true);
      tier.invalidate(space.tagRecords(['user:7']));
      expect(recordsAllow(stamp, tier.readRecords(tags))).toBe(false);
      expect(recordsAllow(stamp, tier.read(key, true).records)).toBe(true);
    });
  });

  describe('lost records', () => {
    it('an evicted record makes its entries misses, never hits', () => {
      const { tier, space, entry, now } = setup(100);
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      // Push past the records bound (max(1000, 8 per entry)) with records written later.
      for (let i = 0; i < 1000; i++) tier.records.ensure(`mt:@s:filler:${i}`, 0, now() + TTL);
      const read = tier.read(key, true);
      expect(read.entry).toBeDefined();
      expect(read.records).toContain(undefined);
      expect(recordsAllow(read.entry?.tick ?? 0, read.records)).toBe(false);
      expect(validEntry(read.entry, read.records, now())).toBeUndefined();
    });

    it('an expired record makes its entry a miss even when the entry is still held', () => {
      const { tier, space, entry, advance, now } = setup();
      const key = space.entry('users', 'users:1');
      // The entry claims a longer life than the write gave its records.
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v', 10_000), 1000);
      advance(1000);
      const read = tier.read(key, true);
      expect(read.entry).toBeDefined();
      expect(validEntry(read.entry, read.records, now())).toBeUndefined();
    });

    it('the next write after a fresh read restores a lost record', () => {
      const { tier, space, entry, now } = setup(100);
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v1'), TTL);
      for (let i = 0; i < 1000; i++) tier.records.ensure(`mt:@s:filler:${i}`, 0, now() + TTL);
      const read = tier.read(key, true);
      expect(tier.write(key, key.recordKeys, entry(read.clock, 'v2'), TTL)).toBe(true);
      const after = tier.read(key, true);
      expect(validEntry(after.entry, after.records, now())?.body).toBe('v2');
    });
  });

  it('clear() forgets entries and records', () => {
    const { tier, space, entry } = setup();
    const key = space.entry('users', 'users:1');
    tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
    tier.clear();
    const read = tier.read(key, true);
    expect(read.entry).toBeUndefined();
    expect(read.records).toEqual(key.recordKeys.map(() => undefined));
  });
});
