import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/users/users.service.js';
import { skipWithoutProxy, sleepUntil, type OwnedProxy } from '../helpers/proxies.js';
import {
  ADAPTERS,
  Api,
  startSampleApp,
  type HttpAdapterName,
  type SampleApp,
} from '../helpers/sample-app.js';
import { countCalls, printTrace, ServerTraffic, traceOf, type Exchange } from './server-traffic.js';

/**
 * What the reverse-proxy interop tests (nginx, Varnish) share: the sample app behind one proxy per
 * configuration, the users they make, the user-scoped scenarios (the same for every proxy but for how a stored
 * answer shows), and the bookkeeping of the shared route's timeline. What a proxy reports about itself stays in
 * its own spec.
 */

/**
 * The server-side TTL of the app's entries here (`CACHE_DEFAULT_TTL`, seconds): longer than two `s-maxage`
 * periods, so the revalidations find the entry alive, and short enough that a first fetch 12 s after the entry
 * was made gets an `s-maxage` capped below the route's 5.
 */
const TTL = 15;
/** The public profile's `sharedMaxAge`. */
export const SHARED_MAX_AGE = 5;
/** The `Cache-Control` the app sends with a public profile whose server entry has its whole TTL left. */
const PUBLIC_PROFILE_CACHE_CONTROL = `public, max-age=0, s-maxage=${SHARED_MAX_AGE}, stale-while-revalidate=0`;

/** How a request through the proxy identifies its caller, if at all. */
export type Credentials = { token: string } | { apiKey: string } | Record<string, never>;

/** A registered user of the sample app with one API key. */
export interface User {
  email: string;
  token: string;
  id: number;
  key: string;
  keyId: number;
}

/** One proxy configuration under test; `name` tells it apart in titles and traces. */
export interface ProxyConfig {
  readonly name: string;
}

/** One answer through a proxy: when it was sent and received, and what came back. */
export interface ProxyAnswer {
  readonly path: string;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Headers;
}

/** `/users/<id>/public`, the shared route. */
const publicPathOf = (user: User): string => `/users/${user.id}/public`;

function credentialsName(credentials: Credentials): string {
  return 'token' in credentials ? 'Bearer' : 'apiKey' in credentials ? 'X-API-Key' : 'none';
}

/**
 * One proxy and what it answered. A subclass reads what the proxy says it did (`read`) and checks every answer
 * against what the proxy may do (`check`); `get` prints each answer with `INTEROP_TRACE=1`.
 */
export abstract class ProxyFront<C extends ProxyConfig, A extends ProxyAnswer> {
  private readonly api: Api;
  /** The response headers shown in an answer's trace line, in this order. */
  protected abstract readonly shown: readonly string[];

  constructor(
    readonly config: C,
    readonly proxy: OwnedProxy,
    private readonly version: string | undefined,
  ) {
    this.api = new Api(proxy.url);
  }

  /** Adds what the proxy reports about itself to an answer. */
  protected abstract read(answer: ProxyAnswer): A;

  /** Expectations every answer of this proxy must meet; `line` describes the answer. */
  protected abstract check(answer: A, line: string): void;

  /** GETs `path` through the proxy, checks the answer and prints it (after `label`) with INTEROP_TRACE=1. */
  async get(path: string, credentials: Credentials = {}, label = ''): Promise<A> {
    const sentAt = Date.now();
    const res = await this.api.call('GET', path, credentials);
    const answer = this.read({
      path,
      sentAt,
      receivedAt: Date.now(),
      status: res.status,
      body: res.body,
      text: res.text,
      headers: res.headers,
    });
    const shown = this.shown
      .map((name) => [name, answer.headers.get(name)] as const)
      .filter(([, value]) => value !== null)
      .map(([name, value]) => `${name}: ${value}`);
    const caller = credentialsName(credentials);
    const line = `GET ${path} [credentials=${caller}] -> ${answer.status} [${shown.join('; ')}]`;
    if (process.env['INTEROP_TRACE'] === '1')
      console.log(`${this.version}, ${this.config.name}: ${label} ${line}`);
    this.check(answer, line);
    return answer;
  }
}

