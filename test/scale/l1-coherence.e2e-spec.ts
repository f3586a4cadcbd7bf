import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntryKey } from '../../src/cache/engine/entry-key.js';
import { CacheBackend, CacheStatusService, InvalidationService } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { FixtureModule, startApp } from '../fixtures/cache-fixture.js';
import { waitUntil as waitUntilPolling } from '../helpers/wait.js';

/** Polls on every turn of the event loop, so that delays are measured to a fraction of a millisecond. */
const waitUntil = (check: () => boolean, timeoutMs: number, what: string) =>
  waitUntilPolling(check, timeoutMs, what, 0);

const skip = skipWithoutRedis('L1 coherence e2e', canSpawnRedis());
const prefix = 'l1-e2e';

async function xCache(url: string): Promise<string | null> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.headers.get('x-cache');
}

describe.skipIf(skip)('tiered cache: L1 copies kept coherent over Redis pub/sub', () => {
  let redis: OwnedRedis;
  const instances: Array<{ app: INestApplication; url: string; backend: CacheBackend }> = [];

  beforeAll(async () => {
    redis = await spawnRedis();
    for (const adapter of ['express', 'fastify'] as const) {
      const { app, url } = await startApp(
        FixtureModule.with({
          enabled: true,
          keyPrefix: prefix,
          redis: { enabled: true, url: redis.url, operationTimeout: 100 },
          l1: { enabled: true },
        }),
        adapter,
      );
      instances.push({ app, url, backend: app.get(CacheBackend) });
    }
    for (const { app, backend } of instances) {
      await waitUntil(
        () => app.get(CacheStatusService).backendName === 'redis' && backend.l1Serving,
        5000,
        'Redis and the bus',
      );
    }
  });
  afterAll(async () => {
    for (const { app } of instances) await app.close();
    await redis?.stop();
  });

  const a = () => instances[0] as (typeof instances)[number];
  const b = () => instances[1] as (typeof instances)[number];

  it('answers a repeated read from L1, with no round trip to Redis (it even works while Redis hangs)', async () => {
    await xCache(`${b().url}/items/l1`);
    expect(await xCache(`${b().url}/items/l1`)).toBe('HIT');
    redis.pause();
    try {
      const started = performance.now();
      expect(await xCache(`${b().url}/items/l1`)).toBe('HIT');
      expect(performance.now() - started).toBeLessThan(50);
    } finally {
      redis.resume();
    }
  });

  it('drops the copies on every instance when one invalidates; the invalidating one before returning', async () => {
    await xCache(`${a().url}/items/co`);
    await xCache(`${b().url}/items/co`);
    expect(await xCache(`${a().url}/items/co`)).toBe('HIT');
    expect(await xCache(`${b().url}/items/co`)).toBe('HIT');
    const before = await (await fetch(`${b().url}/items/co`)).text();
    await a().app.get(InvalidationService).invalidateNamespace('items');
    const fromA = await fetch(`${a().url}/items/co`);
    expect(fromA.headers.get('x-cache')).toBe('MISS');
    const fresh = await fromA.text();
    expect(fresh).not.toBe(before);
    await new Promise((r) => setTimeout(r, 50));
    // B never answers its old copy again: it answers the entry A computed after the invalidation.
    expect(await (await fetch(`${b().url}/items/co`)).text()).toBe(fresh);
  });

  it('reaches the other instance within 50 ms (broadcast delay, 30 rounds)', async () => {
    const key = b().backend.keys.entry('items', 'items:GET:%2Fitems%2F%3Aid:id=delay:');
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) {
      await xCache(`${b().url}/items/delay`);
      await waitUntil(() => isL1Hit(b().backend, key), 2000, 'an L1 copy on B');
      await a().app.get(InvalidationService).invalidateNamespace('items');
      const returned = performance.now();
      await waitUntil(() => !isL1Hit(b().backend, key), 2000, 'B to drop its copy');
      delays.push(performance.now() - returned);
    }
    delays.sort((x, y) => x - y);
    const median = delays[Math.floor(delays.length / 2)] ?? 0;
    const max = delays[delays.length - 1] ?? 0;
    console.log(
      `L1 broadcast delay after invalidate() returned: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms`,
    );
    expect(max).toBeLessThan(50);
  });

  it('drops the other copies of an overwritten key', async () => {
    await xCache(`${a().url}/items/ow`);
    await xCache(`${b().url}/items/ow`);
    expect(await xCache(`${b().url}/items/ow`)).toBe('HIT');
    // A refreshes the entry (no-cache): B's copy of the old one goes.
    const res = await fetch(`${a().url}/items/ow`, { headers: { 'cache-control': 'no-cache' } });
    const fresh = await res.text();
    await new Promise((r) => setTimeout(r, 50));
    const fromB = await fetch(`${b().url}/items/ow`);
    expect(await fromB.text()).toBe(fresh);
  });

  it('flushes L1 and serves from Redis while the subscription is lost, then resumes', async () => {
    await xCache(`${b().url}/items/lost`);
    expect(b().backend.redis?.l1?.size).toBeGreaterThan(0);
    const losses = b().backend.l1SubscriptionLosses;
    redis.cli('client', 'kill', 'type', 'pubsub');
    await waitUntil(
      () => b().backend.l1SubscriptionLosses > losses,
      2000,
      'B to notice the lost subscription',
    );
    await waitUntil(() => b().backend.l1Serving, 10_000, 'B to subscribe again');
    // Everything L1 held before the loss is gone: it may have missed messages.
    expect(await xCache(`${b().url}/items/lost`)).toBe('HIT');
    expect(b().backend.redis?.l1?.size).toBe(1);
    await xCache(`${b().url}/items/back`);
    expect(await xCache(`${b().url}/items/back`)).toBe('HIT');
  });
});

/** Whether a read on this backend is answered from L1 right now (synchronously, without Redis). */
function isL1Hit(backend: CacheBackend, key: EntryKey): boolean {
  const lookup = backend.read(key);
  return !(lookup instanceof Promise) && lookup.entry !== undefined;
}
