import type { INestApplication } from '@nestjs/common';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheBackend, CacheStatusService } from '../helpers/internals.js';
import { canSpawnRedis, freePort, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { startApp } from '../fixtures/cache-fixture.js';
import { StampedeModule } from '../fixtures/stampede-fixture.js';
import { runScenario, type LoadReport } from './harness.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('fault-injection suite', canSpawnRedis());

const OPERATION_TIMEOUT_MS = 100;
const HANDLER_MS = 5;
/** Scheduling noise on a shared 2-core machine with the app, the load worker and Redis on it. */
const MARGIN_MS = 400;
const MAX_LATENCY_MS = HANDLER_MS + OPERATION_TIMEOUT_MS + MARGIN_MS;

const reports: LoadReport[] = [];
let unhandled = 0;
const onUnhandled = () => unhandled++;

function expectHealthy(report: LoadReport): void {
  reports.push(report);
  expect(report.sent, 'requests sent').toBeGreaterThan(50);
  expect(report.non2xx, 'non-2xx').toBe(0);
  expect(report.hung, 'hung').toBe(0);
  expect(report.staleReads, 'stale reads').toBe(0);
  expect(report.maxMs, 'max latency').toBeLessThanOrEqual(MAX_LATENCY_MS);
}

describe.skipIf(skip)('resilience: every Redis fault under load', () => {
  let redis: OwnedRedis;
  let app: INestApplication;
  let url: string;
  let status: CacheStatusService;
  let reconnects = 0;
  let errorListeners = 0;
  const prefix = 'faults';

  const backToRedis = () => waitUntil(() => status.backendName === 'redis', 15_000, 'Redis to serve again');

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await spawnRedis();
    ({ app, url } = await startApp(
      StampedeModule.with({
        enabled: true,
        keyPrefix: prefix,
        redis: {
          enabled: true,
          url: redis.url,
          operationTimeout: OPERATION_TIMEOUT_MS,
          invalidationTimeout: 200,
          fallbackTtl: 2,
        },
      }),
      'express',
    ));
    status = app.get(CacheStatusService);
    await backToRedis();
    const client = app.get(CacheBackend).redis?.store.client;
    client?.on('reconnecting', () => reconnects++);
    errorListeners = client?.listenerCount('error') ?? 0;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await app?.close();
    await redis?.stop();
    if (reports.length > 0) {
      const header =
        '| fault | sent | non-2xx | hung | p50 ms | p99 ms | max ms | handler runs | hits | stale reads |';
      const rows = reports.map(
        (r) =>
          `| ${r.fault} | ${r.sent} | ${r.non2xx} | ${r.hung} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.handlerRuns} | ${r.hits} | ${r.staleReads} |`,
      );
      const table = [header, '|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
      console.log(
        `\nBehaviour under failure (8 concurrent clients, 3 s each, writes every 150 ms):\n${table}\n`,
      );
      if (process.env['RESILIENCE_REPORT'] !== undefined)
        writeFileSync(process.env['RESILIENCE_REPORT'], `${table}\n`);
    }
  });

  it('baseline: Redis healthy', async () => {
    expectHealthy(await runScenario({ fault: 'none (baseline)', app, url }));
  });

  it('Redis killed during traffic, restarted with an empty dataset', async () => {
    reconnects = 0;
    const report = await runScenario({
      fault: 'killed, restarted empty 1.5 s later',
      app,
      url,
      inject: async () => {
        await sleep(500);
        await redis.kill();
        await sleep(1500);
        await redis.start();
      },
    });
    expectHealthy(report);
    await backToRedis();
    // Reconnects back off (100 ms doubling, capped): a 1.5 s outage is a handful of attempts, not a storm.
    expect(reconnects).toBeLessThanOrEqual(10);
  });

  it('Redis hung (SIGSTOP) for 1.5 s', async () => {
    const report = await runScenario({
      fault: 'SIGSTOP for 1.5 s',
      app,
      url,
      inject: async () => {
        await sleep(500);
        redis.pause();
        await sleep(1500);
        redis.resume();
      },
    });
    expectHealthy(report);
    await backToRedis();
  });

  it('CLIENT PAUSE for 1.5 s', async () => {
    const report = await runScenario({
      fault: 'CLIENT PAUSE 1.5 s',
      app,
      url,
      inject: async () => {
        await sleep(500);
        await redis.cliAsync('client', 'pause', '1500', 'all');
        await sleep(1500);
      },
    });
    expectHealthy(report);
    await backToRedis();
  });

  it('flapping: killed and restarted every 600 ms', async () => {
    const report = await runScenario({
      fault: 'flapping (kill/restart every 600 ms)',
      app,
      url,
      inject: async () => {
        for (let i = 0; i < 2; i++) {
          await sleep(300);
          await redis.kill();
          await sleep(600);
          await redis.start();
        }
      },
    });
    expectHealthy(report);
    await backToRedis();
  });

  it('write errors: maxmemory with noeviction', async () => {
    const report = await runScenario({
      fault: 'maxmemory 1 B, noeviction (OOM on writes)',
      app,
      url,
      inject: async () => {
        await sleep(500);
        await redis.cliAsync('config', 'set', 'maxmemory-policy', 'noeviction');
        await redis.cliAsync('config', 'set', 'maxmemory', '1');
        await sleep(1500);
        await redis.cliAsync('config', 'set', 'maxmemory', '0');
      },
    });
    expectHealthy(report);
    await backToRedis();
  });

  it('write errors: turned into a read-only replica', async () => {
    const primary = await spawnRedis();
    try {
      const report = await runScenario({
        fault: 'read-only replica for 1.5 s',
        app,
        url,
        inject: async () => {
          await sleep(500);
          await redis.cliAsync('replicaof', '127.0.0.1', String(primary.port));
          await sleep(1500);
          await redis.cliAsync('replicaof', 'no', 'one');
        },
      });
      expectHealthy(report);
      await backToRedis();
    } finally {
      await primary.stop();
    }
  });

  it('authentication failure after a reconnect', async () => {
    const password = 'rotated-secret';
    const report = await runScenario({
      fault: 'password set, clients killed (auth fails) for 1.5 s',
      app,
      url,
      inject: async () => {
        await sleep(500);
        await redis.cliAsync('config', 'set', 'requirepass', password);
        await redis.cliAsync('-a', password, '--no-auth-warning', 'client', 'kill', 'type', 'normal');
        await sleep(1500);
        await redis.cliAsync('-a', password, '--no-auth-warning', 'config', 'set', 'requirepass', '');
      },
    });
    expectHealthy(report);
    await backToRedis();
  });

  it('corrupt values planted under our keys are misses and get overwritten', async () => {
    const report = await runScenario({
      fault: 'corrupt entries, records and clock planted',
      app,
      url,
      inject: async () => {
        await sleep(500);
        for (const key of (await redis.cliAsync('--scan', '--pattern', `${prefix}:@e:st:*`))
          .split('\n')
          .filter(Boolean)) {
          await redis.cliAsync('set', key, 'not json at all');
        }
        await redis.cliAsync('set', `${prefix}:@s:n:st`, 'not a tick');
        await redis.cliAsync('del', `${prefix}:@s:*`);
        await redis.cliAsync('del', `${prefix}:@s:p:st:GET`);
        await redis.cliAsync('rpush', `${prefix}:@s:p:st:GET`, 'wrong type');
        await redis.cliAsync('set', `${prefix}:@clock`, 'not a clock');
      },
    });
    expectHealthy(report);
    expect(status.backendName).toBe('redis');
  });

  it('down at startup: the app starts at once and serves, then moves to Redis', async () => {
    const port = await freePort();
    const started = performance.now();
    const late = await startApp(
      StampedeModule.with({
        enabled: true,
        keyPrefix: 'late',
        redis: { enabled: true, url: `redis://127.0.0.1:${port}`, operationTimeout: OPERATION_TIMEOUT_MS },
      }),
      'express',
    );
    expect(performance.now() - started).toBeLessThan(3000);
    let lateRedis: OwnedRedis | undefined;
    try {
      const report = await runScenario({
        fault: 'down at startup, up after 1.5 s',
        app: late.app,
        url: late.url,
        inject: async () => {
          await sleep(1500);
          lateRedis = await spawnRedis([], port);
        },
      });
      expectHealthy(report);
      await waitUntil(() => late.app.get(CacheStatusService).backendName === 'redis', 10_000, 'late Redis');
    } finally {
      await late.app.close();
      await lateRedis?.stop();
    }
  });

  it('shuts down within a few seconds while Redis is hung', async () => {
    const hung = await spawnRedis();
    const doomed = await startApp(
      StampedeModule.with({ enabled: true, keyPrefix: 'shutdown', redis: { enabled: true, url: hung.url } }),
      'express',
    );
    await waitUntil(() => doomed.app.get(CacheStatusService).backendName === 'redis', 5000, 'Redis');
    await fetch(`${doomed.url}/s/item/x`);
    hung.pause();
    try {
      const started = performance.now();
      await doomed.app.close();
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      hung.resume();
      await hung.stop();
    }
  });

  it('leaks no listener and leaves no unhandled rejection behind', () => {
    expect(app.get(CacheBackend).redis?.store.client?.listenerCount('error')).toBe(errorListeners);
    expect(unhandled).toBe(0);
  });
});