/** Options of {@link describeBehindProxy}. */
export interface BehindProxyOptions<C extends ProxyConfig, F> {
  /** The proxy's name in titles and messages (`nginx`, `Varnish`); lower-cased, it starts e-mail addresses. */
  readonly proxy: string;
  /** The proxy's version line, in titles and traces; `undefined` when it cannot be run here. */
  readonly version: string | undefined;
  /** What to install when the proxy is missing. */
  readonly install: string;
  /** One proxy is started for each. */
  readonly configs: readonly C[];
  /** Starts one proxy in front of the app at `origin` (`127.0.0.1:<port>`). */
  readonly start: (config: C, origin: string) => Promise<F>;
}

/** What the app received and answered for one path from the moment a watch began. */
export interface Watch {
  /** How many times the public profile's handler has run since. */
  readonly handlerRuns: () => number;
  /** The exchanges for the path since, printed with INTEROP_TRACE=1 under `label`. */
  readonly seen: (label: string) => Promise<{ exchanges: Exchange[]; trace: string }>;
  /** Expects exactly one exchange for the path since, and returns it with the handler runs until then. */
  readonly only: (label: string) => Promise<OnlyExchange>;
}

/** The one exchange a {@link Watch} saw, its trace, and how many times the handler ran since the watch began. */
export interface OnlyExchange {
  readonly exchange: Exchange;
  readonly trace: string;
  readonly handlerRuns: number;
}

/** The sample app (memory cache, entries kept {@link TTL} seconds) with one proxy per configuration in front. */
export interface ProxyInterop<C extends ProxyConfig, F> {
  readonly configs: readonly C[];
  /** The app itself, without a proxy. */
  readonly api: Api;
  /** Registers a new user and creates one API key for it. */
  readonly newUser: () => Promise<User>;
  /** The proxy started for `config`. */
  readonly frontOf: (config: C) => F;
  /** Starts watching what the app receives for `path`. */
  readonly watch: (path: string) => Watch;
}

/**
 * Declares `<version> <title> on <adapter>` once per HTTP adapter: the sample app (memory cache, entries kept
 * {@link TTL} seconds) with one proxy per configuration in front, started in `beforeAll` and stopped in
 * `afterAll`; `suite` declares the tests. Without the proxy the suite is skipped with a loud notice, and fails
 * under CI=true.
 */
export function describeBehindProxy<C extends ProxyConfig, F extends ProxyFront<C, ProxyAnswer>>(
  options: BehindProxyOptions<C, F>,
  title: string,
  suite: (interop: ProxyInterop<C, F>) => void,
): void {
  const { proxy, version, install } = options;
  const skip = skipWithoutProxy(`${proxy} ${title}`, version !== undefined, install);
  describe.skipIf(skip).each(ADAPTERS)(`${version ?? proxy} ${title} on %s`, (adapter) =>
    suite(setUpProxyInterop(options, adapter)),
  );
}

function setUpProxyInterop<C extends ProxyConfig, F extends ProxyFront<C, ProxyAnswer>>(
  options: BehindProxyOptions<C, F>,
  adapter: HttpAdapterName,
): ProxyInterop<C, F> {
  const { proxy, version, configs } = options;
  let sample: SampleApp | undefined;
  let app: { api: Api; traffic: ServerTraffic; profileRuns: () => number } | undefined;
  const fronts = new Map<string, F>();
  let n = 0;
  const started = () => {
    if (app === undefined) throw new Error('the sample app has not started');
    return app;
  };

  beforeAll(async () => {
    sample = await startSampleApp('sqlite', 'memory', { CACHE_DEFAULT_TTL: String(TTL) }, { adapter });
    app = {
      api: new Api(sample.url),
      traffic: new ServerTraffic(sample.app.getHttpServer() as Server),
      profileRuns: countCalls(sample.app.get(UsersService), 'publicProfile'),
    };
    const origin = new URL(sample.url).host;
    for (const config of configs) fronts.set(config.name, await options.start(config, origin));
  });
  afterAll(async () => {
    for (const front of fronts.values()) await front.proxy.stop();
    app?.traffic.stop();
    await sample?.stop();
  });

  return {
    configs,
    get api() {
      return started().api;
    },
    newUser: async () => {
      const { api } = started();
      const email = `${proxy.toLowerCase()}-${adapter}-${++n}@example.com`;
      const token = await api.register(email);
      const created = await api.call('POST', '/users/keys', { token, body: { name: `key-${n}` } });
      const { id: keyId, key } = created.body as { id: number; key: string };
      return { email, token, id: Api.idOf(token), key, keyId };
    },
    frontOf: (config) => {
      const front = fronts.get(config.name);
      if (front === undefined) throw new Error(`no ${proxy} for ${config.name}`);
      return front;
    },
    watch: (path) => {
      const { traffic, profileRuns } = started();
      const mark = traffic.mark();
      const runs = profileRuns();
      const handlerRuns = () => profileRuns() - runs;
      const seen = async (label: string) => {
        const exchanges = await traffic.since(mark, path);
        printTrace(`${adapter}, ${version}: ${label}`, exchanges);
        return { exchanges, trace: exchanges.map(traceOf).join('\n') };
      };
      return {
        handlerRuns,
        seen,
        only: async (label) => {
          const { exchanges, trace } = await seen(label);
          expect(exchanges, trace).toHaveLength(1);
          return { exchange: exchanges[0] as Exchange, trace, handlerRuns: handlerRuns() };
        },
      };
    },
  };
}

