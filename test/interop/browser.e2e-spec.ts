import type { Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/users/users.service.js';
import { chromiumVersion, launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { ADAPTERS, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { countCalls, printTrace, ServerTraffic, traceOf, type Exchange } from './server-traffic.js';

/**
 * Headless Chromium (Debian's package, driven by playwright-core over CDP) in front of the sample app: its
 * HTTP cache stores what the app sends and revalidates it, and must never show a stale profile after a write or
 * one API key's response to another. No request interception (it would switch the browser cache off): what
 * went over the wire is recorded on the server side.
 */
const version = chromiumVersion();
const playwright = await import('playwright-core').catch(() => undefined);
const skip = skipWithoutChromium('Chromium interop', version !== undefined && playwright !== undefined);

interface PageResponse {
  status: number;
  text: string;
}

interface PageRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One `fetch()` from the page, with the default cache mode (the browser's HTTP cache decides). */
function pageFetch(page: Page, path: string, init: PageRequest = {}): Promise<PageResponse> {
  return page.evaluate(
    async ({ path, init }) => {
      // Node's RequestInit type has no `cache`; the page's fetch() has.
      const options: RequestInit & { cache: 'default' } = { ...init, cache: 'default' };
      const res = await fetch(path, options);
      return { status: res.status, text: await res.text() };
    },
    { path, init },
  );
}

function emailOf(res: PageResponse): string {
  return (JSON.parse(res.text) as { email: string }).email;
}

let browser: Browser;

beforeAll(async () => {
  if (skip) return;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(ADAPTERS)(`${version ?? 'Chromium'} in front of the sample app on %s`, (adapter) => {
  let sample: SampleApp;
  let api: Api;
  let traffic: ServerTraffic;
  let profileRuns: () => number;
  let context: BrowserContext | undefined;
  let n = 0;

  const newUser = async () => {
    const email = `browser-${adapter}-${++n}@example.com`;
    const token = await api.register(email);
    return { email, token, id: Api.idOf(token) };
  };
  const newKey = async (token: string) => {
    const created = await api.call('POST', '/users/keys', { token, body: { name: `key-${++n}` } });
    return (created.body as { key: string }).key;
  };
  /** A page of the app's origin in a fresh context (its own, empty HTTP cache), so fetch() needs no CORS. */
  const openPage = async (): Promise<Page> => {
    context = await browser.newContext();
    const page = await context.newPage();
    const landing = await page.goto(`${sample.url}/health`);
    expect(landing?.status()).toBe(200);
    return page;
  };
  /** The server's view of the requests for `path` since `mark`, with the trace as a failure message. */
  const seen = async (mark: number, path: string): Promise<{ exchanges: Exchange[]; trace: string }> => {
    const exchanges = await traffic.since(mark, path);
    return { exchanges, trace: exchanges.map(traceOf).join('\n') };
  };

  beforeAll(async () => {
    if (skip) return;
    sample = await startSampleApp('sqlite', 'memory', {}, { adapter });
    api = new Api(sample.url);
    traffic = new ServerTraffic(sample.app.getHttpServer() as Server);
    profileRuns = countCalls(sample.app.get(UsersService), 'profile');
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    traffic?.stop();
    await sample?.stop();
  });

  it.skipIf(skip)('shows the new name when a page PUTs the profile and fetches /users/me again', async () => {
    const user = await newUser();
    const page = await openPage();
    const bearer = { Authorization: `Bearer ${user.token}` };
    const mark = traffic.mark();

    const before = await pageFetch(page, '/users/me', { headers: bearer });
    const put = await pageFetch(page, `/users/${user.id}`, {
      method: 'PUT',
      headers: { ...bearer, 'Content-Type': 'application/json' },
      body: JSON.stringify({ firstName: 'Renamed' }),
    });
    const after = await pageFetch(page, '/users/me', { headers: bearer });

    expect(before.status).toBe(200);
    expect(JSON.parse(before.text)).toMatchObject({ email: user.email, firstName: 'First' });
    expect(put.status).toBe(200);
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text)).toMatchObject({ email: user.email, firstName: 'Renamed' });

    // The browser stored the first answer and asked again with its tag: the app ran the handler (the write
    // had invalidated the entry) and sent the new body under a new tag.
    const { exchanges, trace } = await seen(mark, '/users/me');
    printTrace(`${adapter}: GET, PUT, GET /users/me`, await traffic.since(mark));
    expect(exchanges, trace).toHaveLength(2);
    const [first, second] = exchanges as [Exchange, Exchange];
    expect(first.response['cache-control'], trace).toBe('private, no-cache');
    expect(second.request['if-none-match'], trace).toBe(first.response['etag']);
    expect(second.status, trace).toBe(200);
    expect(second.response['x-cache'], trace).toBe('MISS');
    expect(second.response['etag'], trace).not.toBe(first.response['etag']);
  });

  it.skipIf(skip)(
    'revalidates an unchanged resource with If-None-Match: the app answers 304 from its entry, no handler run',
    async () => {
      const user = await newUser();
      const page = await openPage();
      const bearer = { Authorization: `Bearer ${user.token}` };
      const revalidations: Array<{ ifNoneMatch: string | undefined; status: number | undefined }> = [];
      page.on('requestfinished', (request) => {
        if (!request.url().endsWith('/users/me')) return;
        void (async () => {
          const headers = await request.allHeaders();
          revalidations.push({
            ifNoneMatch: headers['if-none-match'],
            status: (await request.response())?.status(),
          });
        })();
      });
      const mark = traffic.mark();

      const first = await pageFetch(page, '/users/me', { headers: bearer });
      const runsAfterFirst = profileRuns();
      const second = await pageFetch(page, '/users/me', { headers: bearer });
      const third = await pageFetch(page, '/users/me', { headers: bearer });

      // The page sees the stored body, whole, each time.
      expect(first.status).toBe(200);
      expect(second).toEqual(first);
      expect(third).toEqual(first);
      expect(profileRuns()).toBe(runsAfterFirst);

      const { exchanges, trace } = await seen(mark, '/users/me');
      printTrace(`${adapter}: GET /users/me three times`, exchanges);
      expect(exchanges, trace).toHaveLength(3);
      const [original, ...repeats] = exchanges as [Exchange, ...Exchange[]];
      const etag = original.response['etag'];
      expect(etag, trace).toMatch(/^"[A-Za-z0-9_-]+"$/);
      for (const repeat of repeats) {
        expect(repeat.request['if-none-match'], trace).toBe(etag);
        // A browser's own revalidation is not a reload: the app may answer it from the entry.
        expect(repeat.request['cache-control'], trace).toBeUndefined();
        expect(repeat.status, trace).toBe(304);
        expect(repeat.response['x-cache'], trace).toBe('HIT');
        expect(repeat.response['etag'], trace).toBe(etag);
        expect(repeat.response['cache-control'], trace).toBe('private, no-cache');
        expect(repeat.response['vary'], trace).toBe('Authorization, X-API-Key');
      }
      // CDP agrees: the revalidations carried the tag (Chromium reports the merged 200 to the page).
      await expect.poll(() => revalidations.length).toBe(3);
      expect(revalidations.slice(1).map((r) => r.ifNoneMatch)).toEqual([etag, etag]);
    },
  );

  it.skipIf(skip)(
    'never shows one API key’s user the response stored for another, on the same URL',
    async () => {
      const a = await newUser();
      const b = await newUser();
      const keyA = await newKey(a.token);
      const keyB = await newKey(b.token);
      const page = await openPage();
      const asA = { 'X-API-Key': keyA };
      const asB = { 'X-API-Key': keyB };
      const mark = traffic.mark();

      const meA = await pageFetch(page, '/users/me', { headers: asA });
      const meB = await pageFetch(page, '/users/me', { headers: asB });
      const meAgainA = await pageFetch(page, '/users/me', { headers: asA });
      const meAgainB = await pageFetch(page, '/users/me', { headers: asB });
      expect([meA, meB, meAgainA, meAgainB].map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect([meA, meB, meAgainA, meAgainB].map(emailOf)).toEqual([a.email, b.email, a.email, b.email]);

      const keysA = await pageFetch(page, '/users/keys', { headers: asA });
      const keysB = await pageFetch(page, '/users/keys', { headers: asB });
      const names = (res: PageResponse) =>
        (JSON.parse(res.text) as Array<{ name: string }>).map((k) => k.name);
      expect(keysA.status).toBe(200);
      expect(keysB.status).toBe(200);
      expect(names(keysB)).not.toEqual(names(keysA));

      // Whatever the browser sent when the key changed, the app never confirmed A's copy for B.
      const { exchanges, trace } = await seen(mark, '/users/me');
      printTrace(`${adapter}: /users/me and /users/keys as A, B, A, B`, await traffic.since(mark));
      expect(exchanges, trace).toHaveLength(4);
      const etagA = exchanges[0]?.response['etag'];
      const etagB = exchanges[1]?.response['etag'];
      expect(etagB, trace).not.toBe(etagA);
      for (const exchange of exchanges) {
        const mine = exchange.request['x-api-key'] === keyA ? etagA : etagB;
        if (exchange.status === 304) expect(exchange.request['if-none-match'], trace).toBe(mine);
        expect(exchange.response['etag'], trace).toBe(mine);
        expect(exchange.response['vary'], trace).toBe('Authorization, X-API-Key');
      }
    },
  );
});
