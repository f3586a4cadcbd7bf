import { createClient } from '@keyv/redis';
import { MemoryGenerations, RedisGenerations } from '../../src/cache/stores/generations.js';
import { MemoryStore, RedisStore } from '../helpers/internals.js';
import { canSpawnRedis, sharedOrOwnedRedis, skipWithoutRedis, spawnCluster } from '../helpers/redis.js';
import { describeStoreContract, type ContractSubject } from './store-contract.js';

const runId = `contract-${process.pid}-${Date.now()}`;

describeStoreContract('memory', async () => {
  const generations = new MemoryGenerations(50);
  return {
    store: new MemoryStore(1000, 64 * 1024 * 1024),
    generations,
    prefix: runId,
    teardown: async () => undefined,
  };
});

async function ready(store: RedisStore): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!store.ready) {
    if (Date.now() > deadline) throw new Error('Redis store not ready');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const redisAvailable = process.env['REDIS_URL'] !== undefined || canSpawnRedis();
if (!skipWithoutRedis('store contract on Redis', redisAvailable)) {
  describeStoreContract(
    'redis',
    async (): Promise<ContractSubject> => {
      const server = await sharedOrOwnedRedis();
      if (server === undefined) throw new Error('no Redis');
      const store = new RedisStore(
        { url: server.url, connectTimeout: 2000 },
        { ready: () => undefined, error: () => undefined },
      );
      store.connect();
      await ready(store);
      // A separate connection for what the test does behind the store's back.
      const raw = createClient({ url: server.url });
      await raw.connect();
      const generations = new RedisGenerations(store.commands, runId);
      return {
        store,
        generations,
        prefix: runId,
        plant: async (key, value) => void (await raw.set(key, value)),
        forgetGeneration: async (scope) => void (await raw.del(generations.keyOf(scope))),
        teardown: async () => {
          // Only this run's keys: a shared server (REDIS_URL) is never flushed.
          for await (const keys of raw.scanIterator({ MATCH: `${runId}*`, COUNT: 500 })) {
            if (keys.length > 0) await raw.unlink(keys);
          }
          raw.destroy();
          await store.close();
          await server.stop();
        },
      };
    },
    { corruptible: true, losesGenerations: true },
  );
}

if (!skipWithoutRedis('store contract on Redis Cluster', canSpawnRedis())) {
  describeStoreContract(
    'redis cluster (3 masters)',
    async (): Promise<ContractSubject> => {
      const cluster = await spawnCluster();
      const store = new RedisStore(
        { url: 'redis://127.0.0.1', connectTimeout: 2000, clusterNodes: cluster.addresses },
        { ready: () => undefined, error: () => undefined },
      );
      store.connect();
      await ready(store);
      const generations = new RedisGenerations(store.commands, runId);
      return {
        store,
        generations,
        prefix: runId,
        plant: async (key, value) => void (await store.commands.set(key, value)),
        teardown: async () => {
          await store.close();
          await cluster.stop();
        },
      };
    },
    { corruptible: true },
  );
}