/**
 * Per configuration: user B's 404 for user A's key id never reaches A, and no user's response reaches another
 * user or an anonymous caller (A, B, anonymous, A, B on `/users/me`, `/users/keys` and `/users/keys/<A's key>`,
 * with Bearer and with X-API-Key), each answered by the app. `passedThrough` holds the proxy's own evidence that
 * it asked the app for an answer instead of delivering a stored one; `label` names the caller and path.
 */
export function describeUserScopedScenarios<C extends ProxyConfig, A extends ProxyAnswer>(
  interop: ProxyInterop<C, ProxyFront<C, A>>,
  passedThrough: (answer: A, label: string) => void,
): void {
  describe.each(interop.configs)('$name: user-scoped responses and errors', (config) => {
    it("never gives user B's 404 for user A's key id (X-API-Key) to A (the issue's scenario)", async () => {
      const front = interop.frontOf(config);
      const a = await interop.newUser();
      const b = await interop.newUser();
      const path = `/users/keys/${a.keyId}`;
      const watch = interop.watch(path);

      const refused = await front.get(path, { apiKey: b.key }, 'B asks for A’s key id:');
      const own = await front.get(path, { apiKey: a.key }, 'then A:');
      const again = await front.get(path, { apiKey: a.key }, 'A again:');

      expect(refused.status).toBe(404);
      expect(refused.headers.get('cache-control')).toBe('private, no-store');
      for (const [label, answer] of [
        ['A', own],
        ['A again', again],
      ] as const) {
        expect(answer.status).toBe(200);
        passedThrough(answer, `${label} on ${path}`);
        expect(answer.body).toMatchObject({ id: a.keyId, name: expect.stringMatching(/^key-/) as unknown });
        expect(answer.headers.get('cache-control')).toBe('private, no-cache');
      }
      const { exchanges, trace } = await watch.seen('B then A for A’s key id');
      expect(
        exchanges.map((e) => e.status),
        trace,
      ).toEqual([404, 200, 200]);
    });

    it.each(['Bearer', 'X-API-Key'] as const)(
      'never gives one user’s response to another user or to an anonymous caller (%s)',
      async (credentials) => {
        const front = interop.frontOf(config);
        const a = await interop.newUser();
        const b = await interop.newUser();
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
          const watch = interop.watch(path);
          for (const [name, user] of callers) {
            const answer = await front.get(path, user === undefined ? {} : as(user), `${name}:`);
            // The proxy asked the app every time: it stored nothing for anyone.
            passedThrough(answer, `${name} on ${path}`);
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
          const { exchanges, trace } = await watch.seen(`A, B, anonymous, A, B (${credentials})`);
          expect(exchanges, trace).toHaveLength(callers.length);
        }
      },
    );
  });
}

/**
 * The shared route's timeline, step by step, per configuration: the owner whose profile is fetched, renamed and
 * fetched again, the proxy's first answer for it, and a "late" profile whose server entry is made at the start
 * and first fetched through the proxy 12 s later. The expectations here are the app's side of each step, the
 * same behind every proxy; what the proxy reports stays in its spec.
 */
export class SharedRouteTimeline<C extends ProxyConfig, A extends ProxyAnswer> {
  private readonly owners = new Map<string, User>();
  private readonly firsts = new Map<string, A>();
  private readonly lates = new Map<string, User>();
  /** The latest moment at which the late profiles' server entries can expire (set by {@link warmLateProfiles}). */
  lateExpiresBy = 0;

  constructor(private readonly interop: ProxyInterop<C, ProxyFront<C, A>>) {}

