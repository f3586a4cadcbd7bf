import { describe, expect, it } from 'vitest';
import { directiveSeconds, nginxVersion, sleepUntil, startNginx } from '../helpers/proxies.js';
import {
  describeBehindProxy,
  describeUserScopedScenarios,
  ProxyFront,
  SHARED_MAX_AGE,
  SharedRouteTimeline,
} from './proxy-scenarios.js';
import type { ProxyAnswer, ProxyConfig } from './proxy-scenarios.js';

/**
 * nginx's `proxy_cache` in front of the sample app, configured with nothing but the cache (so it stores what
 * the app's headers allow), once with `proxy_cache_revalidate on` and once without. nginx ignores
 * `Authorization` and `X-API-Key` when it stores and looks up (its key is the URL): only `private`,
 * `no-cache` and `no-store` from the app keep one caller's response from another. The shared route, the public
 * profile (`public, max-age=0, s-maxage=5`), must be stored, revalidated with the app's `ETag` (a `304` from the
 * app's entry, no handler run), show a rename at the first revalidation, and never outlive its server entry.
 */
const version = nginxVersion();

interface Config extends ProxyConfig {
  readonly revalidate: boolean;
}

const CONFIGS: readonly Config[] = [
  { name: 'proxy_cache_revalidate on', revalidate: true },
  { name: 'proxy_cache_revalidate off', revalidate: false },
];

/** One answer through nginx, with what nginx says it did. */
interface Answer extends ProxyAnswer {
  /** `$upstream_cache_status`: MISS, HIT, EXPIRED, REVALIDATED. */
  readonly cache: string | null;
  /** `$upstream_status`: what the app answered nginx; `null` when nginx did not ask it. */
  readonly upstream: string | null;
}

/** The whole second of a wall-clock time: nginx's cache counts in whole seconds. */
const secondOf = (ms: number) => Math.floor(ms / 1000);

/** One nginx and what it answered; every HIT is checked against the lifetime of the fetch it came from. */
class Front extends ProxyFront<Config, Answer> {
  protected readonly shown = [
    'x-proxy-cache',
    'x-upstream-status',
    'cache-control',
    'etag',
    'vary',
    'x-cache',
    'age',
  ];
  /** Per path, the last response nginx got from the app with an `s-maxage`. */
  private readonly fetched = new Map<string, { receivedAt: number; sMaxAge: number }>();

  protected read(answer: ProxyAnswer): Answer {
    return {
      ...answer,
      cache: answer.headers.get('x-proxy-cache'),
      upstream: answer.headers.get('x-upstream-status'),
    };
  }

  protected check(answer: Answer, line: string): void {
    // nginx adds no Age, and the app sends none.
    expect(answer.headers.get('age'), line).toBeNull();
    if (answer.cache === 'HIT') {
      const last = this.fetched.get(answer.path);
      expect(last, `${line}: a HIT with no fetch before it`).toBeDefined();
      // Fetched in second F with s-maxage S, an entry is fresh through second F + S, and never after.
      if (last !== undefined) {
        expect(secondOf(answer.sentAt), `${line}: served past its s-maxage`).toBeLessThanOrEqual(
          secondOf(last.receivedAt) + last.sMaxAge,
        );
      }
    } else if (answer.upstream !== null) {
      const sMaxAge = directiveSeconds(answer.headers.get('cache-control'), 's-maxage');
      if (sMaxAge !== undefined) this.fetched.set(answer.path, { receivedAt: answer.receivedAt, sMaxAge });
    }
  }

  /** The first moment at which nginx must no longer serve `path` from its cache without asking the app. */
  staleFrom(path: string): number {
    const last = this.fetched.get(path);
    if (last === undefined) throw new Error(`${path} was never fetched through ${this.config.name}`);
    return (secondOf(last.receivedAt) + last.sMaxAge + 1) * 1000 + 50;
  }
}

