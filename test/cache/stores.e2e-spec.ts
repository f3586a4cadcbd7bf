import { createClient, createCluster } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeySpace, Scopes } from '../../src/cache/engine/entry-key.js';
import { validEntry } from '../../src/cache/stores/cache-tier.interface.js';
import { MemoryTier } from '../../src/cache/stores/memory-tier.js';
import { INVALIDATE_RECORD_SCRIPT } from '../../src/cache/stores/redis-scripts.js';
import { RedisTier } from '../../src/cache/stores/redis-tier.js';
import { RedisStore } from '../helpers/internals.js';
import {
  canSpawnRedis,
  sharedOrOwnedRedis,
  skipWithoutRedis,
  spawnCluster,
  type OwnedCluster,
} from '../helpers/redis.js';
import { intercepted, readyStore, textEntry } from '../helpers/tier-commands.js';
import { describeTierContract, type RawKeys, type TierSubject } from './store-contract.js';

const runId = `tier-contract-${process.pid}-${Date.now()}`;

describeTierContract(
  'memory',
  `${runId}-memory`,
  async () => ({
    tier: () => new MemoryTier(10_000, 64 * 1024 * 1024),
    teardown: async () => undefined,
  }),
  { floor: true },
);

const redisAvailable = process.env['REDIS_URL'] !== undefined || canSpawnRedis();
if (!skipWithoutRedis('tier contract on Redis', redisAvailable)) {
  const prefix = `${runId}-redis`;
  describeTierContract(
    'redis',
    prefix,
    async (): Promise<TierSubject> => {
      const server = await sharedOrOwnedRedis();
      if (server === undefined) throw new Error('no Redis');
      const store = await readyStore({ url: server.url, connectTimeout: 2000 });
      // A separate connection for what the test does behind the tier's back.
      const client = createClient({ url: server.url });
      await client.connect();
      const scan = async (pattern: string) => {
        const found: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 500 })) found.push(...batch);
        return found.sort();
      };
      const keys = (under: string) => scan(`${under}:*`);
      const raw: RawKeys = {
        keys,
        pttl: (key) => client.pTTL(key),
        get: async (key) => await client.get(key),
        set: async (key, value) => void (await client.set(key, value)),
        del: async (key) => void (await client.del(key)),
      };
      return {
        tier: (space) => new RedisTier(store.commands, space.clockKey, false),
        raw,
        teardown: async () => {
          // Only this run's keys: a shared server (REDIS_URL) is never flushed.
          const mine = await scan(`${prefix}-*`);
          if (mine.length > 0) await client.unlink(mine);
          client.destroy();
          await store.close();
          await server.stop();
        },
      };
    },
    { raw: true, recordSlack: true },
  );
}

const clusterMissing = skipWithoutRedis('tier contract on Redis Cluster', canSpawnRedis());

/** One local three-master cluster for every cluster suite of this file. */
let cluster: Promise<OwnedCluster> | undefined;
let clusterStore: Promise<RedisStore> | undefined;
const startCluster = () => (cluster ??= spawnCluster());
const connectCluster = () =>
  (clusterStore ??= startCluster().then((owned) =>
    readyStore({ url: 'redis://127.0.0.1', connectTimeout: 2000, clusterNodes: owned.addresses }),
  ));
afterAll(async () => {
  await (await clusterStore)?.close();
  await (await cluster)?.stop();
});

if (!clusterMissing) {
  describeTierContract(
    'redis cluster (3 masters)',
    `${runId}-cluster`,
    async (): Promise<TierSubject> => {
      const owned = await startCluster();
      const store = await connectCluster();
      const client = createCluster({
        rootNodes: owned.addresses.map((address) => ({ url: `redis://${address}` })),
      });
      await client.connect();
      const raw: RawKeys = {
        keys: async (under) =>
          owned.nodes
            .flatMap((node) => node.cli('--scan', '--pattern', `${under}:*`).split('\n'))
            .filter((key) => key !== '')
            .sort(),
        pttl: (key) => client.pTTL(key),
        get: async (key) => await client.get(key),
        set: async (key, value) => void (await client.set(key, value)),
        del: async (key) => void (await client.del(key)),
      };
      return {
        tier: (space) => new RedisTier(store.commands, space.clockKey, true),
        raw,
        slotOf: async (key) => Number((owned.nodes[0]?.cli('cluster', 'keyslot', key) ?? '').trim()),
        teardown: async () => {
          client.destroy();
        },
      };
    },
    { raw: true, slots: true },
  );
}

