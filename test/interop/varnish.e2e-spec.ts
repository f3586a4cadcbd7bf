import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/users/users.service.js';
import {
  directiveSeconds,
  skipWithoutProxy,
  sleepUntil,
  startVarnish,
  varnishVersion,
  type OwnedProxy,
} from '../helpers/proxies.js';
import { ADAPTERS, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { countCalls, printTrace, ServerTraffic, traceOf, type Exchange } from './server-traffic.js';

/**
 * Varnish in front of the sample app: first exactly as installed (`-b`, the builtin VCL: requests with
 * `Authorization` or `Cookie` pass, everything else is looked up by URL, so `X-API-Key` is no credential to it;
 * responses are stored for `s-maxage`/`max-age` or 120 s unless `private`, `no-cache` or `no-store`, and served
 * stale for a 10 s grace while it refetches in the background unless the response says
 * `stale-while-revalidate=0`, as ours do), then with a VCL that keeps expired objects 30 s to revalidate them.
 * User-scoped responses and errors must never reach another caller; the public profile
 * (`public, max-age=0, s-maxage=5, stale-while-revalidate=0`) must be stored, revalidated with the app's `ETag`
 * (a `304` from the app's entry, no handler run), show a rename at the first fetch after s-maxage and never
 * be served fresh past its server entry.
 */
const version = varnishVersion();
const skip = skipWithoutProxy(
  'Varnish interop',
  version !== undefined,
  'varnishd on PATH or in /usr/sbin (Debian package varnish), or VARNISHD_PATH',
);

/**
 * The server-side TTL of the app's entries here (`CACHE_DEFAULT_TTL`, seconds): longer than two `s-maxage`
 * periods, so the revalidations below find the entry alive, and short enough that a first fetch 12 s after
 * the entry was made gets an `s-maxage` capped below the route's 5.
 */
const TTL = 15;
/** The public profile's `sharedMaxAge`. */
const SHARED_MAX_AGE = 5;

interface Config {
  readonly name: string;
  /** `undefined`: the stock builtin VCL alone. */
  readonly vcl: string | undefined;
  /**
   * Whether Varnish keeps an expired object to revalidate it (`beresp.keep`): then it refetches with
   * `If-None-Match`; stock (keep 0 s) it refetches unconditionally. Neither delivers a stale object: the app's
   * `stale-while-revalidate=0` turns the stock grace (10 s) off.
   */
  readonly keep: boolean;
}

const STOCK: Config = { name: 'stock builtin VCL', vcl: undefined, keep: false };
const KEEP: Config = {
  name: 'VCL with grace 0s, keep 30s',
  vcl: ['sub vcl_backend_response {', '  set beresp.grace = 0s;', '  set beresp.keep = 30s;', '}'].join('\n'),
  keep: true,
};
const CONFIGS: readonly Config[] = [STOCK, KEEP];

type Credentials = { token: string } | { apiKey: string } | Record<string, never>;

/** One answer through Varnish: when it was sent and received, and what Varnish says it did. */
interface Answer {
  readonly path: string;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Headers;
  /** Delivered from an object (`X-Varnish` names two transactions: this one and the fetch). */
  readonly hit: boolean;
  /** `Age`, whole seconds since the object was fetched (Varnish sends 0 on a miss or a pass). */
  readonly age: number;
  /** The object's `s-maxage`, when its `Cache-Control` has one. */
  readonly sMaxAge: number | undefined;
}

function credentialsName(credentials: Credentials): string {
  return 'token' in credentials ? 'Bearer' : 'apiKey' in credentials ? 'X-API-Key' : 'none';
}

function lineOf(answer: Answer, credentials: string): string {
  const shown = ['x-varnish', 'age', 'cache-control', 'etag', 'vary', 'x-cache']
    .map((name) => [name, answer.headers.get(name)] as const)
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${answer.path} [credentials=${credentials}] -> ${answer.status} [${shown.join('; ')}]`;
}

/** One Varnish and what it answered; every hit's `Age` is checked against what its headers allow. */
class Front {
  private readonly api: Api;

  constructor(
    readonly config: Config,
    readonly proxy: OwnedProxy,
  ) {
    this.api = new Api(proxy.url);
  }

  async get(path: string, credentials: Credentials = {}, label = ''): Promise<Answer> {
    const sentAt = Date.now();
    const res = await this.api.call('GET', path, credentials);
    const xids = (res.headers.get('x-varnish') ?? '').trim().split(/\s+/);
    const answer: Answer = {
      path,
      sentAt,
      receivedAt: Date.now(),
      status: res.status,
      body: res.body,
      text: res.text,
      headers: res.headers,
      hit: xids.length === 2,
      age: Number(res.headers.get('age') ?? Number.NaN),
      sMaxAge: directiveSeconds(res.headers.get('cache-control'), 's-maxage'),
    };
    const line = lineOf(answer, credentialsName(credentials));
    if (process.env['INTEROP_TRACE'] === '1')
      console.log(`${version}, ${this.config.name}: ${label} ${line}`);
    expect(answer.age, line).toBeGreaterThanOrEqual(0);
    if (answer.hit) {
      // Varnish counts Age from the whole second the object was fetched in: a fresh hit shows at most its
      // s-maxage, and nothing is delivered stale (the app says stale-while-revalidate=0, which ends grace).
      expect(answer.sMaxAge, `${line}: a hit without s-maxage`).toBeDefined();
      expect(answer.age, `${line}: delivered past its s-maxage`).toBeLessThanOrEqual(answer.sMaxAge ?? 0);
    } else {
      expect(answer.age, line).toBe(0);
    }
    return answer;
  }
}

/**
 * When to ask so that Varnish finds an object fetched by `fetchedBy` past its TTL of `ttl` seconds (and its
 * `Age` is at least `ttl`): Varnish counts Age from the whole second of the fetch, so a stale object shows
 * `ttl` or `ttl + 1` at first.
 */
const staleFrom = (fetchedBy: number, ttl: number) => fetchedBy + ttl * 1000 + 100;

interface User {
  email: string;
  token: string;
  id: number;
  key: string;
  keyId: number;
}

describe.skipIf(skip).each(ADAPTERS)(
  `${version ?? 'Varnish'} in front of the sample app on %s`,
  (adapter) => {
    let sample: SampleApp;
    let api: Api;
    let traffic: ServerTraffic;
    let profileRuns: () => number;
    const fronts = new Map<string, Front>();
    let n = 0;

    const newUser = async (): Promise<User> => {
      const email = `varnish-${adapter}-${++n}@example.com`;
      const token = await api.register(email);
      const created = await api.call('POST', '/users/keys', { token, body: { name: `key-${n}` } });
      const { id: keyId, key } = created.body as { id: number; key: string };
      return { email, token, id: Api.idOf(token), key, keyId };
    };
    const frontOf = (config: Config): Front => {
      const front = fronts.get(config.name);
      if (front === undefined) throw new Error(`no Varnish for ${config.name}`);
      return front;
    };
    /** What the app received and answered for `path` since `mark`, printed with INTEROP_TRACE=1. */
    const seen = async (mark: number, path: string, label: string) => {
      const exchanges = await traffic.since(mark, path);
      printTrace(`${adapter}, ${version}: ${label}`, exchanges);
      return { exchanges, trace: exchanges.map(traceOf).join('\n') };
    };
    /** After a background fetch reached the app: asks until Varnish delivers the object it fetched. */
    const refreshed = async (front: Front, path: string, label: string): Promise<Answer> => {
      const deadline = Date.now() + 3000;
      for (;;) {
        const answer = await front.get(path, {}, label);
        if (answer.hit && answer.age <= 1) return answer;
        if (Date.now() > deadline) throw new Error(`${path}: Varnish still delivers the stale object`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    beforeAll(async () => {
      sample = await startSampleApp('sqlite', 'memory', { CACHE_DEFAULT_TTL: String(TTL) }, { adapter });
      api = new Api(sample.url);
      traffic = new ServerTraffic(sample.app.getHttpServer() as Server);
      profileRuns = countCalls(sample.app.get(UsersService), 'publicProfile');
      const backend = new URL(sample.url).host;
      for (const config of CONFIGS) {
        fronts.set(config.name, new Front(config, await startVarnish({ backend, vcl: config.vcl })));
      }
    });
    afterAll(async () => {
      for (const front of fronts.values()) await front.proxy.stop();
      traffic?.stop();
      await sample?.stop();
    });

    describe.each(CONFIGS)('$name: user-scoped responses and errors', (config) => {
      it("never gives user B's 404 for user A's key id (X-API-Key) to A (the issue's scenario)", async () => {
        const front = frontOf(config);
        const a = await newUser();
        const b = await newUser();
        const path = `/users/keys/${a.keyId}`;
        const mark = traffic.mark();

        const refused = await front.get(path, { apiKey: b.key }, 'B asks for A’s key id:');
        const own = await front.get(path, { apiKey: a.key }, 'then A:');
        const again = await front.get(path, { apiKey: a.key }, 'A again:');

        expect(refused.status).toBe(404);
        expect(refused.headers.get('cache-control')).toBe('private, no-store');
        for (const answer of [own, again]) {
          expect(answer.status).toBe(200);
          expect(answer.hit).toBe(false);
          expect(answer.body).toMatchObject({ id: a.keyId, name: expect.stringMatching(/^key-/) as unknown });
          expect(answer.headers.get('cache-control')).toBe('private, no-cache');
        }
        const { exchanges, trace } = await seen(mark, path, 'B then A for A’s key id');
        expect(
          exchanges.map((e) => e.status),
          trace,
        ).toEqual([404, 200, 200]);
      });

      it.each(['Bearer', 'X-API-Key'] as const)(
        'never gives one user’s response to another user or to an anonymous caller (%s)',
        async (credentials) => {
          const front = frontOf(config);
          const a = await newUser();
          const b = await newUser();
          const as = (user: User): Credentials =>
            credentials === 'Bearer' ? { token: user.token } : { apiKey: user.key };
          const callers: Array<[string, User | undefined]> = [
            ['A', a],
            ['B', b],
            ['anonymous', undefined],
            ['A', a],
            ['B', b],
          ];
          for (const path of ['/users/me', '/users/keys', `/users/keys/${a.keyId}`]) {
            const mark = traffic.mark();
            for (const [name, user] of callers) {
              const answer = await front.get(path, user === undefined ? {} : as(user), `${name}:`);
              // Varnish asked the app every time: it delivered no object to anyone.
              expect(answer.hit, `${name} on ${path}`).toBe(false);
              expect(answer.text).not.toContain(user === a ? b.email : a.email);
              if (user === undefined) {
                expect(answer.status, `${name} on ${path}`).toBe(401);
                continue;
              }
              expect(answer.headers.get('cache-control'), `${name} on ${path}`).toMatch(
                /^private, no-(cache|store)$/,
              );
              if (path === '/users/me') {
                expect(answer.status).toBe(200);
                expect(answer.body).toMatchObject({ email: user.email });
              } else if (path === '/users/keys') {
                expect(answer.status).toBe(200);
                expect((answer.body as Array<{ id: number }>).map((k) => k.id)).toEqual([user.keyId]);
              } else if (user === a) {
                expect(answer.status).toBe(200);
                expect(answer.body).toMatchObject({ id: a.keyId });
              } else {
                expect(answer.status).toBe(404);
              }
            }
            const { exchanges, trace } = await seen(mark, path, `A, B, anonymous, A, B (${credentials})`);
            expect(exchanges, trace).toHaveLength(callers.length);
          }
        },
      );
    });

    /**
     * One timeline for both configurations (their waits overlap): fetched at t0, asked again after s-maxage,
     * renamed, asked again after the next s-maxage, then a profile whose server entry was made at t0 fetched at
     * t0 + 12 s. Each step needs the one before.
     */
    describe('the shared route GET /users/:id/public', () => {
      const owners = new Map<string, User>();
      const stored = new Map<string, Answer>();
      /** Per configuration, when Varnish last fetched (or revalidated) the owner's profile, at the latest. */
      const fetchedBy = new Map<string, number>();
      /** Per configuration, a profile first fetched through Varnish 12 s after its server entry was made. */
      const lates = new Map<string, User>();
      /** The latest moment at which those profiles' server entries can expire. */
      let lateExpiresBy = 0;
      const ownerOf = (config: Config): User => {
        const owner = owners.get(config.name);
        if (owner === undefined) throw new Error('the first step did not run');
        return owner;
      };
      const lateOf = (config: Config): User => {
        const late = lates.get(config.name);
        if (late === undefined) throw new Error('the first step did not run');
        return late;
      };
      const pathOf = (user: User) => `/users/${user.id}/public`;
      const fetchedAt = (config: Config): number => fetchedBy.get(config.name) ?? Number.NaN;

      it('is stored: repeats without Authorization are hits (X-API-Key too); Bearer passes; the handler ran once', async () => {
        for (const config of CONFIGS) {
          const late = await newUser();
          lates.set(config.name, late);
          const warm = await api.call('GET', pathOf(late));
          expect(warm.headers.get('x-cache')).toBe('MISS');
        }
        lateExpiresBy = Date.now() + TTL * 1000;
        const other = await newUser();

        for (const config of CONFIGS) {
          const front = frontOf(config);
          const owner = await newUser();
          owners.set(config.name, owner);
          const path = pathOf(owner);
          const runs = profileRuns();
          const mark = traffic.mark();

          const first = await front.get(path, {}, 'first:');
          fetchedBy.set(config.name, first.receivedAt);
          expect(first.hit).toBe(false);
          expect(first.status).toBe(200);
          expect(first.body).toEqual({ id: owner.id, name: 'First Last' });
          expect(first.headers.get('cache-control')).toBe(
            `public, max-age=0, s-maxage=${SHARED_MAX_AGE}, stale-while-revalidate=0`,
          );
          expect(first.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
          stored.set(config.name, first);

          const repeats = [
            await front.get(path, {}, 'again:'),
            await front.get(path, { apiKey: other.key }, 'again:'),
          ];
          for (const repeat of repeats) {
            expect(repeat.hit).toBe(true);
            expect(repeat.text).toBe(first.text);
            expect(repeat.headers.get('etag')).toBe(first.headers.get('etag'));
          }
          // The builtin VCL passes every request with Authorization to the app, which answers from its entry.
          const bearer = await front.get(path, { token: other.token }, 'with Bearer:');
          expect(bearer.hit).toBe(false);
          expect(bearer.text).toBe(first.text);
          expect(bearer.headers.get('x-cache')).toBe('HIT');

          expect(profileRuns() - runs).toBe(1);
          const { exchanges, trace } = await seen(mark, path, 'public profile: first, two repeats, Bearer');
          expect(exchanges, trace).toHaveLength(2);
          expect(
            exchanges.map((e) => e.response['x-cache']),
            trace,
          ).toEqual(['MISS', 'HIT']);
          for (const exchange of exchanges) expect(exchange.response['age'], trace).toBeUndefined();
        }
      });

      it('after s-maxage is fetched again before it is delivered (never stale), revalidated with the ETag where kept: no handler run', async () => {
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = pathOf(ownerOf(config));
          const first = stored.get(config.name);
          const etag = first?.headers.get('etag');
          await sleepUntil(staleFrom(fetchedAt(config), SHARED_MAX_AGE));
          const runs = profileRuns();
          const mark = traffic.mark();

          const late = await front.get(path, {}, 'after s-maxage:');
          expect(late.status).toBe(200);
          expect(late.text).toBe(first?.text);
          expect(late.headers.get('etag')).toBe(etag);
          // A miss: Varnish fetched before it answered (with the kept object's tag where it keeps one).
          expect(late.hit).toBe(false);
          const { exchanges, trace } = await seen(
            mark,
            path,
            `public profile after s-maxage (${config.name})`,
          );
          expect(exchanges, trace).toHaveLength(1);
          const exchange = exchanges[0] as Exchange;
          expect(exchange.request['if-none-match'], trace).toBe(config.keep ? etag : undefined);
          expect(exchange.status, trace).toBe(config.keep ? 304 : 200);
          expect(exchange.response['x-cache'], trace).toBe('HIT');
          expect(exchange.response['etag'], trace).toBe(etag);
          expect(exchange.response['cache-control'], trace).toBe(
            `public, max-age=0, s-maxage=${SHARED_MAX_AGE}, stale-while-revalidate=0`,
          );
          expect(profileRuns()).toBe(runs);

          const next = await refreshed(front, path, 'right after:');
          fetchedBy.set(config.name, next.receivedAt);
          expect(next.text).toBe(first?.text);
        }
      });

      it('gets the new name at the first fetch after s-maxage once renamed (stock Varnish too: no stale delivery)', async () => {
        for (const config of CONFIGS) {
          const owner = ownerOf(config);
          const renamed = await api.call('PUT', `/users/${owner.id}`, {
            token: owner.token,
            body: { lastName: 'Renamed' },
          });
          expect(renamed.status).toBe(200);
        }
        for (const config of CONFIGS) {
          // Within s-maxage Varnish may still deliver the old name (Front.get checks every hit's Age).
          const within = await frontOf(config).get(pathOf(ownerOf(config)), {}, 'right after the rename:');
          expect((within.body as { name: string }).name).toBe(within.hit ? 'First Last' : 'First Renamed');
        }
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const owner = ownerOf(config);
          const path = pathOf(owner);
          const etag = stored.get(config.name)?.headers.get('etag');
          await sleepUntil(staleFrom(fetchedAt(config), SHARED_MAX_AGE));
          const runs = profileRuns();
          const mark = traffic.mark();

          const late = await front.get(path, {}, 'after the next s-maxage:');
          expect(late.hit).toBe(false);
          expect(late.body).toEqual({ id: owner.id, name: 'First Renamed' });
          expect(profileRuns() - runs).toBe(1);
          const { exchanges, trace } = await seen(
            mark,
            path,
            `public profile after the rename (${config.name})`,
          );
          expect(exchanges, trace).toHaveLength(1);
          expect(exchanges[0]?.request['if-none-match'], trace).toBe(config.keep ? etag : undefined);
          expect(exchanges[0]?.status, trace).toBe(200);
          expect(exchanges[0]?.response['x-cache'], trace).toBe('MISS');
          expect(exchanges[0]?.response['etag'], trace).not.toBe(etag);

          const next = await refreshed(front, path, 'then:');
          expect(next.body).toEqual({ id: owner.id, name: 'First Renamed' });
        }
      });

      it('serves no fresh hit past the server-side TTL: a late fetch gets s-maxage capped at what the entry has left', async () => {
        // The late profiles' entries were made in the first step; from here on they have at most 3 s left.
        await sleepUntil(lateExpiresBy - 3000);
        const mark = traffic.mark();
        const firsts = new Map<string, Answer>();
        for (const config of CONFIGS) {
          const first = await frontOf(config).get(pathOf(lateOf(config)), {}, 'late first fetch:');
          firsts.set(config.name, first);
          expect(first.hit).toBe(false);
          expect(first.headers.get('x-cache')).toBe('HIT');
          expect(first.sMaxAge).toBeLessThan(SHARED_MAX_AGE);
          expect(first.sMaxAge).toBeLessThanOrEqual(Math.ceil((lateExpiresBy - first.sentAt) / 1000));
        }
        // Just before its TTL each Varnish still delivers the object, then (just after) asks the app again: never a
        // stale delivery past the server entry's life.
        await Promise.all(
          CONFIGS.map(async (config) => {
            const front = frontOf(config);
            const first = firsts.get(config.name) as Answer;
            const ttl = first.sMaxAge ?? 0;
            await sleepUntil(first.sentAt + ttl * 1000 - 400);
            const fresh = await front.get(first.path, {}, 'just before s-maxage:');
            expect(fresh.hit).toBe(true);
            // Never fresh past the server entry's expiry: the app rounds what is left down to a whole second.
            expect(fresh.receivedAt).toBeLessThan(lateExpiresBy + 250);
            await sleepUntil(staleFrom(first.receivedAt, ttl));
            const after = await front.get(first.path, {}, 'just after s-maxage:');
            expect(after.sentAt).toBeGreaterThan(lateExpiresBy - 1000);
            expect(after.hit).toBe(false);
          }),
        );
        for (const config of CONFIGS) {
          const path = pathOf(lateOf(config));
          const { exchanges, trace } = await seen(mark, path, `late public profile (${config.name})`);
          expect(exchanges, trace).toHaveLength(2);
          // Varnish asks again no later than the app's entry expires (HIT) or just after (MISS); where it kept the
          // object it sends its tag, which still matches the unchanged profile: a 304.
          const kept = config.keep ? firsts.get(config.name)?.headers.get('etag') : undefined;
          expect(exchanges[1]?.request['if-none-match'], trace).toBe(kept ?? undefined);
          expect(['HIT', 'MISS'], trace).toContain(exchanges[1]?.response['x-cache']);
          expect(exchanges[1]?.status, trace).toBe(config.keep ? 304 : 200);
        }
      });
    });
  },
);
