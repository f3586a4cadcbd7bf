import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheService, CacheStatusService, InvalidationService } from '../../src/cache/index.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';
import { MethodFixtureModule, ProfilesService } from './method-fixture.js';

const skip = skipWithoutRedis('method cache: instances sharing Redis, Redis faults', canSpawnRedis());

async function instance(url: string, prefix: string, l1: boolean): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      MethodFixtureModule.with({
        enabled: true,
        keyPrefix: prefix,
        redis: { enabled: true, url, operationTimeout: 150, connectTimeout: 2000 },
        l1: { enabled: l1 },
      }),
    ],
  }).compile();
  await moduleRef.init();
  await waitUntil(() => moduleRef.get(CacheStatusService).backendName === 'redis', 5000);
  return moduleRef;
}

describe.skipIf(skip).each([false, true])('two instances on one Redis (L1: %s)', (l1) => {
  let redis: OwnedRedis;
  let a: TestingModule;
  let b: TestingModule;

  beforeAll(async () => {
    redis = await spawnRedis();
    const prefix = `methods-shared-${l1 ? 'l1' : 'plain'}`;
    a = await instance(redis.url, prefix, l1);
    b = await instance(redis.url, prefix, l1);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('shares entries of async methods and CacheService, and sees invalidations made by the other', async () => {
    const sa = a.get(ProfilesService);
    const sb = b.get(ProfilesService);
    await sa.profile(7);
    expect((await sb.profile(7)).name).toBe('user 7');
    expect(sb.calls.of('profile')).toBe(0);
    sa.names.set(7, 'Renamed');
    sb.names.set(7, 'Renamed');
    await a.get(InvalidationService).invalidateTags(['profile:7']);
    // Without L1, B reads Redis: the next read is a miss. With L1, the bus tells B within milliseconds.
    for (let waited = 0; l1 && waited < 3000 && (await sb.profile(7)).name !== 'Renamed'; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await sb.profile(7)).name).toBe('Renamed');
    expect(sb.calls.of('profile')).toBe(1);

    const cacheA = a.get(CacheService);
    const cacheB = b.get(CacheService);
    await cacheA.set(['motd'], { text: 'hello', at: new Date(5) });
    expect(await cacheB.get(['motd'])).toEqual({ text: 'hello', at: new Date(5) });
    await cacheB.delete(['motd']);
    expect(await cacheA.get(['motd'])).toBeUndefined();
  });

  it('a write evicts exactly its own key, never the keys that extend it; a delete or a scope reaches both', async () => {
    const cacheA = a.get(CacheService);
    const cacheB = b.get(CacheService);
    const namespace = 'exact-writes';
    await cacheA.set(['config', 'theme'], 'dark', { namespace });
    await cacheA.set('config', { v: 1 }, { namespace });
    expect(await cacheB.get(['config', 'theme'], { namespace })).toBe('dark');
    expect(await cacheB.get('config', { namespace })).toEqual({ v: 1 });
    // With L1, the other instance hears of a write or an invalidation over the bus, within milliseconds.
    const settled = async (key: string | string[], expected: unknown) => {
      for (let waited = 0; l1 && waited < 3000; waited += 20) {
        if (JSON.stringify(await cacheA.get(key, { namespace })) === JSON.stringify(expected)) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await cacheB.set('config', { v: 2 }, { namespace });
    await settled('config', { v: 2 });
    expect(await cacheA.get('config', { namespace })).toEqual({ v: 2 });
    expect(await cacheA.get(['config', 'theme'], { namespace })).toBe('dark');
    // A scope (and a delete, which is one) reaches the key itself and the keys that extend it.
    await b.get(InvalidationService).invalidateScope(namespace, 'config');
    await settled('config', undefined);
    await settled(['config', 'theme'], undefined);
    expect(await cacheA.get('config', { namespace })).toBeUndefined();
    expect(await cacheA.get(['config', 'theme'], { namespace })).toBeUndefined();
    await cacheA.set(['config', 'theme'], 'light', { namespace });
    await cacheA.set('config', { v: 3 }, { namespace });
    await cacheB.delete('config', { namespace });
    await settled('config', undefined);
    await settled(['config', 'theme'], undefined);
    expect(await cacheA.get('config', { namespace })).toBeUndefined();
    expect(await cacheA.get(['config', 'theme'], { namespace })).toBeUndefined();
  });

  it('stores fixed tags with the entry: their invalidation reaches a reader that names no tags', async () => {
    const cacheA = a.get(CacheService);
    const cacheB = b.get(CacheService);
    await cacheA.set('banner', 'summer sale', { tags: ['banner'] });
    expect(await cacheB.get('banner')).toBe('summer sale');
    await b.get(InvalidationService).invalidateTags(['banner']);
    for (let waited = 0; l1 && waited < 3000 && (await cacheA.get('banner')) !== undefined; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await cacheA.get('banner')).toBeUndefined();
    expect(await cacheB.getOrSet('banner', () => 'winter sale')).toBe('winter sale');
  });

  it('computes once across both instances with lock: true', async () => {
    let computed = 0;
    const slow = async () => {
      computed++;
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { computed };
    };
    const key = ['locked', l1 ? 'l1' : 'plain'];
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => a.get(CacheService).getOrSet(key, slow, { lock: true })),
      ...Array.from({ length: 5 }, () => b.get(CacheService).getOrSet(key, slow, { lock: true })),
    ]);
    expect(computed).toBe(1);
    expect(results.every((r) => r.computed === 1)).toBe(true);
  });

  // Registered with L1 only: without it, synchronous entries are this process's alone (see the README).
  if (!l1) return;
  it('invalidates synchronous methods of the other instance over the bus', async () => {
    const sb = b.get(ProfilesService);
    sb.square(12);
    sb.square(12);
    expect(sb.calls.of('square')).toBe(1);
    await a.get(InvalidationService).invalidateNamespace('ProfilesService.square');
    await waitUntil(() => {
      sb.square(12);
      return sb.calls.of('square') === 2;
    }, 3000);
    expect(sb.calls.of('square')).toBe(2);
  });
});

