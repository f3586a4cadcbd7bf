import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySpace, Scopes, type EntryKey } from '../../src/cache/engine/entry-key.js';
import type { StoredResponse } from '../../src/cache/stores/cache-store.interface.js';
import { validEntry } from '../../src/cache/stores/cache-tier.interface.js';
import { RedisTier } from '../../src/cache/stores/redis-tier.js';
import type { RedisStore } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { intercepted, readyStore } from '../helpers/tier-commands.js';

const skip = skipWithoutRedis('writes without a script (RecordLifetimes)', canSpawnRedis());

const TTL = 60_000;

function entry(tick: number, body: string): StoredResponse {
  const expiresAt = Date.now() + TTL;
  return {
    status: 200,
    contentType: 'text/plain',
    body,
    etag: '"e"',
    expiresAt,
    staleUntil: expiresAt,
    tick,
    computeMs: 1,
  };
}

describe.skipIf(skip)('a write whose records are known to outlive its entry', () => {
  let redis: OwnedRedis;
  let store: RedisStore;
  let n = 0;
  beforeAll(async () => {
    redis = await spawnRedis();
    store = await readyStore({ url: redis.url, connectTimeout: 2000 });
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  /** A fresh prefix, a tier whose commands are counted by name, and a lookup-then-write of one key. */
  async function scene() {
    const space = new KeySpace(`plain-writes-${++n}`);
    const sent: string[] = [];
    const commands = intercepted(store.commands, (method, _args, send) => {
      sent.push(method);
      return send();
    });
    const tier = new RedisTier(commands, space.clockKey, false);
    await tier.load();
    sent.length = 0;
    const cycle = async (key: EntryKey, body: string): Promise<boolean> => {
      const stamp = (await tier.read(key, true)).clock;
      return tier.write(key, key.recordKeys, entry(stamp, body), TTL);
    };
    const valid = async (key: EntryKey) => {
      const read = await tier.read(key, true);
      return validEntry(read.entry, read.records);
    };
    return { space, tier, sent, cycle, valid };
  }

  it('is one SET after a script made its records outlive it, and the entry is valid', async () => {
    const { space, sent, cycle, valid } = await scene();
    const first = space.entry('plain', 'plain:1');
    expect(await cycle(first, 'one')).toBe(true);
    expect(sent).toEqual(['mGet', 'evalSha']);
    sent.length = 0;
    // Another entry with the same records: no script.
    const second = space.entry('plain', 'plain:1');
    expect(await cycle(second, 'two')).toBe(true);
    expect(sent).toEqual(['mGet', 'set']);
    expect((await valid(second))?.body).toBe('two');
    // Other records (another namespace): the script again.
    sent.length = 0;
    expect(await cycle(space.entry('other', 'other:1'), 'three')).toBe(true);
    expect(sent).toEqual(['mGet', 'evalSha']);
  });

  it('never makes an entry valid when an invalidation races it: the records it moved refuse the entry', async () => {
    const { space, tier, sent, cycle, valid } = await scene();
    const key = space.entry('race', 'race:1');
    await cycle(key, 'before');
    const stamp = (await tier.read(key, true)).clock;
    await tier.invalidate([space.record(Scopes.namespace('race'))]);
    sent.length = 0;
    await tier.write(key, key.recordKeys, entry(stamp, 'computed before the invalidation'), TTL);
    expect(sent).toEqual(['set']);
    expect(await valid(key)).toBeUndefined();
    // Computed after it: valid.
    expect(await cycle(key, 'after')).toBe(true);
    expect((await valid(key))?.body).toBe('after');
  });

  it('after a record is lost: the entry is a miss, the next lookup forgets the record and the next write recreates it', async () => {
    const { space, tier, sent, cycle, valid } = await scene();
    const key = space.entry('lost', 'lost:1');
    await cycle(key, 'one');
    const record = space.record(Scopes.namespace('lost'));
    // Lost after the lookup of the next write: that write is a plain SET, and its entry a miss.
    const stamp = (await tier.read(key, true)).clock;
    await store.commands.eval("return redis.call('DEL', KEYS[1])", { keys: [record], arguments: [] });
    sent.length = 0;
    expect(await tier.write(key, key.recordKeys, entry(stamp, 'two'), TTL)).toBe(true);
    expect(sent).toEqual(['set']);
    // This read finds the record missing (a miss) and forgets it: the next write runs the script again.
    expect(await valid(key)).toBeUndefined();
    sent.length = 0;
    expect(await cycle(key, 'three')).toBe(true);
    expect(sent).toEqual(['mGet', 'evalSha']);
    expect((await valid(key))?.body).toBe('three');
    expect(Number(await store.commands.get(record))).toBeGreaterThan(0);
  });

  it('forgets what it knew when it connects again (the server may have restarted empty)', async () => {
    const { space, tier, sent, cycle } = await scene();
    const key = space.entry('again', 'again:1');
    await cycle(key, 'one');
    await tier.load();
    sent.length = 0;
    await cycle(key, 'two');
    expect(sent).toContain('evalSha');
  });
});
