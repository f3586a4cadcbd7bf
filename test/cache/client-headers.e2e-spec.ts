import type { INestApplication } from '@nestjs/common';
import { Controller, Get } from '@nestjs/common';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cached, CacheDefinitionError, userScopedKeyBuilder } from '../../src/cache/index.js';
import { ADAPTERS, Runs } from '../fixtures/cache-fixture.js';
import { startClientHeadersApp } from '../fixtures/client-headers-fixture.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';

const BEARER = { authorization: 'Bearer some-token' };
const GZIP = { 'accept-encoding': 'gzip, deflate, br' };

/** The headers a `304` must repeat from the `200` it stands for (RFC 9110 15.4.5). */
function validatorHeaders(res: RawResponse): Record<string, unknown> {
  return {
    etag: res.headers['etag'],
    'cache-control': res.headers['cache-control'],
    vary: res.headers['vary'],
  };
}

function seconds(cacheControl: unknown, directive: string): number {
  const match = new RegExp(`(?:^|,\\s*)${directive}=(\\d+)`).exec(String(cacheControl));
  if (match?.[1] === undefined) throw new Error(`no ${directive} in ${String(cacheControl)}`);
  return Number(match[1]);
}

describe.each(ADAPTERS)('headers for browsers, proxies and CDNs on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;

  beforeAll(async () => {
    ({ app, url } = await startClientHeadersApp(
      adapter,
      { enabled: true, keyPrefix: 'client-headers' },
      false,
    ));
    runs = app.get(Runs);
  });
  afterAll(async () => app.close());

  it('tells clients to revalidate by default, with a strong ETag, no Age and a current Date', async () => {
    const miss = await raw(`${url}/h/shared/a`);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['cache-control']).toBe('no-cache');
    expect(miss.headers['etag']).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(miss.headers['age']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100));
    const hit = await raw(`${url}/h/shared/a`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['cache-control']).toBe('no-cache');
    expect(hit.headers['etag']).toBe(miss.headers['etag']);
    expect(hit.headers['age']).toBeUndefined();
    const missDate = Date.parse(String(miss.headers['date']));
    const hitDate = Date.parse(String(hit.headers['date']));
    expect(hitDate - missDate).toBeGreaterThanOrEqual(1000);
    expect(Math.abs(Date.now() - hitDate)).toBeLessThan(2000);
  });

  it('marks every response to a request with credentials private, on a shared-key route too', async () => {
    const anonymous = await raw(`${url}/h/shared/b`);
    const withBearer = await raw(`${url}/h/shared/b`, 'GET', BEARER);
    expect(withBearer.headers['x-cache']).toBe('HIT');
    expect(withBearer.headers['cache-control']).toBe('private, no-cache');
    const withApiKey = await raw(`${url}/h/shared/b`, 'GET', { 'x-api-key': 'k' });
    expect(withApiKey.headers['cache-control']).toBe('private, no-cache');
    const withCookie = await raw(`${url}/h/shared/b`, 'GET', { cookie: 'session=1' });
    expect(withCookie.headers['cache-control']).toBe('private, no-cache');
    // Browsers leave cookies out of their cache key: a new login must not reuse the answer to the old session.
    expect(withCookie.headers['vary']).toBe('Authorization, X-API-Key, Cookie');
    // A client that switches credentials must not reuse the answer to the previous ones.
    expect(withBearer.headers['vary']).toBe('Authorization, X-API-Key');
    expect(anonymous.headers['cache-control']).toBe('no-cache');
    expect(anonymous.headers['vary']).toBeUndefined();
    // A request the cache declines (a user-scoped route with no user) keeps the private mark.
    const declined = await raw(`${url}/h/me`, 'GET', BEARER);
    expect(declined.headers['x-cache']).toBeUndefined();
    expect(declined.headers['cache-control']).toBe('private, no-store');
  });

  it('sends private, no-cache and Vary on the credential headers on user-scoped routes', async () => {
    const res = await raw(`${url}/h/me`, 'GET', { 'x-user': '7' });
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect(res.headers['vary']).toBe('Authorization, X-API-Key');
    const session = await raw(`${url}/h/me`, 'GET', { 'x-user': '7', cookie: 'sid=a' });
    expect(session.headers['x-cache']).toBe('HIT');
    expect(session.headers['vary']).toBe('Authorization, X-API-Key, Cookie');
    const revalidated = await raw(`${url}/h/me`, 'GET', {
      'x-user': '7',
      cookie: 'sid=a',
      'if-none-match': String(session.headers['etag']),
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers['vary']).toBe('Authorization, X-API-Key, Cookie');
  });

  it('gives a client lifetime only where the route asks, capped at the entry lifetime', async () => {
    const capped = await raw(`${url}/h/lifetime/a`);
    expect(capped.headers['cache-control']).toMatch(/^max-age=(29|30), stale-while-revalidate=0$/);
    const hit = await raw(`${url}/h/lifetime/a`);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(seconds(hit.headers['cache-control'], 'max-age')).toBeGreaterThanOrEqual(28);
    expect(seconds(hit.headers['cache-control'], 'max-age')).toBeLessThanOrEqual(30);
    expect(hit.headers['age']).toBeUndefined();
    const short = await raw(`${url}/h/short-lifetime/a`, 'GET', BEARER);
    expect(short.headers['cache-control']).toBe('private, max-age=5');
  });

  it('declares public routes public for every caller, with no credential in Vary', async () => {
    const anonymous = await raw(`${url}/h/public/a`);
    expect(anonymous.headers['cache-control']).toBe('public, no-cache');
    const withKey = await raw(`${url}/h/public/a`, 'GET', { 'x-api-key': 'k', cookie: 's=1' });
    expect(withKey.headers['x-cache']).toBe('HIT');
    expect(withKey.headers['cache-control']).toBe('public, no-cache');
    expect(withKey.headers['vary']).toBeUndefined();
    expect(withKey.body).toBe(anonymous.body);
    expect(runs.of('public:a')).toBe(1);
  });

  it('gives shared caches s-maxage on public routes that ask, capped at the entry lifetime', async () => {
    const cdn = await raw(`${url}/h/cdn/a`);
    expect(cdn.headers['cache-control']).toBe('public, max-age=0, s-maxage=10, stale-while-revalidate=0');
    const short = await raw(`${url}/h/cdn-short/a`);
    // Capped at what the entry has left, rounded down: never a second past the server-side entry.
    expect(short.headers['cache-control']).toMatch(
      /^public, max-age=(4|5), s-maxage=(4|5), stale-while-revalidate=0$/,
    );
    expect(seconds(short.headers['cache-control'], 'max-age')).toBeLessThanOrEqual(5);
  });

  it('answers a browser revalidation (max-age=0) from the entry and a reload (no-cache) by running it', async () => {
    const first = await raw(`${url}/h/shared/c`);
    const etag = String(first.headers['etag']);
    const revalidated = await raw(`${url}/h/shared/c`, 'GET', {
      'cache-control': 'max-age=0',
      'if-none-match': etag,
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers['x-cache']).toBe('HIT');
    expect(revalidated.bytes.length).toBe(0);
    expect(validatorHeaders(revalidated)).toEqual(validatorHeaders(first));
    expect(revalidated.headers['date']).toBeDefined();
    expect(runs.of('shared:c')).toBe(1);
    const reloaded = await raw(`${url}/h/shared/c`, 'GET', {
      'cache-control': 'no-cache',
      'if-none-match': etag,
    });
    expect(reloaded.status).toBe(304);
    expect(reloaded.headers['x-cache']).toBe('MISS');
    expect(validatorHeaders(reloaded)).toEqual(validatorHeaders(first));
    expect(runs.of('shared:c')).toBe(2);
    const pragma = await raw(`${url}/h/shared/c`, 'GET', { pragma: 'no-cache', 'if-none-match': etag });
    expect(pragma.headers['x-cache']).toBe('MISS');
    expect(runs.of('shared:c')).toBe(3);
  });

  it('compares If-None-Match weakly and repeats Vary on a user-scoped 304', async () => {
    const first = await raw(`${url}/h/me`, 'GET', { 'x-user': '8' });
    const weak = `W/${String(first.headers['etag'])}`;
    const notModified = await raw(`${url}/h/me`, 'GET', { 'x-user': '8', 'if-none-match': `"x", ${weak}` });
    expect(notModified.status).toBe(304);
    expect(validatorHeaders(notModified)).toEqual(validatorHeaders(first));
    const changed = await raw(`${url}/h/me`, 'GET', { 'x-user': '8', 'if-none-match': '"other"' });
    expect(changed.status).toBe(200);
    expect(changed.body).toBe(first.body);
  });

  it("answers HEAD with the GET's status, ETag and headers, and no body", async () => {
    const get = await raw(`${url}/h/shared/d`);
    const head = await raw(`${url}/h/shared/d`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.bytes.length).toBe(0);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(validatorHeaders(head)).toEqual(validatorHeaders(get));
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    const userGet = await raw(`${url}/h/me`, 'GET', { 'x-user': '9' });
    const userHead = await raw(`${url}/h/me`, 'HEAD', { 'x-user': '9' });
    expect(validatorHeaders(userHead)).toEqual(validatorHeaders(userGet));
    const notModified = await raw(`${url}/h/shared/d`, 'HEAD', {
      'if-none-match': String(get.headers['etag']),
    });
    expect(notModified.status).toBe(304);
  });

  it('marks a guard’s refusal no-store, private when the request carries credentials (the interceptor never runs)', async () => {
    const refused = await raw(`${url}/h/guarded/a`, 'GET', { 'x-deny': '1', 'x-api-key': 'k' });
    expect(refused.status).toBe(401);
    expect(refused.headers['cache-control']).toBe('private, no-store');
    // No cache downstream may keep a refusal either (a guard's 404 is heuristically cacheable).
    const anonymousRefused = await raw(`${url}/h/guarded/a`, 'GET', { 'x-deny': '1' });
    expect(anonymousRefused.status).toBe(401);
    expect(anonymousRefused.headers['cache-control']).toBe('no-store');
    const userRefused = await raw(`${url}/h/guarded-me`, 'GET', { 'x-deny': '1' });
    expect(userRefused.headers['cache-control']).toBe('private, no-store');
    const allowed = await raw(`${url}/h/guarded/a`, 'GET', { 'x-api-key': 'k' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['cache-control']).toBe('private, no-cache');
    const again = await raw(`${url}/h/guarded/a`, 'GET', { 'x-api-key': 'k' });
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.headers['cache-control']).toBe('private, no-cache');
    expect((await raw(`${url}/h/guarded/a`)).headers['cache-control']).toBe('no-cache');
    const mine = await raw(`${url}/h/guarded-me`, 'GET', { 'x-user': '3' });
    expect(mine.headers['cache-control']).toBe('private, no-cache');
  });

  it('forbids storing what it does not store: errors are no-store, private with credentials', async () => {
    const anonymous = await raw(`${url}/h/missing/a`);
    expect(anonymous.status).toBe(404);
    expect(anonymous.headers['cache-control']).toBe('no-store');
    const withKey = await raw(`${url}/h/missing/a`, 'GET', { 'x-api-key': 'k' });
    expect(withKey.status).toBe(404);
    expect(withKey.headers['cache-control']).toBe('private, no-store');
    expect(runs.of('missing:a')).toBe(2);
  });
});

