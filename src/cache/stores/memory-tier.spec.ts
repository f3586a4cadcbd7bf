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
    it('finds nothing at first: no entry, the current clock, every record at the floor (0)', () => {
      const { tier, space } = setup();
      const key = space.entry('users', 'users:1');
      const read = tier.read(key, true);
      expect(read.entry).toBeUndefined();
      expect(read.clock).toBe(tier.records.current);
      expect(read.records).toEqual(key.recordKeys.map(() => 0));
      expect(recordsAllow(read.clock, read.records)).toBe(true);
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
      expect(read.records).toEqual(key.recordKeys.map((record) => (record === namespace ? tick : 0)));
    });

    it('leaves the entry out when it is not asked for', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      const read = tier.read(key, false);
      expect(read.entry).toBeUndefined();
      expect(read.records).toHaveLength(key.recordKeys.length);
    });

    it('readRecords gives the ticks of any records, in order', () => {
      const { tier, space, entry } = setup();
      const tags = space.tagRecords(['a', 'b']);
      const key = space.entry('users', 'users:1');
      tier.write(key, [...key.recordKeys, tags[0] ?? ''], entry(tier.read(key, true).clock), TTL);
      const tick = tier.invalidate([tags[1] ?? '']);
      expect(tier.readRecords(tags)).toEqual([0, tick]);
      expect(tier.readRecords([])).toEqual([]);
    });
  });

  describe('write', () => {
    it('stores without writing any record: a miss leaves only its entry behind', () => {
      const { tier, space, entry } = setup();
      for (let i = 0; i < 100; i++) {
        const key = space.entry('users', `users:${i}:x`, [`user:${i}`]);
        expect(tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, `v${i}`), TTL)).toBe(true);
      }
      expect(tier.records.size).toBe(0);
      expect(tier.store.size).toBe(100);
      const key = space.entry('users', 'users:7:x', ['user:7']);
      const read = tier.read(key, true);
      expect(validEntry(read.entry, read.records, 0)?.body).toBe('v7');
    });

    it('stores over records that an invalidation elsewhere moved', () => {
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

    it('refuses a stamp older than an invalidation made while nothing was stored', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      const stamp = tier.read(key, true).clock;
      // No entry lives: the invalidation keeps no record, it raises the floor.
      const tick = tier.invalidate(key.recordKeys);
      expect(tier.records.size).toBe(0);
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
      const read = tier.read(key, true);
      expect(read.entry).toBeUndefined();
      expect(read.records).toEqual(key.recordKeys.map(() => tick));
      expect(tier.write(key, key.recordKeys, entry(read.clock), TTL)).toBe(true);
      const after = tier.read(key, true);
      expect(recordsAllow(after.entry?.tick ?? 0, after.records)).toBe(true);
    });

    it('refuses a stamp older than a tag record of the entry', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1', ['t']);
      const plain = space.entry('users', 'users:2');
      const stamp = tier.read(key, true).clock;
      tier.write(plain, plain.recordKeys, entry(stamp), TTL);
      tier.invalidate(space.tagRecords(['t']));
      expect(tier.write(plain, plain.recordKeys, entry(stamp), TTL)).toBe(true);
      expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
    });

    it('keeps the records of an invalidation while an entry written before it may live, no longer', () => {
      const { tier, space, entry, advance } = setup();
      const short = space.entry('users', 'users:short');
      const long = space.entry('users', 'users:long');
      tier.write(short, short.recordKeys, entry(tier.read(short, true).clock, 's', 1000), 1000);
      tier.write(long, long.recordKeys, entry(tier.read(long, true).clock, 'l', 5000), 5000);
      // A shorter entry written later does not shorten what the records must outlive.
      const again = space.entry('users', 'users:again');
      tier.write(again, again.recordKeys, entry(tier.read(again, true).clock, 'a', 100), 100);
      const tick = tier.invalidate([space.record(Scopes.prefix('users', ['short']))]);
      advance(4999);
      expect(tier.records.size).toBe(1);
      expect(tier.read(long, true).entry?.body).toBe('l');
      advance(1);
      expect(tier.read(long, true).entry).toBeUndefined();
      expect(tier.readRecords([space.record(Scopes.prefix('users', ['short']))])).toEqual([tick]);
      expect(tier.records.size).toBe(0);
    });
  });

  describe('invalidate', () => {
    it('ticks the clock and records exactly the targeted scopes', () => {
      const { tier, space, entry } = setup();
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      const other = space.record(Scopes.namespace('nobody'));
      const namespace = space.record(Scopes.namespace('users'));
      const before = tier.read(key, true).clock;
      const tick = tier.invalidate([namespace, other]);
      expect(tick).toBe(before + 1);
      expect(tier.readRecords([namespace, other, space.record(Scopes.all)])).toEqual([tick, tick, 0]);
      expect(tier.records.size).toBe(2);
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
      expect(tier.lookup(one)).toBeUndefined();
      expect(tier.lookup(fifty)).toBeDefined();
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
    it('an evicted record makes every entry older than it a miss, never a hit', () => {
      const { tier, space, entry, now } = setup(100);
      const key = space.entry('users', 'users:1');
      const other = space.entry('users', 'users:2');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock), TTL);
      tier.write(other, other.recordKeys, entry(tier.read(other, true).clock), TTL);
      tier.invalidate([space.record(Scopes.prefix('users', ['1']))]);
      expect(tier.lookup(key)).toBeUndefined();
      // Push past the records bound (max(1000, 8 per entry)) with later invalidations of other scopes.
      for (let i = 0; i < 1000; i++) tier.invalidate([`mt:@s:filler:${i}`]);
      expect(tier.records.size).toBe(1000);
      const read = tier.read(key, true);
      expect(read.entry).toBeDefined();
      expect(validEntry(read.entry, read.records, now())).toBeUndefined();
      expect(tier.lookup(key)).toBeUndefined();
      // The floor passed every entry stamped before the dropped record: the untouched one is a miss too.
      expect(tier.lookup(other)).toBeUndefined();
    });

    it('a record dropped by expiry raises the floor past the entries stamped before it', () => {
      const { tier, space, entry, advance } = setup();
      const first = space.entry('users', 'users:1');
      tier.write(first, first.recordKeys, entry(tier.read(first, true).clock, 'v', 1000), 1000);
      const late = space.entry('other', 'other:2');
      const stamp = tier.read(late, true).clock;
      const tick = tier.invalidate([space.record(Scopes.prefix('users', ['1']))]);
      expect(tier.write(late, late.recordKeys, entry(stamp, 'late', 10_000), 10_000)).toBe(true);
      advance(500);
      expect(tier.lookup(late)?.body).toBe('late');
      advance(500);
      expect(tier.readRecords([space.record(Scopes.prefix('users', ['1']))])).toEqual([tick]);
      expect(tier.lookup(late)).toBeUndefined();
      expect(tier.write(late, late.recordKeys, entry(tier.clock, 'again', 10_000), 10_000)).toBe(true);
      expect(tier.lookup(late)?.body).toBe('again');
    });

    it('the next write after a fresh read stores again once records were lost', () => {
      const { tier, space, entry, now } = setup(100);
      const key = space.entry('users', 'users:1');
      tier.write(key, key.recordKeys, entry(tier.read(key, true).clock, 'v1'), TTL);
      for (let i = 0; i < 1001; i++) tier.invalidate([`mt:@s:filler:${i}`]);
      const read = tier.read(key, true);
      expect(validEntry(read.entry, read.records, now())).toBeUndefined();
      expect(tier.write(key, key.recordKeys, entry(read.clock, 'v2'), TTL)).toBe(true);
      const after = tier.read(key, true);
      expect(validEntry(after.entry, after.records, now())?.body).toBe('v2');
    });
  });

  it('clear() forgets entries and records, and refuses writes stamped before it', () => {
    const { tier, space, entry } = setup();
    const key = space.entry('users', 'users:1');
    const stamp = tier.read(key, true).clock;
    tier.write(key, key.recordKeys, entry(stamp), TTL);
    tier.invalidate([space.record(Scopes.namespace('x'))]);
    tier.clear();
    const read = tier.read(key, true);
    expect(read.entry).toBeUndefined();
    expect(tier.records.size).toBe(0);
    expect(tier.write(key, key.recordKeys, entry(stamp), TTL)).toBe(false);
    expect(tier.write(key, key.recordKeys, entry(read.clock), TTL)).toBe(true);
  });
});
