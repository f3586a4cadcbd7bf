import type { INestApplication } from '@nestjs/common';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheModuleOptions } from '../../src/cache/index.js';
import { ADAPTERS, Runs } from '../fixtures/cache-fixture.js';
import { hundredKilobytes, startClientHeadersApp } from '../fixtures/client-headers-fixture.js';
import { raw } from '../helpers/raw-http.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { parseEntry, serializeEntry } from '../../src/cache/stores/entry-format.js';

const GZIP = { 'accept-encoding': 'gzip, deflate, br' };
const IDENTITY = { 'accept-encoding': 'identity' };

function json(text: string | Buffer): unknown {
  return JSON.parse(text.toString());
}

const CASES = ADAPTERS.flatMap((adapter) => [
  { adapter, plugin: false },
  { adapter, plugin: true },
]);

describe.each(CASES)(
  'compressed entries on $adapter (compression plugin: $plugin)',
  ({ adapter, plugin }) => {
    let app: INestApplication;
    let url: string;
    let runs: Runs;

    beforeAll(async () => {
      ({ app, url } = await startClientHeadersApp(
        adapter,
        { enabled: true, keyPrefix: `compressed-${adapter}-${plugin}` },
        plugin,
      ));
      runs = app.get(Runs);
    });
    afterAll(async () => app.close());

    it('answers the stored gzip bytes to requests that accept gzip, with their own ETag and Vary', async () => {
      const miss = await raw(`${url}/h/big/a`, 'GET', GZIP);
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.headers['content-encoding']).toBe('gzip');
      expect(miss.headers['etag']).toMatch(/^"[A-Za-z0-9_-]+\.gz"$/);
      expect(String(miss.headers['vary']).toLowerCase()).toContain('accept-encoding');
      // Compressed once: one gunzip gives the JSON (a second compression would leave gzip bytes here).
      expect(json(gunzipSync(miss.bytes))).toEqual(hundredKilobytes('a'));
      expect(miss.bytes.length).toBeLessThan(20_000);
      const hit = await raw(`${url}/h/big/a`, 'GET', { 'accept-encoding': 'gzip' });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-encoding']).toBe('gzip');
      expect(hit.headers['etag']).toBe(miss.headers['etag']);
      expect(hit.bytes.equals(miss.bytes)).toBe(true);
      expect(runs.of('big:a')).toBe(1);
    });

    it('answers the decompressed body, with the identity ETag, to requests that do not accept gzip', async () => {
      const gzipped = await raw(`${url}/h/big/b`, 'GET', GZIP);
      const identity = await raw(`${url}/h/big/b`, 'GET', IDENTITY);
      expect(identity.headers['x-cache']).toBe('HIT');
      expect(identity.headers['content-encoding']).toBeUndefined();
      expect(identity.headers['etag']).toBe(String(gzipped.headers['etag']).replace('.gz"', '"'));
      expect(String(identity.headers['vary']).toLowerCase()).toContain('accept-encoding');
      expect(json(identity.body)).toEqual(hundredKilobytes('b'));
      expect(identity.bytes.equals(gunzipSync(gzipped.bytes))).toBe(true);
      const none = await raw(`${url}/h/big/b`);
      expect(none.headers['content-encoding']).toBeUndefined();
      expect(none.headers['etag']).toBe(identity.headers['etag']);
      const refused = await raw(`${url}/h/big/b`, 'GET', { 'accept-encoding': 'gzip;q=0, identity' });
      expect(refused.headers['content-encoding']).toBeUndefined();
      expect(runs.of('big:b')).toBe(1);
    });

    it('answers 304 per representation, and HEAD with the GET headers', async () => {
      const gzipped = await raw(`${url}/h/big/c`, 'GET', GZIP);
      const identity = await raw(`${url}/h/big/c`, 'GET', IDENTITY);
      const gzTag = String(gzipped.headers['etag']);
      const idTag = String(identity.headers['etag']);
      const gz304 = await raw(`${url}/h/big/c`, 'GET', { ...GZIP, 'if-none-match': gzTag });
      expect(gz304.status).toBe(304);
      expect(gz304.headers['etag']).toBe(gzTag);
      expect(gz304.bytes.length).toBe(0);
      expect(gz304.headers['content-encoding']).toBeUndefined();
      const id304 = await raw(`${url}/h/big/c`, 'GET', { ...IDENTITY, 'if-none-match': idTag });
      expect(id304.status).toBe(304);
      expect(id304.headers['etag']).toBe(idTag);
      const other = await raw(`${url}/h/big/c`, 'GET', { ...GZIP, 'if-none-match': idTag });
      expect(other.status).toBe(200);
      expect(other.headers['content-encoding']).toBe('gzip');
      const head = await raw(`${url}/h/big/c`, 'HEAD', GZIP);
      expect(head.status).toBe(200);
      expect(head.bytes.length).toBe(0);
      expect(head.headers['etag']).toBe(gzTag);
      expect(head.headers['content-encoding']).toBe('gzip');
    });

    it('answers a HEAD that misses with the headers of the GET it stands for', async () => {
      const head = await raw(`${url}/h/big/d`, 'HEAD', GZIP);
      expect(head.headers['x-cache']).toBe('MISS');
      const get = await raw(`${url}/h/big/d`, 'GET', GZIP);
      expect(get.headers['x-cache']).toBe('MISS');
      for (const name of [
        'etag',
        'content-encoding',
        'content-length',
        'vary',
        'cache-control',
        'content-type',
      ]) {
        expect([name, head.headers[name]]).toEqual([name, get.headers[name]]);
      }
      expect(head.bytes.length).toBe(0);
      const identityHead = await raw(`${url}/h/big/e`, 'HEAD', IDENTITY);
      const identityGet = await raw(`${url}/h/big/e`, 'GET', IDENTITY);
      expect(identityHead.headers['etag']).toBe(identityGet.headers['etag']);
      expect(identityHead.headers['content-encoding']).toBeUndefined();
    });

    it('stores small bodies as they are', async () => {
      const small = await raw(`${url}/h/lifetime/small`, 'GET', GZIP);
      expect(small.headers['etag']).not.toMatch(/\.gz"$/);
      expect(small.headers['content-encoding']).toBeUndefined();
    });
  },
);

