import { MemoryStore, RedisStore } from '../helpers/internals.js';
import { sharedOrOwnedRedis, skipWithoutRedis } from '../helpers/redis.js';
import { describeStoreContract } from './store-contract.js';

const runId = `contract-${process.pid}-${Date.now()}`;

describeStoreContract('memory', async () => ({
  store: new MemoryStore(1000, 64 * 1024 * 1024),
  prefix: runId,
  teardown: async () => undefined,
}));

const redisAvailable =
  process.env['REDIS_URL'] !== undefined || (await import('../helpers/redis.js')).canSpawnRedis();
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
    return {
      store,
      prefix: runId,
      plant: async (key, raw) => void (await store.client.set(key, raw)),
      teardown: async () => {
        await store.close();
        await server.stop();
      },
    };
  });
}
