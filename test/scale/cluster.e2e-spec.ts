import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheBackend, CacheStatusService, InvalidationService } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnCluster, type OwnedCluster } from '../helpers/redis.js';
import { startApp } from '../fixtures/cache-fixture.js';
import { StampedeModule } from '../fixtures/stampede-fixture.js';
import { runScenario } from '../resilience/harness.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('Redis Cluster e2e', canSpawnRedis());
const prefix = 'cluster-e2e';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { cache: res.headers.get('x-cache'), body: await res.text(), status: res.status };
}

describe.skipIf(skip)('Redis Cluster (three masters started locally)', () => {
  let cluster: OwnedCluster;
  const apps: Array<{ app: INestApplication; url: string }> = [];

  beforeAll(async () => {
    cluster = await spawnCluster();
    for (const adapter of ['express', 'fastify'] as const) {
      apps.push(
        await startApp(
          StampedeModule.with({
            enabled: true,
            keyPrefix: prefix,
            redis: {
              enabled: true,
              clusterNodes: cluster.addresses,
              operationTimeout: 150,
              invalidationTimeout: 300,
            },
            l1: { enabled: true },
          }),
          adapter,
        ),
      );
    }
    for (const { app } of apps) {
      await waitUntil(
        () => app.get(CacheStatusService).backendName === 'redis' && app.get(CacheBackend).l1Serving,
        10_000,
        'the cluster and the bus',
      );
    }
  });
  afterAll(async () => {
    for (const { app } of apps) await app.close();
    await cluster?.stop();
  });

  const a = () => apps[0] as { app: INestApplication; url: string };
  const b = () => apps[1] as { app: INestApplication; url: string };

  it('spreads entries over the masters and serves hits from them', async () => {
    for (let i = 0; i < 30; i++) await get(`${a().url}/s/item/spread-${i}`);
    for (let i = 0; i < 30; i++) expect((await get(`${b().url}/s/item/spread-${i}`)).cache).toBe('HIT');
    const holding = cluster.nodes.filter(
      (node) => node.cli('--scan', '--pattern', `${prefix}:@e:st:*`) !== '',
    );
    expect(holding.length).toBeGreaterThanOrEqual(2);
  });

  it('invalidates a namespace and a user whose keys live on different slots, on every instance', async () => {
    for (let i = 0; i < 10; i++) {
      await get(`${a().url}/s/item/ns-${i}`);
      await get(`${b().url}/s/item/ns-${i}`);
    }
    await get(`${b().url}/s/me/u`, { 'x-user': '42' });
    await a().app.get(InvalidationService).invalidateNamespace('st');
    await a().app.get(InvalidationService).invalidateUser(42);
    await sleep(50);
    for (let i = 0; i < 10; i++) expect((await get(`${b().url}/s/item/ns-${i}`)).cache).toBe('MISS');
    expect((await get(`${b().url}/s/me/u`, { 'x-user': '42' })).cache).toBe('MISS');
  });

  it('keeps serving, without a stale read, when one master is killed during traffic', async () => {
    const report = await runScenario({
      fault: 'cluster: one master killed',
      app: a().app,
      url: a().url,
      durationMs: 3000,
      inject: async () => {
        await sleep(500);
        await cluster.nodes[1]?.kill();
      },
    });
    console.log(`cluster, one master killed: ${JSON.stringify(report)}`);
    expect(report.non2xx).toBe(0);
    expect(report.hung).toBe(0);
    expect(report.staleReads).toBe(0);
    expect(report.maxMs).toBeLessThan(1000);
  });
});