describe.each(ADAPTERS)('compressAbove: false on %s', (adapter) => {
  it('stores and sends every body as it was sent', async () => {
    const { app, url } = await startClientHeadersApp(
      adapter,
      { enabled: true, keyPrefix: `uncompressed-${adapter}`, compressAbove: false },
      false,
    );
    try {
      await raw(`${url}/h/big/a`, 'GET', GZIP);
      const hit = await raw(`${url}/h/big/a`, 'GET', GZIP);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-encoding']).toBeUndefined();
      expect(hit.headers['etag']).not.toMatch(/\.gz"$/);
      expect(json(hit.body)).toEqual(hundredKilobytes('a'));
    } finally {
      await app.close();
    }
  });
});

const skipRedis = skipWithoutRedis('compressed entries in Redis', canSpawnRedis());

describe.skipIf(skipRedis)('compressed entries in Redis', () => {
  let redis: OwnedRedis;

  beforeAll(async () => {
    redis = await spawnRedis();
  });
  afterAll(async () => redis.stop());

  /** `MEMORY USAGE` of the one entry a 100 KB response leaves in Redis, with the given options. */
  async function entryMemory(prefix: string, options: Partial<CacheModuleOptions>): Promise<number> {
    const { app, url } = await startClientHeadersApp(
      'fastify',
      { enabled: true, keyPrefix: prefix, redis: { enabled: true, url: redis.url }, ...options },
      false,
    );
    try {
      await raw(`${url}/h/big/m`, 'GET', GZIP);
      const second = await raw(`${url}/h/big/m`, 'GET', IDENTITY);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(json(second.body)).toEqual(hundredKilobytes('m'));
    } finally {
      await app.close();
    }
    const keys = redis.cli('--scan', '--pattern', `${prefix}:@e:big*`).split('\n').filter(Boolean);
    expect(keys).toHaveLength(1);
    return Number(redis.cli('MEMORY', 'USAGE', keys[0] ?? ''));
  }

  it('serves a request whose stored compressed body is unreadable from the handler, never a 500', async () => {
    const prefix = 'redis-corrupt';
    const { app, url } = await startClientHeadersApp(
      'express',
      { enabled: true, keyPrefix: prefix, redis: { enabled: true, url: redis.url } },
      false,
    );
    try {
      const runs = app.get(Runs);
      await raw(`${url}/h/big/x`, 'GET', GZIP);
      const [key] = redis.cli('--scan', '--pattern', `${prefix}:@e:big*`).split('\n').filter(Boolean);
      const value = redis.cli('GET', key ?? '');
      const stored = parseEntry(value);
      expect(stored?.contentEncoding).toBe('gzip');
      const body = Buffer.from('not gzip at all, just bytes '.repeat(4)).toString('base64');
      redis.cli('SET', key ?? '', serializeEntry({ ...stored!, body }), 'KEEPTTL');
      for (const headers of [GZIP, IDENTITY]) {
        const answer = await raw(`${url}/h/big/x`, 'GET', headers);
        expect(answer.status).toBe(200);
        expect(answer.headers['x-cache']).toBe('MISS');
        const text = answer.headers['content-encoding'] === 'gzip' ? gunzipSync(answer.bytes) : answer.bytes;
        expect(json(text)).toEqual(hundredKilobytes('x'));
      }
      expect(runs.of('big:x')).toBe(3);
    } finally {
      await app.close();
    }
  });

  it('keeps a 100 KB entry in at most a quarter of the memory it took uncompressed', async () => {
    const uncompressed = await entryMemory('redis-identity', { compressAbove: false });
    const compressed = await entryMemory('redis-gzip', {});
    console.log(`MEMORY USAGE of one 100 KB entry: ${uncompressed} B as sent, ${compressed} B compressed`);
    // Stored as sent (the body is not escaped into a JSON string): about its 100 KB.
    expect(uncompressed).toBeGreaterThan(90_000);
    expect(compressed).toBeLessThanOrEqual(uncompressed * 0.25);
  });
});
