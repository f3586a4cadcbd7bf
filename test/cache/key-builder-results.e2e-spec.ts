import { Controller, Get, Logger, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cached, CacheModule, paginatedKeyBuilder, type KeyBuilder } from '../../src/cache/index.js';
import { startApp, type AdapterName } from '../fixtures/cache-fixture.js';

const runs = new Map<string, number>();
const run = (id: string) => {
  const n = (runs.get(id) ?? 0) + 1;
  runs.set(id, n);
  return { id, run: n };
};

// A JavaScript caller (or a cast) can hand @Cached a builder that returns something other than a string.
const returnsNumber = (() => 42) as unknown as KeyBuilder;
const returnsObject = (() => ({ key: 'x' })) as unknown as KeyBuilder;
const throws: KeyBuilder = () => {
  throw new Error('builder bug');
};

@Controller('kb')
class KeyBuilderController {
  @Get('number')
  @Cached({ namespace: 'kb', keyBuilder: returnsNumber })
  number() {
    return run('number');
  }

  @Get('object')
  @Cached({ namespace: 'kb', keyBuilder: returnsObject })
  object() {
    return run('object');
  }

  @Get('throws')
  @Cached({ namespace: 'kb', keyBuilder: throws })
  throws() {
    return run('throws');
  }

  @Get('pages')
  @Cached({ namespace: 'pages', keyBuilder: paginatedKeyBuilder })
  pages() {
    return run('pages');
  }

  @Get('pages-20')
  @Cached({ namespace: 'pages20', keyBuilder: paginatedKeyBuilder({ defaultSize: 20 }) })
  pages20() {
    return run('pages20');
  }
}

@Module({ controllers: [KeyBuilderController] })
class KeyBuilderModule {
  static root(): DynamicModule {
    return { module: KeyBuilderModule, imports: [CacheModule.forRoot({ enabled: true })] };
  }
}

describe.each(['express', 'fastify'] as AdapterName[])('key builder results on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  const warn = vi.spyOn(Logger.prototype, 'warn');

  beforeAll(async () => {
    runs.clear();
    ({ app, url } = await startApp(KeyBuilderModule.root(), adapter));
  });
  afterAll(async () => {
    await app?.close();
  });
  afterEach(() => warn.mockClear());

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return { cache: res.headers.get('x-cache'), body: (await res.json()) as { run: number } };
  };

  for (const route of ['number', 'object', 'throws']) {
    it(`serves /kb/${route} uncached and logs it once for the route, not per request`, async () => {
      for (let i = 1; i <= 3; i++) {
        const answer = await get(`/kb/${route}`);
        expect(answer.cache).toBeNull();
        expect(answer.body.run).toBe(i);
      }
      const logged = warn.mock.calls.filter(([message]) => String(message).includes('Key builder of'));
      expect(logged).toHaveLength(1);
      expect(String(logged[0]?.[0])).toContain(`KeyBuilderController.${route}`);
    });
  }

  it('takes paginatedKeyBuilder as it is: page 1 and size 50 by default, so ?page=1&size=50 shares the entry', async () => {
    expect((await get('/kb/pages')).cache).toBe('MISS');
    expect((await get('/kb/pages?page=1&size=50')).cache).toBe('HIT');
    expect((await get('/kb/pages?page=2')).cache).toBe('MISS');
    expect((await get('/kb/pages?size=50&page=2')).cache).toBe('HIT');
  });

  it('still takes paginatedKeyBuilder({ defaultSize }) as a factory', async () => {
    expect((await get('/kb/pages-20')).cache).toBe('MISS');
    expect((await get('/kb/pages-20?size=20')).cache).toBe('HIT');
    expect((await get('/kb/pages-20?size=50')).cache).toBe('MISS');
  });
});
