import { Injectable, Logger, Module, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { lastValueFrom, of } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CacheModule,
  CacheService,
  Cacheable,
  CachePut,
  CacheStatsService,
  InvalidateCache,
  InvalidationService,
  type CacheModuleOptions,
} from '../../src/cache/index.js';

afterEach(() => vi.restoreAllMocks());

async function appWith(providers: unknown[], options: CacheModuleOptions = { enabled: true }) {
  @Module({ imports: [CacheModule.forRoot(options)], providers: providers as never[] })
  class Scenario {}
  const moduleRef = await Test.createTestingModule({ imports: [Scenario] }).compile();
  await moduleRef.init();
  return moduleRef;
}

class PerUser {
  constructor(readonly user: string) {}
  @Cacheable({ expire: 60 })
  async whoami(): Promise<string> {
    return this.user;
  }
}

function makeRepo(table: string) {
  @Injectable()
  class Repo {
    @Cacheable({ expire: 60 })
    async byId(id: number): Promise<string> {
      return `${table}#${id}`;
    }
  }
  return Repo;
}

@Injectable()
class Base {
  runs = 0;
  @Cacheable({ expire: 60 })
  async find(id: number): Promise<string> {
    this.runs++;
    return `base ${id}`;
  }
}

@Injectable()
class Derived extends Base {
  @Cacheable({ expire: 60 })
  override async find(id: number): Promise<string> {
    return `derived ${await super.find(id)}`;
  }
}

@Injectable()
class Users {
  db = new Map<number, string | undefined>([[1, 'Ada']]);
  slowRead: (() => void) | undefined;

  @Cacheable({ namespace: 'users', key: (id: number) => id, expire: 60 })
  async user(id: number): Promise<string | undefined> {
    const value = this.db.get(id);
    if (this.slowRead !== undefined) await new Promise<void>((resolve) => (this.slowRead = resolve));
    return value;
  }

  @CachePut({ namespace: 'users', key: (id: number) => id, expire: 60 })
  async put(id: number, name: string | undefined): Promise<string | undefined> {
    this.db.set(id, name);
    return name;
  }

  @Cacheable({ expire: 60, unless: (result: { banned: boolean } | null) => result!.banned })
  async maybe(id: number): Promise<{ banned: boolean } | null> {
    return id === 0 ? null : { banned: false };
  }

  @InvalidateCache({ namespaces: [''] })
  badTargets(): number {
    return 1;
  }

  @Cacheable({ expire: 60, key: (url: string) => url })
  async page(url: string): Promise<string> {
    return `${url} v${this.db.size}`;
  }

  @InvalidateCache({ keys: (_result: unknown, url: string) => [['Users.page', url]] })
  async edit(url: string): Promise<void> {
    this.db.set(this.db.size + 1, url);
  }
}

@Injectable()
class Catalog {
  runs = 0;

  @Cacheable({ namespace: 'catalog', key: (id: number) => id })
  async item(id: number): Promise<{ id: number; run: number }> {
    return { id, run: ++this.runs };
  }

