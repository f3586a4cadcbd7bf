import { Controller, Get, Injectable, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { lastValueFrom, timer, map, take, toArray, Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CacheDefinitionError,
  CacheModule,
  CacheService,
  Cacheable,
  type CacheModuleOptions,
} from '../../src/cache/index.js';
import { MethodFixtureModule, ProfilesService } from './method-fixture.js';

/** A decorator that wraps the method itself, as `@Transactional()`-style decorators do. */
function Counting(counter: { calls: number }): MethodDecorator {
  return (_target, _name, descriptor) => {
    const inner = descriptor.value as unknown as (...args: unknown[]) => unknown;
    (descriptor as PropertyDescriptor).value = function (this: unknown, ...args: unknown[]) {
      counter.calls++;
      return inner.apply(this, args);
    };
  };
}

const outside = { calls: 0 };
const inside = { calls: 0 };

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

@Injectable()
class RulesService {
  runs = 0;

  @Counting(outside)
  @Cacheable({ expire: 60 })
  async wrappedOutside(n: number): Promise<number> {
    this.runs++;
    return n;
  }

  @Cacheable({ expire: 60 })
  @Counting(inside)
  async wrappedInside(n: number): Promise<number> {
    this.runs++;
    return n;
  }

  @Cacheable({ expire: 60 })
  async distance(p: Point): Promise<number> {
    this.runs++;
    return Math.hypot(p.x, p.y);
  }

  @Cacheable({ expire: 60, strictKeys: true })
  async strict(p: unknown): Promise<unknown> {
    this.runs++;
    return p;
  }

  @Cacheable({ expire: 60 })
  ticks(n: number): Observable<number> {
    this.runs++;
    return timer(20).pipe(map(() => n));
  }

  teardowns = 0;

  @Cacheable({ expire: 60 })
  endless(): Observable<number> {
    this.runs++;
    return new Observable<number>((subscriber) => {
      const timer = setInterval(() => subscriber.next(1), 5);
      return () => {
        clearInterval(timer);
        this.teardowns++;
      };
    });
  }

  /** A query-builder-like thenable, with methods of its own. */
  @Cacheable({ expire: 60 })
  query(): { exec(): Promise<number>; then: Promise<number>['then'] } {
    this.runs++;
    const promise = Promise.resolve(7);
    return { exec: () => promise, then: promise.then.bind(promise) };
  }

  @Cacheable({ expire: 60 })
  *numbers(): Generator<number> {
    this.runs++;
    yield 1;
    yield 2;
  }

  @Cacheable({ expire: 60 })
  async *pages(): AsyncGenerator<number> {
    this.runs++;
    yield 1;
  }

  @Cacheable({ expire: 60 })
  lines(): Readable {
    this.runs++;
    return Readable.from(['a', 'b']);
  }

  @Cacheable({ expire: 60, type: Point })
  async origin(): Promise<Point> {
    this.runs++;
    return new Point(0, 0);
  }
}

@Module({})
class RulesModule {
  static with(options: CacheModuleOptions) {
    return { module: RulesModule, imports: [CacheModule.forRoot(options)], providers: [RulesService] };
  }
}

describe('@Cacheable rules', () => {
  let moduleRef: TestingModule;
  let service: RulesService;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [RulesModule.with({ enabled: true })] }).compile();
    await moduleRef.init();
    service = moduleRef.get(RulesService);
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it('works on either side of a decorator that wraps the method itself', async () => {
    // Deltas: the tests of this describe share one module (and its counters) in any order.
    const [outsideBefore, insideBefore, runsBefore] = [outside.calls, inside.calls, service.runs];
    await service.wrappedOutside(1);
    await service.wrappedOutside(1);
    expect(outside.calls).toBe(outsideBefore + 2); // outside the cache: runs on every call
    await service.wrappedInside(1);
    await service.wrappedInside(1);
    expect(inside.calls).toBe(insideBefore + 1); // inside the cache: runs on the miss only
    expect(service.runs).toBe(runsBefore + 2);
  });

  it('runs calls with arguments it cannot key uncached, counted and warned once; strictKeys throws', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const before = service.runs;
    await service.distance(new Point(3, 4));
    await service.distance(new Point(3, 4));
    expect(service.runs).toBe(before + 2);
    expect(
      warn.mock.calls.filter(([message]) => String(message).includes('RulesService.distance')),
    ).toHaveLength(1);
    const info = moduleRef.get(CacheService).cacheInfo(RulesService, 'distance');
    expect(info.bypasses).toBe(2);
    await expect(service.strict(() => 1)).rejects.toBeInstanceOf(CacheDefinitionError);
    warn.mockRestore();
  });

  it('gives concurrent subscribers of an Observable one upstream run and replays it on a hit', async () => {
    const before = service.runs;
    const all = await Promise.all(
      Array.from({ length: 5 }, () => lastValueFrom(service.ticks(8).pipe(toArray()))),
    );
    expect(all).toEqual(Array.from({ length: 5 }, () => [8]));
    expect(service.runs).toBe(before + 1);
    expect(await lastValueFrom(service.ticks(8).pipe(toArray()))).toEqual([8]);
    expect(service.runs).toBe(before + 1);
  });

  it('stops the upstream run of a cached Observable when its subscriber leaves before it completes', async () => {
    const subscription = service.endless().subscribe();
    await new Promise((resolve) => setTimeout(resolve, 40));
    subscription.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(service.teardowns).toBe(1);
    expect(moduleRef.get(CacheService).cacheInfo(RulesService, 'endless').inFlight).toBe(0);
  });

  it('gives the subscriber that runs an Observable its emissions as they come: take(2) of an endless one ends', async () => {
    const runs = service.runs;
    const teardowns = service.teardowns;
    const first = await lastValueFrom(service.endless().pipe(take(2), toArray()));
    expect(first).toEqual([1, 1]);
    expect(service.teardowns).toBe(teardowns + 1);
    // It never completed, so nothing was stored: the next subscription runs it again.
    expect(await lastValueFrom(service.endless().pipe(take(1), toArray()))).toEqual([1]);
    expect(service.runs).toBe(runs + 2);
  });

  it('passes thenables that are not Promises through as they are, uncached', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const before = service.runs;
    for (let i = 0; i < 3; i++) {
      const builder = service.query();
      expect(typeof builder.exec).toBe('function');
      expect(await builder.exec()).toBe(7);
    }
    expect(service.runs).toBe(before + 3);
    expect(
      warn.mock.calls.filter(([message]) => String(message).includes('RulesService.query')),
    ).toHaveLength(1);
    warn.mockRestore();
  });

  it('passes generator methods through uncached, counted as bypasses, with one warning each', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const before = service.runs;
    expect([...service.numbers()]).toEqual([1, 2]);
    expect([...service.numbers()]).toEqual([1, 2]);
    const pages: number[] = [];
    for await (const page of service.pages()) pages.push(page);
    for await (const page of service.pages()) pages.push(page);
    expect(pages).toEqual([1, 1]);
    expect(service.runs).toBe(before + 4);
    for (const name of ['RulesService.numbers', 'RulesService.pages']) {
      expect(warn.mock.calls.filter(([message]) => String(message).includes(name))).toHaveLength(1);
    }
    const cache = moduleRef.get(CacheService);
    expect(cache.cacheInfo(RulesService, 'numbers').bypasses).toBe(2);
    expect(cache.cacheInfo(RulesService, 'pages').bypasses).toBe(2);
    warn.mockRestore();
  });

  it('passes streams through uncached with one warning', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const before = service.runs;
    const chunks: unknown[] = [];
    for await (const chunk of service.lines()) chunks.push(chunk);
    for await (const chunk of service.lines()) chunks.push(chunk);
    expect(chunks).toEqual(['a', 'b', 'a', 'b']);
    expect(service.runs).toBe(before + 2);
    // Known to be a stream after its first call: bypassed from then on.
    expect(moduleRef.get(CacheService).cacheInfo(RulesService, 'lines').bypasses).toBe(1);
    expect(
      warn.mock.calls.filter(([message]) => String(message).includes('RulesService.lines')),
    ).toHaveLength(1);
    warn.mockRestore();
  });

  it('gives cached objects back as the declared class', async () => {
    await service.origin();
    const hit = await service.origin();
    expect(hit).toBeInstanceOf(Point);
    expect(hit).toEqual(new Point(0, 0));
  });

  it('reports per-method counters and clears a method in one call', async () => {
    const cache = moduleRef.get(CacheService);
    const before = service.runs;
    const { hits, misses } = cache.cacheInfo(RulesService, 'wrappedInside');
    await service.wrappedInside(5);
    await service.wrappedInside(5);
    expect(cache.cacheInfo(RulesService, 'wrappedInside')).toMatchObject({
      hits: hits + 1,
      misses: misses + 1,
      inFlight: 0,
    });
    await cache.clearMethod(RulesService, 'wrappedInside');
    await service.wrappedInside(5);
    expect(service.runs).toBe(before + 2);
  });
});

