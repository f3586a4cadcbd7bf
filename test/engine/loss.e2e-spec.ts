import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidationService } from '../../src/cache/index.js';
import { ADAPTERS } from '../fixtures/cache-fixture.js';
import { getRow, startEngineApp, type EngineApp } from '../helpers/engine-app.js';
import { pick, runTraffic, type Change, type Target, type TrafficResult } from '../helpers/engine-traffic.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { RawRedis } from '../helpers/resp.js';
import { StorageLayout } from '../helpers/storage-layout.js';
import { sleep } from '../helpers/wait.js';

const skip = skipWithoutRedis('loss of Redis metadata', canSpawnRedis());

/** A failing run is repeated with ENGINE_SEED=<seed>. */
const SEED = Number(process.env['ENGINE_SEED'] ?? Date.now() % 1_000_000);
const TRAFFIC_MS = 4000;
/** Time for a write sent after its response to land (a pause, not a performance bound). */
const SETTLE_MS = 50;

const ITEMS = ['i0', 'i1', 'i2', 'i3'];
const USERS = ['u1', 'u2', 'u3'];
const PAGES = ['1', '2', '3'];
const SCOPES = ['a0', 'a1'];
const LEAVES = ['b0', 'b1'];
const THINGS = ['t0', 't1', 't2'];

/** Every kind of key the fixture has: default, user-scoped, paginated, scoped, tagged. */
const TARGETS: Target[] = [
  ...ITEMS.map((id) => ({ path: `/e/item/${id}`, resource: `item:${id}` })),
  ...USERS.map((id) => ({ path: '/e/me', headers: { 'x-user': id }, resource: `me:${id}` })),
  ...PAGES.map((page) => ({ path: `/e/list?page=${page}`, resource: `list:${page}` })),
  ...SCOPES.flatMap((a) =>
    LEAVES.map((b) => ({ path: `/e/scoped/${a}/${b}`, resource: `scoped:${a}:${b}` })),
  ),
  ...THINGS.map((id) => ({ path: `/e/tagged/${id}`, resource: `thing:${id}` })),
];

/** A random change and the invalidation that covers it, through every `InvalidationService` method. */
function changes(invalidation: InvalidationService, extra: readonly Target[] = []) {
  const all = [...TARGETS, ...extra].map((t) => t.resource);
  return (random: () => number): Change => {
    const roll = random();
    if (roll < 0.15) {
      const id = pick(random, ITEMS);
      return {
        name: `item ${id}`,
        resources: [`item:${id}`],
        invalidate: () => invalidation.invalidateNamespace('ei'),
      };
    }
    if (roll < 0.3) {
      const id = pick(random, USERS);
      return {
        name: `user ${id}`,
        resources: [`me:${id}`],
        invalidate: () => invalidation.invalidateUser(id),
      };
    }
    if (roll < 0.4) {
      return {
        name: 'list',
        resources: PAGES.map((p) => `list:${p}`),
        invalidate: () => invalidation.invalidateNamespace('el'),
      };
    }
    if (roll < 0.55) {
      const a = pick(random, SCOPES);
      const b = pick(random, LEAVES);
      return {
        name: `scope ${a}:${b}`,
        resources: [`scoped:${a}:${b}`],
        invalidate: () => invalidation.invalidateScope('es', a, b),
      };
    }
    if (roll < 0.65) {
      const a = pick(random, SCOPES);
      return {
        name: `scope ${a}`,
        resources: LEAVES.map((b) => `scoped:${a}:${b}`),
        invalidate: () => invalidation.invalidateScope('es', a),
      };
    }
    if (roll < 0.85 || (roll < 0.95 && extra.length === 0)) {
      const id = pick(random, THINGS);
      return {
        name: `tag ${id}`,
        resources: [`thing:${id}`],
        invalidate: () => invalidation.invalidateTags([`thing:${id}`]),
      };
    }
    if (roll < 0.95) {
      const target = pick(random, extra);
      return {
        name: target.resource,
        resources: [target.resource],
        invalidate: () => invalidation.invalidateNamespace('eb'),
      };
    }
    return { name: 'all', resources: all, invalidate: () => invalidation.invalidateAll() };
  };
}

/** Stale reads and errors shown in full (a few), with the seed to repeat the run. */
function report(result: TrafficResult): string {
  return `seed ${SEED}: ${result.reads} reads (${result.hits} hits), ${result.changes} changes; stale: ${JSON.stringify(result.stale.slice(0, 5))}; errors: ${result.errors.slice(0, 3).join(' | ')}`;
}

