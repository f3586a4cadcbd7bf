import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheModule, CacheService } from '../../src/cache/index.js';
import { INVALIDATE_SCRIPT } from '../../src/cache/stores/redis-scripts.js';
import { CacheBackend } from '../helpers/internals.js';
import { waitUntil } from '../helpers/wait.js';
import { KeySpace, Scopes, type EntryKey } from '../../src/cache/engine/entry-key.js';
import { validEntry } from '../../src/cache/stores/cache-tier.interface.js';
import { RedisTier } from '../../src/cache/stores/redis-tier.js';
import type { RedisStore } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { intercepted, readyStore, textEntry } from '../helpers/tier-commands.js';

const skip = skipWithoutRedis('late writes', canSpawnRedis());

const TTL = 60_000;

describe.skipIf(skip)('a write whose computation started before an invalidation', () => {
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
    // A clock to stamp with (a write stamped 0, with no clock, is refused: see the clock-loss test).
    await tier.invalidate([]);
    sent.length = 0;
    const cycle = async (key: EntryKey, body: string): Promise<boolean> => {
      const stamp = (await tier.read(key, true)).clock;
      return tier.write(key, key.recordKeys, textEntry(stamp, body), TTL);
    };
    const valid = async (key: EntryKey) => {
      const read = await tier.read(key, true);
      return validEntry(read.entry, read.records);
    };
    return { space, tier, sent, cycle, valid };
  }

  it('is refused, so it never replaces the newer entry computed after the invalidation', async () => {
    const { space, tier, sent, cycle, valid } = await scene();
    const key = space.entry('late', 'late:1');
    await cycle(key, 'v0');
    const early = (await tier.read(key, true)).clock;
    await tier.invalidate([space.record(Scopes.namespace('late'))]);
    // Computed after the invalidation, and stored.
    expect(await cycle(key, 'new')).toBe(true);
    // The computation that started before it ends: refused by the script, and the newer entry stays.
    sent.length = 0;
    expect(await tier.write(key, key.recordKeys, textEntry(early, 'old'), TTL)).toBe(false);
    expect(sent).toEqual(['evalSha']);
    expect((await valid(key))?.body).toBe('new');
    // The same when the invalidation is another instance's.
    const stamp = (await tier.read(key, true)).clock;
    await new RedisTier(store.commands, space.clockKey, false).invalidate([
      space.record(Scopes.namespace('late')),
    ]);
    expect(await cycle(key, 'newer')).toBe(true);
    sent.length = 0;
    expect(await tier.write(key, key.recordKeys, textEntry(stamp, 'raced'), TTL)).toBe(false);
    expect(sent).toEqual(['evalSha']);
    expect((await valid(key))?.body).toBe('newer');
  });
});

describe.skipIf(skip)('with L1: a write refused by Redis', () => {
  let redis: OwnedRedis;
  let moduleRef: TestingModule;
  let store: RedisStore;
  const prefix = `plain-l1-${process.pid}`;

  beforeAll(async () => {
    redis = await spawnRedis();
    store = await readyStore({ url: redis.url, connectTimeout: 2000 });
    moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({
          enabled: true,
          keyPrefix: prefix,
          redis: { enabled: true, url: redis.url, operationTimeout: 500 },
          l1: { enabled: true },
        }),
      ],
    }).compile();
    moduleRef.useLogger(new Logger());
    await moduleRef.init();
    const backend = moduleRef.get(CacheBackend);
    await waitUntil(() => backend.backend === 'redis' && backend.l1Serving, 5000, 'Redis and the bus');
  });
  afterAll(async () => {
    await moduleRef?.close();
    await store?.close();
    await redis?.stop();
  });

  it('is not kept in L1: an invalidation from another instance, not announced yet, is not missed', async () => {
    const cache = moduleRef.get(CacheService);
    const at = { namespace: 'users' };
    await cache.set(['user', 1], { name: 'v0' }, at);
    await cache.delete(['user', 1], at);
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = cache.getOrSet(
      ['user', 1],
      async () => {
        await gate;
        return { name: 'old' };
      },
      at,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Another instance invalidates the namespace in Redis; its bus announcement never comes (it died).
    await store.commands.eval(INVALIDATE_SCRIPT.source, {
      keys: [`${prefix}:@clock`, `${prefix}:@s:n:users`],
      arguments: [],
    });
    release();
    expect(await slow).toEqual({ name: 'old' });
    // The write lands after the call returns.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 3; i++) expect(await cache.get(['user', 1], at)).toBeUndefined();
  });
});
