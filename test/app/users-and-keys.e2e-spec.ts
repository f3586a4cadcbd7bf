import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { canSpawnRedis, skipWithoutRedis } from '../helpers/redis.js';
import {
  ADAPTERS,
  ADMIN,
  Api,
  startSampleApp,
  type CacheKind,
  type DatabaseKind,
  type HttpAdapterName,
  type SampleApp,
} from '../helpers/sample-app.js';

const redisMissing = skipWithoutRedis('sample app on Redis', canSpawnRedis());
const pgOk = await postgresAvailable();
if (!pgOk) {
  const message = 'sample app on PostgreSQL: needs a server at PG_ADMIN_URL or 127.0.0.1:5432';
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
}

const BACKENDS: Array<[DatabaseKind, CacheKind]> = [
  ['sqlite', 'memory'],
  ['sqlite', 'redis'],
  ['postgres', 'memory'],
  ['postgres', 'redis'],
];
/** Every backend on both HTTP platforms. */
const SETUPS: Array<[HttpAdapterName, DatabaseKind, CacheKind]> = ADAPTERS.flatMap((adapter) =>
  BACKENDS.map(([database, cache]): [HttpAdapterName, DatabaseKind, CacheKind] => [adapter, database, cache]),
);

type User = { id: number; email: string; firstName: string; lastName: string; role: string; banned: boolean };
type Key = {
  id: number;
  name: string;
  isActive: boolean;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
};

