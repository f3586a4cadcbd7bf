import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS, Runs } from '../fixtures/cache-fixture.js';
import {
  Pipeline,
  startEarlyApp,
  withEarlyApp,
  type CollectingLogger,
} from '../fixtures/early-answers-fixture.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';

/** What a client sees of an answer, without the headers that differ between any two responses. */
function seen(res: RawResponse): Record<string, unknown> {
  const { date: _date, 'x-request-id': _id, connection: _c, 'keep-alive': _k, ...headers } = res.headers;
  return { status: res.status, headers, body: res.body };
}

function pipelineRuns(pipeline: Pipeline): number {
  return pipeline.guards + pipeline.pipes + pipeline.interceptors;
}

describe.each(ADAPTERS)('public routes answered before the router on %s (memory)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let logger: CollectingLogger;
  let runs: Runs;
  let pipeline: Pipeline;

  beforeAll(async () => {
    ({ app, url, logger } = await startEarlyApp(adapter, { enabled: true, keyPrefix: `early-${adapter}` }));
    runs = app.get(Runs);
    pipeline = app.get(Pipeline);
  });
  afterAll(async () => app.close());

  it('logs which public routes are answered early and, for the others, why not', () => {
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/EarlyController\.profile .*answered before the router/),
    );
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/EarlyController\.guarded is answered after the router: a guard is bound to it/),
    );
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/GuardedController\.get is answered after the router: a guard is bound to it/),
    );
    expect(logger.lines.some((line) => line.includes('EarlyController.notPublic'))).toBe(false);
  });

  it('answers a HIT without running guards, pipes or interceptors, and a MISS through them', async () => {
    const before = pipelineRuns(pipeline);
    const miss = await raw(`${url}/early/profiles/1`);
    expect(miss.headers['x-cache']).toBe('MISS');
    const afterMiss = pipelineRuns(pipeline);
    expect(afterMiss).toBeGreaterThan(before);
    const hit = await raw(`${url}/early/profiles/1`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(pipelineRuns(pipeline)).toBe(afterMiss);
    expect(runs.of('profile:1')).toBe(1);
    expect(hit.body).toBe(miss.body);
  });

  it('sends exactly what the normal path sends: status, headers, body, 304 and HEAD', async () => {
    await raw(`${url}/early/profiles/2`);
    await raw(`${url}/early/guarded/2`);
    const early = await raw(`${url}/early/profiles/2`);
    const normal = await raw(`${url}/early/guarded/2`);
    expect(normal.headers['x-cache']).toBe('HIT');
    expect(seen(early)).toEqual(seen(normal));
    expect(early.headers['cache-control']).toBe('public, max-age=0, s-maxage=30, stale-while-revalidate=0');
    const etag = String(early.headers['etag']);
    const before = pipelineRuns(pipeline);
    const earlyNotModified = await raw(`${url}/early/profiles/2`, 'GET', { 'if-none-match': etag });
    expect(pipelineRuns(pipeline)).toBe(before);
    const normalNotModified = await raw(`${url}/early/guarded/2`, 'GET', { 'if-none-match': etag });
    expect(earlyNotModified.status).toBe(304);
    expect(seen(earlyNotModified)).toEqual(seen(normalNotModified));
    const earlyHead = await raw(`${url}/early/profiles/2`, 'HEAD');
    const normalHead = await raw(`${url}/early/guarded/2`, 'HEAD');
    expect(earlyHead.body).toBe('');
    expect(seen(earlyHead)).toEqual(seen(normalHead));
    const withCredentials = await raw(`${url}/early/profiles/2`, 'GET', { authorization: 'Bearer x' });
    expect(withCredentials.headers['cache-control']).toBe(
      'public, max-age=0, s-maxage=30, stale-while-revalidate=0',
    );
    expect(withCredentials.body).toBe(early.body);
  });

  it('keeps application middleware and hooks registered before it', async () => {
    await raw(`${url}/early/profiles/3`);
    const hit = await raw(`${url}/early/profiles/3`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-request-id']).toMatch(/^\d+$/);
  });

  it('leaves no-cache and no-store requests to the normal path', async () => {
    await raw(`${url}/early/profiles/4`);
    const before = pipeline.interceptors;
    const refreshed = await raw(`${url}/early/profiles/4`, 'GET', { 'cache-control': 'no-cache' });
    expect(refreshed.headers['x-cache']).toBe('MISS');
    expect(runs.of('profile:4')).toBe(2);
    const noStore = await raw(`${url}/early/profiles/4`, 'GET', { 'cache-control': 'no-store' });
    expect(noStore.headers['x-cache']).toBe('MISS');
    expect(pipeline.interceptors).toBe(before + 2);
    expect((await raw(`${url}/early/profiles/4`)).body).toContain('"run":2');
  });

  it('never answers a guarded route early (method or controller guard)', async () => {
    await raw(`${url}/early/guarded/5`);
    await raw(`${url}/early-guarded/5`);
    const guards = pipeline.guards;
    expect((await raw(`${url}/early/guarded/5`)).headers['x-cache']).toBe('HIT');
    expect((await raw(`${url}/early-guarded/5`)).headers['x-cache']).toBe('HIT');
    expect(pipeline.guards).toBe(guards + 2);
  });

  it('coalesces concurrent misses that were looked up early: the handler runs once', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => raw(`${url}/early/slow/6`)));
    expect(runs.of('slow:6')).toBe(1);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });

  it('answers only the route the router chose: a static guarded route beside a public parameter route', async () => {
    // Express routes %70opular to :name (it does not decode before matching), Fastify to the static route.
    const encoded = await raw(`${url}/early/tags/%70opular`);
    await raw(`${url}/early/tags/%70opular`);
    const anonymous = await raw(`${url}/early/tags/popular`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).not.toContain('"tag"');
    expect(anonymous.headers['cache-control']).toBe('no-store');
    const admin = await raw(`${url}/early/tags/popular`, 'GET', { 'x-admin': '1' });
    expect(admin.status).toBe(200);
    expect(admin.body).toContain('admin-only');
    expect(encoded.status).toBe(adapter === 'express' ? 200 : 401);
    if (adapter === 'express') expect(encoded.body).toContain('"tag":"popular"');
  });

  it('runs application module middleware before an early answer', async () => {
    await raw(`${url}/early/profiles/8`);
    const hit = await raw(`${url}/early/profiles/8`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-module-middleware']).toBe('ran');
  });

  it('does not answer early a route that sets headers with @Header(), and says why', async () => {
    expect(logger.lines).toContainEqual(
      expect.stringMatching(
        /EarlyController\.withHeader is answered after the router: it sets headers with @Header/,
      ),
    );
    await raw(`${url}/early/with-header/1`);
    const hit = await raw(`${url}/early/with-header/1`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-disposition']).toBe('inline');
  });

  it('sees an invalidation at once', async () => {
    const { InvalidationService } = await import('../../src/cache/index.js');
    await raw(`${url}/early/profiles/7`);
    await app.get(InvalidationService).invalidateNamespace('profiles');
    const after = await raw(`${url}/early/profiles/7`);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(runs.of('profile:7')).toBe(2);
  });
});

