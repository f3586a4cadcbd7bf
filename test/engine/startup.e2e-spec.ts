import { Logger, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheStatusService } from '../../src/cache/index.js';
import { ADAPTERS, FixtureModule, startApp } from '../fixtures/cache-fixture.js';
import { canSpawnRedis, freePort, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { ADMIN, Api, startSampleApp, type SampleApp } from '../helpers/sample-app.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('start-up with Redis healthy, down and hung', canSpawnRedis());

/** `redis.connectTimeout` / `REDIS_CONNECT_TIMEOUT_MS` in these tests: small, so a wait for it is visible. */
const CONNECT_TIMEOUT_MS = 300;
/** Slack on top of the connect timeout for a loaded machine; far below the default timeout (2000 ms). */
const MARGIN_MS = 1000;

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, cache: res.headers.get('x-cache'), text: await res.text() };
}

async function timed<T>(start: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await start();
  return { value, ms: performance.now() - started };
}

/** Entry keys of the new layout (`{prefix}:@e:…`) in one server. */
function entryKeys(redis: OwnedRedis, prefix: string): string[] {
  return redis
    .cli('--scan', '--pattern', `${prefix}:@e:*`)
    .split('\n')
    .filter((key) => key !== '');
}

/** Warnings logged through Nest's `Logger` since `spy` was installed, without the no-password notice. */
function warningsOf(spy: { mock: { calls: unknown[][] } }): string[] {
  return spy.mock.calls.map(([message]) => String(message)).filter((m) => !m.includes('without a password'));
}

/** Cleanups of the running test: apps first, then servers (a paused one is resumed by its stop()). */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function ownedRedis(): Promise<OwnedRedis> {
  const redis = await spawnRedis();
  cleanups.push(() => redis.stop());
  return redis;
}

describe.skipIf(skip).each(ADAPTERS)('start-up of a fixture app on %s', (adapter) => {
  const fixture = (prefix: string, url?: string) =>
    FixtureModule.with({
      enabled: true,
      keyPrefix: prefix,
      ...(url === undefined ? {} : { redis: { enabled: true, url, connectTimeout: CONNECT_TIMEOUT_MS } }),
    });
  const start = async (prefix: string, url?: string): Promise<{ app: INestApplication; url: string }> => {
    const started = await startApp(fixture(prefix, url), adapter);
    cleanups.push(() => started.app.close());
    return started;
  };
  /** How long a memory-only app takes to start here (the better of two), to compare the others with. */
  const baselineMs = async () => {
    const runs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { value, ms } = await timed(() => startApp(fixture(`startup-baseline-${adapter}`), adapter));
      await value.app.close();
      runs.push(ms);
    }
    return Math.min(...runs);
  };

  it('with Redis reachable, serves the first request after listen() from Redis; a second instance hits its entry', async () => {
    const redis = await ownedRedis();
    const prefix = `startup-up-${adapter}`;
    const first = await start(prefix, redis.url);
    // Nothing is awaited between listen() resolving and this request.
    const backendAtListen = first.app.get(CacheStatusService).backendName;
    const miss = await get(`${first.url}/items/first`);
    expect(backendAtListen, 'the backend as soon as listen() resolved').toBe('redis');
    expect(miss.cache).toBe('MISS');
    await waitUntil(() => entryKeys(redis, prefix).length > 0, 2000, `an entry under ${prefix}:@e: in Redis`);
    const keys = entryKeys(redis, prefix);
    expect(keys).toHaveLength(1);
    expect(Number(redis.cli('pttl', keys[0] ?? ''))).toBeGreaterThan(0);

    const second = await start(prefix, redis.url);
    const hit = await get(`${second.url}/items/first`);
    expect(hit.cache, "the second instance's first request").toBe('HIT');
    expect(hit.text).toBe(miss.text);
  });

  it('with Redis down, starts at most the connect timeout later, warns once and serves from memory', async () => {
    const baseline = await baselineMs();
    const warn = vi.spyOn(Logger.prototype, 'warn');
    const port = await freePort();
    const { value: app, ms } = await timed(() =>
      start(`startup-down-${adapter}`, `redis://127.0.0.1:${port}`),
    );
    expect(ms, `start-up took ${Math.round(ms)} ms (baseline ${Math.round(baseline)} ms)`).toBeLessThan(
      baseline + CONNECT_TIMEOUT_MS + MARGIN_MS,
    );
    const status = app.app.get(CacheStatusService);
    expect(status.backendName).toBe('memory-fallback');
    expect(status.fallbackActive).toBe(true);
    expect((await get(`${app.url}/items/down`)).cache).toBe('MISS');
    expect((await get(`${app.url}/items/down`)).cache, 'served from memory').toBe('HIT');
    await sleep(1000);
    expect(warningsOf(warn), 'warnings in the first second').toHaveLength(1);
  });

  it('with Redis hung (SIGSTOP), starts at most the connect timeout later, warns once, serves from memory, then from Redis after SIGCONT', async () => {
    const baseline = await baselineMs();
    const redis = await ownedRedis();
    const prefix = `startup-hung-${adapter}`;
    redis.pause();
    let resumed = false;
    try {
      const warn = vi.spyOn(Logger.prototype, 'warn');
      const { value: app, ms } = await timed(() => start(prefix, redis.url));
      expect(ms, `start-up took ${Math.round(ms)} ms (baseline ${Math.round(baseline)} ms)`).toBeLessThan(
        baseline + CONNECT_TIMEOUT_MS + MARGIN_MS,
      );
      const status = app.app.get(CacheStatusService);
      expect(status.backendName).toBe('memory-fallback');
      const miss = await get(`${app.url}/items/hung`);
      expect(miss.status).toBe(200);
      expect(miss.cache).toBe('MISS');
      expect((await get(`${app.url}/items/hung`)).cache, 'served from memory').toBe('HIT');
      await sleep(1000);
      expect(warningsOf(warn), 'warnings in the first second').toHaveLength(1);

      redis.resume();
      resumed = true;
      await waitUntil(() => status.backendName === 'redis', 15_000, 'Redis to serve after SIGCONT');
      expect((await get(`${app.url}/items/after-resume`)).cache).toBe('MISS');
      await waitUntil(
        () => entryKeys(redis, prefix).some((key) => key.includes('after-resume')),
        2000,
        `the entry under ${prefix}:@e: in Redis`,
      );
      expect((await get(`${app.url}/items/after-resume`)).cache).toBe('HIT');
    } finally {
      if (!resumed) redis.resume();
    }
  });
});

