import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheStatusService, InvalidationService } from '../helpers/internals.js';
import { canSpawnRedis, freePort, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { ADAPTERS, FixtureModule, Runs, startApp } from '../fixtures/cache-fixture.js';
import { waitUntil } from '../helpers/wait.js';
import { parseEntry } from '../../src/cache/stores/entry-format.js';

const skip = skipWithoutRedis('Redis HTTP e2e', canSpawnRedis());

async function timed(url: string, init?: RequestInit): Promise<{ res: Response; ms: number; body: string }> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  return { res, ms: performance.now() - started, body };
}

describe.skipIf(skip).each(ADAPTERS)('Redis backend on %s', (adapter) => {
  let redis: OwnedRedis;
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  let status: CacheStatusService;
  const prefix = `redis-e2e-${adapter}`;

  beforeAll(async () => {
    // KEYS is renamed away: any use of it would fail these tests.
    redis = await spawnRedis(['--rename-command', 'KEYS', '']);
    ({ app, url } = await startApp(
      FixtureModule.with({
        enabled: true,
        keyPrefix: prefix,
        redis: {
          enabled: true,
          url: redis.url,
          operationTimeout: 100,
          invalidationTimeout: 300,
          fallbackTtl: 1,
        },
      }),
      adapter,
    ));
    runs = app.get(Runs);
    status = app.get(CacheStatusService);
    await waitUntil(() => status.backendName === 'redis', 5000);
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('stores entries in Redis under the prefix and namespace, and replays them byte for byte', async () => {
    const miss = await timed(`${url}/items/r1?b=2&a=1`);
    const hit = await timed(`${url}/items/r1?a=1&b=2`);
    expect(miss.res.headers.get('x-cache')).toBe('MISS');
    expect(hit.res.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toBe(miss.body);
    expect(hit.res.headers.get('content-type')).toBe(miss.res.headers.get('content-type'));
    expect(runs.of('item:r1')).toBe(1);
    const keys = redis.cli('--scan', '--pattern', `${prefix}:@e:items:*`).split('\n');
    expect(keys).toEqual([`${prefix}:@e:items:GET:%2Fitems%2F%3Aid:id=r1:a=1&b=2`]);
    expect(Number(redis.cli('pttl', keys[0] ?? ''))).toBeGreaterThan(290_000);
  });

  it('keeps what an entry varies on through Redis: another Accept-Language is computed again', async () => {
    const get = async (language: string) => {
      const res = await fetch(`${url}/lang`, { headers: { 'accept-language': language } });
      return { x: res.headers.get('x-cache'), body: (await res.json()) as { language: string } };
    };
    expect((await get('en')).x).toBe('MISS');
    expect(await get('en')).toMatchObject({ x: 'HIT', body: { language: 'en' } });
    expect(await get('fr')).toMatchObject({ x: 'MISS', body: { language: 'fr' } });
    expect(await get('fr')).toMatchObject({ x: 'HIT', body: { language: 'fr' } });
    // What the entry records of the request is a hash, never the header's value (it may be a credential).
    const keys = redis.cli('--scan', '--pattern', `${prefix}:@e:lang*`).split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const value = redis.cli('get', key);
      const recorded = parseEntry(value)?.vary?.['accept-language'];
      expect(recorded).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(['en', 'fr']).not.toContain(recorded);
    }
  });

  it('replays null, false, 0 and "" with the same types as memory', async () => {
    for (const kind of ['null', 'false', 'zero', 'empty']) {
      const miss = await timed(`${url}/value/${kind}`);
      const hit = await timed(`${url}/value/${kind}`);
      expect(hit.res.headers.get('x-cache')).toBe('HIT');
      expect(hit.body).toBe(miss.body);
      expect(hit.res.headers.get('content-type')).toBe(miss.res.headers.get('content-type'));
    }
  });

  it('invalidates through Redis-held scope records, in O(1), before the call returns', async () => {
    const invalidation = app.get(InvalidationService);
    const as = (user: string) => ({ headers: { 'x-user': user } });
    await timed(`${url}/profile/x`, as('1'));
    await timed(`${url}/profile/x`, as('10'));
    const ownerOf1 = redis.cli('get', `${prefix}:@s:t:user%3A1`);
    expect(ownerOf1).not.toBe('');
    const keysBefore = Number(redis.cli('dbsize'));
    await invalidation.invalidateUser('1');
    // One record moved to the new tick, nothing scanned, deleted or created.
    expect(Number(redis.cli('get', `${prefix}:@s:t:user%3A1`))).toBeGreaterThan(Number(ownerOf1));
    expect(Number(redis.cli('dbsize'))).toBe(keysBefore);
    expect((await timed(`${url}/profile/x`, as('1'))).res.headers.get('x-cache')).toBe('MISS');
    expect((await timed(`${url}/profile/x`, as('10'))).res.headers.get('x-cache')).toBe('HIT');
    await invalidation.invalidateAll();
    expect((await timed(`${url}/profile/x`, as('10'))).res.headers.get('x-cache')).toBe('MISS');
  });

  it('is not fooled by a scope record that Redis lost: old entries become misses', async () => {
    await timed(`${url}/items/lost-gen`);
    expect((await timed(`${url}/items/lost-gen`)).res.headers.get('x-cache')).toBe('HIT');
    redis.cli('del', `${prefix}:@s:n:items`);
    expect((await timed(`${url}/items/lost-gen`)).res.headers.get('x-cache')).toBe('MISS');
    expect((await timed(`${url}/items/lost-gen`)).res.headers.get('x-cache')).toBe('HIT');
  });

  it('applies every kind of invalidation in Redis, and only to its targets', async () => {
    const invalidation = app.get(InvalidationService);
    const prime = async (path: string, headers: Record<string, string> = {}) => {
      await timed(`${url}${path}`, { headers });
      expect((await timed(`${url}${path}`, { headers })).res.headers.get('x-cache'), path).toBe('HIT');
    };
    const state = async (path: string, headers: Record<string, string> = {}) =>
      (await timed(`${url}${path}`, { headers })).res.headers.get('x-cache');

    await prime('/users?page=1');
    await prime('/users?userId=3');
    await invalidation.invalidateUsersList();
    expect(await state('/users?page=1')).toBe('MISS');
    expect(await state('/users?userId=3')).toBe('HIT');

    await prime('/keys', { 'x-user': '4' });
    await prime('/keys/k9', { 'x-user': '4' });
    await prime('/keys', { 'x-user': '44' });
    await invalidation.invalidateApiKeys(4);
    expect(await state('/keys', { 'x-user': '4' })).toBe('MISS');
    expect(await state('/keys/k9', { 'x-user': '4' })).toBe('MISS');
    expect(await state('/keys', { 'x-user': '44' })).toBe('HIT');

    await prime('/keys/k1', { 'x-user': '5' });
    await prime('/keys/k10', { 'x-user': '5' });
    await invalidation.invalidateScope('apikey', 5, 'k1');
    expect(await state('/keys/k1', { 'x-user': '5' })).toBe('MISS');
    expect(await state('/keys/k10', { 'x-user': '5' })).toBe('HIT');

    await prime('/pages?page=2');
    await prime('/items/ns-r');
    await invalidation.invalidateNamespace('pages');
    expect(await state('/pages?page=2')).toBe('MISS');
    expect(await state('/items/ns-r')).toBe('HIT');
  });

  it('bounds an invalidation by its deadline while Redis hangs, reads from memory until it lands', async () => {
    const invalidation = app.get(InvalidationService);
    await timed(`${url}/items/inv-hang`);
    expect((await timed(`${url}/items/inv-hang`)).res.headers.get('x-cache')).toBe('HIT');
    redis.pause();
    let elapsed: number;
    try {
      const started = performance.now();
      await invalidation.invalidateNamespace('items');
      elapsed = performance.now() - started;
      expect(status.backendName).toBe('memory-fallback');
      const during = await timed(`${url}/items/inv-hang`);
      expect(during.res.status).toBe(200);
      expect(during.res.headers.get('x-cache')).toBe('MISS');
    } finally {
      redis.resume();
    }
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 400);
    await waitUntil(() => status.backendName === 'redis', 5000);
    expect((await timed(`${url}/items/inv-hang`)).res.headers.get('x-cache')).toBe('MISS');
  });

  it('never serves a write that was abandoned during a hang and landed after it (zombie write)', async () => {
    const invalidation = app.get(InvalidationService);
    await waitUntil(() => status.backendName === 'redis', 5000);
    // The lookup reaches Redis; the server hangs while the handler (200 ms) runs, so the write is abandoned.
    const request = timed(`${url}/slow/zombie`);
    await new Promise((r) => setTimeout(r, 100));
    redis.pause();
    try {
      expect((await request).res.status).toBe(200);
      await invalidation.invalidateNamespace('items');
    } finally {
      redis.resume();
    }
    await waitUntil(() => status.backendName === 'redis', 5000);
    // The abandoned write has landed by now, stamped before the invalidation.
    await new Promise((r) => setTimeout(r, 100));
    expect(redis.cli('--scan', '--pattern', `${prefix}:@e:items:*zombie*`)).not.toBe('');
    const after = await timed(`${url}/slow/zombie`);
    expect(after.res.headers.get('x-cache')).toBe('MISS');
    expect(runs.of('slow:zombie')).toBe(2);
  });

  it('keeps what it writes to memory during an outage only for the fallback TTL', async () => {
    await redis.kill();
    try {
      await waitUntil(() => status.backendName === 'memory-fallback', 2000);
      await timed(`${url}/items/fallback-ttl`);
      const hit = await timed(`${url}/items/fallback-ttl`);
      expect(hit.res.headers.get('x-cache')).toBe('HIT');
      await new Promise((r) => setTimeout(r, 1100));
      expect((await timed(`${url}/items/fallback-ttl`)).res.headers.get('x-cache')).toBe('MISS');
    } finally {
      await redis.start();
    }
    await waitUntil(() => status.backendName === 'redis', 8000);
  });

  it('keeps answering when Redis is killed, falls back to memory, and returns to Redis when it is back', async () => {
    await timed(`${url}/items/k1`);
    await redis.kill();
    for (let i = 0; i < 5; i++) {
      const { res, ms } = await timed(`${url}/items/k1`);
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(1000);
    }
    await waitUntil(() => status.backendName === 'memory-fallback', 2000);
    const second = await timed(`${url}/items/k2`);
    expect(second.res.headers.get('x-cache')).toBe('MISS');
    expect((await timed(`${url}/items/k2`)).res.headers.get('x-cache')).toBe('HIT');
    await redis.start();
    await waitUntil(() => status.backendName === 'redis', 8000);
    const after = await timed(`${url}/items/k1`);
    expect(after.res.status).toBe(200);
    expect(after.res.headers.get('x-cache')).toBe('MISS');
  });

  it('bounds every request by the operation deadline while Redis hangs (SIGSTOP)', async () => {
    await timed(`${url}/items/hang`);
    redis.pause();
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => timed(`${url}/items/hang-${i}`)),
      );
      for (const { res, ms } of results) {
        expect(res.status).toBe(200);
        // The read waited for Redis (so the pause was real) but no longer than the 100 ms deadline allows.
        expect(ms).toBeGreaterThanOrEqual(90);
        expect(ms).toBeLessThan(100 + 400);
      }
    } finally {
      redis.resume();
    }
  });
});