describe.each(SETUPS)('sample app on %s, %s with the %s cache', (adapter, database, cache) => {
  const skip = (cache === 'redis' && redisMissing) || (database === 'postgres' && !pgOk);
  let sample: SampleApp;
  let api: Api;
  let admin: string;
  let n = 0;
  /** A fresh user: token and id. */
  const newUser = async (prefix = 'user') => {
    const email = `${prefix}${++n}@example.com`;
    const token = await api.register(email);
    return { email, token, id: Api.idOf(token) };
  };
  const cacheOf = (res: { headers: Headers }) => res.headers.get('x-cache');
  /** A request exactly as given (the Api client always sends JSON). */
  const raw = async (
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: string } = {},
  ) => {
    const res = await fetch(`${sample.url}${path}`, { method, ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body, text, headers: res.headers };
  };

  beforeAll(async () => {
    if (skip) return;
    sample = await startSampleApp(database, cache, {}, { adapter });
    api = new Api(sample.url);
    admin = await api.login(ADMIN.email, ADMIN.password);
  });
  afterAll(async () => {
    await sample?.stop();
  });

  it.skipIf(skip)('reports its database and cache backend on /health', async () => {
    const res = await api.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'up', databaseEngine: database, cache });
  });

  describe('authentication', () => {
    it.skipIf(skip)('refuses missing and invalid credentials with 401', async () => {
      expect((await api.call('GET', '/users/me')).status).toBe(401);
      expect((await api.call('GET', '/users/me', { token: 'not-a-jwt' })).status).toBe(401);
      expect((await api.call('GET', '/users/me', { apiKey: 'ak_unknown' })).status).toBe(401);
      expect((await api.call('GET', '/users/me', { headers: { authorization: 'Basic abc' } })).status).toBe(
        401,
      );
      expect(
        (await api.call('POST', '/login', { body: { email: ADMIN.email, password: 'wrong-password' } }))
          .status,
      ).toBe(401);
    });

    it.skipIf(skip)('validates bodies with 400 and refuses a duplicate email with 409', async () => {
      const bad = await api.call('POST', '/register', { body: { email: 'not-an-email', password: 'x' } });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toMatch(/email/);
      expect(
        (
          await api.call('POST', '/register', {
            body: {
              email: 'x@example.com',
              password: 'password-1',
              firstName: 'a',
              lastName: 'b',
              role: 'admin',
            },
          })
        ).status,
      ).toBe(400);
      const { email } = await newUser();
      const dup = await api.call('POST', '/register', {
        body: { email: email.toUpperCase(), password: 'password-123', firstName: 'A', lastName: 'B' },
      });
      expect(dup.status).toBe(409);
    });

    it.skipIf(skip)('authenticates with an API key as well as a JWT', async () => {
      const user = await newUser();
      const created = await api.call('POST', '/users/keys', { token: user.token, body: { name: 'cli' } });
      const key = (created.body as { key: string }).key;
      const me = await api.call('GET', '/users/me', { apiKey: key });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ email: user.email, firstName: 'First', lastName: 'Last' });
    });
  });

  describe('GET /users/me', () => {
    it.skipIf(skip)('answers exactly email, firstName and lastName; MISS then HIT; private', async () => {
      const user = await newUser();
      const miss = await api.call('GET', '/users/me', { token: user.token });
      const hit = await api.call('GET', '/users/me', { token: user.token });
      expect(miss.body).toEqual({ email: user.email, firstName: 'First', lastName: 'Last' });
      expect(cacheOf(miss)).toBe('MISS');
      expect(cacheOf(hit)).toBe('HIT');
      expect(hit.text).toBe(miss.text);
      // Private, and revalidated with the ETag by default: a write is seen by the browser at once.
      expect(hit.headers.get('cache-control')).toBe('private, no-cache');
    });

    it.skipIf(skip)('never shows one user the cached profile of another', async () => {
      const a = await newUser();
      const b = await newUser();
      await api.call('GET', '/users/me', { token: a.token });
      const asB = await api.call('GET', '/users/me', { token: b.token });
      expect((asB.body as { email: string }).email).toBe(b.email);
      expect(cacheOf(asB)).toBe('MISS');
    });

    it.skipIf(skip)('is fresh after PUT /users/:id by the user and by an admin', async () => {
      const user = await newUser();
      await api.call('GET', '/users/me', { token: user.token });
      const put = await api.call('PUT', `/users/${user.id}`, {
        token: user.token,
        body: { firstName: 'Renamed' },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        id: user.id,
        firstName: 'Renamed',
        email: user.email,
        role: 'user',
        banned: false,
      });
      expect(put.body).not.toHaveProperty('passwordHash');
      const after = await api.call('GET', '/users/me', { token: user.token });
      expect(cacheOf(after)).toBe('MISS');
      expect((after.body as { firstName: string }).firstName).toBe('Renamed');
      await api.call('PUT', `/users/${user.id}`, { token: admin, body: { lastName: 'ByAdmin' } });
      expect((await api.call('GET', '/users/me', { token: user.token })).body).toMatchObject({
        lastName: 'ByAdmin',
      });
    });
  });

  describe('GET /users (admin)', () => {
    it.skipIf(skip)('refuses non-admins with 403 even when the response is cached', async () => {
      await api.call('GET', '/users', { token: admin });
      const user = await newUser();
      const res = await api.call('GET', '/users', { token: user.token });
      expect(res.status).toBe(403);
      expect(cacheOf(res)).toBeNull();
    });

    it.skipIf(skip)('pages the list with defaults and bounds', async () => {
      const res = await api.call('GET', '/users', { token: admin });
      expect(res.status).toBe(200);
      const page = res.body as { items: User[]; total: number; page: number; size: number; pages: number };
      expect(page.page).toBe(1);
      expect(page.size).toBe(50);
      expect(page.total).toBeGreaterThanOrEqual(1);
      expect(page.pages).toBe(Math.ceil(page.total / 50));
      for (const item of page.items)
        expect(Object.keys(item).sort()).toEqual([
          'banned',
          'createdAt',
          'email',
          'firstName',
          'id',
          'lastName',
          'role',
        ]);
      expect((await api.call('GET', '/users?size=101', { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users?page=0', { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users?page=abc', { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users?page=1&page=2', { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users?userId=abc', { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users?userId=999999', { token: admin })).status).toBe(404);
    });

    it.skipIf(skip)('answers one user with userId, cached, without the password hash', async () => {
      const user = await newUser();
      const miss = await api.call('GET', `/users?userId=${user.id}`, { token: admin });
      const hit = await api.call('GET', `/users?userId=${user.id}`, { token: admin });
      expect(miss.body).toMatchObject({ id: user.id, email: user.email, role: 'user', banned: false });
      expect(miss.text).not.toMatch(/password/i);
      expect(cacheOf(hit)).toBe('HIT');
      expect(hit.text).toBe(miss.text);
    });

    it.skipIf(skip)('lists a newly registered user right after /register', async () => {
      await api.call('GET', '/users?size=100', { token: admin });
      const user = await newUser();
      const after = await api.call('GET', '/users?size=100', { token: admin });
      expect(cacheOf(after)).toBe('MISS');
      expect((after.body as { items: User[] }).items.map((u) => u.email)).toContain(user.email);
    });
  });

  describe('admin writes invalidate the user and the list', () => {
    it.skipIf(skip)('make-admin, ban and unban', async () => {
      const user = await newUser();
      const single = `/users?userId=${user.id}`;
      await api.call('GET', single, { token: admin });
      await api.call('GET', '/users?size=100', { token: admin });

      expect((await api.call('POST', `/users/${user.id}/make-admin`, { token: admin })).status).toBe(204);
      expect((await api.call('GET', single, { token: admin })).body).toMatchObject({ role: 'admin' });
      const list = await api.call('GET', '/users?size=100', { token: admin });
      expect((list.body as { items: User[] }).items.find((u) => u.id === user.id)?.role).toBe('admin');

      await api.call('GET', single, { token: admin });
      expect((await api.call('POST', `/users/${user.id}/ban`, { token: admin })).status).toBe(204);
      expect((await api.call('GET', single, { token: admin })).body).toMatchObject({ banned: true });
      await api.call('GET', single, { token: admin });
      expect((await api.call('POST', `/users/${user.id}/unban`, { token: admin })).status).toBe(204);
      expect((await api.call('GET', single, { token: admin })).body).toMatchObject({ banned: false });
    });

    it.skipIf(skip)(
      'refuses a banned user despite a cached entry, and lets them back after unban',
      async () => {
        const user = await newUser();
        expect((await api.call('GET', '/users/me', { token: user.token })).status).toBe(200);
        expect(cacheOf(await api.call('GET', '/users/me', { token: user.token }))).toBe('HIT');
        await api.call('POST', `/users/${user.id}/ban`, { token: admin });
        expect((await api.call('GET', '/users/me', { token: user.token })).status).toBe(401);
        expect(
          (await api.call('POST', '/login', { body: { email: user.email, password: 'password-123' } }))
            .status,
        ).toBe(401);
        await api.call('POST', `/users/${user.id}/unban`, { token: admin });
        expect((await api.call('GET', '/users/me', { token: user.token })).status).toBe(200);
      },
    );

    it.skipIf(skip)(
      'answers 400 to banning yourself, 404 to unknown users, 403 to non-admins, 400 to bad ids',
      async () => {
        const adminId = Api.idOf(admin);
        expect((await api.call('POST', `/users/${adminId}/ban`, { token: admin })).status).toBe(400);
        for (const action of ['make-admin', 'ban', 'unban']) {
          expect((await api.call('POST', `/users/999999/${action}`, { token: admin })).status).toBe(404);
        }
        const user = await newUser();
        expect((await api.call('POST', `/users/${adminId}/ban`, { token: user.token })).status).toBe(403);
        expect((await api.call('POST', '/users/abc/ban', { token: admin })).status).toBe(400);
        // One spelling per id, so one cache key per id: 007 is refused rather than cached beside 7.
        expect((await api.call('POST', `/users/00${user.id}/ban`, { token: admin })).status).toBe(400);
        expect((await api.call('GET', `/users?userId=00${user.id}`, { token: admin })).status).toBe(400);
        expect((await api.call('DELETE', '/users/999999', { token: admin })).status).toBe(404);
      },
    );

    it.skipIf(skip)(
      'DELETE removes the user, their entries and their API keys; the last admin stays',
      async () => {
        const user = await newUser();
        const created = await api.call('POST', '/users/keys', { token: user.token, body: { name: 'k' } });
        const rawKey = (created.body as { key: string }).key;
        await api.call('GET', '/users/me', { token: user.token });
        await api.call('GET', `/users?userId=${user.id}`, { token: admin });
        await api.call('GET', `/users/keys/by-user/${user.id}`, { token: admin });
        expect((await api.call('DELETE', `/users/${user.id}`, { token: admin })).status).toBe(204);
        expect((await api.call('GET', '/users/me', { token: user.token })).status).toBe(401);
        expect((await api.call('GET', '/users/me', { apiKey: rawKey })).status).toBe(401);
        expect((await api.call('GET', `/users?userId=${user.id}`, { token: admin })).status).toBe(404);
        const keys = await api.call('GET', `/users/keys/by-user/${user.id}`, { token: admin });
        expect(keys.body).toEqual([]);
      },
    );

    it.skipIf(skip)('never deletes the last admin', async () => {
      const adminId = Api.idOf(admin);
      const promoted = await newUser();
      await api.call('POST', `/users/${promoted.id}/make-admin`, { token: admin });
      const all = await api.call('GET', '/users?size=100', { token: admin });
      for (const other of (all.body as { items: User[] }).items) {
        if (other.role === 'admin' && other.id !== adminId) {
          expect((await api.call('DELETE', `/users/${other.id}`, { token: admin })).status).toBe(204);
        }
      }
      expect((await api.call('DELETE', `/users/${adminId}`, { token: admin })).status).toBe(400);
      expect((await api.call('GET', '/users/me', { token: admin })).status).toBe(200);
    });

    it.skipIf(skip)('only the user or an admin may change a profile or a password', async () => {
      const a = await newUser();
      const b = await newUser();
      expect(
        (await api.call('PUT', `/users/${b.id}`, { token: a.token, body: { firstName: 'X' } })).status,
      ).toBe(403);
      expect(
        (
          await api.call('POST', `/users/${b.id}/password`, {
            token: a.token,
            body: { password: 'new-password-1' },
          })
        ).status,
      ).toBe(403);
      expect(
        (await api.call('PUT', `/users/${a.id}`, { token: a.token, body: { email: 'bad' } })).status,
      ).toBe(400);
      expect(
        (await api.call('PUT', `/users/${a.id}`, { token: a.token, body: { email: b.email } })).status,
      ).toBe(409);
      expect(
        (await api.call('PUT', `/users/${a.id}`, { token: a.token, body: { role: 'admin' } })).status,
      ).toBe(400);
      expect(
        (
          await api.call('POST', `/users/${a.id}/password`, {
            token: a.token,
            body: { password: 'new-password-1' },
          })
        ).status,
      ).toBe(204);
      expect(
        (await api.call('POST', '/login', { body: { email: a.email, password: 'new-password-1' } })).status,
      ).toBe(200);
      expect(
        (await api.call('POST', `/users/${a.id}/password`, { token: admin, body: { password: 'short' } }))
          .status,
      ).toBe(400);
    });
  });

  describe('the same answers on Express and Fastify', () => {
    it.skipIf(skip)('takes an empty JSON body as no body, and refuses malformed JSON with 400', async () => {
      const user = await newUser();
      const json = { 'content-type': 'application/json' };
      const empty = { headers: { ...json, authorization: `Bearer ${admin}` }, body: '' };
      expect((await raw('POST', `/users/${user.id}/make-admin`, empty)).status).toBe(204);
      const put = await raw('PUT', `/users/${user.id}`, empty);
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ id: user.id, role: 'admin' });
      for (const body of ['{bad', '"just a string"', '42']) {
        const res = await raw('POST', '/login', { headers: json, body });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      }
    });

    it.skipIf(skip)('validates a body of a type it does not parse instead of answering 415', async () => {
      for (const type of ['text/plain', 'application/xml']) {
        const res = await raw('POST', '/login', { headers: { 'content-type': type }, body: '<x/>' });
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body)).toMatch(/email must be an email/);
      }
    });

    it.skipIf(skip)('refuses a body over 100 KiB with 413', async () => {
      const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(101 * 1024) });
      const res = await raw('POST', '/login', { headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413 });
    });

    it.skipIf(skip)('answers 404 in one shape, also to a trailing slash or another case', async () => {
      const auth = { headers: { authorization: `Bearer ${admin}` } };
      expect(await raw('GET', '/nowhere')).toMatchObject({
        status: 404,
        body: { statusCode: 404, error: 'Not Found', message: 'Cannot GET /nowhere' },
      });
      expect((await raw('GET', '/users/me/', auth)).status).toBe(404);
      expect((await raw('GET', '/USERS/me', auth)).status).toBe(404);
      expect((await raw('GET', '/users/me', auth)).status).toBe(200);
    });

    it.skipIf(skip)('answers 400 to an undecodable path and to ids of any length', async () => {
      const auth = { headers: { authorization: `Bearer ${admin}` } };
      expect(await raw('POST', '/users/%E0%A4%A/ban', auth)).toMatchObject({
        status: 400,
        body: { statusCode: 400, error: 'Bad Request' },
      });
      expect((await raw('POST', `/users/${'9'.repeat(150)}/ban`, auth)).status).toBe(400);
    });

    it.skipIf(skip)('answers HEAD with the headers of GET and no body', async () => {
      const user = await newUser();
      const auth = { headers: { authorization: `Bearer ${user.token}` } };
      const get = await raw('GET', '/users/me', auth);
      const head = await raw('HEAD', '/users/me', auth);
      expect(head.status).toBe(200);
      expect(head.text).toBe('');
      expect(cacheOf(head)).toBe('HIT');
      for (const name of ['etag', 'cache-control', 'vary', 'content-type', 'content-length']) {
        expect(head.headers.get(name)).toBe(get.headers.get(name));
      }
      const health = await raw('HEAD', '/health');
      expect(health.status).toBe(200);
      expect(health.text).toBe('');
    });

    it.skipIf(skip)('sends no ETag of its own on uncached routes, and no X-Powered-By', async () => {
      const res = await raw('GET', '/health');
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBeNull();
      expect(res.headers.get('x-powered-by')).toBeNull();
    });
  });

  describe('API keys', () => {
    it.skipIf(skip)('shows the raw key once, never its hash, and lists keys cached per owner', async () => {
      const user = await newUser();
      const created = await api.call('POST', '/users/keys', {
        token: user.token,
        body: { name: 'deploy', scopes: ['users:read'] },
      });
      expect(created.status).toBe(201);
      const view = created.body as Key & { key: string };
      expect(view.key).toMatch(/^ak_/);
      expect(Object.keys(view).sort()).toEqual([
        'createdAt',
        'id',
        'isActive',
        'key',
        'lastUsedAt',
        'name',
        'scopes',
      ]);
      const list = await api.call('GET', '/users/keys', { token: user.token });
      expect(list.text).not.toContain(view.key);
      expect(list.text).not.toMatch(/hash/i);
      expect(list.body).toEqual([
        {
          id: view.id,
          name: 'deploy',
          isActive: true,
          scopes: ['users:read'],
          createdAt: view.createdAt,
          lastUsedAt: null,
        },
      ]);
      expect(cacheOf(await api.call('GET', '/users/keys', { token: user.token }))).toBe('HIT');
      const single = await api.call('GET', `/users/keys/${view.id}`, { token: user.token });
      expect(single.body).toEqual((list.body as Key[])[0]);
      expect(cacheOf(await api.call('GET', `/users/keys/${view.id}`, { token: user.token }))).toBe('HIT');
      expect((await api.call('POST', '/users/keys', { token: user.token, body: { name: '' } })).status).toBe(
        400,
      );
      expect(
        (
          await api.call('POST', '/users/keys', {
            token: user.token,
            body: { name: 'x', scopes: ['BAD SCOPE'] },
          })
        ).status,
      ).toBe(400);
    });

    it.skipIf(skip)("answers 404 for another owner's key, and never serves it from the cache", async () => {
      const a = await newUser();
      const b = await newUser();
      const keyId = (
        (await api.call('POST', '/users/keys', { token: a.token, body: { name: 'mine' } })).body as Key
      ).id;
      await api.call('GET', `/users/keys/${keyId}`, { token: a.token });
      const asB = await api.call('GET', `/users/keys/${keyId}`, { token: b.token });
      expect(asB.status).toBe(404);
      expect(
        (await api.call('PATCH', `/users/keys/${keyId}`, { token: b.token, body: { name: 'stolen' } }))
          .status,
      ).toBe(404);
      expect((await api.call('DELETE', `/users/keys/${keyId}`, { token: b.token })).status).toBe(404);
      expect((await api.call('GET', '/users/keys/abc', { token: a.token })).status).toBe(400);
    });

    it.skipIf(skip)(
      'creating, renaming, deactivating and deleting a key refresh the list and the key',
      async () => {
        const user = await newUser();
        await api.call('GET', '/users/keys', { token: user.token });
        const key = (await api.call('POST', '/users/keys', { token: user.token, body: { name: 'one' } }))
          .body as Key;
        const afterCreate = await api.call('GET', '/users/keys', { token: user.token });
        expect(cacheOf(afterCreate)).toBe('MISS');
        expect((afterCreate.body as Key[]).map((k) => k.name)).toEqual(['one']);

        await api.call('GET', `/users/keys/${key.id}`, { token: user.token });
        await api.call('GET', '/users/keys', { token: user.token });
        const renamed = await api.call('PATCH', `/users/keys/${key.id}`, {
          token: user.token,
          body: { name: 'two', isActive: false },
        });
        expect(renamed.status).toBe(200);
        expect(renamed.body).toMatchObject({ name: 'two', isActive: false });
        expect((await api.call('GET', `/users/keys/${key.id}`, { token: user.token })).body).toMatchObject({
          name: 'two',
          isActive: false,
        });
        expect(
          ((await api.call('GET', '/users/keys', { token: user.token })).body as Key[])[0],
        ).toMatchObject({ name: 'two' });

        expect((await api.call('DELETE', `/users/keys/${key.id}`, { token: user.token })).status).toBe(204);
        expect((await api.call('GET', `/users/keys/${key.id}`, { token: user.token })).status).toBe(404);
        expect((await api.call('GET', '/users/keys', { token: user.token })).body).toEqual([]);
      },
    );

    it.skipIf(skip)('refuses an inactive key despite a cached entry', async () => {
      const user = await newUser();
      const created = (await api.call('POST', '/users/keys', { token: user.token, body: { name: 'k' } }))
        .body as Key & { key: string };
      expect((await api.call('GET', '/users/me', { apiKey: created.key })).status).toBe(200);
      expect(cacheOf(await api.call('GET', '/users/me', { apiKey: created.key }))).toBe('HIT');
      await api.call('PATCH', `/users/keys/${created.id}`, { token: user.token, body: { isActive: false } });
      expect((await api.call('GET', '/users/me', { apiKey: created.key })).status).toBe(401);
      expect((await api.call('GET', '/users/keys', { apiKey: created.key })).status).toBe(401);
    });

    it.skipIf(skip)(
      'admin routes by user: cached list, writes invalidate the owner’s views, 403 for others',
      async () => {
        const user = await newUser();
        const key = (await api.call('POST', '/users/keys', { token: user.token, body: { name: 'k' } }))
          .body as Key;
        const byUser = `/users/keys/by-user/${user.id}`;
        const first = await api.call('GET', byUser, { token: admin });
        expect((first.body as Key[]).map((k) => k.id)).toEqual([key.id]);
        expect(cacheOf(await api.call('GET', byUser, { token: admin }))).toBe('HIT');
        await api.call('GET', '/users/keys', { token: user.token });
        await api.call('GET', `/users/keys/${key.id}`, { token: user.token });

        const patched = await api.call('PATCH', `${byUser}/${key.id}`, {
          token: admin,
          body: { name: 'renamed' },
        });
        expect(patched.body).toMatchObject({ name: 'renamed' });
        expect(((await api.call('GET', byUser, { token: admin })).body as Key[])[0]?.name).toBe('renamed');
        expect(((await api.call('GET', '/users/keys', { token: user.token })).body as Key[])[0]?.name).toBe(
          'renamed',
        );
        expect((await api.call('GET', `/users/keys/${key.id}`, { token: user.token })).body).toMatchObject({
          name: 'renamed',
        });

        expect((await api.call('DELETE', `${byUser}/${key.id}`, { token: admin })).status).toBe(204);
        expect((await api.call('GET', byUser, { token: admin })).body).toEqual([]);
        expect((await api.call('GET', '/users/keys', { token: user.token })).body).toEqual([]);

        const other = await newUser();
        expect((await api.call('GET', byUser, { token: other.token })).status).toBe(403);
        expect(
          (await api.call('PATCH', `${byUser}/1`, { token: other.token, body: { name: 'x' } })).status,
        ).toBe(403);
        expect((await api.call('DELETE', `${byUser}/1`, { token: other.token })).status).toBe(403);
        expect(
          (await api.call('PATCH', `${byUser}/999999`, { token: admin, body: { name: 'x' } })).status,
        ).toBe(404);
      },
    );
  });
});
