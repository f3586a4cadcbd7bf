import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSpawnRedis, skipWithoutRedis } from '../helpers/redis.js';
import { ADMIN, Api, startSampleApp, type CacheKind, type SampleApp } from '../helpers/sample-app.js';
import { sleep } from '../helpers/wait.js';

const redisMissing = skipWithoutRedis('user stats on Redis', canSpawnRedis());

type Stats = { users: number; admins: number; banned: number; activeApiKeys: number; computedAt: string };

describe.each<CacheKind>(['memory', 'redis'])(
  'GET /users/stats (a @Cacheable service method) on %s',
  (cache) => {
    const skip = cache === 'redis' && redisMissing;
    let sample: SampleApp;
    let api: Api;
    let admin: string;

    const stats = async (): Promise<Stats> => {
      const res = await api.call('GET', '/users/stats', { token: admin });
      expect(res.status).toBe(200);
      return res.body as Stats;
    };

    beforeAll(async () => {
      if (skip) return;
      sample = await startSampleApp('sqlite', cache);
      api = new Api(sample.url);
      admin = await api.login(ADMIN.email, ADMIN.password);
      if (cache === 'redis') {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const health = (await api.call('GET', '/health')).body as { cache: unknown };
          if (health.cache === 'redis') break;
          await sleep(50);
        }
      }
    });
    afterAll(async () => {
      await sample?.stop();
    });

    it.skipIf(skip)(
      'is computed once, then served from the cache until a write changes a count',
      async () => {
        const first = await stats();
        expect(first).toMatchObject({ users: 1, admins: 1, banned: 0, activeApiKeys: 0 });
        const again = await stats();
        expect(again.computedAt).toBe(first.computedAt);

        const user = await api.register(`stats-${cache}@example.com`);
        const afterRegister = await stats();
        expect(afterRegister.users).toBe(2);
        expect(afterRegister.computedAt).not.toBe(first.computedAt);

        const created = await api.call('POST', '/users/keys', { token: user, body: { name: 'ci' } });
        expect(created.status).toBe(201);
        expect((await stats()).activeApiKeys).toBe(1);

        const id = Api.idOf(user);
        expect((await api.call('POST', `/users/${id}/ban`, { token: admin })).status).toBe(204);
        expect((await stats()).banned).toBe(1);
        expect((await api.call('POST', `/users/${id}/unban`, { token: admin })).status).toBe(204);

        // A profile write changes no count: the entry stays.
        const before = await stats();
        const renamed = await api.call('PUT', `/users/${id}`, {
          token: user,
          body: { firstName: 'Renamed' },
        });
        expect(renamed.status).toBe(200);
        expect((await stats()).computedAt).toBe(before.computedAt);
      },
    );

    it.skipIf(skip)('is for admins only', async () => {
      const user = await api.register(`stats-user-${cache}@example.com`);
      expect((await api.call('GET', '/users/stats', { token: user })).status).toBe(403);
    });

    it.skipIf(skip)('sees a ban at once although accounts are cached for authentication', async () => {
      const user = await api.register(`stats-ban-${cache}@example.com`);
      expect((await api.call('GET', '/users/me', { token: user })).status).toBe(200);
      expect((await api.call('POST', `/users/${Api.idOf(user)}/ban`, { token: admin })).status).toBe(204);
      expect((await api.call('GET', '/users/me', { token: user })).status).toBe(401);
    });
  },
);