describe.skipIf(skip).each(ADAPTERS)('Redis unreachable at startup on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let redis: OwnedRedis | undefined;

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('starts at once, logs one warning, serves from memory, and moves to Redis once it answers', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn');
    const port = await freePort();
    const started = performance.now();
    ({ app, url } = await startApp(
      FixtureModule.with({
        enabled: true,
        keyPrefix: 'down-at-start',
        redis: { enabled: true, url: `redis://127.0.0.1:${port}` },
      }),
      adapter,
    ));
    expect(performance.now() - started).toBeLessThan(3000);
    const status = app.get(CacheStatusService);
    expect(status.backendName).toBe('memory-fallback');
    await new Promise((r) => setTimeout(r, 1500));
    const unreachable = warn.mock.calls.filter(([message]) => String(message).includes('unreachable'));
    expect(unreachable).toHaveLength(1);
    warn.mockRestore();
    expect((await timed(`${url}/items/d1`)).res.headers.get('x-cache')).toBe('MISS');
    expect((await timed(`${url}/items/d1`)).res.headers.get('x-cache')).toBe('HIT');

    redis = await spawnRedisOn(port);
    await waitUntil(() => status.backendName === 'redis', 8000);
    expect((await timed(`${url}/items/d1`)).res.headers.get('x-cache')).toBe('MISS');
    expect((await timed(`${url}/items/d1`)).res.headers.get('x-cache')).toBe('HIT');
    expect(redis.cli('--scan', '--pattern', 'down-at-start:*')).not.toBe('');
  });
});

/** A server on a port chosen before it starts (to test connecting late). */
async function spawnRedisOn(port: number): Promise<OwnedRedis> {
  return spawnRedis([], port);
}
