import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, type Running } from '../helpers/app-process.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { ADMIN, Api } from '../helpers/sample-app.js';

const skip = skipWithoutRedis('multi-instance e2e', canSpawnRedis());

/**
 * Three processes of the built sample app share one Redis (with the L1 tier on) and one SQLite file, as
 * three instances behind a load balancer would.
 */
describe.skipIf(skip)('three instances of the sample app sharing Redis', () => {
  let redis: OwnedRedis;
  let dir: string;
  const instances: Running[] = [];
  let apis: Api[] = [];
  let admin: string;

  beforeAll(async () => {
    redis = await spawnRedis();
    dir = mkdtempSync(join(tmpdir(), 'multi-instance-'));
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'app.db')}`,
      JWT_SECRET: 'multi-instance-secret-0123456789',
      CACHE_ENABLED: 'true',
      REDIS_ENABLED: 'true',
      REDIS_URL: redis.url,
      CACHE_L1_ENABLED: 'true',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    instances.push(...(await Promise.all([runApp(dir, env), runApp(dir, env), runApp(dir, env)])));
    apis = instances.map((i) => new Api(i.url));
    for (const api of apis) {
      const deadline = Date.now() + 10_000;
      while (((await api.call('GET', '/health')).body as { cache: string }).cache !== 'redis') {
        if (Date.now() > deadline) throw new Error('an instance is not on Redis');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    admin = await apis[0]!.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('never serves a stale read on B after a write through A has answered', async () => {
    const [a, b, c] = apis as [Api, Api, Api];
    const token = await a.register('coherent@example.com');
    const id = Api.idOf(token);
    let staleImmediately = 0;
    for (let round = 1; round <= 30; round++) {
      // B and C hold the profile (L1 and Redis).
      await b.call('GET', '/users/me', { token });
      await c.call('GET', `/users?userId=${id}`, { token: admin });
      const put = await a.call('PUT', `/users/${id}`, { token, body: { firstName: `v${round}` } });
      expect(put.status).toBe(200);
      // Read right after the write's response, on other instances.
      const fromB = (await b.call('GET', '/users/me', { token })).body as { firstName: string };
      const fromC = (await c.call('GET', `/users?userId=${id}`, { token: admin })).body as {
        firstName: string;
      };
      if (fromB.firstName !== `v${round}` || fromC.firstName !== `v${round}`) staleImmediately++;
      // Whatever the broadcast delay, 50 ms later nothing stale is left.
      await new Promise((r) => setTimeout(r, 50));
      expect(((await b.call('GET', '/users/me', { token })).body as { firstName: string }).firstName).toBe(
        `v${round}`,
      );
      expect(
        ((await c.call('GET', `/users?userId=${id}`, { token: admin })).body as { firstName: string })
          .firstName,
      ).toBe(`v${round}`);
    }
    console.log(
      `multi-instance: ${staleImmediately}/30 reads right after the write were stale (before the broadcast arrived)`,
    );
    // Within the broadcast delay a read on another instance may still see its L1 copy (the spec allows it;
    // usually none does). What must never happen is checked above: a stale read once that delay is over.
    expect(staleImmediately).toBeLessThan(15);
  });

  it('coalesces a cold burst spread over the instances: at most one miss per instance', async () => {
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        apis[i % 3]!.call('GET', '/users?page=1&size=7', { token: admin }),
      ),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    const misses = responses.filter((r) => r.headers.get('x-cache') === 'MISS').length;
    expect(misses).toBeGreaterThanOrEqual(1);
    expect(misses).toBeLessThanOrEqual(3);
  });

  it('keeps users apart across instances', async () => {
    const [a, b] = apis as [Api, Api, Api];
    const one = await a.register('one@example.com');
    const two = await b.register('two@example.com');
    await a.call('GET', '/users/me', { token: one });
    await b.call('GET', '/users/me', { token: two });
    for (const api of apis) {
      expect(((await api.call('GET', '/users/me', { token: one })).body as { email: string }).email).toBe(
        'one@example.com',
      );
      expect(((await api.call('GET', '/users/me', { token: two })).body as { email: string }).email).toBe(
        'two@example.com',
      );
    }
  });

  it('keeps @Cacheable and CacheService entries coherent across processes: stats and authentication', async () => {
    const [a, b] = apis as [Api, Api, Api];
    const stats = async (api: Api) =>
      (await api.call('GET', '/users/stats', { token: admin })).body as {
        banned: number;
        computedAt: string;
      };
    const user = await a.register('banned-elsewhere@example.com');
    const id = Api.idOf(user);
    // A holds the stats and the user's account (L1 and Redis).
    const before = await stats(a);
    expect((await stats(a)).computedAt).toBe(before.computedAt);
    expect((await a.call('GET', '/users/me', { token: user })).status).toBe(200);
    // B bans the user: A's cached stats and cached account must follow.
    expect((await b.call('POST', `/users/${id}/ban`, { token: admin })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 50));
    expect((await stats(a)).banned).toBe(before.banned + 1);
    expect((await a.call('GET', '/users/me', { token: user })).status).toBe(401);
  });
});