describe('one cache layer however a provider is registered', () => {
  it('an alias and a second module that re-provides the class add no second layer', async () => {
    @Module({
      imports: [MethodFixtureModule.with({ enabled: true })],
      providers: [{ provide: 'ALIAS', useExisting: ProfilesService }],
    })
    class AliasModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AliasModule] }).compile();
    await moduleRef.init();
    const service = moduleRef.get(ProfilesService);
    const alias = moduleRef.get<ProfilesService>('ALIAS');
    expect(alias).toBe(service);
    await alias.profile(9);
    await service.profile(9);
    expect(service.calls.of('profile')).toBe(1);
    expect(moduleRef.get(CacheService).cacheInfo(ProfilesService, 'profile')).toMatchObject({
      hits: 1,
      misses: 1,
    });
    await moduleRef.close();
  });
});

describe('method counters on /metrics', () => {
  it('serves method_cache_* series per method', async () => {
    @Controller()
    class MetricsController {
      constructor(private readonly profiles: ProfilesService) {}
      @Get('square')
      square(): number {
        return this.profiles.square(4);
      }
    }
    @Module({
      imports: [MethodFixtureModule.with({ enabled: true, metrics: 'prometheus' })],
      controllers: [MetricsController],
    })
    class MetricsModule {}
    const app = await NestFactory.create(MetricsModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/square`);
      await fetch(`http://127.0.0.1:${port}/square`);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('method_cache_hits_total{method="ProfilesService.square"} 1');
      expect(text).toContain('method_cache_misses_total{method="ProfilesService.square"} 1');
    } finally {
      await app.close();
    }
  });
});