describe.each(ADAPTERS)('public routes with a global guard or prefix on %s', (adapter) => {
  it('answers nothing early when a global guard is bound, and says so', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-guard-${adapter}` },
      { globalGuard: true },
      async ({ app, url, logger }) => {
        const pipeline = app.get(Pipeline);
        await raw(`${url}/early/profiles/1`);
        const guards = pipeline.guards;
        expect((await raw(`${url}/early/profiles/1`)).headers['x-cache']).toBe('HIT');
        expect(pipeline.guards).toBe(guards + 1);
        expect(logger.lines).toContainEqual(
          expect.stringMatching(
            /EarlyController\.profile is answered after the router: a global guard is bound/,
          ),
        );
      },
    );
  });

  it.each(['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const)(
    'never skips the application’s authentication (%s hook on Fastify, a middleware on Express)',
    async (stage) => {
      await withEarlyApp(
        adapter,
        { enabled: true, keyPrefix: `early-auth-${stage}-${adapter}` },
        { authHook: stage },
        async ({ app, url }) => {
          const pipeline = app.get(Pipeline);
          expect((await raw(`${url}/early/profiles/5`)).status).toBe(401);
          const miss = await raw(`${url}/early/profiles/5`, 'GET', { 'x-key': 'k' });
          expect(miss.headers['x-cache']).toBe('MISS');
          const before = pipelineRuns(pipeline);
          const hit = await raw(`${url}/early/profiles/5`, 'GET', { 'x-key': 'k' });
          expect(hit.headers['x-cache']).toBe('HIT');
          // Still answered early: Nest's guards, pipes and interceptors did not run for the HIT.
          expect(pipelineRuns(pipeline)).toBe(before);
          const refused = await raw(`${url}/early/profiles/5`);
          expect(refused.status).toBe(401);
          expect(refused.headers['x-cache']).toBeUndefined();
          expect(refused.body).not.toBe(hit.body);
        },
      );
    },
  );

  it('keeps CORS (app.enableCors) on early answers: the HIT carries the same CORS headers as the MISS', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-cors-${adapter}` },
      { cors: { origin: 'https://shop.example', credentials: true, exposedHeaders: ['X-Cache', 'ETag'] } },
      async ({ app, url }) => {
        const pipeline = app.get(Pipeline);
        const origin = { origin: 'https://shop.example' };
        const miss = await raw(`${url}/early/profiles/4`, 'GET', origin);
        const before = pipelineRuns(pipeline);
        const hit = await raw(`${url}/early/profiles/4`, 'GET', origin);
        expect(miss.headers['x-cache']).toBe('MISS');
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(pipelineRuns(pipeline)).toBe(before);
        for (const res of [miss, hit]) {
          expect(res.headers['access-control-allow-origin']).toBe('https://shop.example');
          expect(res.headers['access-control-allow-credentials']).toBe('true');
          expect(res.headers['access-control-expose-headers']).toMatch(/^X-Cache, ?ETag$/);
        }
        const { 'x-cache': _m, date: _d, 'x-request-id': _r, ...missRest } = miss.headers;
        const { 'x-cache': _h, date: _e, 'x-request-id': _s, ...hitRest } = hit.headers;
        // Vary: Origin included where the adapter's CORS plugin sets it (the `cors` package does for a fixed origin).
        expect(hitRest).toEqual(missRest);
        const revalidated = await raw(`${url}/early/profiles/4`, 'GET', {
          ...origin,
          'if-none-match': String(hit.headers.etag),
        });
        expect(revalidated.status).toBe(304);
        expect(revalidated.headers['access-control-allow-origin']).toBe('https://shop.example');
        const preflight = await raw(`${url}/early/profiles/4`, 'OPTIONS', {
          ...origin,
          'access-control-request-method': 'GET',
        });
        expect(preflight.status).toBe(204);
        expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example');
      },
    );
  });

  it('answers early under a global prefix', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-prefix-${adapter}` },
      { globalPrefix: 'api' },
      async ({ app, url }) => {
        const pipeline = app.get(Pipeline);
        await raw(`${url}/api/early/profiles/1`);
        const before = pipelineRuns(pipeline);
        const hit = await raw(`${url}/api/early/profiles/1`);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(pipelineRuns(pipeline)).toBe(before);
        expect((await raw(`${url}/early/profiles/1`)).status).toBe(404);
      },
    );
  });

  it('answers nothing early for a module mounted with RouterModule, and says why', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-directory-${adapter}` },
      { directory: true },
      async ({ app, url, logger }) => {
        const pipeline = app.get(Pipeline);
        await raw(`${url}/directory/profiles/1`);
        const before = pipeline.interceptors;
        const hit = await raw(`${url}/directory/profiles/1`);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(pipeline.interceptors).toBe(before + 1);
        expect(logger.lines).toContainEqual(
          expect.stringMatching(
            /DirectoryController\.get is answered after the router: its module is mounted with a path/,
          ),
        );
      },
    );
  });

  it('answers early exactly as the normal path does under application compression', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-gzip-${adapter}` },
      { compression: true },
      async ({ app, url }) => {
        const pipeline = app.get(Pipeline);
        const gzip = { 'accept-encoding': 'gzip' };
        await raw(`${url}/early/mid/1`, 'GET', gzip);
        await raw(`${url}/early/mid-guarded/1`, 'GET', gzip);
        const before = pipelineRuns(pipeline);
        const early = await raw(`${url}/early/mid/1`, 'GET', gzip);
        expect(pipelineRuns(pipeline)).toBe(before);
        const normal = await raw(`${url}/early/mid-guarded/1`, 'GET', gzip);
        expect(early.headers['content-encoding']).toBe('gzip');
        expect(String(early.headers['etag'])).toMatch(/^W\//);
        expect(early.headers['etag']).toBe(normal.headers['etag']);
        expect(early.headers['vary']).toBe(normal.headers['vary']);
        expect(early.headers['cache-control']).toBe(normal.headers['cache-control']);
        expect(early.bytes.equals(normal.bytes)).toBe(true);
      },
    );
  });

  it('costs nothing and answers nothing early when caching is disabled', async () => {
    await withEarlyApp(adapter, { enabled: false }, {}, async ({ url, logger }) => {
      const first = await raw(`${url}/early/profiles/1`);
      expect(first.headers['x-cache']).toBeUndefined();
      expect((await raw(`${url}/early/profiles/1`)).body).toContain('"run":2');
      expect(logger.lines.some((line) => line.includes('answered before the router'))).toBe(false);
    });
  });
});

const skipRedis = skipWithoutRedis('early answers with Redis', canSpawnRedis());

describe.skipIf(skipRedis).each(ADAPTERS)('public routes answered early from Redis on %s', (adapter) => {
  let redis: OwnedRedis;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    redis = await spawnRedis();
    ({ app, url } = await startEarlyApp(adapter, {
      enabled: true,
      keyPrefix: `early-redis-${adapter}`,
      redis: { enabled: true, url: redis.url },
    }));
  });
  afterAll(async () => {
    await app.close();
    await redis.stop();
  });

  it('sends a HIT from Redis once, also behind an application onSend hook that waits', async () => {
    await withEarlyApp(
      adapter,
      { enabled: true, keyPrefix: `early-redis-onsend-${adapter}`, redis: { enabled: true, url: redis.url } },
      { slowOnSend: true },
      async ({ url: slowUrl, logger }) => {
        expect((await raw(`${slowUrl}/early/profiles/11`)).headers['x-cache']).toBe('MISS');
        for (let i = 0; i < 3; i++) {
          const hit = await raw(`${slowUrl}/early/profiles/11`);
          expect(hit.status).toBe(200);
          expect(hit.headers['x-cache']).toBe('HIT');
        }
        const head = await raw(`${slowUrl}/early/profiles/11`, 'HEAD');
        expect(head.headers['x-cache']).toBe('HIT');
        // A second send of the answered reply fails in Nest's exception handler with ERR_HTTP_HEADERS_SENT.
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(logger.lines.filter((line) => /HEADERS_SENT|already sent/i.test(line))).toEqual([]);
      },
    );
  });

  it('answers HITs early from Redis and computes misses once', async () => {
    const pipeline = app.get(Pipeline);
    const runs = app.get(Runs);
    const answers = await Promise.all(Array.from({ length: 10 }, () => raw(`${url}/early/slow/1`)));
    expect(runs.of('slow:1')).toBe(1);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const before = pipelineRuns(pipeline);
    const hit = await raw(`${url}/early/slow/1`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(pipelineRuns(pipeline)).toBe(before);
    expect(hit.body).toBe(answers[0]?.body);
  });
});