describe.skipIf(skip).each(ADAPTERS)('random metadata loss during traffic on %s', (adapter) => {
  let redis: OwnedRedis;
  let raw: RawRedis;
  let engine: EngineApp;
  const prefix = `loss-${adapter}`;
  const layout = new StorageLayout(prefix);

  beforeAll(async () => {
    redis = await spawnRedis();
    raw = await RawRedis.connect(redis.port);
    engine = await startEngineApp(adapter, redis, prefix);
  });
  afterAll(async () => {
    raw?.close();
    await engine?.close();
    await redis?.stop();
  });

  it('deleting random scope and tag records, and sometimes the clock, never serves a stale read', async () => {
    engine.data.jitterMs = 15;
    const deleted = { records: 0, clocks: 0 };
    const result = await runTraffic({
      url: engine.url,
      data: engine.data,
      targets: TARGETS,
      nextChange: changes(engine.invalidation),
      durationMs: TRAFFIC_MS,
      readers: 6,
      seed: SEED,
      chaosPauseMs: 5,
      chaos: async (random) => {
        const records = await layout.records(raw);
        const victims = Array.from(
          { length: 1 + Math.floor(random() * 3) },
          () => records[Math.floor(random() * records.length)],
        );
        const names = [...new Set(victims.filter((key): key is string => key !== undefined))];
        if (names.length > 0) deleted.records += Number(await raw.command('DEL', ...names));
        if (random() < 0.1) deleted.clocks += Number(await raw.command('DEL', ...layout.clockKeys));
      },
    });
    console.info(
      `metadata loss on ${adapter}: ${report(result)}; deleted ${deleted.records} records, ${deleted.clocks} clocks`,
    );
    expect(result.stale, report(result)).toEqual([]);
    expect(result.errors, report(result)).toEqual([]);
    // The run was not vacuous: entries were served, data changed, metadata was lost.
    expect(result.hits, report(result)).toBeGreaterThan(0);
    expect(result.changes, report(result)).toBeGreaterThan(20);
    expect(deleted.records, 'records deleted').toBeGreaterThan(0);
    expect(deleted.clocks, 'clocks deleted').toBeGreaterThan(0);
  }, 30_000);
});

/** Policies under which a server that really evicts is run; the first is the one the issue names. */
const POLICIES = ['allkeys-lru', 'allkeys-random', 'volatile-lru'];

describe.skipIf(skip).each(POLICIES)('a redis-server with maxmemory 3mb and %s', (policy) => {
  let redis: OwnedRedis;
  let raw: RawRedis;
  let engine: EngineApp;
  const prefix = `evict-${policy}`;
  const big: Target[] = Array.from({ length: 300 }, (_, i) => ({
    path: `/e/big/${i}`,
    resource: `big:${i}`,
  }));

  beforeAll(async () => {
    redis = await spawnRedis(['--maxmemory', '3mb', '--maxmemory-policy', policy]);
    raw = await RawRedis.connect(redis.port);
    // Stored as sent: the padded answers must take their 16 kB in Redis to fill it (gzip would shrink them).
    engine = await startEngineApp('express', redis, prefix, { compressAbove: false });
  });
  afterAll(async () => {
    raw?.close();
    await engine?.close();
    await redis?.stop();
  });

  it('really evicts, and never serves a stale read', async () => {
    engine.data.jitterMs = 10;
    // 300 answers of 16 kB are about 5 MB: more than the server keeps.
    engine.data.padBytes = 16_000;
    // Filled up to the limit first, so that the traffic below evicts whatever its rate.
    for (let i = 0; i < big.length; i += 6) {
      await Promise.all(big.slice(i, i + 6).map((target) => getRow(engine.url, target.path)));
    }
    const evictedBefore = await raw.infoField('stats', 'evicted_keys');
    expect(evictedBefore, 'keys evicted while filling').toBeGreaterThan(0);
    // The small entries are read ten times as often as each big one, so they are hot and hit.
    const targets = [...Array.from({ length: 10 }, () => TARGETS).flat(), ...big];
    const result = await runTraffic({
      url: engine.url,
      data: engine.data,
      targets,
      nextChange: changes(engine.invalidation, big),
      durationMs: TRAFFIC_MS,
      readers: 6,
      seed: SEED,
    });
    const evicted = (await raw.infoField('stats', 'evicted_keys')) - evictedBefore;
    console.info(`maxmemory ${policy}: ${report(result)}; ${evicted} keys evicted during the traffic`);
    expect(evicted, 'keys evicted during the traffic').toBeGreaterThan(0);
    expect(result.stale, report(result)).toEqual([]);
    expect(result.errors, report(result)).toEqual([]);
    expect(result.hits, report(result)).toBeGreaterThan(0);
    expect(result.changes, report(result)).toBeGreaterThan(20);
  }, 30_000);
});

