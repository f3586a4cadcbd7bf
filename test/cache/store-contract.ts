import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySpace, Scopes, type EntryKey } from '../../src/cache/engine/entry-key.js';
import type { StoredResponse } from '../../src/cache/stores/cache-store.interface.js';
import { RECORD_SLACK_MS } from '../../src/cache/stores/redis-scripts.js';
import {
  recordsAllow,
  validEntry,
  type CacheTier,
  type TierRead,
} from '../../src/cache/stores/cache-tier.interface.js';

const TTL = 60_000;

/** Direct access to a tier's keys, behind its back: what a lost key, a restart or a corrupt value looks like. */
export interface RawKeys {
  /** Every key whose name starts with `prefix:`. */
  keys(prefix: string): Promise<string[]>;
  /** Milliseconds to live; -1 without expiry, -2 when the key does not exist. */
  pttl(key: string): Promise<number>;
  /** The value as stored, or `null`. */
  get(key: string): Promise<string | null>;
  /** Plants a value without expiry. */
  set(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
}

/** A backend under test. Every test gets a key prefix of its own, under the prefix given to the contract. */
export interface TierSubject {
  /** A tier that keeps everything under `space.prefix` (its clock is `space.clockKey`). */
  tier(space: KeySpace): CacheTier;
  /** Raw key access, for backends whose keys can be lost, inspected or corrupted (Redis). */
  raw?: RawKeys;
  /** The hash slot of a key (Redis Cluster), to check that one entry's keys are spread over slots. */
  slotOf?(key: string): Promise<number>;
  teardown(): Promise<void>;
}

/** What a tier returned, minus the bytes an in-process tier keeps beside the body. */
function withoutBytes(value: StoredResponse | undefined): StoredResponse | undefined {
  if (value === undefined) return value;
  const { bodyBytes: _bytes, ...rest } = value;
  return rest;
}

function entry(
  tick: number,
  body = 'body',
  ttlMs = TTL,
  extra: Partial<StoredResponse> = {},
): StoredResponse {
  const expiresAt = Date.now() + ttlMs;
  return {
    status: 200,
    contentType: 'application/json; charset=utf-8',
    body,
    etag: '"etag"',
    expiresAt,
    staleUntil: expiresAt,
    tick,
    computeMs: 3,
    ...extra,
  };
}

/** Whether a read found a valid entry (scope records only: tags are read separately). */
function valid(read: TierRead): boolean {
  return validEntry(read.entry, read.records) !== undefined;
}

/** What a backend can be put through beyond the common contract; the subject must then provide it. */
export interface TierCapabilities {
  /** Keys can be lost, inspected and corrupted through {@link TierSubject.raw}. */
  raw?: boolean;
  /** Records are made to live up to the write slack (RECORD_SLACK_MS) longer than their entries. */
  recordSlack?: boolean;
  /** Keys live on hash slots ({@link TierSubject.slotOf}). */
  slots?: boolean;
  /**
   * Records exist for invalidated scopes only (the in-process tier): a missing one reads as the tier's floor,
   * which rises past every record it drops, instead of as missing.
   */
  floor?: boolean;
}

/**
 * The behaviour every {@link CacheTier} must have (docs/storage-model.md), run once per backend. `prefix` is
 * unique to the test file and run; every test works under a prefix of its own below it. Cases that need a
 * capability are registered only for the backends that have it.
 */
export function describeTierContract(
  name: string,
  prefix: string,
  create: () => Promise<TierSubject>,
  capabilities: TierCapabilities = {},
): void {
  /** How much longer than an entry of `ttlMs` its records may live (the write slack). */
  const slackOf = (ttlMs: number): number =>
    capabilities.recordSlack === true ? Math.min(RECORD_SLACK_MS, Math.floor(ttlMs / 4)) : 0;

  describe(`tier contract: ${name}`, () => {
    let subject: TierSubject;
    let space: KeySpace;
    let tier: CacheTier;
    let n = 0;

    /** A fresh prefix (own clock, own records) for one test or one round of it. */
    const fresh = (): { space: KeySpace; tier: CacheTier } => {
      const s = new KeySpace(`${prefix}-${++n}`);
      return { space: s, tier: subject.tier(s) };
    };

    /** Reads, then writes a value stamped with the clock read; returns the stamp. */
    async function store(
      key: EntryKey,
      body = 'body',
      ttlMs = TTL,
      tags: readonly string[] = [],
      on: { tier: CacheTier; space: KeySpace } = { tier, space },
    ): Promise<number> {
      const stamp = (await on.tier.read(key, true)).clock;
      const records = [...key.recordKeys, ...on.space.tagRecords(tags)];
      const stored = await on.tier.write(key, records, entry(stamp, body, ttlMs, { tags }), ttlMs);
      expect(stored, `write of ${key.key}`).toBe(true);
      // Stamped 0 (no clock yet), the entry is stamped with the clock the write brought back.
      return (await on.tier.read(key, true)).entry?.tick ?? stamp;
    }

    beforeAll(async () => {
      subject = await create();
    });
    afterAll(async () => {
      await subject?.teardown();
    });

    /** Gives the test a prefix of its own. */
    const use = () => {
      ({ space, tier } = fresh());
    };

    it('reads nothing from an empty prefix: no entry, a clock (made when missing), no record', async () => {
      use();
      const key = space.entry('users', 'users:1:single', ['user:1']);
      const first = await tier.read(key, true);
      expect(first.entry).toBeUndefined();
      // Never invalidated: missing, or (records of invalidated scopes only) the floor of a fresh tier, 0.
      const none = capabilities.floor === true ? 0 : undefined;
      expect(first.records).toEqual(key.recordKeys.map(() => none));
      expect(Number.isSafeInteger(first.clock) && first.clock >= 0).toBe(true);
      expect(recordsAllow(first.clock, first.records)).toBe(capabilities.floor === true);
      const again = await tier.read(key, false);
      expect(again.clock).toBe(first.clock);
      expect(again.entry).toBeUndefined();
      expect(await tier.readRecords(space.tagRecords(['user:1']))).toEqual([none]);
      if (subject.raw !== undefined) {
        // A read writes nothing but the clock, when it finds none (one fixed key, made once).
        expect(first.clock).toBeGreaterThan(0);
        expect(await subject.raw.keys(space.prefix)).toEqual([space.clockKey]);
      }
    });

    it('returns what was written, field for field, with records that allow it', async () => {
      use();
      await tier.invalidate([]); // a clock to stamp with: the entries come back as written
      const key = space.entry('users', 'users:1:single');
      const stamp = (await tier.read(key, true)).clock;
      const value = entry(stamp, '{"a":1,"text":"héllo ✓ 😀"}', TTL, { tags: ['t1'] });
      const records = [...key.recordKeys, ...space.tagRecords(['t1'])];
      expect(await tier.write(key, records, value, TTL)).toBe(true);
      const read = await tier.read(key, true);
      expect(withoutBytes(read.entry)).toEqual(value);
      expect(read.records).toEqual(key.recordKeys.map(() => stamp));
      expect(valid(read)).toBe(true);
      expect(recordsAllow(stamp, await tier.readRecords(space.tagRecords(['t1'])))).toBe(true);
    });

    it('keeps bodiless, binary and large entries intact', async () => {
      use();
      await tier.invalidate([]); // a clock to stamp with: the entries come back as written
      const values = {
        empty: (tick: number) => entry(tick, '', TTL, { body: undefined, contentType: undefined }),
        binary: (tick: number) =>
          entry(tick, Buffer.from([0, 1, 2, 255]).toString('base64'), TTL, { encoding: 'base64' }),
        large: (tick: number) => entry(tick, JSON.stringify({ data: 'x'.repeat(200_000) })),
      };
      for (const [name, make] of Object.entries(values)) {
        const key = space.entry('kinds', `kinds:${name}`);
        const value = make((await tier.read(key, true)).clock);
        expect(await tier.write(key, key.recordKeys, value, TTL)).toBe(true);
        expect(withoutBytes((await tier.read(key, true)).entry), name).toEqual(value);
      }
    });

    it('makes an entry a miss through each of its scopes, and only through them', async () => {
      use();
      const targets = {
        all: space.record(Scopes.all),
        namespace: space.record(Scopes.namespace('inv')),
        first: space.record(Scopes.prefix('inv', ['a'])),
        second: space.record(Scopes.prefix('inv', ['a', 'b'])),
        third: space.record(Scopes.prefix('inv', ['a', 'b', 'c'])),
      };
      for (const [name, record] of Object.entries(targets)) {
        const key = space.entry('inv', `inv:a:b:c:d:${name}`);
        const other = space.entry('inv', `inv:ab:${name}`);
        const stamp = await store(key, name);
        await store(other, name);
        const tick = await tier.invalidate([record]);
        expect(tick).toBeGreaterThan(stamp);
        const read = await tier.read(key, true);
        expect(read.clock).toBe(tick);
        expect(read.entry?.body).toBe(name);
        expect(recordsAllow(stamp, read.records), name).toBe(false);
        expect(valid(read), name).toBe(false);
        // `inv:ab…` shares no prefix with `inv:a:…`: only the wide scopes reach it.
        expect(valid(await tier.read(other, true)), `inv:ab vs ${name}`).toBe(
          name !== 'all' && name !== 'namespace',
        );
      }
    });

    it('makes an entry a miss through its tags', async () => {
      use();
      const key = space.entry('tags', 'tags:list');
      const stamp = await store(key, 'v', TTL, ['user:7', 'user:8']);
      const tags = space.tagRecords(['user:7', 'user:8']);
      expect(recordsAllow(stamp, await tier.readRecords(tags))).toBe(true);
      await tier.invalidate(space.tagRecords(['user:8']));
      const ticks = await tier.readRecords(tags);
      // The other tag's record as the write left it (or, with records of invalidated scopes only, the floor).
      if (capabilities.floor === true) expect(ticks[0]).toBeLessThanOrEqual(stamp);
      else expect(ticks[0]).toBe(stamp);
      expect(recordsAllow(stamp, ticks.slice(0, 1))).toBe(true);
      expect(recordsAllow(stamp, ticks)).toBe(false);
      expect(valid(await tier.read(key, true))).toBe(true);
    });

    it("stores and invalidates an entry with 9,000 tags (past Lua's unpack limit: the Redis write then reads its records one by one)", async () => {
      use();
      const key = space.entry('tags', 'tags:many');
      const names = Array.from({ length: 9000 }, (_, i) => `many:${i}`);
      const stamp = await store(key, 'v', TTL, names);
      const tags = space.tagRecords(names);
      expect(recordsAllow(stamp, await tier.readRecords(tags))).toBe(true);
      await tier.invalidate(space.tagRecords(['many:8765']));
      expect(recordsAllow(stamp, await tier.readRecords(tags))).toBe(false);
      // A write stamped before that invalidation is refused, whichever of its 9,000 records refuses it.
      const records = [...key.recordKeys, ...tags];
      expect(await tier.write(key, records, entry(stamp, 'late', TTL, { tags: names }), TTL)).toBe(false);
    });

    it('invalidate ticks the clock upward; it creates no record (a cluster: only short-lived ones; in process: a floor)', async () => {
      use();
      const key = space.entry('none', 'none:1', ['t']);
      const before = (await tier.read(key, true)).clock;
      const first = await tier.invalidate(key.recordKeys);
      const second = await tier.invalidate([]);
      expect(first).toBeGreaterThan(before);
      // One more, or the server's time in microseconds when later (Redis: a clock that went back still ticks up).
      expect(second).toBeGreaterThan(first);
      const read = await tier.read(key, true);
      expect(read.clock).toBe(second);
      if (capabilities.floor === true) {
        // Nothing was stored, so nothing depends on a record: each invalidation raised the floor instead.
        expect(read.records).toEqual(key.recordKeys.map(() => second));
        expect(recordsAllow(before, read.records)).toBe(false);
      } else if (capabilities.slots === true) {
        // A cluster's write is several commands: an invalidation creates its records so that a write still in
        // flight finds them; they live RedisTier's default 10 s.
        expect(read.records).toEqual(key.recordKeys.map(() => first));
        for (const record of key.recordKeys)
          expect(await subject.raw?.pttl(record)).toBeLessThanOrEqual(10_000);
      } else {
        expect(read.records).toEqual(key.recordKeys.map(() => undefined));
        if (subject.raw !== undefined) expect(await subject.raw.keys(space.prefix)).toEqual([space.clockKey]);
      }
    });

    it('refuses a write when an invalidation happened between its read and its write (records present)', async () => {
      use();
      const key = space.entry('race', 'race:1');
      await store(key, 'old');
      const stamp = (await tier.read(key, true)).clock;
      const tick = await tier.invalidate([space.record(Scopes.prefix('race', ['1']))]);
      expect(await tier.write(key, key.recordKeys, entry(stamp, 'computed before'), TTL)).toBe(false);
      const read = await tier.read(key, true);
      // The old entry stays, or (cluster) the refused one was written beside records that refuse it.
      expect(read.entry).toBeDefined();
      expect(valid(read)).toBe(false);
      // Computed after the invalidation: stored.
      expect(read.clock).toBe(tick);
      expect(await tier.write(key, key.recordKeys, entry(read.clock, 'new'), TTL)).toBe(true);
      const after = await tier.read(key, true);
      expect(after.entry?.body).toBe('new');
      expect(valid(after)).toBe(true);
    });

    it('refuses a write when an invalidation happened between its read and its write (records absent)', async () => {
      use();
      await tier.invalidate([]); // a clock to stamp with (a lookup without one: see the lost-clock case)
      const key = space.entry('race', 'race:1');
      const stamp = (await tier.read(key, true)).clock;
      // Nothing to move: only the clock tells that the invalidation happened.
      const tick = await tier.invalidate([space.record(Scopes.namespace('race'))]);
      expect(await tier.write(key, key.recordKeys, entry(stamp, 'computed before'), TTL)).toBe(false);
      const read = await tier.read(key, true);
      expect(valid(read)).toBe(false);
      // The refused write left its records fenced at the current tick (a single script), or the invalidation
      // created the one it targets (a cluster, where the write is several commands): a later write needs a
      // later read.
      if (capabilities.slots === true) expect(read.records).toContain(tick);
      else expect(read.records).toEqual(key.recordKeys.map(() => tick));
      expect(await tier.write(key, key.recordKeys, entry(stamp, 'computed before'), TTL)).toBe(false);
      expect(await tier.write(key, key.recordKeys, entry(read.clock, 'new'), TTL)).toBe(true);
      expect(valid(await tier.read(key, true))).toBe(true);
    });

    it('stores over present records that an invalidation elsewhere did not move', async () => {
      use();
      const key = space.entry('calm', 'calm:1');
      await store(key, 'old');
      const stamp = (await tier.read(key, true)).clock;
      await tier.invalidate([space.record(Scopes.namespace('elsewhere'))]);
      expect(await tier.write(key, key.recordKeys, entry(stamp, 'new'), TTL)).toBe(true);
      const read = await tier.read(key, true);
      expect(read.entry?.body).toBe('new');
      expect(valid(read)).toBe(true);
    });

    it('never leaves a valid entry stamped before an invalidation that ran among 20 parallel writes', async () => {
      for (const warm of [true, false]) {
        for (const at of [0, 1, 5, 10, 19, 20]) {
          for (let round = 0; round < 3; round++) {
            const on = fresh();
            const key = on.space.entry('race', 'race:1:x', ['race-tag']);
            if (warm) await store(key, 'warm', TTL, [], on);
            const stamp = (await on.tier.read(key, true)).clock;
            let tick = 0;
            const jobs: Array<Promise<unknown>> = [];
            for (let i = 0; i <= 20; i++) {
              if (i === at) {
                const target = [on.space.record(Scopes.namespace('race'))];
                jobs.push(Promise.resolve(on.tier.invalidate(target)).then((t) => (tick = t)));
              }
              if (i < 20) {
                jobs.push(Promise.resolve(on.tier.write(key, key.recordKeys, entry(stamp, `w${i}`), TTL)));
              }
            }
            await Promise.all(jobs);
            const read = await on.tier.read(key, true);
            const where = `${warm ? 'warm' : 'cold'}, invalidation at ${at}, round ${round}`;
            expect(tick, where).toBeGreaterThan(stamp);
            expect(read.clock, where).toBe(tick);
            // Computed before the invalidation (a write stamped 0 is stamped with the clock it brings back).
            expect(read.entry === undefined || read.entry.tick < tick, where).toBe(true);
            expect(
              valid(read),
              `${where}: ${read.entry?.body} stamped ${read.entry?.tick}, records ${read.records.join()}`,
            ).toBe(false);
          }
        }
      }
    });

    if (capabilities.raw === true) registerRawCases();
    if (capabilities.slots === true) registerSlotCases();

    /** Cases that lose, inspect or corrupt keys behind the tier's back. */
    function registerRawCases(): void {
      describe('with raw key access', () => {
        const raw = (): RawKeys => {
          if (subject.raw === undefined)
            throw new Error('a subject with the raw capability must provide raw');
          return subject.raw;
        };

        it('a deleted record makes the entry a miss, and the next write after a fresh read works', async () => {
          use();
          const key = space.entry('lost', 'lost:1:x');
          await store(key, 'old');
          for (const record of key.recordKeys) {
            await raw().del(record);
            const read = await tier.read(key, true);
            expect(read.entry, record).toBeDefined();
            expect(valid(read), record).toBe(false);
            expect(await tier.write(key, key.recordKeys, entry(read.clock, 'again'), TTL), record).toBe(true);
            expect(valid(await tier.read(key, true)), record).toBe(true);
          }
        });

        it('a deleted clock comes back above every earlier tick, and no stale entry becomes valid', async () => {
          use();
          const ticks: number[] = [];
          ticks.push(await tier.invalidate([space.record(Scopes.namespace('unrelated'))]));
          const kept = space.entry('a', 'a:kept');
          const stale = space.entry('a', 'a:stale');
          const other = space.entry('b', 'b:1');
          ticks.push(await store(kept, 'kept'), await store(stale, 'stale'), await store(other, 'other'));
          ticks.push(await tier.invalidate([space.record(Scopes.prefix('a', ['stale']))]));
          ticks.push(await store(space.entry('a', 'a:later'), 'later'));
          await raw().del(space.clockKey);
          // A lookup that finds no clock brings it back above every earlier tick: the stamp of its value.
          const computing = space.entry('a', 'a:computing');
          const stamp = (await tier.read(computing, true)).clock;
          expect(stamp).toBeGreaterThan(Math.max(...ticks));
          expect(valid(await tier.read(stale, true))).toBe(false);
          const tick = await tier.invalidate([space.record(Scopes.namespace('a'))]);
          expect(tick).toBeGreaterThan(Math.max(...ticks));
          expect(
            await tier.write(computing, computing.recordKeys, entry(stamp, 'computed before'), TTL),
          ).toBe(false);
          for (const key of [kept, stale, computing])
            expect(valid(await tier.read(key, true)), key.key).toBe(false);
          expect(valid(await tier.read(other, true))).toBe(true);
          const read = await tier.read(kept, true);
          expect(read.clock).toBe(tick);
          expect(await tier.write(kept, kept.recordKeys, entry(read.clock, 'new'), TTL)).toBe(true);
          expect(valid(await tier.read(kept, true))).toBe(true);
        });

        it('writes resume after the clock is lost, without waiting for an invalidation', async () => {
          use();
          await tier.invalidate([]);
          const first = space.entry('resume', 'resume:1');
          await store(first, 'old');
          await raw().del(space.clockKey);
          // Every entry shares the `*` record: if no write could pass, nothing would be cached any more.
          const key = space.entry('resume', 'resume:2');
          let stored = false;
          for (let attempt = 0; attempt < 3 && !stored; attempt++) {
            const read = await tier.read(key, true);
            stored = await tier.write(key, key.recordKeys, entry(read.clock, 'new'), TTL);
          }
          expect(stored).toBe(true);
          expect(valid(await tier.read(key, true))).toBe(true);
        });

        it('gives every key it writes a TTL, except the clock', async () => {
          use();
          await store(space.entry('ttl', 'ttl:1:a:b'), 'a', 5000, ['t1', 't2']);
          await store(space.entry('ttl', 'ttl:2'), 'b', TTL);
          await tier.invalidate([space.record(Scopes.namespace('ttl')), space.record(Scopes.tag('t1'))]);
          // A write after the clock moved, with its records missing: refused, and its records fenced.
          const fenced = space.entry('ttl', 'ttl:3');
          const stamp = (await tier.read(fenced, true)).clock;
          await tier.invalidate([]);
          expect(await tier.write(fenced, fenced.recordKeys, entry(stamp), 3000)).toBe(false);
          await store(space.entry('ttl', `ttl:${'x'.repeat(400)}`), 'long', 2000);
          const keys = await raw().keys(space.prefix);
          expect(keys).toContain(space.clockKey);
          expect(keys.length).toBeGreaterThan(10);
          for (const name of keys) {
            const pttl = await raw().pttl(name);
            // The clock lives forever (one fixed key).
            if (name === space.clockKey) expect(pttl, name).toBe(-1);
            else {
              expect(pttl, name).toBeGreaterThan(0);
              // A cluster's invalidation creates its records for at least RedisTier's default 10 s.
              expect(pttl, name).toBeLessThanOrEqual(
                capabilities.slots === true ? Math.max(TTL, 10_000) : TTL + slackOf(TTL),
              );
            }
            expect(name.startsWith(`${space.prefix}:@`), name).toBe(true);
          }
        });

        it("raises the TTL of records to the entry's, and never lowers it", async () => {
          use();
          const all = space.record(Scopes.all);
          const own = space.record(Scopes.prefix('ttl', ['short']));
          await store(space.entry('ttl', 'ttl:short'), 's', 2000);
          expect(await raw().pttl(all)).toBeGreaterThan(1900);
          expect(await raw().pttl(all)).toBeLessThanOrEqual(2000 + slackOf(2000));
          expect(await raw().pttl(own)).toBeLessThanOrEqual(2000 + slackOf(2000));
          await store(space.entry('ttl', 'ttl:long'), 'l', TTL);
          expect(await raw().pttl(all)).toBeGreaterThan(TTL - 5000);
          expect(await raw().pttl(own)).toBeLessThanOrEqual(2000 + slackOf(2000));
          await store(space.entry('ttl', 'ttl:brief'), 'b', 1000);
          expect(await raw().pttl(all)).toBeGreaterThan(TTL - 5000);
          // An invalidation keeps the lifetime of the records it moves (a cluster's lasts at least its 10 s).
          await tier.invalidate([all, own]);
          expect(await raw().pttl(all)).toBeGreaterThan(TTL - 5000);
          const ownTtl = await raw().pttl(own);
          expect(ownTtl).toBeGreaterThan(0);
          expect(ownTtl).toBeLessThanOrEqual(capabilities.slots === true ? 10_000 : 2000 + slackOf(2000));
        });

        it('treats a non-numeric record as missing, and a write replaces it (with a TTL)', async () => {
          use();
          const key = space.entry('bad', 'bad:1');
          await store(key, 'old');
          const record = space.record(Scopes.namespace('bad'));
          for (const junk of ['garbage', '', '12abc', '-5', '1.5', '{"a":1}']) {
            await raw().set(record, junk);
            const read = await tier.read(key, true);
            expect.soft(read.records[key.recordKeys.indexOf(record)], junk).toBeUndefined();
            expect.soft(valid(read), junk).toBe(false);
            expect.soft(await tier.write(key, key.recordKeys, entry(read.clock, junk), TTL), junk).toBe(true);
            const after = await tier.read(key, true);
            expect.soft(after.entry?.body, junk).toBe(junk);
            expect.soft(valid(after), junk).toBe(true);
            expect.soft(Number(await raw().get(record)), junk).toBe(read.clock);
            expect.soft(await raw().pttl(record), junk).toBeGreaterThan(0);
          }
        });

        it('treats a corrupt entry as a miss, and a write replaces it', async () => {
          use();
          const corrupt = [
            'not json',
            '',
            '{"value":42}',
            '[1,2]',
            'null',
            '{"value":{"status":"x"}}',
            '{"value":{"status":200}}',
            '{"status":200,"etag":"e","expiresAt":1,"staleUntil":1,"tick":0,"computeMs":1}',
          ];
          for (const [i, junk] of corrupt.entries()) {
            const key = space.entry('bad', `bad:${i}`);
            await store(key, 'old');
            await raw().set(key.key, junk);
            const read = await tier.read(key, true);
            expect(read.entry, junk).toBeUndefined();
            expect(
              read.records.every((r) => r !== undefined),
              junk,
            ).toBe(true);
            expect(await tier.write(key, key.recordKeys, entry(read.clock, 'fixed'), TTL), junk).toBe(true);
            expect((await tier.read(key, true)).entry?.body, junk).toBe('fixed');
            expect(await raw().pttl(key.key), junk).toBeGreaterThan(0);
          }
        });

        it('never lets a lost clock make an invalidated entry valid again: a lookup brings it back first', async () => {
          use();
          const old = space.entry('lost', 'lost:1');
          await store(old, 'old');
          const invalidated = await tier.invalidate([space.record(Scopes.namespace('lost'))]);
          expect(valid(await tier.read(old, true))).toBe(false);
          // The clock and the records the invalidation moved are lost (evicted); the old entry survives.
          for (const name of [
            space.clockKey,
            space.record(Scopes.all),
            space.record(Scopes.namespace('lost')),
          ])
            await raw().del(name);
          // A lookup that finds no clock makes one, above every earlier tick, before answering: its stamp.
          const other = space.entry('lost', 'lost:2');
          const read = await tier.read(other, true);
          expect(read.clock).toBeGreaterThan(invalidated);
          expect(Number(await raw().get(space.clockKey))).toBe(read.clock);
          expect(await tier.write(other, other.recordKeys, entry(read.clock, 'after the loss'), TTL)).toBe(
            true,
          );
          expect(valid(await tier.read(other, true))).toBe(true);
          expect(valid(await tier.read(old, true))).toBe(false);
          // A write stamped 0 (a lookup that could not make the clock) is refused and creates no record.
          await raw().del(space.clockKey);
          const third = space.entry('lost', 'lost:3');
          expect(await tier.write(third, third.recordKeys, entry(0, 'refused'), TTL)).toBe(false);
          for (const name of third.recordKeys) expect(await raw().get(name), name).not.toBe('0');
          expect(valid(await tier.read(third, true))).toBe(false);
          expect(valid(await tier.read(old, true))).toBe(false);
        });

        it('never stores a value computed across a lost clock, an invalidation and a second loss', async () => {
          use();
          const key = space.entry('twice', 'twice:1');
          await raw().del(space.clockKey);
          // The lookup finds no clock (a flush, a loss); then, while the value is computed, an invalidation
          // ticks the clock it made, and everything it touched is lost again (an empty restart).
          const stamp = (await tier.read(key, true)).clock;
          await tier.invalidate([space.record(Scopes.namespace('twice'))]);
          for (const name of [space.clockKey, ...key.recordKeys]) await raw().del(name);
          expect(await tier.write(key, key.recordKeys, entry(stamp, 'computed across'), TTL)).toBe(false);
          expect(valid(await tier.read(key, true))).toBe(false);
        });

        it('treats a clock of 0 as missing: a lookup replaces it, and no record is made at 0', async () => {
          use();
          const old = space.entry('zero', 'zero:1');
          await store(old, 'old');
          const invalidated = await tier.invalidate([space.record(Scopes.namespace('zero'))]);
          for (const name of [space.record(Scopes.all), space.record(Scopes.namespace('zero'))])
            await raw().del(name);
          await raw().set(space.clockKey, '0');
          const other = space.entry('zero', 'zero:2');
          const read = await tier.read(other, true);
          expect(read.clock).toBeGreaterThan(invalidated);
          await tier.write(other, other.recordKeys, entry(read.clock, 'stamped'), TTL);
          for (const name of other.recordKeys) expect(await raw().get(name), name).not.toBe('0');
          expect(valid(await tier.read(old, true))).toBe(false);
        });

        it('a clock that went back (an older snapshot) refuses writes stamped above it and ticks past them', async () => {
          use();
          const key = space.entry('back', 'back:1');
          const old = await tier.invalidate([]);
          const stamp = (await tier.read(key, true)).clock;
          await tier.invalidate([space.record(Scopes.namespace('back'))]);
          const stale = space.entry('back', 'back:2');
          const staleStamp = await store(stale, 'stored before the restore');
          // Restored from a snapshot taken before those invalidations.
          await raw().set(space.clockKey, String(old));
          expect(
            await tier.write(key, key.recordKeys, entry(stamp + 1_000_000, 'from the future'), TTL),
          ).toBe(false);
          const tick = await tier.invalidate([space.record(Scopes.namespace('back'))]);
          expect(tick).toBeGreaterThan(staleStamp);
          expect(valid(await tier.read(stale, true))).toBe(false);
        });

        it('treats a corrupt clock as missing, and the next invalidation replaces it with a higher tick', async () => {
          use();
          const key = space.entry('bad', 'bad:clock');
          const stamp = await store(key, 'old');
          const before = await tier.invalidate([]);
          await raw().set(space.clockKey, 'garbage');
          expect((await tier.read(key, true)).clock).toBeGreaterThan(Math.max(stamp, before));
          await raw().set(space.clockKey, 'garbage');
          const tick = await tier.invalidate([space.record(Scopes.namespace('bad'))]);
          expect(tick).toBeGreaterThan(Math.max(stamp, before));
          expect(Number(await raw().get(space.clockKey))).toBe(tick);
          expect(valid(await tier.read(key, true))).toBe(false);
        });
      });
    }

    /** Redis Cluster: one entry's keys live on several slots, and no operation is refused for it. */
    function registerSlotCases(): void {
      it('spreads the keys of one entry over several slots (no CROSSSLOT refusal anywhere)', async () => {
        const slotOf = subject.slotOf?.bind(subject);
        if (slotOf === undefined) throw new Error('a subject with the slots capability must provide slotOf');
        use();
        const key = space.entry('slots', 'slots:a:b:c', ['t1', 't2']);
        const slots = new Set(await Promise.all([...key.readKeys, key.lockKey].map((name) => slotOf(name))));
        expect(slots.size).toBeGreaterThan(1);
        await store(key, 'spread', TTL, ['t1', 't2']);
        await tier.invalidate([...key.recordKeys, ...space.tagRecords(['t1', 't2'])]);
        expect(valid(await tier.read(key, true))).toBe(false);
        expect(await tier.readRecords(space.tagRecords(['t1', 't2']))).toHaveLength(2);
      });
    }
  });
}