  @CachePut({ namespace: 'catalog', key: (id: number) => id, tags: ['catalog'] })
  async rebuild(id: number): Promise<{ id: number; run: number }> {
    return { id, run: ++this.runs };
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequestQuotes {
  static runs = 0;

  @Cacheable({ expire: 60, key: (symbol: string) => symbol })
  async quote(symbol: string): Promise<string> {
    PerRequestQuotes.runs++;
    return `${symbol}:${PerRequestQuotes.runs}`;
  }
}

@Injectable()
class BareRows {
  @Cacheable({ expire: 60 })
  async row(id: number): Promise<Record<string, unknown>> {
    return Object.assign(Object.create(null) as Record<string, unknown>, { id, tags: ['a'] });
  }
}

@Injectable({ scope: Scope.REQUEST })
class KeylessPerRequest {
  @Cacheable({ expire: 60 })
  async value(): Promise<number> {
    return 1;
  }
}

describe('method cache: the review scenarios', () => {
  it('leaves no claim behind when a disabled application fails its bootstrap', async () => {
    await expect(appWith([PerRequestQuotes, KeylessPerRequest], { enabled: false })).rejects.toThrow(
      /KeylessPerRequest\.value/,
    );
    const enabled = await appWith([PerRequestQuotes]);
    PerRequestQuotes.runs = 0;
    const quotes = await enabled.resolve(PerRequestQuotes);
    expect(await quotes.quote('INIT')).toBe('INIT:1');
    expect(await quotes.quote('INIT')).toBe('INIT:1');
    await enabled.close();
  });

  it('runs a failing computation once for every caller waiting on it: they all get its error', async () => {
    const moduleRef = await appWith([]);
    const cache = moduleRef.get(CacheService);
    let runs = 0;
    const failure = new Error('backend down');
    const compute = async (): Promise<string> => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw failure;
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => cache.getOrSet('flaky', compute)),
    );
    expect(runs).toBe(1);
    for (const outcome of outcomes) expect(outcome).toEqual({ status: 'rejected', reason: failure });
    // Nothing was stored: the next call computes again.
    expect(await cache.getOrSet('flaky', async () => 'up again')).toBe('up again');
    await moduleRef.close();
  });

  it('returns a null-prototype result as a plain object on the miss too, as every hit does', async () => {
    const moduleRef = await appWith([BareRows]);
    const rows = moduleRef.get(BareRows);
    const miss = await rows.row(1);
    const hit = await rows.row(1);
    expect(Object.getPrototypeOf(miss)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(hit)).toBe(Object.prototype);
    expect(miss).toStrictEqual(hit);
    await moduleRef.close();
  });

  it('never serves a request-scoped class from an enabled application while a disabled one declares it too', async () => {
    const enabled = await appWith([PerRequestQuotes]);
    const disabled = await appWith([PerRequestQuotes], { enabled: false });
    PerRequestQuotes.runs = 0;
    const fromDisabled = await disabled.resolve(PerRequestQuotes);
    expect(await fromDisabled.quote('ACME')).toBe('ACME:1');
    expect(await fromDisabled.quote('ACME')).toBe('ACME:2');
    const fromEnabled = await enabled.resolve(PerRequestQuotes);
    expect(await fromEnabled.quote('ACME')).toBe('ACME:3');
    await disabled.close();
    // Once the disabled application is gone, the class is the enabled one's alone again: cached.
    expect(await fromEnabled.quote('ACME')).toBe('ACME:4');
    expect(await (await enabled.resolve(PerRequestQuotes)).quote('ACME')).toBe('ACME:4');
    await enabled.close();
  });

  it('stores fixed tags with the entry: their invalidation reaches readers that name no tags', async () => {
    const moduleRef = await appWith([Catalog]);
    const cache = moduleRef.get(CacheService);
    const invalidation = moduleRef.get(InvalidationService);
    await cache.set('motd', 'hello', { tags: ['motd'] });
    expect(await cache.get('motd')).toBe('hello');
    await invalidation.invalidateTags(['motd']);
    expect(await cache.get('motd')).toBeUndefined();
    expect(await cache.getOrSet('motd', () => 'recomputed')).toBe('recomputed');

    const catalog = moduleRef.get(Catalog);
    expect(await catalog.rebuild(1)).toEqual({ id: 1, run: 1 });
    expect(await catalog.item(1)).toEqual({ id: 1, run: 1 });
    await invalidation.invalidateTags(['catalog']);
    expect(await catalog.item(1)).toEqual({ id: 1, run: 2 });
    expect(await catalog.item(1)).toEqual({ id: 1, run: 2 });
    await moduleRef.close();
  });

  it('never caches instances it cannot tell apart: factory request-scoped providers and `new`', async () => {
    const moduleRef = await appWith([
      {
        provide: PerUser,
        scope: Scope.REQUEST,
        inject: [REQUEST],
        useFactory: (req: { user: string }) => new PerUser(req.user),
      },
    ]);
    expect(await new PerUser('alice').whoami()).toBe('alice');
    expect(await new PerUser('bob').whoami()).toBe('bob');
    await moduleRef.close();
  });

  it('fails bootstrap when two classes of one name would share default namespaces', async () => {
    await expect(
      appWith([
        { provide: 'users', useClass: makeRepo('users') },
        { provide: 'orders', useClass: makeRepo('orders') },
      ]),
    ).rejects.toThrow(/Repo\.byId.*another class of the same name/);
  });

  it('caches only the outer layer of an override that calls super (no self-wait)', async () => {
    const moduleRef = await appWith([Derived]);
    const derived = moduleRef.get(Derived);
    const started = performance.now();
    expect(await derived.find(1)).toBe('derived base 1');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await derived.find(1)).toBe('derived base 1');
    expect(derived.runs).toBe(1);
    await moduleRef.close();
  });