  /** Makes each configuration's late profile's server entry now, from the app directly (a handler run). */
  async warmLateProfiles(): Promise<void> {
    for (const config of this.interop.configs) {
      const late = await this.interop.newUser();
      this.lates.set(config.name, late);
      const warm = await this.interop.api.call('GET', publicPathOf(late));
      expect(warm.headers.get('x-cache')).toBe('MISS');
    }
    this.lateExpiresBy = Date.now() + TTL * 1000;
  }

  /**
   * A new owner's profile fetched through `config`'s proxy for the first time: the app's handler answers it with
   * the full `s-maxage` and a strong tag. Returns the answer with the watch begun just before it.
   */
  async fetchFirst(config: C): Promise<{ front: ProxyFront<C, A>; path: string; first: A; watch: Watch }> {
    const owner = await this.interop.newUser();
    this.owners.set(config.name, owner);
    const front = this.interop.frontOf(config);
    const path = publicPathOf(owner);
    const watch = this.interop.watch(path);
    const first = await front.get(path, {}, 'first:');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: owner.id, name: 'First Last' });
    expect(first.headers.get('cache-control')).toBe(PUBLIC_PROFILE_CACHE_CONTROL);
    expect(first.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    this.firsts.set(config.name, first);
    return { front, path, first, watch };
  }

  /** The owner's profile. */
  pathOf(config: C): string {
    return publicPathOf(this.known(this.owners, config));
  }

  /** The late profile. */
  latePathOf(config: C): string {
    return publicPathOf(this.known(this.lates, config));
  }

  /**
   * Waits until the late profiles' server entries, made in the first step, have at most 3 s left, then starts
   * watching each late profile: one watch per configuration.
   */
  async nearLateExpiry(): Promise<Array<{ config: C; watch: Watch }>> {
    await sleepUntil(this.lateExpiresBy - 3000);
    return this.interop.configs.map((config) => ({
      config,
      watch: this.interop.watch(this.latePathOf(config)),
    }));
  }

  /** The proxy's first answer for the owner's profile. */
  firstOf(config: C): A {
    return this.known(this.firsts, config);
  }

  /**
   * After s-maxage, before any rename: the proxy answers what it first got (status, body, tag), and the app's one
   * exchange was answered from its entry (no handler run) with the entry's tag and full lifetime.
   */
  expectUnchanged(config: C, answer: A, { exchange, trace, handlerRuns }: OnlyExchange): void {
    const first = this.firstOf(config);
    const etag = first.headers.get('etag');
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(first.text);
    expect(answer.headers.get('etag')).toBe(etag);
    expect(exchange.response['x-cache'], trace).toBe('HIT');
    expect(exchange.response['etag'], trace).toBe(etag);
    expect(exchange.response['cache-control'], trace).toBe(PUBLIC_PROFILE_CACHE_CONTROL);
    expect(handlerRuns).toBe(0);
  }

  /** Renames every owner (`First Renamed`), through the app directly. */
  async renameOwners(): Promise<void> {
    for (const config of this.interop.configs) {
      const owner = this.known(this.owners, config);
      const renamed = await this.interop.api.call('PUT', `/users/${owner.id}`, {
        token: owner.token,
        body: { lastName: 'Renamed' },
      });
      expect(renamed.status).toBe(200);
    }
  }

  /** Within s-maxage after the rename the proxy may deliver the old name from its cache; anything else is new. */
  expectNameWithinSharedMaxAge(answer: A, delivered: boolean): void {
    expect((answer.body as { name: string }).name).toBe(delivered ? 'First Last' : 'First Renamed');
  }

  /**
   * The first fetch after s-maxage once renamed: the proxy answers the new name, and the app's one exchange ran
   * the handler once (its entry was invalidated) and answered 200, asked with the first tag when `conditional`.
   */
  expectRenamed(
    config: C,
    answer: A,
    { exchange, trace, handlerRuns }: OnlyExchange,
    conditional: boolean,
  ): void {
    const owner = this.known(this.owners, config);
    expect(answer.body).toEqual({ id: owner.id, name: 'First Renamed' });
    expect(handlerRuns).toBe(1);
    expect(exchange.request['if-none-match'], trace).toBe(
      conditional ? this.firstOf(config).headers.get('etag') : undefined,
    );
    expect(exchange.status, trace).toBe(200);
    expect(exchange.response['x-cache'], trace).toBe('MISS');
  }

  private known<T>(map: ReadonlyMap<string, T>, config: C): T {
    const value = map.get(config.name);
    if (value === undefined) throw new Error('the first step did not run');
    return value;
  }
}