describe.each(ADAPTERS)('module-wide clientMaxAge on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startClientHeadersApp(
      adapter,
      { enabled: true, keyPrefix: 'client-headers-ttl', clientMaxAge: 20 },
      false,
    ));
  });
  afterAll(async () => app.close());

  it('applies to routes that do not set one; a route with clientMaxAge: 0 still says no-cache', async () => {
    expect((await raw(`${url}/h/shared/a`)).headers['cache-control']).toBe(
      'max-age=20, stale-while-revalidate=0',
    );
    expect((await raw(`${url}/h/me`, 'GET', { 'x-user': '1' })).headers['cache-control']).toBe(
      'private, max-age=20',
    );
    expect((await raw(`${url}/h/revalidate/a`)).headers['cache-control']).toBe('no-cache');
    expect((await raw(`${url}/h/lifetime/a`)).headers['cache-control']).toMatch(
      /^max-age=(29|30), stale-while-revalidate=0$/,
    );
  });
});

describe.each(ADAPTERS)('application compression on %s', (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startClientHeadersApp(
      adapter,
      { enabled: true, keyPrefix: 'client-headers-gz' },
      true,
    ));
  });
  afterAll(async () => app.close());

  it('never sends the identity body’s strong ETag with a gzip body, and 304 still works', async () => {
    const gzipMiss = await raw(`${url}/h/shared/z`, 'GET', GZIP);
    expect(gzipMiss.headers['content-encoding']).toMatch(/^(gzip|br|deflate)$/);
    const weak = String(gzipMiss.headers['etag']);
    expect(weak).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    expect(String(gzipMiss.headers['vary']).toLowerCase()).toContain('accept-encoding');
    const identity = await raw(`${url}/h/shared/z`, 'GET', { 'accept-encoding': 'identity' });
    expect(identity.headers['x-cache']).toBe('HIT');
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.headers['etag']).toBe(weak.slice(2));
    expect(String(identity.headers['vary']).toLowerCase()).toContain('accept-encoding');
    const gzipHit = await raw(`${url}/h/shared/z`, 'GET', { 'accept-encoding': 'gzip' });
    expect(gzipHit.headers['x-cache']).toBe('HIT');
    expect(gzipHit.headers['content-encoding']).toBe('gzip');
    expect(gzipHit.headers['etag']).toBe(weak);
    expect(JSON.parse(gunzipSync(gzipHit.bytes).toString('utf8'))).toEqual(JSON.parse(identity.body));
    for (const tag of [weak, weak.slice(2)]) {
      const notModified = await raw(`${url}/h/shared/z`, 'GET', {
        'accept-encoding': 'gzip',
        'if-none-match': tag,
      });
      expect(notModified.status).toBe(304);
      expect(notModified.bytes.length).toBe(0);
      expect(notModified.headers['etag']).toBe(weak);
    }
  });

  it('names Accept-Encoding once in Vary, whoever adds it (also beside the credential headers)', async () => {
    const once = (vary: unknown): void => {
      const tokens = String(vary)
        .split(',')
        .map((token) => token.trim().toLowerCase());
      expect(tokens.filter((token) => token === 'accept-encoding')).toHaveLength(1);
      expect(new Set(tokens).size).toBe(tokens.length);
    };
    const anonymous = await raw(`${url}/h/shared/once`, 'GET', GZIP);
    expect(anonymous.headers['content-encoding']).toMatch(/^(gzip|br|deflate)$/);
    once(anonymous.headers['vary']);
    const credentialed = await raw(`${url}/h/shared/once`, 'GET', { ...GZIP, authorization: 'Bearer a' });
    expect(credentialed.headers['content-encoding']).toMatch(/^(gzip|br|deflate)$/);
    expect(String(credentialed.headers['vary']).toLowerCase()).toContain('authorization');
    once(credentialed.headers['vary']);
    once((await raw(`${url}/h/shared/once`, 'GET', { 'accept-encoding': 'identity' })).headers['vary']);
  });
});