describeBehindProxy(
  {
    proxy: 'nginx',
    version,
    install: 'nginx on PATH or in /usr/sbin (Debian package nginx-light), or NGINX_PATH',
    configs: CONFIGS,
    start: async (config, upstream) =>
      new Front(
        config,
        await startNginx({ upstream, location: config.revalidate ? ['proxy_cache_revalidate on;'] : [] }),
        version,
      ),
  },
  'proxy_cache in front of the sample app',
  (interop) => {
    const { frontOf } = interop;

    // nginx asked the app (and stored nothing): a MISS, and the app's own status.
    describeUserScopedScenarios(interop, (answer, label) => {
      expect(answer.cache, label).toBe('MISS');
      expect(answer.upstream, label).toBe(String(answer.status));
    });

    /**
     * One timeline for both configurations (their waits overlap): fetched at t0, revalidated after s-maxage, renamed,
     * fetched again after the next s-maxage, then a profile whose server entry was made at t0 fetched at t0 + 12 s.
     * Each step needs the one before.
     */
    describe('the shared route GET /users/:id/public', () => {
      const timeline = new SharedRouteTimeline<Config, Answer>(interop);

      it('is stored: the repeats are HITs for callers with and without credentials; the handler ran once', async () => {
        await timeline.warmLateProfiles();
        const other = await interop.newUser();

        for (const config of CONFIGS) {
          const { front, path, first, watch } = await timeline.fetchFirst(config);
          expect(first.cache).toBe('MISS');
          expect(first.upstream).toBe('200');
          expect(first.headers.get('vary')).toBeNull();

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
          expect(watch.handlerRuns()).toBe(1);
          const { exchange, trace } = await watch.only('public profile: first, then three repeats');
          expect(exchange.response['x-cache'], trace).toBe('MISS');
          expect(exchange.response['age'], trace).toBeUndefined();
        }
      });

      it('is revalidated after s-maxage: a 304 from the app’s entry (revalidate on) or its 200 (off), no handler run', async () => {
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = timeline.pathOf(config);
          const etag = timeline.firstOf(config).headers.get('etag');
          await sleepUntil(front.staleFrom(path));
          const watch = interop.watch(path);

          const revalidated = await front.get(path, {}, 'after s-maxage:');
          const seen = await watch.only(`public profile after s-maxage (${config.name})`);
          timeline.expectUnchanged(config, revalidated, seen);
          if (config.revalidate) {
            expect(revalidated.cache).toBe('REVALIDATED');
            expect(revalidated.upstream).toBe('304');
            expect(seen.exchange.request['if-none-match'], seen.trace).toBe(etag);
            expect(seen.exchange.status, seen.trace).toBe(304);
          } else {
            expect(revalidated.cache).toBe('EXPIRED');
            expect(revalidated.upstream).toBe('200');
            expect(seen.exchange.request['if-none-match'], seen.trace).toBeUndefined();
            expect(seen.exchange.status, seen.trace).toBe(200);
          }
          expect((await front.get(path, {}, 'right after:')).cache).toBe('HIT');
        }
      });

      it('gets the new name at the first revalidation after a rename; until then only what s-maxage allows', async () => {
        await timeline.renameOwners();
        for (const config of CONFIGS) {
          // Within s-maxage nginx may still answer the old name (Front.get checks every HIT's age).
          const within = await frontOf(config).get(timeline.pathOf(config), {}, 'right after the rename:');
          timeline.expectNameWithinSharedMaxAge(within, within.cache === 'HIT');
        }
        for (const config of CONFIGS) {
          const front = frontOf(config);
          const path = timeline.pathOf(config);
          await sleepUntil(front.staleFrom(path));
          const watch = interop.watch(path);

          const after = await front.get(path, {}, 'after the next s-maxage:');
          expect(after.cache).toBe('EXPIRED');
          expect(after.upstream).toBe('200');
          expect(after.headers.get('etag')).not.toBe(timeline.firstOf(config).headers.get('etag'));
          const seen = await watch.only(`public profile after the rename (${config.name})`);
          timeline.expectRenamed(config, after, seen, config.revalidate);

          const next = await front.get(path, {}, 'then:');
          expect(next.cache).toBe('HIT');
          expect(next.text).toBe(after.text);
        }
      });

      it('never keeps an entry past its server-side TTL: a late fetch gets s-maxage capped at what the entry has left', async () => {
        const { lateExpiresBy } = timeline;
        // From here on the late profiles' entries (made in the first step) have at most 3 s left.
        const watches = await timeline.nearLateExpiry();
        for (const config of CONFIGS) {
          const first = await frontOf(config).get(timeline.latePathOf(config), {}, 'late first fetch:');
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
              answer = await frontOf(config).get(timeline.latePathOf(config), {}, 'polling:');
              expect(answer.sentAt, 'nginx kept the entry past its server-side TTL').toBeLessThan(
                lateExpiresBy + 1000,
              );
            } while (answer.cache === 'HIT');
            expect(answer.cache).toBe(config.revalidate ? 'REVALIDATED' : 'EXPIRED');
            expect(answer.sentAt).toBeGreaterThan(lateExpiresBy - 1000);
          }),
        );
        for (const { config, watch } of watches) {
          const { exchanges, trace } = await watch.seen(`late public profile (${config.name})`);
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
