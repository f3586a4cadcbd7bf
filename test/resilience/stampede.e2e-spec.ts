import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidationService } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { ADAPTERS, startApp } from '../fixtures/cache-fixture.js';
import { Behaviour, StampedeModule } from '../fixtures/stampede-fixture.js';

type Body = { id: string; version: number; run: number };

async function get(url: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, cache: res.headers.get('x-cache'), text, ms: performance.now() - started };
}

describe.each(ADAPTERS)('stampede protection in one process on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let behaviour: Behaviour;
  let invalidation: InvalidationService;

  beforeAll(async () => {
    ({ app, url } = await startApp(
      StampedeModule.with({ enabled: true, stampede: { coalesceTimeout: 400 } }),
      adapter,
    ));
    behaviour = app.get(Behaviour);
    invalidation = app.get(InvalidationService);
  });
  afterAll(async () => app.close());

  it('runs the handler once for 100 concurrent cold requests; every caller gets the same body', async () => {
    behaviour.delayMs.set('cold', 100);
    const results = await Promise.all(Array.from({ length: 100 }, () => get(`${url}/s/item/cold`)));
    expect(behaviour.runsOf('cold')).toBe(1);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200]));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results.filter((r) => r.cache === 'MISS')).toHaveLength(1);
  });

  it('without coalescing, the same burst runs the handler for every request (the baseline)', async () => {
    behaviour.delayMs.set('solo', 100);
    await Promise.all(Array.from({ length: 20 }, () => get(`${url}/s/solo/solo`)));
    expect(behaviour.runsOf('solo')).toBe(20);
  });

  it('never makes different keys, or different users, wait on each other or share a result', async () => {
    behaviour.delayMs.set('slow', 600);
    const slow = get(`${url}/s/item/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const fast = await get(`${url}/s/item/fast`);
    expect(fast.ms).toBeLessThan(400);
    await slow;

    behaviour.delayMs.set('mine', 100);
    const [one, two] = await Promise.all([
      get(`${url}/s/me/mine`, { 'x-user': '1' }),
      get(`${url}/s/me/mine`, { 'x-user': '2' }),
    ]);
    expect(behaviour.runsOf('mine')).toBe(2);
    expect(one.text).not.toBe(two.text);
  });

  it('releases followers when the leader throws; the error is not cached', async () => {
    behaviour.delayMs.set('boom', 100);
    behaviour.failing.add('boom');
    const results = await Promise.all(Array.from({ length: 10 }, () => get(`${url}/s/item/boom`)));
    expect(results.every((r) => r.status === 500)).toBe(true);
    behaviour.failing.delete('boom');
    const after = await get(`${url}/s/item/boom`);
    expect(after.status).toBe(200);
    expect(after.cache).toBe('MISS');
  });

  it('releases followers of a hung leader after the coalescing deadline, and does not chain later callers', async () => {
    behaviour.firstRunDelayMs.set('hung', 3000);
    const leader = get(`${url}/s/item/hung`);
    await new Promise((r) => setTimeout(r, 50));
    const followers = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/s/item/hung`)));
    for (const follower of followers) {
      expect(follower.status).toBe(200);
      expect(follower.ms).toBeLessThan(400 + 600);
    }
    const later = await get(`${url}/s/item/hung`);
    expect(later.status).toBe(200);
    expect(later.ms).toBeLessThan(400);
    expect((await leader).status).toBe(200);
  });

  it('never stores the result of a handler that started before an invalidation and finished after it', async () => {
    behaviour.delayMs.set('race', 300);
    const before = get(`${url}/s/item/race`);
    await new Promise((r) => setTimeout(r, 100));
    behaviour.version = 2;
    await invalidation.invalidateNamespace('st');
    const raced = JSON.parse((await before).text) as Body;
    expect(raced.version).toBe(1);
    behaviour.delayMs.delete('race');
    const next = await get(`${url}/s/item/race`);
    expect(next.cache).toBe('MISS');
    expect((JSON.parse(next.text) as Body).version).toBe(2);
  });

  it('serves the stale entry within grace while one request refreshes it', async () => {
    const first = await get(`${url}/s/grace/g`);
    await new Promise((r) => setTimeout(r, 1100));
    behaviour.delayMs.set('g', 300);
    const refresher = get(`${url}/s/grace/g`);
    await new Promise((r) => setTimeout(r, 50));
    const during = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/s/grace/g`)));
    for (const stale of during) {
      expect(stale.cache).toBe('STALE');
      expect(stale.text).toBe(first.text);
      expect(stale.ms).toBeLessThan(250);
    }
    const refreshed = await refresher;
    expect(refreshed.cache).toBe('MISS');
    expect((JSON.parse(refreshed.text) as Body).run).toBe(2);
    expect(behaviour.runsOf('g')).toBe(2);
  });

  it('serves the stale entry within grace when the refresh fails', async () => {
    const first = await get(`${url}/s/grace/gf`);
    await new Promise((r) => setTimeout(r, 1100));
    behaviour.failing.add('gf');
    const answer = await get(`${url}/s/grace/gf`);
    expect(answer.status).toBe(200);
    expect(answer.cache).toBe('STALE');
    expect(answer.text).toBe(first.text);
    behaviour.failing.delete('gf');
  });

  it('refreshes a fresh entry early in one request while the others keep hitting', async () => {
    behaviour.delayMs.set('e', 20);
    await get(`${url}/s/early/e`);
    behaviour.delayMs.set('e', 200);
    const burst = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/s/early/e`)));
    expect(burst.filter((r) => r.cache === 'MISS')).toHaveLength(1);
    expect(burst.filter((r) => r.cache === 'HIT')).toHaveLength(4);
    expect(behaviour.runsOf('e')).toBe(2);
  });
});

