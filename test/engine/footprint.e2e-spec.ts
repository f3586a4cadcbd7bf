import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheStatusService } from '../../src/cache/index.js';
import { canSpawnRedis, skipWithoutRedis } from '../helpers/redis.js';
import { RawRedis } from '../helpers/resp.js';
import { ADMIN, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { StorageLayout } from '../helpers/storage-layout.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('Redis footprint', canSpawnRedis());

/** Entry lifetime of the run (`CACHE_DEFAULT_TTL`); the sample app's routes set no `expire` and no grace. */
const TTL_SECONDS = 2;
/** T after the last request: the longest TTL + grace (none) + a few seconds. */
const SETTLE_MS = (TTL_SECONDS + 3) * 1000;
/** The most keys that may live without an expiry, whatever the number of users, pages and entries. */
const FIXED_SET_MAX = 16;
const N = 100;
const PREFIX = 'footprint';

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width)
    out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return out;
}

/** What one run saw: the most keys at once, every key seen without a TTL, the keys left after T. */
interface Footprint {
  users: number;
  userIds: number[];
  mostKeys: number;
  withoutTtl: Set<string>;
  remaining: string[];
}

/** Samples the keyspace (SCAN, then PTTL of each key) until stopped: the peak, and every key without a TTL. */
function sampleKeys(redis: RawRedis): { stop(): Promise<{ mostKeys: number; withoutTtl: Set<string> }> } {
  const layout = new StorageLayout(PREFIX);
  const withoutTtl = new Set<string>();
  let mostKeys = 0;
  let running = true;
  const sample = async () => {
    const pttls = await redis.pttls(await layout.all(redis));
    mostKeys = Math.max(mostKeys, [...pttls.values()].filter((pttl) => pttl !== -2).length);
    for (const [key, pttl] of pttls) if (pttl === -1) withoutTtl.add(key);
  };
  const loop = (async () => {
    while (running) {
      await sample();
      await sleep(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await sample();
      return { mostKeys, withoutTtl };
    },
  };
}

/** Whether a key names a user, a page or an entry (and so must expire). */
function namesSomething(key: string, userIds: readonly number[]): boolean {
  if (/page|list|single|%2F|:@e:|:@s:|:@l:/i.test(key)) return true;
  return userIds.some((id) => new RegExp(`(^|[:=]|%3A)${id}($|[:&]|%3A)`).test(key));
}

/**
 * `users` users each GET their profile and their API-key list twice (a tenth also change their profile, which
 * invalidates), and the admin reads every page of the users list twice and a fifth of the users one by one.
 */
async function run(sample: SampleApp, redis: RawRedis, users: number, tag: string): Promise<Footprint> {
  const api = new Api(sample.url);
  const admin = await api.login(ADMIN.email, ADMIN.password);
  const tokens = await inBatches(
    Array.from({ length: users }, (_, i) => i),
    8,
    (i) => api.register(`${tag}-${i}@example.com`),
  );
  const userIds = tokens.map((token) => Api.idOf(token));
  const sampler = sampleKeys(redis);
  await inBatches(tokens, 16, async (token) => {
    for (const path of ['/users/me', '/users/keys']) {
      await api.call('GET', path, { token });
      await api.call('GET', path, { token });
    }
  });
  await inBatches(
    tokens.filter((_, i) => i % 10 === 0),
    8,
    async (token) => {
      const changed = await api.call('PUT', `/users/${Api.idOf(token)}`, {
        token,
        body: { firstName: 'Changed' },
      });
      if (changed.status !== 200) throw new Error(`PUT: ${changed.status} ${changed.text}`);
      await api.call('GET', '/users/me', { token });
    },
  );
  const pages = Math.ceil((users + 1) / 10);
  await inBatches(
    Array.from({ length: pages }, (_, i) => i + 1),
    8,
    async (page) => {
      for (let i = 0; i < 2; i++) await api.call('GET', `/users?page=${page}&size=10`, { token: admin });
    },
  );
  await inBatches(
    userIds.filter((_, i) => i % 5 === 0),
    8,
    (id) => api.call('GET', `/users?userId=${id}`, { token: admin }),
  );
  const lastRequest = Date.now();
  const { mostKeys, withoutTtl } = await sampler.stop();
  await sleep(Math.max(0, lastRequest + SETTLE_MS - Date.now()));
  return { users, userIds, mostKeys, withoutTtl, remaining: await new StorageLayout(PREFIX).all(redis) };
}

describe.skipIf(skip)('Redis footprint of the sample app (N and 2N users, CACHE_DEFAULT_TTL=2)', () => {
  const apps: SampleApp[] = [];
  const connections: RawRedis[] = [];

  beforeAll(async () => {
    // Two apps, each with its own redis-server, started one after the other (each reads the environment while
    // it is created) and then driven side by side.
    for (let i = 0; i < 2; i++) {
      const sample = await startSampleApp('sqlite', 'redis', {
        CACHE_DEFAULT_TTL: String(TTL_SECONDS),
        CACHE_KEY_PREFIX: PREFIX,
        // A loaded test machine must not move the traffic off Redis.
        REDIS_OPERATION_TIMEOUT_MS: '1000',
        REDIS_INVALIDATION_TIMEOUT_MS: '2000',
      });
      apps.push(sample);
      const status = sample.app.get(CacheStatusService);
      await waitUntil(() => status.backendName === 'redis', 5000, 'Redis to serve');
      if (sample.redis === undefined) throw new Error('the sample app has no redis-server');
      connections.push(await RawRedis.connect(sample.redis.port));
    }
  });
  afterAll(async () => {
    for (const connection of connections) connection.close();
    for (const sample of apps) await sample.stop();
  });

  it('keeps only a fixed set of keys after T, the same for N and 2N users; everything naming a user, page or entry expires', async () => {
    const [small, large] = await Promise.all([
      run(apps[0] as SampleApp, connections[0] as RawRedis, N, 'n'),
      run(apps[1] as SampleApp, connections[1] as RawRedis, 2 * N, 'twice-n'),
    ]);
    for (const footprint of [small, large]) {
      const label = `${footprint.users} users`;
      const permanent = [...footprint.withoutTtl];
      console.info(
        `footprint, ${label}: at most ${footprint.mostKeys} keys at once, ${permanent.length} seen without TTL, ${footprint.remaining.length} after T`,
      );
      // The traffic really went through Redis: there were per-user keys.
      expect(footprint.mostKeys, label).toBeGreaterThan(footprint.users);

      const namedWithoutTtl = permanent.filter((key) => namesSomething(key, footprint.userIds));
      expect(
        namedWithoutTtl.slice(0, 10),
        `${label}: ${namedWithoutTtl.length} keys naming a user, page or entry had no TTL`,
      ).toEqual([]);
      expect(
        permanent.length,
        `${label}: keys without TTL, e.g. ${permanent.slice(0, 5).join(' ')}`,
      ).toBeLessThanOrEqual(FIXED_SET_MAX);
      expect(
        footprint.remaining.length,
        `${label}: keys left after T, e.g. ${footprint.remaining.slice(0, 5).join(' ')}`,
      ).toBeLessThanOrEqual(FIXED_SET_MAX);
    }
    // What is left does not depend on how many users, pages and entries there were.
    expect(large.remaining).toEqual(small.remaining);
  }, 90_000);
});