describe.skipIf(skip)('the method cache against a faulty Redis', () => {
  let redis: OwnedRedis;
  let moduleRef: TestingModule;

  beforeAll(async () => {
    redis = await spawnRedis();
    moduleRef = await instance(redis.url, 'methods-hang', false);
  });
  afterAll(async () => {
    redis?.resume();
    await moduleRef?.close();
    await redis?.stop();
  });

  it('treats an unsafe or corrupt value planted in Redis as a miss, and overwrites it', async () => {
    const cache = moduleRef.get(CacheService);
    await cache.set(['planted'], { ok: true });
    const [key] = redis
      .cli('--scan', '--pattern', '*@v2:default:planted')
      .split('\n')
      .filter((k) => k !== '');
    expect(key).toBeDefined();
    const stored = redis.cli('GET', key ?? '');
    expect(stored.startsWith('V{')).toBe(true);
    const fields = stored.slice(0, stored.indexOf('\n'));
    for (const body of [
      'j{"__proto__":{"polluted":true}}',
      'j{"a":{"constructor":{"prototype":1}}}',
      'j{"a":',
      'x1',
    ]) {
      redis.cli('SET', key ?? '', `${fields}\n${body}`, 'KEEPTTL');
      let computed = 0;
      const value = await cache.getOrSet(['planted'], () => ({ fresh: ++computed }));
      expect(value).toEqual({ fresh: 1 });
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await cache.get(['planted'])).toEqual({ fresh: 1 });
    }
  });

  it('never fails or hangs a call: each one computes (or is served from memory) within the deadline', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const service = moduleRef.get(ProfilesService);
    const cache = moduleRef.get(CacheService);
    await service.profile(1);
    redis.pause();
    try {
      const started = performance.now();
      const results = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => service.profile(100 + i)),
        cache.getOrSet(['during', 'pause'], () => 'computed'),
        service.profile(1),
      ]);
      const elapsed = performance.now() - started;
      expect(results).toHaveLength(12);
      expect(results[10]).toBe('computed');
      expect((results[11] as { name: string }).name).toBe('Ada');
      // The 20 ms method plus the 150 ms operation deadline, with room for a loaded machine.
      expect(elapsed).toBeLessThan(1500);
    } finally {
      redis.resume();
      vi.restoreAllMocks();
      // The other tests of this file need Redis serving again, whichever order they run in.
      const status = moduleRef.get(CacheStatusService);
      await waitUntil(() => status.backendName === 'redis', 10_000, 'Redis to serve again');
    }
  });
});