const redisMissing = skipWithoutRedis('distributed lock e2e', canSpawnRedis());

describe.skipIf(redisMissing)('stampede protection across instances sharing Redis', () => {
  let redis: OwnedRedis;
  const apps: Array<{ app: INestApplication; url: string }> = [];
  const prefix = 'lock-e2e';

  beforeAll(async () => {
    redis = await spawnRedis();
    for (const adapter of ADAPTERS) {
      const started = await startApp(
        StampedeModule.with({
          enabled: true,
          keyPrefix: prefix,
          redis: { enabled: true, url: redis.url },
          stampede: { lockTtl: 1000 },
        }),
        adapter,
      );
      apps.push(started);
    }
    const { CacheStatusService } = await import('../helpers/internals.js');
    const deadline = Date.now() + 5000;
    while (apps.some((a) => a.app.get(CacheStatusService).backendName !== 'redis')) {
      if (Date.now() > deadline) throw new Error('Redis not in use');
      await new Promise((r) => setTimeout(r, 25));
    }
  });
  afterAll(async () => {
    for (const { app } of apps) await app.close();
    await redis?.stop();
  });

  const runs = (id: string) => apps.reduce((sum, { app }) => sum + app.get(Behaviour).runsOf(id), 0);

  it('runs the handler about once for concurrent misses spread over two instances', async () => {
    for (const { app } of apps) app.get(Behaviour).delayMs.set('shared', 150);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(`${apps[i % 2]?.url ?? ''}/s/locked/shared`)),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(runs('shared')).toBe(1);
  });

  it('does not block others beyond the lock TTL when the holder crashed', async () => {
    await get(`${apps[0]?.url ?? ''}/s/locked/crash`);
    const [key] = redis.cli('--scan', '--pattern', `${prefix}:@e:lk:*crash*`).split('\n');
    expect(key).toBeTruthy();
    await apps[0]?.app.get(InvalidationService).invalidateNamespace('lk');
    // A lock left by an instance that died while computing this key.
    redis.cli('set', (key ?? '').replace(`${prefix}:@e:`, `${prefix}:@l:`), 'dead-instance', 'PX', '600');
    const answer = await get(`${apps[1]?.url ?? ''}/s/locked/crash`);
    expect(answer.status).toBe(200);
    expect(answer.cache).toBe('MISS');
    expect(answer.ms).toBeGreaterThanOrEqual(450);
    expect(answer.ms).toBeLessThan(1000 + 500);
  });
});
