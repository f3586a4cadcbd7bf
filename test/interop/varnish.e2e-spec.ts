import { describe, expect, it } from 'vitest';
import { directiveSeconds, sleepUntil, startVarnish, varnishVersion } from '../helpers/proxies.js';
import {
  describeBehindProxy,
  describeUserScopedScenarios,
  ProxyFront,
  SHARED_MAX_AGE,
  SharedRouteTimeline,
} from './proxy-scenarios.js';
import type { ProxyAnswer, ProxyConfig } from './proxy-scenarios.js';

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

interface Config extends ProxyConfig {
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

/** One answer through Varnish, with what Varnish says it did. */
interface Answer extends ProxyAnswer {
  /** Delivered from an object (`X-Varnish` names two transactions: this one and the fetch). */
  readonly hit: boolean;
  /** `Age`, whole seconds since the object was fetched (Varnish sends 0 on a miss or a pass). */
  readonly age: number;
  /** The object's `s-maxage`, when its `Cache-Control` has one. */
  readonly sMaxAge: number | undefined;
}

/** One Varnish and what it answered; every hit's `Age` is checked against what its headers allow. */
class Front extends ProxyFront<Config, Answer> {
  protected readonly shown = ['x-varnish', 'age', 'cache-control', 'etag', 'vary', 'x-cache'];

  protected read(answer: ProxyAnswer): Answer {
    const xids = (answer.headers.get('x-varnish') ?? '').trim().split(/\s+/);
    return {
      ...answer,
      hit: xids.length === 2,
      age: Number(answer.headers.get('age') ?? Number.NaN),
      sMaxAge: directiveSeconds(answer.headers.get('cache-control'), 's-maxage'),
    };
  }

  protected check(answer: Answer, line: string): void {
    expect(answer.age, line).toBeGreaterThanOrEqual(0);
    if (answer.hit) {
      // Varnish counts Age from the whole second the object was fetched in: a fresh hit shows at most its
      // s-maxage, and nothing is delivered stale (the app says stale-while-revalidate=0, which ends grace).
      expect(answer.sMaxAge, `${line}: a hit without s-maxage`).toBeDefined();
      expect(answer.age, `${line}: delivered past its s-maxage`).toBeLessThanOrEqual(answer.sMaxAge ?? 0);
    } else {
      expect(answer.age, line).toBe(0);
    }
  }
}

/**
 * When to ask so that Varnish finds an object fetched by `fetchedBy` past its TTL of `ttl` seconds (and its
 * `Age` is at least `ttl`): Varnish counts Age from the whole second of the fetch, so a stale object shows
 * `ttl` or `ttl + 1` at first.
 */
const staleFrom = (fetchedBy: number, ttl: number) => fetchedBy + ttl * 1000 + 100;

/** After a background fetch reached the app: asks until Varnish delivers the object it fetched. */
async function refreshed(front: Front, path: string, label: string): Promise<Answer> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const answer = await front.get(path, {}, label);
    if (answer.hit && answer.age <= 1) return answer;
    if (Date.now() > deadline) throw new Error(`${path}: Varnish still delivers the stale object`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeBehindProxy(
  {
    proxy: 'Varnish',
    version,
    install: 'varnishd on PATH or in /usr/sbin (Debian package varnish), or VARNISHD_PATH',
    configs: CONFIGS,
    start: async (config, backend) =>
      new Front(config, await startVarnish({ backend, vcl: config.vcl }), version),
  },
  'in front of the sample app',
  (interop) => {
    const { frontOf } = interop;

    // Varnish asked the app every time: it delivered no object to anyone.
    describeUserScopedScenarios(interop, (answer, label) => {
      expect(answer.hit, label).toBe(false);
    });

    /**
     * One timeline for both configurations (their waits overlap): fetched at t0, asked again after s-maxage,
     * renamed, asked again after the next s-maxage, then a profile whose server entry was made at t0 fetched at
     * t0 + 12 s. Each step needs the one before.
     */
    describe('the shared route GET /users/:id/public', () => {
      const timeline = new SharedRouteTimeline<Config, Answer>(interop);
      /** Per configuration, when Varnish last fetched (or revalidated) the owner's profile, at the latest. */
      const fetchedBy = new Map<string, number>();
      const fetchedAt = (config: Config): number => fetchedBy.get(config.name) ?? Number.NaN;

      it('is stored: repeats without Authorization are hits (X-API-Key too); Bearer passes; the handler ran once', async () => {
        await timeline.warmLateProfiles();
        const other = await interop.newUser();

        for (const config of CONFIGS) {
          const { front, path, first, watch } = await timeline.fetchFirst(config);
          fetchedBy.set(config.name, first.receivedAt);
          expect(first.hit).toBe(false);

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

          expect(watch.handlerRuns()).toBe(1);
          const { exchanges, trace } = await watch.seen('public profile: first, two repeats, Bearer');
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
          const path = timeline.pathOf(config);
          const first = timeline.firstOf(config);
          await sleepUntil(staleFrom(fetchedAt(config), SHARED_MAX_AGE));
          const watch = interop.watch(path);

          const late = await front.get(path, {}, 'after s-maxage:');
          // A miss: Varnish fetched before it answered (with the kept object's tag where it keeps one).
          expect(late.hit).toBe(false);
          const seen = await watch.only(`public profile after s-maxage (${config.name})`);
          timeline.expectUnchanged(config, late, seen);
          expect(seen.exchange.request['if-none-match'], seen.trace).toBe(
            config.keep ? first.headers.get('etag') : undefined,
          );
          expect(seen.exchange.status, seen.trace).toBe(config.keep ? 304 : 200);

          const next = await refreshed(front, path, 'right after:');
          fetchedBy.set(config.name, next.receivedAt);
          expect(next.text).toBe(first.text);
        }
      });

      it('gets the new name at the first fetch after s-maxage once renamed (stock Varnish too: no stale delivery)', async () => {
        await timeline.renameOwners();
        for (const config of CONFIGS) {
          // Within s-maxage Varnish may still deliver the old name (Front.get checks every hit's Age).
          const within = await frontOf(config).get(timeline.pathOf(config), {}, 'right after the rename:');
          timeline.expectNameWithinSharedMaxAge(within, within.hit);
        }
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = timeline.pathOf(config);
          await sleepUntil(staleFrom(fetchedAt(config), SHARED_MAX_AGE));
          const watch = interop.watch(path);

          const late = await front.get(path, {}, 'after the next s-maxage:');
          expect(late.hit).toBe(false);
          const seen = await watch.only(`public profile after the rename (${config.name})`);
          timeline.expectRenamed(config, late, seen, config.keep);
          expect(seen.exchange.response['etag'], seen.trace).not.toBe(
            timeline.firstOf(config).headers.get('etag'),
          );

          const next = await refreshed(front, path, 'then:');
          expect(next.body).toEqual(late.body);
        }
      });

      it('serves no fresh hit past the server-side TTL: a late fetch gets s-maxage capped at what the entry has left', async () => {
        const { lateExpiresBy } = timeline;
        // From here on the late profiles' entries (made in the first step) have at most 3 s left.
        const watches = await timeline.nearLateExpiry();
        const firsts = new Map<string, Answer>();
        for (const config of CONFIGS) {
          const first = await frontOf(config).get(timeline.latePathOf(config), {}, 'late first fetch:');
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
        for (const { config, watch } of watches) {
          const { exchanges, trace } = await watch.seen(`late public profile (${config.name})`);
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