describe.skipIf(skip)('start-up of the sample app', () => {
  const startSample = async (...args: Parameters<typeof startSampleApp>): Promise<SampleApp> => {
    const sample = await startSampleApp(...args);
    cleanups.push(() => sample.stop());
    return sample;
  };
  const health = async (sample: SampleApp) =>
    (await new Api(sample.url).call('GET', '/health')).body as { status: string; cache: string };
  /** Start-up of the sample app on the memory cache (the better of two). */
  const baselineMs = async () => {
    const runs: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { value, ms } = await timed(() => startSampleApp('sqlite', 'memory'));
      await value.stop();
      runs.push(ms);
    }
    return Math.min(...runs);
  };
  const redisEnv = (url: string) => ({
    REDIS_ENABLED: 'true',
    REDIS_URL: url,
    REDIS_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
  });

  it('with Redis reachable, /health says redis on the first request and GET /users/me is stored in Redis', async () => {
    const prefix = 'startup-sample-up';
    const sample = await startSample('sqlite', 'redis', {
      CACHE_KEY_PREFIX: prefix,
      REDIS_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    });
    expect(await health(sample), 'the first request after listen()').toMatchObject({
      status: 'ok',
      cache: 'redis',
    });
    const api = new Api(sample.url);
    const token = await api.login(ADMIN.email, ADMIN.password);
    const miss = await api.call('GET', '/users/me', { token });
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const redis = sample.redis as OwnedRedis;
    await waitUntil(() => entryKeys(redis, prefix).length > 0, 2000, `an entry under ${prefix}:@e: in Redis`);
    expect((await api.call('GET', '/users/me', { token })).headers.get('x-cache')).toBe('HIT');
  });

  it('with Redis down, starts at most REDIS_CONNECT_TIMEOUT_MS later and reports memory-fallback', async () => {
    const baseline = await baselineMs();
    const port = await freePort();
    const { value: sample, ms } = await timed(() =>
      startSample('sqlite', 'memory', redisEnv(`redis://127.0.0.1:${port}`)),
    );
    expect(ms, `start-up took ${Math.round(ms)} ms (baseline ${Math.round(baseline)} ms)`).toBeLessThan(
      baseline + CONNECT_TIMEOUT_MS + MARGIN_MS,
    );
    expect(await health(sample)).toMatchObject({ status: 'ok', cache: 'memory-fallback' });
    const api = new Api(sample.url);
    const token = await api.login(ADMIN.email, ADMIN.password);
    expect((await api.call('GET', '/users/me', { token })).headers.get('x-cache')).toBe('MISS');
    expect((await api.call('GET', '/users/me', { token })).headers.get('x-cache')).toBe('HIT');
  });

  it('with Redis hung, starts at most REDIS_CONNECT_TIMEOUT_MS later, reports memory-fallback, then redis after SIGCONT', async () => {
    const baseline = await baselineMs();
    const redis = await ownedRedis();
    redis.pause();
    let resumed = false;
    try {
      const { value: sample, ms } = await timed(() => startSample('sqlite', 'memory', redisEnv(redis.url)));
      expect(ms, `start-up took ${Math.round(ms)} ms (baseline ${Math.round(baseline)} ms)`).toBeLessThan(
        baseline + CONNECT_TIMEOUT_MS + MARGIN_MS,
      );
      expect(await health(sample)).toMatchObject({ status: 'ok', cache: 'memory-fallback' });
      redis.resume();
      resumed = true;
      const deadline = Date.now() + 15_000;
      let cache = (await health(sample)).cache;
      while (cache !== 'redis' && Date.now() < deadline) {
        await sleep(100);
        cache = (await health(sample)).cache;
      }
      expect(cache, '/health after SIGCONT').toBe('redis');
    } finally {
      if (!resumed) redis.resume();
    }
  });
});
