import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { canSpawnRedis, skipWithoutRedis } from '../helpers/redis.js';
import {
  ADMIN,
  Api,
  startSampleApp,
  type CacheKind,
  type DatabaseKind,
  type SampleApp,
} from '../helpers/sample-app.js';
import { sleep } from '../helpers/wait.js';

const redisMissing = skipWithoutRedis('exact invalidation on Redis', canSpawnRedis());
const pgOk = await postgresAvailable();
if (!pgOk) {
  const message = 'exact invalidation on PostgreSQL: needs a server at PG_ADMIN_URL or 127.0.0.1:5432';
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
}

const BACKENDS: Array<[DatabaseKind, CacheKind]> = [
  ['sqlite', 'memory'],
  ['sqlite', 'redis'],
  ['postgres', 'memory'],
  ['postgres', 'redis'],
];

type User = { id: number; email: string; firstName: string; lastName: string; role: string };
type Key = { id: number; name: string; isActive: boolean };
type Cache = 'HIT' | 'MISS';

/**
 * The cached views of the sample app that belong to one user (`owner`), the views an admin has of them, and
 * two views of a bystander: the rows of the endpoint table in docs/sample-app.md.
 */
type View =
  | 'me' // GET /users/me as the owner: user:{id}:…
  | 'single' // GET /users?userId={id} as admin: users:{id}:single
  | 'list' // GET /users?page=1&size=100 as admin: users:list:page:1:size:100
  | 'keys' // GET /users/keys as the owner: apikeys:{id}
  | 'key' // GET /users/keys/{keyId} as the owner: apikey:{id}:{keyId}
  | 'keysByAdmin' // GET /users/keys/by-user/{id} as admin: apikeys:{id}:by:{adminId}
  | 'otherMe' // GET /users/me as another user
  | 'otherKeys'; // GET /users/keys as another user

