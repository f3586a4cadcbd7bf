import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheModuleOptions } from '../../src/cache/index.js';
import { CacheStatusService, InvalidationService } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { startApp } from '../fixtures/cache-fixture.js';
import { Products, TagsModule } from '../fixtures/tags-fixture.js';

const redisMissing = skipWithoutRedis('tags on Redis', canSpawnRedis());
const BACKENDS = ['memory', 'redis', 'redis+l1'] as const;

async function get(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { cache: res.headers.get('x-cache'), body: await res.text(), status: res.status };
}

describe.each(BACKENDS)('tags and @InvalidateCache on %s', (backend) => {
  const skip = backend !== 'memory' && redisMissing;
  let redis: OwnedRedis | undefined;
  let app: INestApplication;
  let url: string;
  let products: Products;

  beforeAll(async () => {
    if (skip) return;
    const options: CacheModuleOptions = { enabled: true, keyPrefix: `tags-${backend.replace('+', '-')}` };
    if (backend !== 'memory') {
      redis = await spawnRedis();
      options.redis = { enabled: true, url: redis.url };
      options.l1 = { enabled: backend === 'redis+l1' };
    }
    ({ app, url } = await startApp(TagsModule.with(options), 'express'));
    products = app.get(Products);
    const deadline = Date.now() + 5000;
    while (backend !== 'memory' && app.get(CacheStatusService).backendName !== 'redis') {
      if (Date.now() > deadline) throw new Error('Redis not in use');
      await new Promise((r) => setTimeout(r, 25));
    }
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it.skipIf(skip)(
    'one tag invalidation reaches every page and entry that shows the entity, and nothing else',
    async () => {
      for (const path of ['/t/list?page=1', '/t/list?page=2', '/t/product/5', '/t/product/7'])
        await get(`${url}${path}`);
      for (const path of ['/t/list?page=1', '/t/list?page=2', '/t/product/5']) {
        expect((await get(`${url}${path}`)).cache).toBe('HIT');
      }
      const renamed = await fetch(`${url}/t/product/5`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'renamed' }),
      });
      expect(renamed.status).toBe(200);
      const page2 = await get(`${url}/t/list?page=2`);
      expect(page2.cache).toBe('MISS');
      expect(page2.body).toContain('renamed');
      const single = await get(`${url}/t/product/5`);
      expect(single.cache).toBe('MISS');
      expect(single.body).toContain('renamed');
      expect((await get(`${url}/t/list?page=1`)).cache).toBe('HIT');
      expect((await get(`${url}/t/product/7`)).cache).toBe('HIT');
    },
  );

  it.skipIf(skip)('@InvalidateCache by namespace and by key prefix, after the handler succeeds', async () => {
    await get(`${url}/t/list?page=3`);
    expect((await get(`${url}/t/list?page=3`)).cache).toBe('HIT');
    await fetch(`${url}/t/product`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'new' }),
    });
    expect((await get(`${url}/t/list?page=3`)).cache).toBe('MISS');

    await get(`${url}/t/product/8`);
    await get(`${url}/t/product/9`);
    await fetch(`${url}/t/product/8/drop`, { method: 'POST' });
    expect((await get(`${url}/t/product/8`)).cache).toBe('MISS');
    expect((await get(`${url}/t/product/9`)).cache).toBe('HIT');
  });

  it.skipIf(skip)('invalidates nothing when the handler throws', async () => {
    await get(`${url}/t/list?page=1`);
    expect((await get(`${url}/t/list?page=1`)).cache).toBe('HIT');
    const failed = await fetch(`${url}/t/product/1/fail`, { method: 'POST' });
    expect(failed.status).toBe(500);
    expect((await get(`${url}/t/list?page=1`)).cache).toBe('HIT');
  });

  it.skipIf(skip)(
    'never stores a tagged page whose handler started before the tag was invalidated',
    async () => {
      const invalidation = app.get(InvalidationService);
      await invalidation.invalidateNamespace('products');
      products.listDelayMs = 200;
      const slow = get(`${url}/t/list?page=4`);
      await new Promise((r) => setTimeout(r, 50));
      products.rows.set(10, { id: 10, name: 'changed during the read' });
      await invalidation.invalidateTags(['product:10']);
      expect((await slow).body).not.toContain('changed during the read');
      products.listDelayMs = 0;
      const next = await get(`${url}/t/list?page=4`);
      expect(next.cache).toBe('MISS');
      expect(next.body).toContain('changed during the read');
    },
  );
});
