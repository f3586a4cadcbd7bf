import { MemoryGenerations, RedisGenerations } from '../../src/cache/stores/generations.js';
import { MemoryStore, RedisStore } from '../helpers/internals.js';
import { canSpawnRedis, sharedOrOwnedRedis, skipWithoutRedis } from '../helpers/redis.js';
import { describeStoreContract } from './store-contract.js';

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

const redisAvailable = process.env['REDIS_URL'] !== undefined || canSpawnRedis();
if (!skipWithoutRedis('store contract on Redis', redisAvailable)) {
  describeStoreContract('redis', async () => {
    const server = await sharedOrOwnedRedis();
    if (server === undefined) throw new Error('no Redis');
    const store = new RedisStore(
      { url: server.url, connectTimeout: 2000 },
      { ready: () => undefined, error: () => undefined },
    );
    store.connect();
    const deadline = Date.now() + 5000;
    while (!store.ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const generations = new RedisGenerations(store.client, runId);
    return {
      store,
      generations,
      prefix: runId,
      plant: async (key, raw) => void (await store.client.set(key, raw)),
      forgetGeneration: async (scope) => void (await store.client.del(generations.keyOf(scope))),
      teardown: async () => {
        // Only this run's keys: a shared server (REDIS_URL) is never flushed.
        for await (const keys of store.client.scanIterator({ MATCH: `${runId}*`, COUNT: 500 })) {
          if (keys.length > 0) await store.client.unlink(keys);
        }
        await store.close();
        await server.stop();
      },
    };
  });
}