describe.skipIf(skip).each(ADAPTERS)('metadata that expires before its entry on %s', (adapter) => {
  let redis: OwnedRedis;
  let raw: RawRedis;
  let engine: EngineApp;
  const prefix = `expire-${adapter}`;
  const layout = new StorageLayout(prefix);

  beforeAll(async () => {
    redis = await spawnRedis();
    raw = await RawRedis.connect(redis.port);
    engine = await startEngineApp(adapter, redis, prefix);
  });
  afterAll(async () => {
    raw?.close();
    await engine?.close();
    await redis?.stop();
  });

  const CASES: Array<{
    name: string;
    path: string;
    headers?: Record<string, string>;
    resource: string;
    invalidate(invalidation: InvalidationService): Promise<void>;
  }> = [
    {
      name: 'the default key',
      path: '/e/item/x',
      resource: 'item:x',
      invalidate: (invalidation) => invalidation.invalidateNamespace('ei'),
    },
    {
      name: 'a user-scoped key',
      path: '/e/me',
      headers: { 'x-user': 'x' },
      resource: 'me:x',
      invalidate: (invalidation) => invalidation.invalidateUser('x'),
    },
    {
      name: 'a paginated list',
      path: '/e/list?page=4',
      resource: 'list:4',
      invalidate: (invalidation) => invalidation.invalidateNamespace('el'),
    },
    {
      name: 'a scoped key',
      path: '/e/scoped/x/y',
      resource: 'scoped:x:y',
      invalidate: (invalidation) => invalidation.invalidateScope('es', 'x'),
    },
    {
      name: 'a tagged entry',
      path: '/e/tagged/x',
      resource: 'thing:x',
      invalidate: (invalidation) => invalidation.invalidateTags(['thing:x']),
    },
  ];

  it.each(CASES)(
    'each record of $name, expired to 1 ms, makes it a miss',
    async ({ path, headers, resource }) => {
      // Alone on the server, so every record there is one this entry depends on.
      await raw.command('FLUSHALL');
      const get = () => getRow(engine.url, path, headers);
      expect((await get()).cache).toBe('MISS');
      await sleep(SETTLE_MS);
      expect((await get()).cache).toBe('HIT');
      const records = await layout.records(raw);
      expect(records.length, 'records of the entry').toBeGreaterThan(0);
      for (const record of records) {
        const runs = engine.data.runsOf(resource);
        expect((await get()).cache, `before ${record} expires`).toBe('HIT');
        expect(await raw.command('PEXPIRE', record, 1)).toBe(1);
        await waitUntilGone(raw, record);
        const after = await get();
        expect(after.cache, `after ${record} expired`).toBe('MISS');
        expect(engine.data.runsOf(resource)).toBe(runs + 1);
        await sleep(SETTLE_MS);
      }
    },
  );

  it.each(CASES)('a lost clock comes back above every tick handed out: $name', async (kase) => {
    const get = () => getRow(engine.url, kase.path, kase.headers);
    // The clock moves on (unrelated invalidations), then the entry is stamped with it, then the clock is lost.
    for (let i = 0; i < 3; i++) await engine.invalidation.invalidateTags(['elsewhere']);
    await get();
    await sleep(SETTLE_MS);
    expect((await get()).cache).toBe('HIT');
    await raw.command('DEL', ...layout.clockKeys);
    const version = engine.data.bump([kase.resource]);
    await kase.invalidate(engine.invalidation);
    const after = await get();
    expect(after.cache, 'the invalidation after the clock was lost did not reach the entry').toBe('MISS');
    expect(after.row.version).toBe(version);
  });
});

async function waitUntilGone(raw: RawRedis, key: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (Number(await raw.command('EXISTS', key)) !== 0) {
    if (Date.now() > deadline) throw new Error(`${key} did not expire`);
    await sleep(2);
  }
}