  it('a throwing unless stores nothing, fails nothing and holds nobody up', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const moduleRef = await appWith([Users]);
    const users = moduleRef.get(Users);
    const started = performance.now();
    expect(await Promise.all([users.maybe(0), users.maybe(0)])).toEqual([null, null]);
    expect(performance.now() - started).toBeLessThan(1000);
    await moduleRef.close();
  });

  it('@CachePut wins over an older computation still running, and a put of undefined removes the entry', async () => {
    const moduleRef = await appWith([Users]);
    const users = moduleRef.get(Users);
    users.slowRead = () => undefined;
    const older = users.user(1); // reads 'Ada', then waits
    await new Promise((resolve) => setTimeout(resolve, 10));
    const release = users.slowRead;
    users.slowRead = undefined;
    await users.put(1, 'Grace');
    release?.();
    expect(await older).toBe('Ada');
    expect(await users.user(1)).toBe('Grace');
    await users.put(1, undefined);
    expect(await users.user(1)).toBeUndefined();
    await moduleRef.close();
  });

  it('a failing @InvalidateCache on a sync method is logged, never an unhandled rejection', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    const moduleRef = await appWith([Users]);
    expect(moduleRef.get(Users).badTargets()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('unhandledRejection', unhandled);
    expect(unhandled).not.toHaveBeenCalled();
    expect(warn.mock.calls.some(([m]) => String(m).includes('Users.badTargets'))).toBe(true);
    await moduleRef.close();
  });

  it('@InvalidateCache keys as arrays reach keys that hold ":"', async () => {
    const moduleRef = await appWith([Users]);
    const users = moduleRef.get(Users);
    const before = await users.page('https://example.com/a');
    expect(await users.page('https://example.com/a')).toBe(before);
    await users.edit('https://example.com/a');
    expect(await users.page('https://example.com/a')).not.toBe(before);
    await moduleRef.close();
  });

  it('CacheService refuses [""] (it would be the key "_") and get() returns no value past its lifetime', async () => {
    const moduleRef = await appWith([]);
    const cache = moduleRef.get(CacheService);
    await expect(cache.get([''])).rejects.toThrow(/must not be empty/);
    await cache.set('short', 'v', { expire: 1, grace: 60 });
    expect(await cache.get('short')).toBe('v');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await cache.get('short')).toBeUndefined();
    await moduleRef.close();
  });

  it('callers waiting on a computation whose result is not stored get it, and do not compute again', async () => {
    const moduleRef = await appWith([]);
    const cache = moduleRef.get(CacheService);
    let runs = 0;
    const nothing = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 30));
      return undefined;
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet('nothing', nothing)));
    expect(results).toEqual(Array.from({ length: 10 }, () => undefined));
    expect(runs).toBe(1);
    await cache.getOrSet('nothing', nothing);
    expect(runs).toBe(2); // and nothing was stored
    await moduleRef.close();
  });

  it('counts CacheService reads as hits and misses, and a set as neither', async () => {
    const moduleRef = await appWith([]);
    const cache = moduleRef.get(CacheService);
    await cache.get('absent');
    await cache.set('present', 1);
    await cache.get('present');
    await cache.getOrSet('computed', () => 2);
    const counters = moduleRef.get(CacheStatsService).snapshot().methods['CacheService'];
    expect(counters).toMatchObject({ hits: 1, misses: 2 });
    await moduleRef.close();
  });

  it('a transient provider keeps caching in a second testing module after the first closed', async () => {
    @Injectable({ scope: Scope.TRANSIENT })
    class Fresh {
      runs = 0;
      @Cacheable({ expire: 60, key: (id: number) => id })
      async get(id: number): Promise<number> {
        this.runs++;
        return id;
      }
    }
    const first = await appWith([Fresh]);
    await first.close();
    const second = await appWith([Fresh]);
    const fresh = await second.resolve(Fresh);
    await fresh.get(1);
    await fresh.get(1);
    expect(fresh.runs).toBe(1);
    await second.close();
  });

  it('never serves one instance given to two applications from either cache while both live', async () => {
    @Injectable()
    class Shared {
      calls = 0;
      @Cacheable({ expire: 60 })
      async v(n: number): Promise<number> {
        this.calls++;
        return n;
      }
    }
    const instance = new Shared();
    const a = await appWith([{ provide: Shared, useValue: instance }]);
    await a.get(Shared).v(1);
    await a.get(Shared).v(1);
    expect(instance.calls).toBe(1);
    const b = await appWith([{ provide: Shared, useValue: instance }]);
    // Nothing tells which application a call comes from: uncached, counted in neither.
    await a.get(Shared).v(7);
    await a.get(Shared).v(7);
    expect(instance.calls).toBe(3);
    expect(b.get(CacheService).cacheInfo(Shared, 'v').misses).toBe(0);
    await b.close();
    // The instance is the first application's alone again: its own entry answers.
    await a.get(Shared).v(1);
    expect(instance.calls).toBe(3);
    await a.close();
  });

  it('caches an instance an application that caches is given after a caching-disabled one closed', async () => {
    @Injectable()
    class Reused {
      calls = 0;
      @Cacheable({ expire: 60 })
      async v(n: number): Promise<number> {
        this.calls++;
        return n;
      }
    }
    const instance = new Reused();
    const disabled = await appWith([{ provide: Reused, useValue: instance }], { enabled: false });
    await disabled.get(Reused).v(1);
    await disabled.close();
    const enabled = await appWith([{ provide: Reused, useValue: instance }]);
    await enabled.get(Reused).v(1);
    await enabled.get(Reused).v(1);
    await enabled.get(Reused).v(1);
    expect(instance.calls).toBe(2);
    await enabled.close();
  });

  it('caches the first call of an Observable method that declares no return type', async () => {
    class Feeds {
      runs = 0;
      feed(n: number) {
        this.runs++;
        return of(n);
      }
    }
    // As plain JavaScript (or a bundler without emitDecoratorMetadata) declares it: no design:returntype.
    const descriptor = Object.getOwnPropertyDescriptor(Feeds.prototype, 'feed') as PropertyDescriptor;
    Cacheable({ expire: 60 })(Feeds.prototype, 'feed', descriptor);
    Object.defineProperty(Feeds.prototype, 'feed', descriptor);
    Injectable()(Feeds);
    const moduleRef = await appWith([Feeds]);
    const feeds = moduleRef.get(Feeds);
    for (let i = 0; i < 3; i++) expect(await lastValueFrom(feeds.feed(4))).toBe(4);
    expect(feeds.runs).toBe(1);
    await moduleRef.close();
  });
});
