import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/users/users.service.js';
import {
  directiveSeconds,
  nginxVersion,
  skipWithoutProxy,
  sleepUntil,
  startNginx,
  type OwnedProxy,
} from '../helpers/proxies.js';
import { ADAPTERS, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { countCalls, printTrace, ServerTraffic, traceOf, type Exchange } from './server-traffic.js';

/**
 * nginx's `proxy_cache` in front of the sample app, configured with nothing but the cache (so it stores what
 * the app's headers allow), once with `proxy_cache_revalidate on` and once without. nginx ignores
 * `Authorization` and `X-API-Key` when it stores and looks up (its key is the URL): only `private`,
 * `no-cache` and `no-store` from the app keep one caller's response from another. The shared route, the public
 * profile (`public, max-age=0, s-maxage=5`), must be stored, revalidated with the app's `ETag` (a `304` from the
 * app's entry, no handler run), show a rename at the first revalidation, and never outlive its server entry.
 */
const version = nginxVersion();
const skip = skipWithoutProxy(
  'nginx proxy_cache interop',
  version !== undefined,
  'nginx on PATH or in /usr/sbin (Debian package nginx-light), or NGINX_PATH',
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
  readonly revalidate: boolean;
}

const CONFIGS: readonly Config[] = [
  { name: 'proxy_cache_revalidate on', revalidate: true },
  { name: 'proxy_cache_revalidate off', revalidate: false },
];

type Credentials = { token: string } | { apiKey: string } | Record<string, never>;

/** One answer through nginx: when it was sent and received, and what nginx says it did. */
interface Answer {
  readonly path: string;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Headers;
  /** `$upstream_cache_status`: MISS, HIT, EXPIRED, REVALIDATED. */
  readonly cache: string | null;
  /** `$upstream_status`: what the app answered nginx; `null` when nginx did not ask it. */
  readonly upstream: string | null;
}

/** The whole second of a wall-clock time: nginx's cache counts in whole seconds. */
const secondOf = (ms: number) => Math.floor(ms / 1000);

function credentialsName(credentials: Credentials): string {
  return 'token' in credentials ? 'Bearer' : 'apiKey' in credentials ? 'X-API-Key' : 'none';
}

function lineOf(answer: Answer, credentials: string): string {
  const shown = ['x-proxy-cache', 'x-upstream-status', 'cache-control', 'etag', 'vary', 'x-cache', 'age']
    .map((name) => [name, answer.headers.get(name)] as const)
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${answer.path} [credentials=${credentials}] -> ${answer.status} [${shown.join('; ')}]`;
}

/** One nginx and what it answered; every HIT is checked against the lifetime of the fetch it came from. */
class Front {
  private readonly api: Api;
  /** Per path, the last response nginx got from the app with an `s-maxage`. */
  private readonly fetched = new Map<string, { receivedAt: number; sMaxAge: number }>();

  constructor(
    readonly config: Config,
    readonly proxy: OwnedProxy,
  ) {
    this.api = new Api(proxy.url);
  }

  async get(path: string, credentials: Credentials = {}, label = ''): Promise<Answer> {
    const sentAt = Date.now();
    const res = await this.api.call('GET', path, credentials);
    const answer: Answer = {
      path,
      sentAt,
      receivedAt: Date.now(),
      status: res.status,
      body: res.body,
      text: res.text,
      headers: res.headers,
      cache: res.headers.get('x-proxy-cache'),
      upstream: res.headers.get('x-upstream-status'),
    };
    const line = lineOf(answer, credentialsName(credentials));
    if (process.env['INTEROP_TRACE'] === '1')
      console.log(`${version}, ${this.config.name}: ${label} ${line}`);
    // nginx adds no Age, and the app sends none.
    expect(res.headers.get('age'), line).toBeNull();
    if (answer.cache === 'HIT') {
      const last = this.fetched.get(path);
      expect(last, `${line}: a HIT with no fetch before it`).toBeDefined();
      // Fetched in second F with s-maxage S, an entry is fresh through second F + S, and never after.
      if (last !== undefined) {
        expect(secondOf(sentAt), `${line}: served past its s-maxage`).toBeLessThanOrEqual(
          secondOf(last.receivedAt) + last.sMaxAge,
        );
      }
    } else if (answer.upstream !== null) {
      const sMaxAge = directiveSeconds(res.headers.get('cache-control'), 's-maxage');
      if (sMaxAge !== undefined) this.fetched.set(path, { receivedAt: answer.receivedAt, sMaxAge });
    }
    return answer;
  }

  /** The first moment at which nginx must no longer serve `path` from its cache without asking the app. */
  staleFrom(path: string): number {
    const last = this.fetched.get(path);
    if (last === undefined) throw new Error(`${path} was never fetched through ${this.config.name}`);
    return (secondOf(last.receivedAt) + last.sMaxAge + 1) * 1000 + 50;
  }
}

interface User {
  email: string;
  token: string;
  id: number;
  key: string;
  keyId: number;
}

describe.skipIf(skip).each(ADAPTERS)(
  `${version ?? 'nginx'} proxy_cache in front of the sample app on %s`,
  (adapter) => {
    let sample: SampleApp;
    let api: Api;
    let traffic: ServerTraffic;
    let profileRuns: () => number;
    const fronts = new Map<string, Front>();
    let n = 0;

    const newUser = async (): Promise<User> => {
      const email = `nginx-${adapter}-${++n}@example.com`;
      const token = await api.register(email);
      const created = await api.call('POST', '/users/keys', { token, body: { name: `key-${n}` } });
      const { id: keyId, key } = created.body as { id: number; key: string };
      return { email, token, id: Api.idOf(token), key, keyId };
    };
    const frontOf = (config: Config): Front => {
      const front = fronts.get(config.name);
      if (front === undefined) throw new Error(`no nginx for ${config.name}`);
      return front;
    };
    /** What the app received and answered for `path` since `mark`, printed with INTEROP_TRACE=1. */
    const seen = async (mark: number, path: string, label: string) => {
      const exchanges = await traffic.since(mark, path);
      printTrace(`${adapter}, ${version}: ${label}`, exchanges);
      return { exchanges, trace: exchanges.map(traceOf).join('\n') };
    };

    beforeAll(async () => {
      sample = await startSampleApp('sqlite', 'memory', { CACHE_DEFAULT_TTL: String(TTL) }, { adapter });
      api = new Api(sample.url);
      traffic = new ServerTraffic(sample.app.getHttpServer() as Server);
      profileRuns = countCalls(sample.app.get(UsersService), 'publicProfile');
      const upstream = new URL(sample.url).host;
      for (const config of CONFIGS) {
        const proxy = await startNginx({
          upstream,
          location: config.revalidate ? ['proxy_cache_revalidate on;'] : [],
        });
        fronts.set(config.name, new Front(config, proxy));
      }
    });
    afterAll(async () => {
      for (const front of fronts.values()) await front.proxy.stop();
      traffic?.stop();
      await sample?.stop();
    });

    describe.each(CONFIGS)('$name: user-scoped responses', (config) => {
      it("never gives user B's 404 for user A's key id (X-API-Key) to A", async () => {
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
          expect(answer.body).toMatchObject({ id: a.keyId, name: expect.stringMatching(/^key-/) as unknown });
          expect(answer.headers.get('cache-control')).toBe('private, no-cache');
          expect(answer.cache).toBe('MISS');
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
          const paths = ['/users/me', '/users/keys', `/users/keys/${a.keyId}`];
          for (const path of paths) {
            const mark = traffic.mark();
            for (const [name, user] of callers) {
              const answer = await front.get(path, user === undefined ? {} : as(user), `${name}:`);
              // nginx asked the app every time: it stored nothing for anyone.
              expect(answer.cache, `${name} on ${path}`).toBe('MISS');
              expect(answer.upstream, `${name} on ${path}`).toBe(String(answer.status));
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
     * One timeline for both configurations (their waits overlap): fetched at t0, revalidated after s-maxage, renamed,
     * fetched again after the next s-maxage, then a profile whose server entry was made at t0 fetched at t0 + 12 s.
     * Each step needs the one before.
     */
    describe('the shared route GET /users/:id/public', () => {
      const owners = new Map<string, User>();
      const stored = new Map<string, Answer>();
      /** Per configuration, a profile first fetched through nginx 12 s after its server entry was made. */
      const lates = new Map<string, User>();
      /** The latest moment at which those profiles' server entries can expire. */
      let lateExpiresBy = 0;
      const ownerOf = (config: Config): User => {
        const owner = owners.get(config.name);
        if (owner === undefined) throw new Error('the first step did not run');
        return owner;
      };

      it('is stored: the repeats are HITs for callers with and without credentials; the handler ran once', async () => {
        for (const config of CONFIGS) {
          const late = await newUser();
          lates.set(config.name, late);
          const warm = await api.call('GET', `/users/${late.id}/public`);
          expect(warm.headers.get('x-cache')).toBe('MISS');
        }
        lateExpiresBy = Date.now() + TTL * 1000;
        const other = await newUser();

        for (const config of CONFIGS) {
          const front = frontOf(config);
          const owner = await newUser();
          owners.set(config.name, owner);
          const path = `/users/${owner.id}/public`;
          const runs = profileRuns();
          const mark = traffic.mark();

          const first = await front.get(path, {}, 'first:');
          expect(first.cache).toBe('MISS');
          expect(first.upstream).toBe('200');
          expect(first.status).toBe(200);
          expect(first.body).toEqual({ id: owner.id, name: 'First Last' });
          expect(first.headers.get('cache-control')).toBe(
            `public, max-age=0, s-maxage=${SHARED_MAX_AGE}, stale-while-revalidate=0`,
          );
          expect(first.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
          expect(first.headers.get('vary')).toBeNull();
          stored.set(config.name, first);

          const repeats = [
            await front.get(path, {}, 'again:'),
            await front.get(path, { apiKey: other.key }, 'again:'),
            await front.get(path, { token: other.token }, 'again:'),
          ];
          for (const repeat of repeats) {
            expect(repeat.cache).toBe('HIT');
            expect(repeat.upstream).toBeNull();
            expect(repeat.text).toBe(first.text);
            expect(repeat.headers.get('etag')).toBe(first.headers.get('etag'));
          }
          expect(profileRuns() - runs).toBe(1);
          const { exchanges, trace } = await seen(mark, path, 'public profile: first, then three repeats');
          expect(exchanges, trace).toHaveLength(1);
          expect(exchanges[0]?.response['x-cache'], trace).toBe('MISS');
          expect(exchanges[0]?.response['age'], trace).toBeUndefined();
        }
      });

      it('is revalidated after s-maxage: a 304 from the app’s entry (revalidate on) or its 200 (off), no handler run', async () => {
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = `/users/${ownerOf(config).id}/public`;
          const first = stored.get(config.name);
          const etag = first?.headers.get('etag');
          await sleepUntil(front.staleFrom(path));
          const runs = profileRuns();
          const mark = traffic.mark();

          const revalidated = await front.get(path, {}, 'after s-maxage:');
          expect(revalidated.status).toBe(200);
          expect(revalidated.text).toBe(first?.text);
          expect(revalidated.headers.get('etag')).toBe(etag);
          const { exchanges, trace } = await seen(
            mark,
            path,
            `public profile after s-maxage (${config.name})`,
          );
          expect(exchanges, trace).toHaveLength(1);
          const exchange = exchanges[0] as Exchange;
          expect(exchange.response['x-cache'], trace).toBe('HIT');
          expect(exchange.response['etag'], trace).toBe(etag);
          expect(exchange.response['cache-control'], trace).toBe(
            `public, max-age=0, s-maxage=${SHARED_MAX_AGE}, stale-while-revalidate=0`,
          );
          if (config.revalidate) {
            expect(revalidated.cache).toBe('REVALIDATED');
            expect(revalidated.upstream).toBe('304');
            expect(exchange.request['if-none-match'], trace).toBe(etag);
            expect(exchange.status, trace).toBe(304);
          } else {
            expect(revalidated.cache).toBe('EXPIRED');
            expect(revalidated.upstream).toBe('200');
            expect(exchange.request['if-none-match'], trace).toBeUndefined();
            expect(exchange.status, trace).toBe(200);
          }
          expect(profileRuns()).toBe(runs);
          expect((await front.get(path, {}, 'right after:')).cache).toBe('HIT');
        }
      });

      it('gets the new name at the first revalidation after a rename; until then only what s-maxage allows', async () => {
        for (const config of CONFIGS) {
          const owner = ownerOf(config);
          const renamed = await api.call('PUT', `/users/${owner.id}`, {
            token: owner.token,
            body: { lastName: 'Renamed' },
          });
          expect(renamed.status).toBe(200);
        }
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = `/users/${ownerOf(config).id}/public`;
          // Within s-maxage nginx may still answer the old name (Front.get checks every HIT's age).
          const within = await front.get(path, {}, 'right after the rename:');
          expect((within.body as { name: string }).name).toBe(
            within.cache === 'HIT' ? 'First Last' : 'First Renamed',
          );
        }
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const owner = ownerOf(config);
          const path = `/users/${owner.id}/public`;
          const etag = stored.get(config.name)?.headers.get('etag');
          await sleepUntil(front.staleFrom(path));
          const runs = profileRuns();
          const mark = traffic.mark();

          const after = await front.get(path, {}, 'after the next s-maxage:');
          expect(after.cache).toBe('EXPIRED');
          expect(after.upstream).toBe('200');
          expect(after.body).toEqual({ id: owner.id, name: 'First Renamed' });
          expect(after.headers.get('etag')).not.toBe(etag);
          expect(profileRuns() - runs).toBe(1);
          const { exchanges, trace } = await seen(
            mark,
            path,
            `public profile after the rename (${config.name})`,
          );
          expect(exchanges, trace).toHaveLength(1);
          expect(exchanges[0]?.request['if-none-match'], trace).toBe(config.revalidate ? etag : undefined);
          expect(exchanges[0]?.status, trace).toBe(200);
          expect(exchanges[0]?.response['x-cache'], trace).toBe('MISS');

          const next = await front.get(path, {}, 'then:');
          expect(next.cache).toBe('HIT');
          expect(next.text).toBe(after.text);
        }
      });

      it('never keeps an entry past its server-side TTL: a late fetch gets s-maxage capped at what the entry has left', async () => {
        // The late profiles' entries were made in the first step; from here on they have at most 3 s left.
        await sleepUntil(lateExpiresBy - 3000);
        const mark = traffic.mark();
        const pathOf = (config: Config) => {
          const late = lates.get(config.name);
          if (late === undefined) throw new Error('the first step did not run');
          return `/users/${late.id}/public`;
        };
        for (const config of CONFIGS) {
          const first = await frontOf(config).get(pathOf(config), {}, 'late first fetch:');
          expect(first.cache).toBe('MISS');
          expect(first.headers.get('x-cache')).toBe('HIT');
          const sMaxAge = directiveSeconds(first.headers.get('cache-control'), 's-maxage') ?? Infinity;
          expect(sMaxAge).toBeLessThan(SHARED_MAX_AGE);
          expect(sMaxAge).toBeLessThanOrEqual(Math.floor((lateExpiresBy - first.sentAt) / 1000));
        }
        // Ask until nginx goes back to the app. Every HIT until then lies within s-maxage (Front.get): the app
        // rounds what is left down to a whole second, so only nginx's whole-second clock may add up to 1 s.
        await Promise.all(
          CONFIGS.map(async (config) => {
            let answer: Answer;
            do {
              await new Promise((resolve) => setTimeout(resolve, 200));
              answer = await frontOf(config).get(pathOf(config), {}, 'polling:');
              expect(answer.sentAt, 'nginx kept the entry past its server-side TTL').toBeLessThan(
                lateExpiresBy + 1000,
              );
            } while (answer.cache === 'HIT');
            expect(answer.cache).toBe(config.revalidate ? 'REVALIDATED' : 'EXPIRED');
            expect(answer.sentAt).toBeGreaterThan(lateExpiresBy - 1000);
          }),
        );
        for (const config of CONFIGS) {
          const { exchanges, trace } = await seen(
            mark,
            pathOf(config),
            `late public profile (${config.name})`,
          );
          expect(exchanges, trace).toHaveLength(2);
          // nginx asks again about when the app's entry expires: answered from it (HIT) or, just after, by the
          // handler (MISS). With the tag it sent, the unchanged profile is a 304 either way.
          expect(['HIT', 'MISS'], trace).toContain(exchanges[1]?.response['x-cache']);
          expect(exchanges[1]?.status, trace).toBe(config.revalidate ? 304 : 200);
        }
      });
    });
  },
);