// On a cluster a write is several commands on several nodes, and an invalidation from another instance is not
// ordered with them. These place the other instance's steps between the write's on purpose.
describe.skipIf(clusterMissing)('Redis Cluster write, with another instance between its steps', () => {
  let store: RedisStore;
  let n = 0;
  beforeAll(async () => {
    store = await connectCluster();
  });

  /** A fresh prefix, a tier that runs undisturbed (the other instance) and one entry key. */
  async function scene(warm: boolean) {
    const space = new KeySpace(`${runId}-between-${++n}`);
    const other = new RedisTier(store.commands, space.clockKey, true);
    const key = space.entry('gap', 'gap:1');
    await other.invalidate([]);
    if (warm) {
      const read = await other.read(key, true);
      expect(await other.write(key, key.recordKeys, textEntry(read.clock, 'old'), 60_000)).toBe(true);
    }
    const stamp = (await other.read(key, true)).clock;
    return { space, other, key, stamp, namespace: space.record(Scopes.namespace('gap')) };
  }

  it("never lowers a record when an older invalidation's record script lands after a newer one", async () => {
    const { other, key, stamp, namespace } = await scene(true);
    const first = await other.invalidate([namespace]);
    const second = await other.invalidate([namespace]);
    // The first instance's record script, delayed, reaches the node last.
    await store.commands.eval(INVALIDATE_RECORD_SCRIPT.source, {
      keys: [namespace],
      arguments: [String(first), '10000'],
    });
    expect(Number(await store.commands.get(namespace))).toBe(second);
    // An entry stamped between the two (refused by the second) stays refused.
    const tier = new RedisTier(store.commands, key.key.split(':@e:')[0] + ':@clock', true);
    expect(await tier.write(key, key.recordKeys, textEntry(first, 'stamped between'), 60_000)).toBe(false);
    expect(first).toBeGreaterThan(stamp);
    const read = await other.read(key, true);
    expect(validEntry(read.entry, read.records)).toBeUndefined();
  });

  for (const warm of [true, false]) {
    it(`refuses it when its record scripts land after another instance's invalidation (records ${
      warm ? 'present' : 'absent'
    })`, async () => {
      const { space, other, key, stamp, namespace } = await scene(warm);
      let tick = 0;
      let invalidated: Promise<number> | undefined;
      // The other instance's invalidation runs completely before this write's record scripts reach their nodes:
      // with the records absent, only the records it creates can refuse the write.
      const commands = intercepted(store.commands, async (method, _args, send) => {
        if (method === 'eval' || method === 'evalSha') {
          invalidated ??= other.invalidate([namespace]).then((t) => (tick = t));
          await invalidated;
        }
        return send();
      });
      const tier = new RedisTier(commands, space.clockKey, true);
      expect(
        await tier.write(key, key.recordKeys, textEntry(stamp, 'computed before the invalidation'), 60_000),
      ).toBe(false);
      expect(tick).toBeGreaterThan(stamp);
      const read = await other.read(key, true);
      expect(
        validEntry(read.entry, read.records),
        `${read.entry?.body}, records ${read.records.join()}`,
      ).toBe(undefined);
    });

    it(`makes it a miss when another instance's invalidation lands after its record scripts (records ${
      warm ? 'present' : 'absent'
    })`, async () => {
      const { space, other, key, stamp, namespace } = await scene(warm);
      const tier = new RedisTier(store.commands, space.clockKey, true);
      expect(
        await tier.write(key, key.recordKeys, textEntry(stamp, 'computed before the invalidation'), 60_000),
      ).toBe(true);
      await other.invalidate([namespace]);
      const read = await other.read(key, true);
      expect(validEntry(read.entry, read.records)).toBeUndefined();
    });
  }
});