describe.each(BACKENDS)('exact invalidation in the sample app on %s with the %s cache', (database, cache) => {
  const skip = (cache === 'redis' && redisMissing) || (database === 'postgres' && !pgOk);
  let sample: SampleApp;
  let api: Api;
  let admin: string;
  let n = 0;

  beforeAll(async () => {
    if (skip) return;
    sample = await startSampleApp(database, cache);
    api = new Api(sample.url);
    admin = await api.login(ADMIN.email, ADMIN.password);
    if (cache === 'redis') {
      // Entries written while the cache still fell back to memory would be misses once Redis serves.
      let backend: unknown;
      const deadline = Date.now() + 10_000;
      while (backend !== 'redis' && Date.now() < deadline) {
        backend = ((await api.call('GET', '/health')).body as { cache: unknown }).cache;
        if (backend !== 'redis') await sleep(50);
      }
      expect(backend, 'the sample app caches in Redis').toBe('redis');
    }
  });
  afterAll(async () => {
    await sample?.stop();
  });

  /** A user with one API key, and a bystander with one of their own. */
  async function scenario() {
    const register = async () => {
      const email = `exact${++n}-${cache}@example.com`;
      const token = await api.register(email);
      return { email, token, id: Api.idOf(token) };
    };
    const owner = await register();
    const other = await register();
    const createKey = async (token: string, name: string) => {
      const res = await api.call('POST', '/users/keys', { token, body: { name } });
      expect(res.status).toBe(201);
      return (res.body as Key).id;
    };
    const keyId = await createKey(owner.token, 'first');
    await createKey(other.token, 'other');
    const requests: Record<View, [string, string]> = {
      me: ['/users/me', owner.token],
      single: [`/users?userId=${owner.id}`, admin],
      list: ['/users?page=1&size=100', admin],
      keys: ['/users/keys', owner.token],
      key: [`/users/keys/${keyId}`, owner.token],
      keysByAdmin: [`/users/keys/by-user/${owner.id}`, admin],
      otherMe: ['/users/me', other.token],
      otherKeys: ['/users/keys', other.token],
    };
    const view = async (name: View) => {
      const [path, token] = requests[name];
      const res = await api.call('GET', path, { token });
      return { status: res.status, cache: res.headers.get('x-cache'), text: res.text, body: res.body };
    };
    /** Requests every view until it is a HIT; returns the cached bodies. */
    const warm = async () => {
      const bodies = {} as Record<View, string>;
      for (const name of Object.keys(requests) as View[]) {
        const first = await view(name);
        expect(first.status, `${name} answers 200`).toBe(200);
        const second = await view(name);
        expect(second.cache, `${name} is cached before the write`).toBe('HIT');
        bodies[name] = second.text;
      }
      return bodies;
    };
    /**
     * Requests each named view once and compares what the cache answered with what the table says; a HIT
     * must also carry exactly the body it had before the write.
     */
    const expectAfterWrite = async (expected: Partial<Record<View, Cache>>, before: Record<View, string>) => {
      const actual: Partial<Record<View, string | null>> = {};
      const answers: Partial<Record<View, Awaited<ReturnType<typeof view>>>> = {};
      for (const name of Object.keys(expected) as View[]) {
        const answer = await view(name);
        answers[name] = answer;
        actual[name] = answer.cache;
      }
      expect(actual).toEqual(expected);
      for (const name of Object.keys(expected) as View[]) {
        if (expected[name] === 'HIT') expect(answers[name]?.text, `${name} body`).toBe(before[name]);
      }
      return answers as Record<View, Awaited<ReturnType<typeof view>>>;
    };
    return { owner, other, keyId, warm, expectAfterWrite };
  }

  /** What a profile write must leave alone: every API-key view, and the bystander. */
  const untouchedByProfileWrites = {
    keys: 'HIT',
    key: 'HIT',
    keysByAdmin: 'HIT',
    otherMe: 'HIT',
    otherKeys: 'HIT',
  } as const;
  /** What a key write must leave alone: the owner's profile, the users list, and the bystander. */
  const untouchedByKeyWrites = {
    me: 'HIT',
    single: 'HIT',
    list: 'HIT',
    otherMe: 'HIT',
    otherKeys: 'HIT',
  } as const;

  it.skipIf(skip).each(['the user', 'an admin'])(
    'a profile write by %s (PUT /users/:id) makes misses of /users/me, the single user and the list, never of the API-key views',
    async (by) => {
      const s = await scenario();
      const before = await s.warm();
      const put = await api.call('PUT', `/users/${s.owner.id}`, {
        token: by === 'the user' ? s.owner.token : admin,
        body: { firstName: 'Renamed' },
      });
      expect(put.status).toBe(200);
      const after = await s.expectAfterWrite(
        { me: 'MISS', single: 'MISS', list: 'MISS', ...untouchedByProfileWrites },
        before,
      );
      expect(after.me.body).toEqual({ email: s.owner.email, firstName: 'Renamed', lastName: 'Last' });
      expect(after.single.body).toMatchObject({ id: s.owner.id, firstName: 'Renamed' });
      const items = (after.list.body as { items: User[] }).items;
      expect(items.find((u) => u.id === s.owner.id)).toMatchObject({ firstName: 'Renamed' });
    },
  );

  it.skipIf(skip)(
    'an admin role change (POST /users/:id/make-admin) makes misses of that user and the list, never of the API-key views',
    async () => {
      const s = await scenario();
      const before = await s.warm();
      const res = await api.call('POST', `/users/${s.owner.id}/make-admin`, { token: admin });
      expect(res.status).toBe(204);
      const after = await s.expectAfterWrite(
        { me: 'MISS', single: 'MISS', list: 'MISS', ...untouchedByProfileWrites },
        before,
      );
      expect(after.single.body).toMatchObject({ id: s.owner.id, role: 'admin' });
      const items = (after.list.body as { items: User[] }).items;
      expect(items.find((u) => u.id === s.owner.id)).toMatchObject({ role: 'admin' });
    },
  );

  it.skipIf(skip)(
    "a key write by the owner (PATCH /users/keys/:keyId) makes misses of the owner's key list, that key and the admin's view of the list, never of /users/me",
    async () => {
      const s = await scenario();
      const before = await s.warm();
      const patch = await api.call('PATCH', `/users/keys/${s.keyId}`, {
        token: s.owner.token,
        body: { name: 'renamed' },
      });
      expect(patch.status).toBe(200);
      const after = await s.expectAfterWrite(
        { keys: 'MISS', key: 'MISS', keysByAdmin: 'MISS', ...untouchedByKeyWrites },
        before,
      );
      expect((after.keys.body as Key[]).map((k) => k.name)).toEqual(['renamed']);
      expect(after.key.body).toMatchObject({ id: s.keyId, name: 'renamed' });
      expect((after.keysByAdmin.body as Key[]).map((k) => k.name)).toEqual(['renamed']);
    },
  );

  it.skipIf(skip)(
    'an admin key write (PATCH /users/keys/by-user/:userId/:keyId) likewise, never touching the profile or the users list',
    async () => {
      const s = await scenario();
      const before = await s.warm();
      const patch = await api.call('PATCH', `/users/keys/by-user/${s.owner.id}/${s.keyId}`, {
        token: admin,
        body: { isActive: false },
      });
      expect(patch.status).toBe(200);
      const after = await s.expectAfterWrite(
        { keys: 'MISS', key: 'MISS', keysByAdmin: 'MISS', ...untouchedByKeyWrites },
        before,
      );
      expect((after.keys.body as Key[]).map((k) => k.isActive)).toEqual([false]);
      expect(after.key.body).toMatchObject({ id: s.keyId, isActive: false });
      expect((after.keysByAdmin.body as Key[]).map((k) => k.isActive)).toEqual([false]);
    },
  );

  it.skipIf(skip)(
    'deleting a key (DELETE /users/keys/:keyId) refreshes the key lists and the key, and leaves the profile cached',
    async () => {
      const s = await scenario();
      const before = await s.warm();
      expect((await api.call('DELETE', `/users/keys/${s.keyId}`, { token: s.owner.token })).status).toBe(204);
      const after = await s.expectAfterWrite(
        { keys: 'MISS', keysByAdmin: 'MISS', ...untouchedByKeyWrites },
        before,
      );
      expect(after.keys.body).toEqual([]);
      expect(after.keysByAdmin.body).toEqual([]);
      const gone = await api.call('GET', `/users/keys/${s.keyId}`, { token: s.owner.token });
      expect(gone.status).toBe(404);
      expect(gone.headers.get('x-cache')).not.toBe('HIT');
    },
  );

  it.skipIf(skip)(
    "creating a key (POST /users/keys) refreshes the owner's key lists and leaves the profile and the users list cached",
    async () => {
      const s = await scenario();
      const before = await s.warm();
      const created = await api.call('POST', '/users/keys', {
        token: s.owner.token,
        body: { name: 'second' },
      });
      expect(created.status).toBe(201);
      const after = await s.expectAfterWrite(
        { keys: 'MISS', keysByAdmin: 'MISS', ...untouchedByKeyWrites },
        before,
      );
      expect((after.keys.body as Key[]).map((k) => k.name)).toEqual(['first', 'second']);
      expect((after.keysByAdmin.body as Key[]).map((k) => k.name)).toEqual(['first', 'second']);
    },
  );
});
