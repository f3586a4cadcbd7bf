import type { INestApplication } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheModule, CacheStatsService } from '../../src/cache/index.js';
import { CacheHealthIndicator } from '../../src/cache/terminus.js';
import { freePort } from '../helpers/redis.js';
import { ADAPTERS, FixtureModule, startApp } from '../fixtures/cache-fixture.js';

describe.each(ADAPTERS)('counters and Prometheus metrics on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(FixtureModule.with({ enabled: true, metrics: 'prometheus' }), adapter));
  });
  afterAll(async () => app.close());

  it('counts hits and misses per namespace, and serves them on /metrics', async () => {
    await fetch(`${url}/items/m1`);
    await fetch(`${url}/items/m1`);
    await fetch(`${url}/items/m1`);
    await fetch(`${url}/stable/m2`);
    const snapshot = app.get(CacheStatsService).snapshot();
    expect(snapshot.namespaces['items']).toMatchObject({ hits: 2, misses: 1 });
    expect(snapshot.namespaces['stable']).toMatchObject({ hits: 0, misses: 1 });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('http_cache_hits_total{namespace="items"} 2');
    expect(text).toContain('http_cache_misses_total{namespace="items"} 1');
    expect(text).toContain('http_cache_breaker_open');
    expect(text).toContain('http_cache_store_errors_total 0');
    // `_total` series are counters to Prometheus (rate() and promtool expect it); states are gauges.
    expect(text).toContain('# TYPE http_cache_hits_total counter');
    expect(text).toContain('# TYPE http_cache_store_errors_total counter');
    expect(text).toContain('# TYPE http_cache_breaker_open gauge');
    // Read again at the next scrape, never added up twice.
    await fetch(`${url}/items/m1`);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain(
      'http_cache_hits_total{namespace="items"} 3',
    );
  });
});

describe('Terminus health indicator', () => {
  async function indicatorFor(redisUrl?: string) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TerminusModule,
        CacheModule.forRoot({
          enabled: true,
          ...(redisUrl !== undefined ? { redis: { enabled: true, url: redisUrl } } : {}),
        }),
      ],
      providers: [CacheHealthIndicator],
    }).compile();
    await moduleRef.init();
    return { indicator: moduleRef.get(CacheHealthIndicator), close: () => moduleRef.close() };
  }

  it('is up on the memory backend, with the backend and breaker in its details', async () => {
    const { indicator, close } = await indicatorFor();
    expect(indicator.isHealthy('cache')).toEqual({
      cache: { status: 'up', enabled: true, backend: 'memory', breaker: 'closed' },
    });
    await close();
  });

  it('stays up during a Redis outage (the app keeps serving) unless Redis is required', async () => {
    const { indicator, close } = await indicatorFor(`redis://127.0.0.1:${await freePort()}`);
    expect(indicator.isHealthy('cache').cache.status).toBe('up');
    expect(indicator.isHealthy('cache', { requireRedis: true })).toMatchObject({
      cache: { status: 'down', backend: 'memory-fallback' },
    });
    await close();
  });
});
