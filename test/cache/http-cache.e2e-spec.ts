import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheBackend, InvalidationService } from '../helpers/internals.js';
import { ADAPTERS, FixtureModule, Runs, startApp } from '../fixtures/cache-fixture.js';
import { raw } from '../helpers/raw-http.js';

describe.each(ADAPTERS)('@Cached on %s with the memory store', (adapter) => {
  let app: INestApplication;
  let url: string;
  let runs: Runs;
  let invalidation: InvalidationService;

  beforeAll(async () => {
    ({ app, url } = await startApp(FixtureModule.with({ enabled: true, keyPrefix: 'http-e2e' }), adapter));
    runs = app.get(Runs);
    invalidation = app.get(InvalidationService);
  });
  afterAll(async () => app.close());

  it('answers MISS then HIT with the handler run once and identical status, type and bytes', async () => {
    const first = await fetch(`${url}/items/1`);
    const firstBody = await first.text();
    const second = await fetch(`${url}/items/1`);
    const secondBody = await second.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.status).toBe(200);
    expect(secondBody).toBe(firstBody);
    expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(runs.of('item:1')).toBe(1);
    expect(JSON.parse(secondBody)).toEqual({
      id: '1',
      run: 1,
      nested: { list: [1, 2, 3], unicode: 'héllo ✓' },
    });
  });

  it('leaves undecorated routes alone', async () => {
    const res = await fetch(`${url}/plain`);
    expect(res.headers.get('x-cache')).toBeNull();
    expect(res.headers.get('cache-control')).toBeNull();
  });

  it.each(['null', 'false', 'zero', 'empty', 'text'])('caches and replays the %s result', async (kind) => {
    const miss = await fetch(`${url}/value/${kind}`);
    const missBody = await miss.text();
    const hit = await fetch(`${url}/value/${kind}`);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await hit.text()).toBe(missBody);
    expect(hit.headers.get('content-type')).toBe(miss.headers.get('content-type'));
    expect(runs.of(`value:${kind}`)).toBe(1);
  });

  it('serves the request uncached when a key builder throws or rejects', async () => {
    for (const route of ['broken-key', 'broken-async-key']) {
      for (let i = 1; i <= 2; i++) {
        const res = await fetch(`${url}/${route}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-cache')).toBeNull();
        expect(((await res.json()) as { run: number }).run).toBe(i);
      }
    }
  });

  it('caches every GET route of a class-level @Cached(), with the method-level options winning', async () => {
    await fetch(`${url}/cls/a`);
    expect((await fetch(`${url}/cls/a`)).headers.get('x-cache')).toBe('HIT');
    await fetch(`${url}/cls/b`);
    await invalidation.invalidateNamespace('cls');
    expect((await fetch(`${url}/cls/a`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/cls/b`)).headers.get('x-cache')).toBe('HIT');
    await invalidation.invalidateNamespace('clsb');
    expect((await fetch(`${url}/cls/b`)).headers.get('x-cache')).toBe('MISS');
    const post = await fetch(`${url}/cls/c`, { method: 'POST' });
    expect(post.headers.get('x-cache')).toBeNull();
  });

  it('answers null, false, 0 and "" exactly as the same route would without the cache', async () => {
    for (const kind of ['null', 'false', 'zero', 'empty', 'text']) {
      const plain = await raw(`${url}/plain-value/${kind}`, 'GET');
      for (let i = 0; i < 2; i++) {
        const cached = await raw(`${url}/value/${kind}`, 'GET');
        expect(cached.body, kind).toBe(plain.body);
        expect(cached.headers['content-type'], kind).toBe(plain.headers['content-type']);
      }
      expect((await raw(`${url}/value/${kind}`, 'GET')).headers['x-cache']).toBe('HIT');
    }
  });

  it('never adds a lifetime or validators to a response that may not be stored', async () => {
    for (const [path, headers] of [
      ['/nostore', {}],
      ['/nostore', { 'cache-control': 'no-store' }],
      ['/cookie', { 'cache-control': 'no-store' }],
      ['/private', {}],
    ] as const) {
      for (const method of ['GET', 'HEAD']) {
        const res = await raw(`${url}${path}`, method, headers);
        // Express adds its own weak ETag to any body; the cache's strong one must not be there.
        expect(String(res.headers['etag'] ?? ''), `${method} ${path}`).not.toMatch(/^"/);
        expect(String(res.headers['cache-control'] ?? ''), `${method} ${path}`).not.toMatch(/max-age/);
      }
    }
    await fetch(`${url}/private`);
    expect((await fetch(`${url}/private`)).headers.get('x-cache')).toBe('MISS');
  });

  it('replays a 2xx status other than 200', async () => {
    const miss = await fetch(`${url}/non-authoritative`);
    const hit = await fetch(`${url}/non-authoritative`);
    expect(miss.status).toBe(203);
    expect(hit.status).toBe(203);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(runs.of('203')).toBe(1);
  });

  it('keeps the entries of a handler inherited by two controllers apart', async () => {
    const headers = { 'x-user': '3' };
    expect(await (await fetch(`${url}/admin-area/me`, { headers })).json()).toEqual({ area: 'admin' });
    const pub = await fetch(`${url}/public-area/me`, { headers });
    expect(pub.headers.get('x-cache')).toBe('MISS');
    expect(await pub.json()).toEqual({ area: 'public' });
    expect(await (await fetch(`${url}/admin-area/me`, { headers })).json()).toEqual({ area: 'admin' });
  });

  it('reads the store once per request when @Cached() is on both the class and the method', async () => {
    const read = vi.spyOn(app.get(CacheBackend), 'read');
    await fetch(`${url}/cls/b?once=1`);
    await fetch(`${url}/cls/b?once=1`);
    expect(read).toHaveBeenCalledTimes(2);
    read.mockRestore();
  });

  it('passes POST through even with a custom key builder', async () => {
    for (let i = 1; i <= 2; i++) {
      const res = await fetch(`${url}/custom-key`, { method: 'POST' });
      expect(res.headers.get('x-cache')).toBeNull();
      expect(((await res.json()) as { run: number }).run).toBe(i);
    }
  });

  it('passes other methods through untouched, with no cache header', async () => {
    const res = await fetch(`${url}/items/post-1`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-cache')).toBeNull();
    await fetch(`${url}/items/post-1`, { method: 'POST' });
    expect(runs.of('post:post-1')).toBe(2);
  });

  it('never stores error responses', async () => {
    const a = await fetch(`${url}/missing`);
    const b = await fetch(`${url}/missing`);
    expect(a.status).toBe(404);
    expect(b.status).toBe(404);
    expect(b.headers.get('x-cache')).not.toBe('HIT');
    expect(runs.of('missing')).toBe(2);
  });

  it('never stores streams', async () => {
    const a = await fetch(`${url}/stream`);
    expect(await a.text()).toBe('streamed');
    const b = await fetch(`${url}/stream`);
    expect(await b.text()).toBe('streamed');
    expect(b.headers.get('x-cache')).not.toBe('HIT');
    expect(runs.of('stream')).toBe(2);
  });

  it('describes a stream as a response it does not keep: MISS and no-store', async () => {
    const res = await fetch(`${url}/stream`);
    expect(await res.text()).toBe('streamed');
    expect(res.headers.get('x-cache')).toBe('MISS');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('serves a @Redirect() route uncached, described, and never holds concurrent requests back', async () => {
    const started = Date.now();
    const all = await Promise.all(
      Array.from({ length: 3 }, () => fetch(`${url}/redirect`, { redirect: 'manual' })),
    );
    // Far below the 5 s a request waits on a computation that never completes.
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const res of all) {
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/plain');
      expect(res.headers.get('x-cache')).toBe('MISS');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect(runs.of('redirect')).toBe(3);
  });

  it('never holds concurrent requests back behind a handler that ended the response itself', async () => {
    const started = Date.now();
    const all = await Promise.all(Array.from({ length: 3 }, () => fetch(`${url}/ends-itself`)));
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const res of all) expect(await res.text()).toBe('ended');
    expect(runs.of('ends-itself')).toBe(3);
  });

  it('never gives a query with malformed escapes the entry of a well-formed one', async () => {
    // `%25ZZ%2541` is the text "%ZZ%41"; Express hands the handler "%ZZA" for the malformed `%ZZ%41`.
    const first = await fetch(`${url}/echo-query?a=%25ZZ%2541`);
    expect(await first.json()).toEqual({ query: { a: '%ZZ%41' } });
    const other = await fetch(`${url}/echo-query?a=%ZZ%41`);
    expect(other.headers.get('x-cache')).toBe('MISS');
    const uncached = await fetch(`${url}/echo-query?a=%ZZ%41`, { headers: { 'cache-control': 'no-store' } });
    expect(await other.json()).toEqual(await uncached.json());
    // The same malformed text again is its own entry's HIT.
    expect((await fetch(`${url}/echo-query?a=%ZZ%41`)).headers.get('x-cache')).toBe('HIT');
  });

  it('answers from an entry only requests whose headers named by the response Vary match (RFC 9111 4.1)', async () => {
    const get = async (language: string) => {
      const res = await fetch(`${url}/lang`, { headers: { 'accept-language': language } });
      return { x: res.headers.get('x-cache'), vary: res.headers.get('vary'), body: await res.json() };
    };
    expect(await get('en')).toMatchObject({ x: 'MISS', body: { language: 'en', run: 1 } });
    expect(await get('en')).toMatchObject({ x: 'HIT', body: { language: 'en', run: 1 } });
    // Another language: computed again, never the English answer.
    expect(await get('fr')).toMatchObject({ x: 'MISS', body: { language: 'fr', run: 2 } });
    const french = await get('fr');
    expect(french).toMatchObject({ x: 'HIT', body: { language: 'fr', run: 2 } });
    expect(french.vary?.toLowerCase()).toContain('accept-language');
    expect(await get('en')).toMatchObject({ x: 'MISS', body: { language: 'en', run: 3 } });
    expect(await get('de')).toMatchObject({ x: 'MISS', body: { language: 'de', run: 4 } });
  });

  it('never answers a failing refresh with a stale entry made for other Vary values', async () => {
    const alice = await fetch(`${url}/vary-grace`, { headers: { 'x-variant': 'alice' } });
    expect(await alice.json()).toMatchObject({ variant: 'alice' });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Expired, within grace: a failing refresh for another variant gets its own error, not alice's entry.
    const other = await fetch(`${url}/vary-grace`, { headers: { 'x-variant': 'down' } });
    expect(other.status).toBe(503);
    expect(await other.text()).not.toContain('alice');
  });

  it('replays a Vary the handler set while it ran on the answers it does not run for', async () => {
    const get = (tenant: string) => fetch(`${url}/tenant`, { headers: { 'x-tenant': tenant } });
    await get('a');
    const hit = await get('a');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('vary')?.toLowerCase()).toContain('x-tenant');
    const other = await get('b');
    expect(await other.json()).toMatchObject({ tenant: 'b' });
  });

  it('never stores a response that varies on everything (Vary: *)', async () => {
    await fetch(`${url}/vary-all`);
    const second = await fetch(`${url}/vary-all`);
    expect(second.headers.get('x-cache')).toBe('MISS');
    expect(await second.json()).toEqual({ run: 2 });
  });

  it('serves @Res() handlers uncached', async () => {
    await fetch(`${url}/raw`);
    const b = await fetch(`${url}/raw`);
    expect(await b.json()).toEqual({ run: 2 });
    expect(b.headers.get('x-cache')).toBeNull();
  });

  it('never stores responses that set a cookie or say no-store', async () => {
    const cookieRuns = runs.of('cookie');
    const noStoreRuns = runs.of('nostore');
    await fetch(`${url}/cookie`);
    const cookie = await fetch(`${url}/cookie`);
    expect(cookie.headers.get('x-cache')).toBe('MISS');
    expect(runs.of('cookie')).toBe(cookieRuns + 2);
    await fetch(`${url}/nostore`);
    const noStore = await fetch(`${url}/nostore`);
    expect(noStore.headers.get('x-cache')).toBe('MISS');
    expect(noStore.headers.get('cache-control')).toBe('no-store');
    expect(runs.of('nostore')).toBe(noStoreRuns + 2);
  });

  it.each([
    ['Cache-Control', 'no-cache'],
    ['Cache-Control', 'NO-CACHE'],
    ['Cache-Control', 'max-age=0, No-Cache'],
    ['Pragma', 'no-cache'],
  ])('%s: %s skips the read and refreshes the entry', async (name, value) => {
    const id = `fresh-${name}-${value}`.replace(/[^a-z0-9-]/gi, '_');
    await fetch(`${url}/items/${id}`);
    const forced = await fetch(`${url}/items/${id}`, { headers: { [name]: value } });
    expect(forced.headers.get('x-cache')).toBe('MISS');
    expect(((await forced.json()) as { run: number }).run).toBe(2);
    const after = await fetch(`${url}/items/${id}`);
    expect(after.headers.get('x-cache')).toBe('HIT');
    expect(((await after.json()) as { run: number }).run).toBe(2);
  });

  it('no-store neither reads nor writes', async () => {
    const a = await fetch(`${url}/items/ns1`, { headers: { 'cache-control': 'no-store' } });
    expect(a.headers.get('x-cache')).toBe('MISS');
    const b = await fetch(`${url}/items/ns1`);
    expect(b.headers.get('x-cache')).toBe('MISS');
    await fetch(`${url}/items/ns1`);
    const c = await fetch(`${url}/items/ns1`, { headers: { 'cache-control': 'no-store' } });
    expect(c.headers.get('x-cache')).toBe('MISS');
    expect(runs.of('item:ns1')).toBe(3);
  });

  it('tells clients to revalidate (no-cache) with a strong ETag, by default', async () => {
    const miss = await fetch(`${url}/items/cc`);
    expect(miss.headers.get('cache-control')).toBe('no-cache');
    expect(miss.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const hit = await fetch(`${url}/items/cc`);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('cache-control')).toBe('no-cache');
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'));
  });

  it('answers a browser revalidation (max-age=0 with If-None-Match) from the entry: 304, no handler run', async () => {
    const first = await fetch(`${url}/items/revalidate`);
    const etag = first.headers.get('etag') ?? '';
    const runsBefore = runs.of('item:revalidate');
    const again = await raw(`${url}/items/revalidate`, 'GET', {
      'cache-control': 'max-age=0',
      'if-none-match': etag,
    });
    expect(again.status).toBe(304);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(runs.of('item:revalidate')).toBe(runsBefore);
  });

  it('answers 304 without a body to a matching If-None-Match, on MISS and on HIT', async () => {
    const first = await raw(`${url}/stable/etag`, 'GET');
    const etag = String(first.headers['etag']);
    await invalidation.invalidateNamespace('stable');
    const onMiss = await raw(`${url}/stable/etag`, 'GET', { 'if-none-match': `W/"other", ${etag}` });
    expect(onMiss.status).toBe(304);
    expect(onMiss.body).toBe('');
    expect(onMiss.headers['x-cache']).toBe('MISS');
    const onHit = await raw(`${url}/stable/etag`, 'GET', { 'if-none-match': etag });
    expect(onHit.status).toBe(304);
    expect(onHit.body).toBe('');
    expect(onHit.headers['x-cache']).toBe('HIT');
    expect(onHit.headers['etag']).toBe(etag);
    const noCache = await raw(`${url}/stable/etag`, 'GET', {
      'if-none-match': etag,
      'cache-control': 'no-cache',
    });
    expect(noCache.status).toBe(304);
    const other = await raw(`${url}/stable/etag`, 'GET', { 'if-none-match': '"nope"' });
    expect(other.status).toBe(200);
    expect(other.body).toBe(first.body);
    expect(runs.of('stable:etag')).toBe(3);
  });

  it('answers HEAD from the GET entry and never stores from HEAD', async () => {
    const headFirst = await raw(`${url}/items/head`, 'HEAD');
    expect(headFirst.status).toBe(200);
    expect(headFirst.body).toBe('');
    const get = await fetch(`${url}/items/head`);
    expect(get.headers.get('x-cache')).toBe('MISS');
    const head = await raw(`${url}/items/head`, 'HEAD');
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.body).toBe('');
    expect(head.headers['etag']).toBe(get.headers.get('etag'));
  });

  it('expires entries after their TTL', async () => {
    await fetch(`${url}/short`);
    expect((await fetch(`${url}/short`)).headers.get('x-cache')).toBe('HIT');
    await new Promise((r) => setTimeout(r, 1100));
    const after = await fetch(`${url}/short`);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(runs.of('short')).toBe(2);
  });

  it('normalises the query string: order of names does not matter, order of repeated values does', async () => {
    await fetch(`${url}/items/q?b=2&a=1`);
    expect((await fetch(`${url}/items/q?a=1&b=2`)).headers.get('x-cache')).toBe('HIT');
    await fetch(`${url}/items/q?t=1&t=2`);
    expect((await fetch(`${url}/items/q?t=2&t=1`)).headers.get('x-cache')).toBe('MISS');
  });

  it('keeps requests with separator and glob characters apart', async () => {
    const ids = ['a:b', 'a', 'a*', 'a%3Ab', 'a?', '[a]', 'ü', 'a b', 'a+b', '%25'];
    for (const id of ids) await fetch(`${url}/items/${encodeURIComponent(id)}`);
    for (const id of ids) {
      const res = await fetch(`${url}/items/${encodeURIComponent(id)}`);
      expect(res.headers.get('x-cache')).toBe('HIT');
      expect(((await res.json()) as { id: string }).id).toBe(id);
    }
  });

  it('scopes user routes per user, private, with Vary; anonymous requests are never cached', async () => {
    const a = await fetch(`${url}/me`, { headers: { 'x-user': '1' } });
    expect(a.headers.get('cache-control')).toBe('private, no-cache');
    expect(a.headers.get('vary')).toBe('Authorization, X-API-Key');
    const b = await fetch(`${url}/me`, { headers: { 'x-user': '10' } });
    expect(b.headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/me`, { headers: { 'x-user': '1' } })).headers.get('x-cache')).toBe('HIT');
    const anonymous = await fetch(`${url}/me`);
    expect(anonymous.headers.get('x-cache')).toBeNull();
    expect((await fetch(`${url}/me`)).headers.get('x-cache')).toBeNull();
    expect(runs.of('me')).toBe(4);
  });

  it('invalidateUser(1) removes user 1 entries and never touches user 10', async () => {
    await fetch(`${url}/profile/p`, { headers: { 'x-user': '1' } });
    await fetch(`${url}/profile/p`, { headers: { 'x-user': '10' } });
    await fetch(`${url}/users?userId=1`);
    await fetch(`${url}/users?userId=10`);
    await invalidation.invalidateUser(1);
    expect((await fetch(`${url}/profile/p`, { headers: { 'x-user': '1' } })).headers.get('x-cache')).toBe(
      'MISS',
    );
    expect((await fetch(`${url}/profile/p`, { headers: { 'x-user': '10' } })).headers.get('x-cache')).toBe(
      'HIT',
    );
    expect((await fetch(`${url}/users?userId=1`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/users?userId=10`)).headers.get('x-cache')).toBe('HIT');
  });

  it('invalidates the users list, API keys and namespaces, and nothing beyond them', async () => {
    await fetch(`${url}/users`);
    await fetch(`${url}/users?page=2&size=10`);
    await fetch(`${url}/users?userId=5`);
    expect((await fetch(`${url}/users?page=1`)).headers.get('x-cache')).toBe('HIT');
    await invalidation.invalidateUsersList();
    expect((await fetch(`${url}/users`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/users?page=2&size=10`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/users?userId=5`)).headers.get('x-cache')).toBe('HIT');

    await fetch(`${url}/keys`, { headers: { 'x-user': '7' } });
    await fetch(`${url}/keys/k1`, { headers: { 'x-user': '7' } });
    await fetch(`${url}/keys`, { headers: { 'x-user': '77' } });
    await invalidation.invalidateApiKeys(7);
    expect((await fetch(`${url}/keys`, { headers: { 'x-user': '7' } })).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/keys/k1`, { headers: { 'x-user': '7' } })).headers.get('x-cache')).toBe(
      'MISS',
    );
    expect((await fetch(`${url}/keys`, { headers: { 'x-user': '77' } })).headers.get('x-cache')).toBe('HIT');

    await fetch(`${url}/items/ns-a`);
    await fetch(`${url}/pages`);
    await invalidation.invalidateNamespace('items');
    expect((await fetch(`${url}/items/ns-a`)).headers.get('x-cache')).toBe('MISS');
    expect((await fetch(`${url}/pages`)).headers.get('x-cache')).toBe('HIT');
    await invalidation.invalidateAll();
    expect((await fetch(`${url}/pages`)).headers.get('x-cache')).toBe('MISS');
  });

  it('keeps keys of very long requests within 256 bytes and apart', async () => {
    const long = 'x'.repeat(2000);
    await fetch(`${url}/items/long?x=${long}a`);
    await fetch(`${url}/items/long?x=${long}b`);
    const a = await fetch(`${url}/items/long?x=${long}a`);
    expect(a.headers.get('x-cache')).toBe('HIT');
    expect(runs.of('item:long')).toBe(2);
    const keys = [...app.get(CacheBackend).memory.store.keys()];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(Buffer.byteLength(key)).toBeLessThanOrEqual(256);
  });
});
