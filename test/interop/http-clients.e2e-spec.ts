import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/users/users.service.js';
import { ADAPTERS, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { countCalls, printTrace, ServerTraffic, traceOf, type Exchange } from './server-traffic.js';

/**
 * HTTP clients with caches of their own in front of the sample app: undici 7's `interceptors.cache` (private
 * and shared) through `request` and `fetch`, and got with its `cache` option (cacheable-request and
 * http-cache-semantics; shared by default, private with `cacheOptions.shared: false`). Each must see a write at
 * once, revalidate what it keeps with the app's `ETag` (a `304` from the entry, no handler run) and never give
 * one caller's response to another. What went over the wire is recorded on the server side.
 */
const undici = await import('undici').catch(() => undefined);
const gotModule = await import('got').catch(() => undefined);

function skipWithout(what: string, available: boolean): boolean {
  if (available) return false;
  const message = `${what}: needs the npm package installed (a devDependency: npm ci)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
  return true;
}

/** The installed version of a package whose `exports` hide its package.json. */
function versionOf(name: string): string {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(name));
    for (;;) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (manifest.name === name) return manifest.version ?? '?';
      } catch {
        // No package.json at this level: keep walking up.
      }
      const parent = dirname(dir);
      if (parent === dir) return '?';
      dir = parent;
    }
  } catch {
    return 'missing';
  }
}

const skipUndici = skipWithout('undici interceptors.cache interop', undici !== undefined);
const skipGot = skipWithout('got cache interop', gotModule !== undefined);

interface ClientResponse {
  status: number;
  text: string;
  /** What the client says about the origin of the body, where it says it (got's `isFromCache`). */
  fromCache?: boolean;
}

/** One client with its own, empty cache. */
interface CachingClient {
  send(
    method: 'GET' | 'PUT',
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<ClientResponse>;
  close(): Promise<void>;
}

interface ClientKind {
  readonly name: string;
  readonly skip: boolean;
  /** A shared cache (a proxy's rules): never stores `private` responses. */
  readonly shared: boolean;
  /**
   * Whether it stores a `private, no-cache` response to a request with `Authorization`. undici applies the
   * RFC 9111 3.5 rule for shared caches (no `public`, `s-maxage` or `must-revalidate`: not stored) in private mode
   * too; http-cache-semantics only when shared.
   */
  readonly storesBearer: boolean;
  /**
   * Whether a stored response survives its revalidation. undici deletes it when the `304` carries
   * `Cache-Control` (which RFC 9110 15.4.5 has the server send, as the app does): the next request goes out
   * unconditional and stores the `200` again.
   */
  readonly keepsAfter304: boolean;
  create(): CachingClient;
}

function undiciClient(type: 'private' | 'shared', api: 'request' | 'fetch'): CachingClient {
  if (undici === undefined) throw new Error('undici is not installed');
  const { Agent, interceptors } = undici;
  const agent = new Agent();
  const dispatcher = agent.compose(interceptors.cache({ type }));
  return {
    async send(method, url, headers, body) {
      if (api === 'fetch') {
        const res = await undici.fetch(url, {
          method,
          headers,
          body,
          dispatcher,
          signal: AbortSignal.timeout(10_000),
        });
        return { status: res.status, text: await res.text() };
      }
      const res = await undici.request(url, {
        method,
        headers,
        body,
        dispatcher,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.statusCode, text: await res.body.text() };
    },
    close: () => agent.close(),
  };
}

function gotClient(shared: boolean): CachingClient {
  if (gotModule === undefined) throw new Error('got is not installed');
  const got = gotModule.default;
  const cache = new Map<string, unknown>();
  return {
    async send(method, url, headers, body) {
      const res = await got(url, {
        method,
        headers,
        body,
        cache,
        cacheOptions: { shared },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: 10_000 },
      });
      return { status: res.statusCode, text: res.body, fromCache: res.isFromCache };
    },
    close: async () => undefined,
  };
}

const UNDICI = `undici ${versionOf('undici')} interceptors.cache`;
const GOT = `got ${versionOf('got')} (cacheable-request ${versionOf('cacheable-request')})`;

const CLIENTS: readonly ClientKind[] = [
  {
    name: `${UNDICI} private, request()`,
    skip: skipUndici,
    shared: false,
    storesBearer: false,
    keepsAfter304: false,
    create: () => undiciClient('private', 'request'),
  },
  {
    name: `${UNDICI} private, fetch()`,
    skip: skipUndici,
    shared: false,
    storesBearer: false,
    keepsAfter304: false,
    create: () => undiciClient('private', 'fetch'),
  },
  {
    name: `${UNDICI} shared, request()`,
    skip: skipUndici,
    shared: true,
    storesBearer: false,
    keepsAfter304: false,
    create: () => undiciClient('shared', 'request'),
  },
  {
    name: `${UNDICI} shared, fetch()`,
    skip: skipUndici,
    shared: true,
    storesBearer: false,
    keepsAfter304: false,
    create: () => undiciClient('shared', 'fetch'),
  },
  {
    name: `${GOT} private (cacheOptions.shared: false)`,
    skip: skipGot,
    shared: false,
    storesBearer: true,
    keepsAfter304: true,
    create: () => gotClient(false),
  },
  {
    name: `${GOT} shared (its default)`,
    skip: skipGot,
    shared: true,
    storesBearer: false,
    keepsAfter304: true,
    create: () => gotClient(true),
  },
];

type Credentials = 'Bearer' | 'X-API-Key';

function secondsOf(cacheControl: string | undefined, directive: string): number | undefined {
  const match = new RegExp(`(?:^|,\\s*)${directive}=(\\d+)`).exec(cacheControl ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe.each(ADAPTERS)('HTTP clients with caches in front of the sample app on %s', (adapter) => {
  let sample: SampleApp;
  let api: Api;
  let traffic: ServerTraffic;
  let profileRuns: () => number;
  let n = 0;

  beforeAll(async () => {
    if (skipUndici && skipGot) return;
    sample = await startSampleApp('sqlite', 'memory', {}, { adapter });
    api = new Api(sample.url);
    traffic = new ServerTraffic(sample.app.getHttpServer() as Server);
    profileRuns = countCalls(sample.app.get(UsersService), 'profile');
  });
  afterAll(async () => {
    traffic?.stop();
    await sample?.stop();
  });

  describe.each(CLIENTS)('$name', (kind) => {
    let client: CachingClient | undefined;

    const newUser = async () => {
      const email = `client-${adapter}-${++n}@example.com`;
      const token = await api.register(email);
      const created = await api.call('POST', '/users/keys', { token, body: { name: `key-${n}` } });
      const { id: keyId, key } = created.body as { id: number; key: string };
      return { email, token, id: Api.idOf(token), key, keyId };
    };
    const headersOf = (
      user: { token: string; key: string },
      credentials: Credentials,
    ): Record<string, string> =>
      credentials === 'Bearer' ? { authorization: `Bearer ${user.token}` } : { 'x-api-key': user.key };
    const fresh = (): CachingClient => {
      client = kind.create();
      return client;
    };
    const get = (c: CachingClient, path: string, headers: Record<string, string> = {}) =>
      c.send('GET', `${sample.url}${path}`, headers);
    /** The server's view of the requests for `path` since `mark`, with the trace as a failure message. */
    const seen = async (mark: number, path: string, label: string) => {
      const exchanges = await traffic.since(mark, path);
      printTrace(`${adapter}, ${kind.name}: ${label}`, await traffic.since(mark));
      return { exchanges, trace: exchanges.map(traceOf).join('\n') };
    };
    /** Whether this client keeps a user-scoped (`private, no-cache`) response to these credentials. */
    const storesUserScoped = (credentials: Credentials) =>
      !kind.shared && (credentials === 'X-API-Key' || kind.storesBearer);

    /**
     * How two repeats of a request reach the app when the client has (or has not) stored the first answer:
     * `304` for a revalidation with the tag, `200` for a plain request.
     */
    const repeatsOf = (stored: boolean): [304 | 200, 304 | 200] =>
      !stored ? [200, 200] : kind.keepsAfter304 ? [304, 304] : [304, 200];
    const expectRepeats = (repeats: Exchange[], stored: boolean, etag: string | undefined, trace: string) => {
      const expected = repeatsOf(stored);
      expect(
        repeats.map((e) => e.status),
        trace,
      ).toEqual(expected);
      repeats.forEach((repeat, i) => {
        expect(repeat.request['if-none-match'], trace).toBe(expected[i] === 304 ? etag : undefined);
        // Never the handler: the app answers from its entry either way.
        expect(repeat.response['x-cache'], trace).toBe('HIT');
        expect(repeat.response['etag'], trace).toBe(etag);
      });
    };

    afterEach(async () => {
      await client?.close();
      client = undefined;
    });

    it.skipIf(kind.skip).each<Credentials>(['Bearer', 'X-API-Key'])(
      'shows the new name on the GET after a PUT (%s), never the stored one',
      async (credentials) => {
        const user = await newUser();
        const c = fresh();
        const auth = headersOf(user, credentials);
        const mark = traffic.mark();

        const before = await get(c, '/users/me', auth);
        const put = await c.send(
          'PUT',
          `${sample.url}/users/${user.id}`,
          { ...auth, 'content-type': 'application/json' },
          JSON.stringify({ firstName: 'Renamed' }),
        );
        const after = await get(c, '/users/me', auth);

        expect(before.status).toBe(200);
        expect(JSON.parse(before.text)).toMatchObject({ email: user.email, firstName: 'First' });
        expect(put.status).toBe(200);
        expect(after.status).toBe(200);
        expect(JSON.parse(after.text)).toMatchObject({ email: user.email, firstName: 'Renamed' });
        expect(after.fromCache ?? false).toBe(false);

        const { exchanges, trace } = await seen(
          mark,
          '/users/me',
          `GET, PUT, GET /users/me (${credentials})`,
        );
        expect(exchanges, trace).toHaveLength(2);
        const [first, second] = exchanges as [Exchange, Exchange];
        expect(first.response['cache-control'], trace).toBe('private, no-cache');
        // A client that kept the first answer asks with its tag; one that did not asks plainly. Either way the
        // app ran the handler again (the write invalidated its entry) and sent a new tag.
        expect(second.request['if-none-match'], trace).toBe(
          storesUserScoped(credentials) ? first.response['etag'] : undefined,
        );
        expect(second.status, trace).toBe(200);
        expect(second.response['x-cache'], trace).toBe('MISS');
        expect(second.response['etag'], trace).not.toBe(first.response['etag']);
      },
    );

    it.skipIf(kind.skip).each<Credentials>(['Bearer', 'X-API-Key'])(
      'revalidates a stored user-scoped response (%s) with If-None-Match and gets a 304 from the entry, or stores nothing',
      async (credentials) => {
        const user = await newUser();
        const c = fresh();
        const auth = headersOf(user, credentials);
        const mark = traffic.mark();

        const first = await get(c, '/users/me', auth);
        const runsAfterFirst = profileRuns();
        const second = await get(c, '/users/me', auth);
        const third = await get(c, '/users/me', auth);
        expect(first.status).toBe(200);
        expect(second.status).toBe(200);
        expect(third.status).toBe(200);
        expect(second.text).toBe(first.text);
        expect(third.text).toBe(first.text);
        expect(profileRuns()).toBe(runsAfterFirst);

        const { exchanges, trace } = await seen(
          mark,
          '/users/me',
          `GET /users/me three times (${credentials})`,
        );
        // Every request reached the app: nothing user-scoped is reused without asking.
        expect(exchanges, trace).toHaveLength(3);
        const etag = exchanges[0]?.response['etag'];
        expect(etag, trace).toMatch(/^"[A-Za-z0-9_-]+"$/);
        const repeats = exchanges.slice(1);
        expectRepeats(repeats, storesUserScoped(credentials), etag, trace);
        for (const repeat of repeats) {
          expect(repeat.response['cache-control'], trace).toBe('private, no-cache');
          expect(repeat.response['vary'], trace).toBe('Authorization, X-API-Key');
        }
        if (first.fromCache !== undefined) {
          expect([first, second, third].map((r) => r.fromCache)).toEqual([
            false,
            ...repeatsOf(storesUserScoped(credentials)).map((status) => status === 304),
          ]);
        }
      },
    );

    it.skipIf(kind.skip)(
      'never gives one caller the body it stored for another: API keys switched, anonymous, a 404',
      async () => {
        const a = await newUser();
        const b = await newUser();
        const c = fresh();
        const asA = { 'x-api-key': a.key };
        const asB = { 'x-api-key': b.key };
        const mark = traffic.mark();

        const me = [
          await get(c, '/users/me', asA),
          await get(c, '/users/me', asB),
          await get(c, '/users/me', asA),
          await get(c, '/users/me', asB),
          await get(c, '/users/me', { authorization: `Bearer ${a.token}` }),
        ];
        expect(me.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
        expect(me.map((r) => (JSON.parse(r.text) as { email: string }).email)).toEqual([
          a.email,
          b.email,
          a.email,
          b.email,
          a.email,
        ]);
        const anonymous = await get(c, '/users/me');
        expect(anonymous.status).toBe(401);
        expect(anonymous.text).not.toContain(a.email);
        expect(anonymous.text).not.toContain(b.email);

        const keysA = await get(c, '/users/keys', asA);
        const keysB = await get(c, '/users/keys', asB);
        const names = (res: ClientResponse) =>
          (JSON.parse(res.text) as Array<{ name: string }>).map((k) => k.name);
        expect(names(keysA)).toHaveLength(1);
        expect(names(keysB)).toHaveLength(1);
        expect(names(keysB)).not.toEqual(names(keysA));

        // B asks for A's key id (404, never to be kept), then A asks for it.
        const refused = await get(c, `/users/keys/${a.keyId}`, asB);
        const own = await get(c, `/users/keys/${a.keyId}`, asA);
        expect(refused.status).toBe(404);
        expect(own.status).toBe(200);
        expect(JSON.parse(own.text)).toMatchObject({ id: a.keyId });

        const { exchanges, trace } = await seen(mark, '/users/me', 'A, B, A, B, A (Bearer), anonymous');
        expect(exchanges, trace).toHaveLength(6);
        // Each answer carries its caller's own tag, and a tag the client sent for another caller's copy is never
        // confirmed with a 304.
        const tagOf = { a: exchanges[0]?.response['etag'], b: exchanges[1]?.response['etag'] };
        expect(tagOf.a, trace).not.toBe(tagOf.b);
        (['a', 'b', 'a', 'b', 'a'] as const).forEach((caller, i) => {
          const exchange = exchanges[i];
          expect(exchange?.response['etag'], trace).toBe(tagOf[caller]);
          expect(exchange?.response['vary'], trace).toBe('Authorization, X-API-Key');
          if (exchange?.status === 304) expect(exchange.request['if-none-match'], trace).toBe(tagOf[caller]);
        });
        const refusedOnWire = await traffic.since(mark, `/users/keys/${a.keyId}`);
        expect(refusedOnWire.map((e) => e.status)).toEqual([404, 200]);
        expect(refusedOnWire[0]?.response['cache-control']).toBe('private, no-store');
      },
    );

    it.skipIf(kind.skip)(
      'stores the public profile, revalidates it, and shows a rename within its shared lifetime',
      async () => {
        const user = await newUser();
        const c = fresh();
        const path = `/users/${user.id}/public`;
        const mark = traffic.mark();

        const first = await get(c, path);
        const second = await get(c, path);
        const withCredentials = await get(c, path, { 'x-api-key': user.key });
        expect(first.status).toBe(200);
        expect(JSON.parse(first.text)).toEqual({ id: user.id, name: 'First Last' });
        expect(second.text).toBe(first.text);
        expect(withCredentials.text).toBe(first.text);

        const { exchanges, trace } = await seen(mark, path, 'GET public profile twice, then with a key');
        const stored = exchanges[0];
        expect(stored?.status, trace).toBe(200);
        const cacheControl = stored?.response['cache-control'];
        expect(cacheControl, trace).toMatch(/^public\b/);
        expect(stored?.response['vary'], trace).toBeUndefined();
        // Stored by every client: a shared one reuses it without asking while s-maxage lasts; a private one
        // (max-age=0) revalidates it with the tag and gets a 304 from the entry.
        const sharedLifetime = kind.shared ? (secondsOf(cacheControl, 's-maxage') ?? 0) : 0;
        if (sharedLifetime > 0) expect(exchanges, trace).toHaveLength(1);
        else expectRepeats(exchanges.slice(1), true, stored?.response['etag'], trace);

        const renamed = await api.call('PUT', `/users/${user.id}`, {
          token: user.token,
          body: { lastName: 'Renamed' },
        });
        expect(renamed.status).toBe(200);
        const renamedAt = Date.now();
        for (;;) {
          const res = await get(c, path);
          if ((JSON.parse(res.text) as { name: string }).name === 'First Renamed') break;
          expect(Date.now() - renamedAt, 'the old public profile outlived its shared lifetime').toBeLessThan(
            sharedLifetime * 1000 + 1000,
          );
          await new Promise((r) => setTimeout(r, 200));
        }
        const after = await traffic.since(mark, path);
        printTrace(`${adapter}, ${kind.name}: public profile until the rename shows`, after);
        // The new name came from the app, which ran the handler (the write invalidated its entry).
        const fetched = after.at(-1);
        expect(fetched?.status).toBe(200);
        expect(fetched?.response['x-cache']).toBe('MISS');
        expect(fetched?.response['etag']).not.toBe(stored?.response['etag']);
      },
      20_000,
    );
  });
});
