import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSpawnRedis, skipWithoutRedis } from '../helpers/redis.js';
import {
  ADAPTERS,
  ADMIN,
  Api,
  startSampleApp,
  type CacheKind,
  type HttpAdapterName,
  type SampleApp,
} from '../helpers/sample-app.js';

const redisMissing = skipWithoutRedis('public profile on Redis', canSpawnRedis());

const SETUPS: Array<[HttpAdapterName, CacheKind]> = ADAPTERS.flatMap((adapter) =>
  (['memory', 'redis'] as const).map((cache): [HttpAdapterName, CacheKind] => [adapter, cache]),
);

/**
 * `GET /users/:id/public`: the route whose response is the same for every caller, which browsers and shared
 * caches may store, and which `invalidateUser(id)` clears.
 */
describe.each(SETUPS)('GET /users/:id/public on %s with the %s cache', (adapter, cache) => {
  const skip = cache === 'redis' && redisMissing;
  let sample: SampleApp;
  let api: Api;
  let admin: string;
  let n = 0;
  const newUser = async (firstName = 'Ada', lastName = 'Lovelace') => {
    const email = `public${++n}@example.com`;
    const token = await api.register(email, 'password-123', firstName, lastName);
    return { email, token, id: Api.idOf(token) };
  };
  const profile = (id: number | string, options: Parameters<Api['call']>[2] = {}) =>
    api.call('GET', `/users/${id}/public`, options);
  const cacheOf = (res: { headers: Headers }) => res.headers.get('x-cache');

  beforeAll(async () => {
    if (skip) return;
    sample = await startSampleApp('sqlite', cache, {}, { adapter });
    api = new Api(sample.url);
    admin = await api.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await sample?.stop();
  });

  it.skipIf(skip)('answers the id and display name only, with no credentials: MISS, then HIT', async () => {
    const user = await newUser();
    const miss = await profile(user.id);
    expect(miss.status).toBe(200);
    expect(miss.body).toEqual({ id: user.id, name: 'Ada Lovelace' });
    expect(miss.text).not.toContain(user.email);
    expect(cacheOf(miss)).toBe('MISS');
    const hit = await profile(user.id);
    expect(cacheOf(hit)).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'));
    // Credentials are neither needed nor checked, even invalid ones.
    const withBadToken = await profile(user.id, { token: 'not-a-jwt' });
    expect(withBadToken.status).toBe(200);
    expect(withBadToken.text).toBe(miss.text);
  });

  it.skipIf(skip)(
    'is one shared entry: the same body for an anonymous caller, user A (JWT) and user B (API key)',
    async () => {
      const user = await newUser('Grace', 'Hopper');
      const a = await newUser();
      const b = await newUser();
      const bKey = (
        (await api.call('POST', '/users/keys', { token: b.token, body: { name: 'k' } })).body as {
          key: string;
        }
      ).key;
      const anonymous = await profile(user.id);
      const asA = await profile(user.id, { token: a.token });
      const asB = await profile(user.id, { apiKey: bKey });
      expect(anonymous.body).toEqual({ id: user.id, name: 'Grace Hopper' });
      expect([cacheOf(anonymous), cacheOf(asA), cacheOf(asB)]).toEqual(['MISS', 'HIT', 'HIT']);
      for (const res of [asA, asB]) {
        expect(res.text).toBe(anonymous.text);
        expect(res.text).not.toContain(a.email);
        expect(res.text).not.toContain(b.email);
      }
      for (const res of [anonymous, asA, asB]) {
        expect(res.headers.get('vary') ?? '').not.toMatch(/authorization|x-api-key/i);
        expect(res.headers.get('cache-control')).toMatch(/^public\b/);
      }
    },
  );

  it.skipIf(skip)('revalidates with the ETag: 304 with no body while the entry stands', async () => {
    const user = await newUser();
    const first = await profile(user.id);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const again = await profile(user.id, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
  });

  it.skipIf(skip)('keys on the user alone: the query string does not make another entry', async () => {
    const user = await newUser();
    await profile(user.id);
    const withQuery = await api.call('GET', `/users/${user.id}/public?utm_source=x`);
    expect(cacheOf(withQuery)).toBe('HIT');
    expect(withQuery.body).toEqual({ id: user.id, name: 'Ada Lovelace' });
  });

  it.skipIf(skip)(
    "is a MISS with the new name right after PUT /users/:id of that user, and kept by another user's",
    async () => {
      const user = await newUser();
      const other = await newUser();
      await profile(user.id);
      await profile(other.id);
      await api.call('PUT', `/users/${other.id}`, { token: other.token, body: { firstName: 'Someone' } });
      expect(cacheOf(await profile(user.id))).toBe('HIT');
      expect(await profile(other.id)).toMatchObject({ body: { id: other.id, name: 'Someone Lovelace' } });

      const renamed = await api.call('PUT', `/users/${user.id}`, {
        token: user.token,
        body: { firstName: 'Augusta' },
      });
      expect(renamed.status).toBe(200);
      const afterSelf = await profile(user.id);
      expect(cacheOf(afterSelf)).toBe('MISS');
      expect(afterSelf.body).toEqual({ id: user.id, name: 'Augusta Lovelace' });
      expect(cacheOf(await profile(user.id))).toBe('HIT');

      await api.call('PUT', `/users/${user.id}`, { token: admin, body: { lastName: 'King' } });
      const afterAdmin = await profile(user.id);
      expect(cacheOf(afterAdmin)).toBe('MISS');
      expect(afterAdmin.body).toEqual({ id: user.id, name: 'Augusta King' });
    },
  );

  it.skipIf(skip)('is a MISS right after a role change or a ban of that user', async () => {
    const user = await newUser();
    await profile(user.id);
    expect(cacheOf(await profile(user.id))).toBe('HIT');
    expect((await api.call('POST', `/users/${user.id}/make-admin`, { token: admin })).status).toBe(204);
    expect(cacheOf(await profile(user.id))).toBe('MISS');
    expect(cacheOf(await profile(user.id))).toBe('HIT');
    expect((await api.call('POST', `/users/${user.id}/ban`, { token: admin })).status).toBe(204);
    const afterBan = await profile(user.id);
    expect(cacheOf(afterBan)).toBe('MISS');
    expect(afterBan.body).toEqual({ id: user.id, name: 'Ada Lovelace' });
  });

  it.skipIf(skip)('is a 404 right after the user is deleted, and the 404 is not stored', async () => {
    const user = await newUser();
    await profile(user.id);
    expect(cacheOf(await profile(user.id))).toBe('HIT');
    expect((await api.call('DELETE', `/users/${user.id}`, { token: admin })).status).toBe(204);
    for (let i = 0; i < 2; i++) {
      const gone = await profile(user.id);
      expect(gone.status).toBe(404);
      expect(cacheOf(gone)).not.toBe('HIT');
      expect(gone.headers.get('cache-control')).toMatch(/no-store/);
    }
  });

  it.skipIf(skip)('answers 400 to an id ParseIdPipe refuses and 404 to an unknown id', async () => {
    const user = await newUser();
    await profile(user.id);
    for (const bad of ['abc', '0', '-1', '1.5', '1e3', `0${user.id}`, '9'.repeat(16), '9'.repeat(150)]) {
      const res = await profile(bad);
      expect(res.status, bad).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, message: 'id must be a positive integer' });
      expect(cacheOf(res), bad).not.toBe('HIT');
    }
    for (let i = 0; i < 2; i++) {
      const unknown = await profile(999_999);
      expect(unknown.status).toBe(404);
      expect(cacheOf(unknown)).not.toBe('HIT');
    }
    // A refused spelling of the id never touches the user's entry.
    expect(await profile(user.id)).toMatchObject({
      status: 200,
      body: { id: user.id, name: 'Ada Lovelace' },
    });
  });
});
