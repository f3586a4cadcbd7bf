import { Logger } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheService, CacheStatsService, InvalidationService } from '../../src/cache/index.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import {
  AdminProfilesService,
  EVENT,
  KeyedRequestScopedService,
  MethodFixtureModule,
  ProfilesService,
  RequestScopedService,
} from './method-fixture.js';

const noRedis = skipWithoutRedis('method cache on Redis', canSpawnRedis());

type Backend = 'memory' | 'redis' | 'redis+l1';
const BACKENDS: Backend[] = noRedis ? ['memory'] : ['memory', 'redis', 'redis+l1'];

let redis: OwnedRedis | undefined;
beforeAll(async () => {
  if (!noRedis) redis = await spawnRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function moduleFor(backend: Backend, prefix: string): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      MethodFixtureModule.with({
        enabled: true,
        keyPrefix: prefix,
        ...(backend === 'memory'
          ? {}
          : {
              redis: { enabled: true, url: redis?.url ?? '', operationTimeout: 200 },
              l1: { enabled: backend === 'redis+l1' },
            }),
      }),
    ],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

describe.each(BACKENDS)('@Cacheable on %s', (backend) => {
  let moduleRef: TestingModule;
  let service: ProfilesService;
  let invalidation: InvalidationService;
  let prefix = '';

  beforeAll(async () => {
    prefix = `methods-${backend.replace('+', '-')}-${process.pid}`;
    moduleRef = await moduleFor(backend, prefix);
    service = moduleRef.get(ProfilesService);
    invalidation = moduleRef.get(InvalidationService);
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it('computes once per arguments and returns equal values of the same types, never a shared one', async () => {
    // Arguments of this test only, and counts as deltas: the tests of a backend share one module.
    const before = service.calls.of('profile');
    const first = await service.profile(61);
    const second = await service.profile(61);
    expect(service.calls.of('profile')).toBe(before + 1);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(second.joined).toBeInstanceOf(Date);
    expect(second.roles).toBeInstanceOf(Set);
    expect(second.scores.get('a')).toBe(61);
    second.roles.add('admin');
    const third = await service.profile(61);
    expect(third.roles.has('admin')).toBe(false);
    await service.profile(62);
    expect(service.calls.of('profile')).toBe(before + 2);
  });

  it('gives every hit of a plain JSON value its own copy, however often the entry is read', async () => {
    const cache = moduleRef.get(CacheService);
    const stored = { id: 1, items: [{ name: 'a', tags: ['x'] }], owner: { name: 'o' } };
    let computes = 0;
    const read = (): Promise<typeof stored> =>
      cache.getOrSet('plain-copies', () => (computes++, structuredClone(stored)), { namespace: 'copies' });
    const hits: Array<typeof stored> = [];
    for (let i = 0; i < 6; i++) {
      const hit = await read();
      expect(hit).toEqual(stored);
      // Each caller changes its value; no later read sees it.
      hit.items[0]?.tags.push(`changed ${i}`);
      hit.owner.name = `changed ${i}`;
      hits.push(hit);
    }
    expect(computes).toBe(1);
    expect(new Set(hits).size).toBe(hits.length);
    await cache.set('plain-copies', { ...stored, id: 2 }, { namespace: 'copies' });
    for (let i = 0; i < 3; i++) expect((await read()).id).toBe(2);
  });

  it('keeps synchronous methods synchronous on a miss and on a hit', () => {
    const before = service.calls.of('square');
    const miss = service.square(63);
    const hit = service.square(63);
    expect(miss).toBe(3969);
    expect(hit).toBe(3969);
    expect(service.calls.of('square')).toBe(before + 1);
  });

  it('caches self-invocation, with `this` the real instance', () => {
    const before = service.calls.of('square');
    expect(service.sumOfSquares(3, 4)).toBe(25);
    expect(service.sumOfSquares(3, 4)).toBe(25);
    expect(service.calls.of('square')).toBe(before + 2);
  });

  it('keeps the name, the length and metadata set on either side of the decorator', () => {
    const method = (name: string) =>
      Object.getOwnPropertyDescriptor(ProfilesService.prototype, name)?.value as (
        ...args: unknown[]
      ) => unknown;
    expect(method('square').name).toBe('square');
    expect(method('sum').length).toBe(2);
    expect(Reflect.getMetadata(EVENT, method('square'))).toBe('before');
    expect(Reflect.getMetadata(EVENT, method('sum'))).toBe('after');
  });

  it('never lets arguments of different types share an entry', async () => {
    const before = service.calls.of('anything');
    const results = [
      await service.anything(1),
      await service.anything('1'),
      await service.anything(1n),
      await service.anything(null),
      await service.anything([1]),
      await service.anything({ 0: 1 }),
    ];
    expect(results).toEqual([1, '1', 1n, null, [1], { 0: 1 }]);
    expect(service.calls.of('anything')).toBe(before + 6);
    expect(await service.anything(1n)).toBe(1n);
    expect(service.calls.of('anything')).toBe(before + 6);
  });

  it('round-trips every supported type, on a miss and on a hit alike', async () => {
    const value = {
      big: 2n ** 70n,
      when: new Date(Date.UTC(2024, 1, 29)),
      invalid: new Date(Number.NaN),
      bytes: Buffer.from('héllo'),
      view: new Uint8Array([1, 2, 255]),
      floats: new Float64Array([1.5, -0]),
      specials: [Number.NaN, Infinity, -Infinity, -0, undefined],
      missing: undefined,
      map: new Map<unknown, unknown>([
        [{ k: 1 }, 'object key'],
        [2n, new Set([1, '1'])],
      ]),
      nested: { '~': 'looks like a tag', $t: 'and another' },
    };
    const miss = (await service.anything(value)) as typeof value;
    const hit = (await service.anything(value)) as typeof value;
    for (const got of [miss, hit]) {
      expect(got).toEqual(value);
      expect(got.bytes).toBeInstanceOf(Buffer);
      expect(got.view).toBeInstanceOf(Uint8Array);
      expect(got.floats).toBeInstanceOf(Float64Array);
      expect(Object.is(got.specials[3], -0)).toBe(true);
      expect(Number.isNaN(got.invalid.getTime())).toBe(true);
      expect('missing' in got).toBe(true);
      expect(got.map.get(2n)).toEqual(new Set([1, '1']));
    }
    expect(hit).not.toBe(value);
  });

  it('stores falsy results but never undefined; condition and unless are honoured', async () => {
    for (const value of [0, false, '', null]) {
      await service.anything({ falsy: value });
      expect(await service.anything({ falsy: value })).toEqual({ falsy: value });
    }
    const runs = service.calls.of('anything');
    await service.anything(undefined);
    await service.anything(undefined);
    expect(service.calls.of('anything')).toBe(runs + 2);
    const guarded = service.calls.of('guarded');
    await service.guarded(-1);
    await service.guarded(-1); // condition false: never cached
    await service.guarded(13);
    await service.guarded(13); // unless true: not stored
    await service.guarded(99);
    await service.guarded(99); // undefined: not stored
    await service.guarded(5);
    expect(await service.guarded(5)).toBe('value 5');
    expect(service.calls.of('guarded')).toBe(guarded + 7);
  });

  it('is reached by InvalidationService: namespace, tags and scopes', async () => {
    await service.profile(3);
    const before = service.calls.of('profile');
    await invalidation.invalidateNamespace('ProfilesService.profile');
    await service.profile(3);
    expect(service.calls.of('profile')).toBe(before + 1);
    await invalidation.invalidateTags(['profile:3']);
    await service.profile(3);
    expect(service.calls.of('profile')).toBe(before + 2);
    await service.profile(3);
    expect(service.calls.of('profile')).toBe(before + 2);
    const squares = service.calls.of('square');
    service.square(11);
    await invalidation.invalidateNamespace('ProfilesService.square');
    service.square(11);
    expect(service.calls.of('square')).toBe(squares + 2);
  });

  it('gives two subclasses of a decorated base entries of their own', async () => {
    const admin = moduleRef.get(AdminProfilesService);
    await admin.profile(1);
    await admin.profile(1);
    expect(admin.calls.of('profile')).toBe(1);
    expect(moduleRef.get(CacheStatsService).snapshot().methods['AdminProfilesService.profile']).toMatchObject(
      {
        hits: 1,
        misses: 1,
      },
    );
  });

  it('runs concurrent misses of one key once', async () => {
    const before = service.calls.of('profile');
    const all = await Promise.all(Array.from({ length: 20 }, () => service.profile(40)));
    expect(service.calls.of('profile')).toBe(before + 1);
    expect(new Set(all.map((p) => p.name))).toEqual(new Set(['user 40']));
    expect(all[0]).not.toBe(all[1]);
  });

  it('passes errors through unchanged and stores nothing; with grace serves the stale value', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    service.failing = true;
    await expect(service.profile(50)).rejects.toThrow('profile 50 failed');
    service.failing = false;
    await service.profile(50);
    const before = service.calls.of('profile');
    await service.profile(50);
    expect(service.calls.of('profile')).toBe(before);
    vi.restoreAllMocks();
  });

  it('runs key and condition with `this` the instance, and serves the stale value within grace when recomputing fails', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const first = await service.flaky(1);
    expect(await service.flaky(1)).toBe(first);
    expect(service.calls.of('flaky')).toBe(1);
    expect(await moduleRef.get(CacheService).get(['acme', 1], { namespace: 'ProfilesService.flaky' })).toBe(
      first,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    service.failing = true;
    expect(await service.flaky(1)).toBe(first); // expired, recomputing threw: the stale value, logged
    service.failing = false;
    expect(warn.mock.calls.some(([message]) => String(message).includes('flaky failed'))).toBe(true);
    expect(await service.flaky(1)).not.toBe(first); // the next call recomputes
    warn.mockRestore();
  });

  it('replays the emissions of an Observable-returning method', async () => {
    const first = await lastValueFrom(service.events('a').pipe(toArray()));
    const again = await lastValueFrom(service.events('a').pipe(toArray()));
    expect(first).toEqual(['a:1', 'a:2']);
    expect(again).toEqual(['a:1', 'a:2']);
    expect(service.calls.of('events')).toBe(1);
  });

  it('refreshes with @CachePut and evicts with @InvalidateCache on service methods', async () => {
    expect(await service.name(1)).toBe('Ada');
    await service.rename(1, 'Grace');
    const runs = service.calls.of('name');
    expect(await service.name(1)).toBe('Grace');
    expect(service.calls.of('name')).toBe(runs);
    await service.forget(1);
    expect(await service.name(1)).toBe('?');
    expect(service.calls.of('name')).toBe(runs + 1);
  });

  it('@InvalidateCache on a service method evicts nothing when it throws, unless beforeInvocation', async () => {
    service.names.set(2, 'Bob');
    await service.name(2);
    const runs = service.calls.of('name');
    service.failing = true;
    await expect(service.forget(2)).rejects.toThrow('forget failed');
    service.failing = false;
    await service.name(2);
    expect(service.calls.of('name')).toBe(runs); // still cached
    service.failing = true;
    await expect(service.forgetFirst(2)).rejects.toThrow('forgetFirst failed');
    service.failing = false;
    await service.name(2);
    expect(service.calls.of('name')).toBe(runs + 1); // evicted before the method ran
  });

  it('CacheService: getOrSet, get, set and delete, with keys that never collide', async () => {
    const cache = moduleRef.get(CacheService);
    let computed = 0;
    const compute = async () => ({ n: ++computed, at: new Date(0) });
    const a = await cache.getOrSet(['team', 5], compute, { expire: 60 });
    const b = await cache.getOrSet(['team', 5], compute, { expire: 60 });
    expect(b).toEqual(a);
    expect(b.at).toBeInstanceOf(Date);
    expect(computed).toBe(1);
    expect(await cache.get('team:5')).toBeUndefined(); // one segment, not two
    await cache.set('team:5', 'literal');
    expect(await cache.get('team:5')).toBe('literal');
    expect(await cache.get(['team', 5])).toEqual(a);
    await cache.delete(['team', 5]);
    expect(await cache.get(['team', 5])).toBeUndefined();
    expect(await cache.get('team:5')).toBe('literal');
    await expect(cache.getOrSet('', compute)).rejects.toThrow(/must not be empty/);
    await expect(
      cache.getOrSet('boom', async () => {
        throw new RangeError('original');
      }),
    ).rejects.toBeInstanceOf(RangeError);
    expect(await cache.get('boom')).toBeUndefined();
  });
});

describe('@Cacheable bootstrap and isolation', () => {
  it('fails bootstrap for a request-scoped provider whose cached method has no key, naming it', async () => {
    const building = Test.createTestingModule({
      imports: [MethodFixtureModule.with({ enabled: true }, [RequestScopedService])],
    }).compile();
    const moduleRef = await building;
    await expect(moduleRef.init()).rejects.toThrow(/RequestScopedService\.mine/);
    await moduleRef.close();
  });

  it('accepts a request-scoped provider that declares a key', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [MethodFixtureModule.with({ enabled: true }, [KeyedRequestScopedService])],
    }).compile();
    await expect(moduleRef.init()).resolves.toBeDefined();
    await moduleRef.close();
  });

  it('never shares entries between two applications in one process', async () => {
    const one = await moduleFor('memory', 'iso-one');
    const two = await moduleFor('memory', 'iso-two');
    const a = one.get(ProfilesService);
    const b = two.get(ProfilesService);
    await a.profile(1);
    await b.profile(1);
    expect(a.calls.of('profile')).toBe(1);
    expect(b.calls.of('profile')).toBe(1);
    await one.close();
    await b.profile(1);
    expect(b.calls.of('profile')).toBe(1);
    await two.close();
  });

  it('calls the method itself when caching is disabled', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [MethodFixtureModule.with({ enabled: false })],
    }).compile();
    await moduleRef.init();
    const service = moduleRef.get(ProfilesService);
    expect(service.square(3)).toBe(9);
    expect(service.square(3)).toBe(9);
    await service.profile(1);
    await service.profile(1);
    expect(service.calls.of('square')).toBe(2);
    expect(service.calls.of('profile')).toBe(2);
    await moduleRef.close();
  });
});