describe('@Cached client-lifetime options are checked where they are declared', () => {
  function declare(options: Parameters<typeof Cached>[0]): () => void {
    return () => {
      @Controller()
      class Probe {
        @Get()
        @Cached(options)
        route() {
          return {};
        }
      }
      void Probe;
    };
  }

  it.each([
    [
      { public: true, keyBuilder: userScopedKeyBuilder },
      /public: true cannot be combined with a user-scoped/,
    ],
    [{ sharedMaxAge: 10 }, /sharedMaxAge applies only to routes declared public: true/],
    [{ clientMaxAge: -1 }, /clientMaxAge must be a non-negative integer/],
    [{ clientMaxAge: 1.5 }, /clientMaxAge must be a non-negative integer/],
    [{ clientMaxAge: '5' as unknown as number }, /clientMaxAge must be a non-negative integer/],
    [{ public: true, sharedMaxAge: -3 }, /sharedMaxAge must be a non-negative integer/],
    [{ public: 'yes' as unknown as boolean }, /public must be true or false/],
  ])('%o is refused', (options, message) => {
    expect(declare(options)).toThrow(CacheDefinitionError);
    expect(declare(options)).toThrow(message);
    expect(declare(options)).toThrow(/Probe\.route/);
  });

  it('accepts a public route with lifetimes', () => {
    expect(declare({ public: true, clientMaxAge: 0, sharedMaxAge: 60 })).not.toThrow();
  });
});
