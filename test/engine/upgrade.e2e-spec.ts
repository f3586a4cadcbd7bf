import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeKeySegment } from '../../src/cache/index.js';
import { ADAPTERS } from '../fixtures/cache-fixture.js';
import { getRow, startEngineApp, type Answer, type EngineApp } from '../helpers/engine-app.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { RawRedis } from '../helpers/resp.js';
import { sleep } from '../helpers/wait.js';
import { parseEntry } from '../../src/cache/stores/entry-format.js';

const skip = skipWithoutRedis('upgrade from the previous storage layout', canSpawnRedis());

/** What the planted entries answer: no handler of the fixture ever produces it. */
const PLANTED = 'from the old layout';
/** Lifetime of the planted entries and lock: far longer than the file runs. */
const PLANTED_TTL_MS = 600_000;
/** The fixture's lock deadline; a route that waited on the planted lock would answer only after it. */
const LOCK_TTL_MS = 5000;
/** Time for a write sent after its response to land (a pause, not a performance bound). */
const SETTLE_MS = 50;

/**
 * The names and values layout 1 wrote (commit 55ca00a: `http/cache-key.ts`, `stores/generations.ts`,
 * `stores/tag-clock.ts`, `stores/redis.store.ts`, `engine/cache-backend.ts`), rebuilt from its code: entries at
 * `{prefix}:{namespace}:{rest}` in Keyv's serialization, a random generation per scope at `{prefix}:#gen:{scope}`
 * (no expiry), tag records at `{prefix}:#tag:{tag}` and `{prefix}:#tagclock` (no expiry), locks at
 * `{prefix}:#lock:{entry key}`. An entry was valid while its stamp equalled its scopes' generations, joined by
 * `.`, and each of its tags was last invalidated at or before its `tagTick`.
 */
class PreviousLayout {
  constructor(readonly prefix: string) {}

  get tagClockKey(): string {
    return `${this.prefix}:#tagclock`;
  }

  /** `toStoreKey` (the keys here are short: never hashed). */
  entryKey(namespace: string, built: string): string {
    return `${this.prefix}:${namespace}:${this.restOf(namespace, built)}`;
  }

  /** `scopesOf`: everything, the namespace, the owner (first segment) and each prefix of three segments. */
  scopesOf(namespace: string, built: string): string[] {
    const segments = this.restOf(namespace, built).split(':', 3);
    const scopes = ['*', `ns:${namespace}`];
    const first = segments[0];
    if (first !== undefined && first !== '' && first !== '_') scopes.push(`own:${first}`);
    let prefix = namespace;
    for (const segment of segments) {
      prefix += `:${segment}`;
      scopes.push(`pre:${prefix}`);
    }
    return scopes;
  }

  generationKey(scope: string): string {
    return `${this.prefix}:#gen:${scope}`;
  }

  tagKey(tag: string): string {
    return `${this.prefix}:#tag:${encodeKeySegment(tag)}`;
  }

  lockKey(entryKey: string): string {
    return `${this.prefix}:#lock:${entryKey}`;
  }

  /** What cache-manager and Keyv wrote for an entry. */
  serialize(entry: Record<string, unknown>, ttlMs: number): string {
    return JSON.stringify({ value: entry, expires: Date.now() + ttlMs });
  }

  private restOf(namespace: string, built: string): string {
    const rest = built.startsWith(`${namespace}:`) ? built.slice(namespace.length + 1) : built;
    return rest === '' ? '_' : rest;
  }
}

/** A route of the engine fixture, with the key layout 1's builders gave its request. */
interface Route {
  name: string;
  path: string;
  headers?: Record<string, string>;
  /** The resource the handler reads (and answers). */
  resource: string;
  namespace: string;
  /** Layout 1's key builder result for this request. */
  built: string;
  tags?: string[];
  lock?: boolean;
}

/** One route of every key builder and option the fixture has; default keys are `ns:GET:{route}:{params}:{query}`. */
const ROUTES: Route[] = [
  {
    name: 'default key',
    path: '/e/item/i0',
    resource: 'item:i0',
    namespace: 'ei',
    built: `ei:GET:${encodeKeySegment('/e/item/:id')}:id=i0:`,
  },
  {
    name: 'user-scoped key',
    path: '/e/me',
    headers: { 'x-user': 'u1' },
    resource: 'me:u1',
    namespace: 'eu',
    built: `eu:u1:EngineController.me:${encodeKeySegment('/e/me')}`,
  },
  {
    name: 'paginated key',
    path: '/e/list?page=2',
    resource: 'list:2',
    namespace: 'el',
    built: 'el:list:page:2:size:50',
  },
  {
    name: 'custom key',
    path: '/e/scoped/a0/b0',
    resource: 'scoped:a0:b0',
    namespace: 'es',
    built: 'es:a0:b0',
  },
  {
    name: 'tagged entry',
    path: '/e/tagged/t0',
    resource: 'thing:t0',
    namespace: 'et',
    built: `et:GET:${encodeKeySegment('/e/tagged/:id')}:id=t0:`,
    tags: ['thing:t0'],
  },
  {
    name: 'locked route',
    path: '/e/locked/l0',
    resource: 'locked:l0',
    namespace: 'elk',
    built: `elk:GET:${encodeKeySegment('/e/locked/:id')}:id=l0:`,
    lock: true,
  },
];

/** A key layout 1 left in Redis, with the value it holds and whether it expires. */
interface PlantedKey {
  key: string;
  value: string;
  expires: boolean;
}

/**
 * Writes, for every route, what layout 1 would have left after serving it: an entry that is valid by its rules
 * (stamped with the current generations, fresh, tags registered before its tick), its generations and tag
 * records, and for the locked route a lock held by another instance.
 */
async function plantPreviousLayout(
  redis: RawRedis,
  layout: PreviousLayout,
): Promise<Map<string, PlantedKey>> {
  const planted = new Map<string, PlantedKey>();
  const plant = async (key: string, value: string, ttlMs?: number) => {
    if (planted.has(key)) return;
    await (ttlMs === undefined
      ? redis.command('SET', key, value)
      : redis.command('SET', key, value, 'PX', ttlMs));
    planted.set(key, { key, value, expires: ttlMs !== undefined });
  };
  const tagTick = Date.now() * 1000;
  await plant(layout.tagClockKey, String(tagTick));
  for (const route of ROUTES) {
    const generations: string[] = [];
    for (const scope of layout.scopesOf(route.namespace, route.built)) {
      const key = layout.generationKey(scope);
      await plant(key, randomBytes(12).toString('base64url'));
      generations.push(planted.get(key)?.value ?? '');
    }
    for (const tag of route.tags ?? []) await plant(layout.tagKey(tag), '0');
    const now = Date.now();
    const body = JSON.stringify({
      id: route.resource.split(':')[1],
      resource: PLANTED,
      version: -1,
      run: -1,
    });
    const entry = {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body,
      etag: `"old-${route.namespace}"`,
      expiresAt: now + PLANTED_TTL_MS,
      staleUntil: now + PLANTED_TTL_MS,
      stamp: generations.join('.'),
      computeMs: 1,
      ...(route.tags === undefined ? {} : { tags: route.tags, tagTick }),
    };
    const key = layout.entryKey(route.namespace, route.built);
    await plant(key, layout.serialize(entry, PLANTED_TTL_MS), PLANTED_TTL_MS);
    if (route.lock === true)
      await plant(layout.lockKey(key), randomBytes(12).toString('base64url'), PLANTED_TTL_MS);
  }
  return planted;
}

function expectFromHandler(answer: Answer, route: Route, cache: 'MISS' | 'HIT'): void {
  expect.soft(answer.status, route.name).toBe(200);
  expect.soft(answer.cache, route.name).toBe(cache);
  expect.soft(answer.row.resource, route.name).toBe(route.resource);
  expect.soft(answer.text, route.name).not.toContain(PLANTED);
}

describe.skipIf(skip).each(ADAPTERS)('upgrade from the previous layout, %s adapter', (adapter) => {
  const prefix = `upgrade-${adapter}`;
  const layout = new PreviousLayout(prefix);
  let redis: OwnedRedis;
  let raw: RawRedis;
  let engine: EngineApp;
  let planted: Map<string, PlantedKey>;

  /** Every key of the server (it is this suite's own) that the previous layout did not write. */
  const written = async () => (await raw.scan('*')).filter((key) => !planted.has(key));

  /** Every planted key still holds its value, with its expiry (or none, as layout 1 left metadata). */
  async function expectPlantedUntouched(): Promise<void> {
    const keys = [...planted.keys()];
    const values = (await raw.command('MGET', ...keys)) as Array<string | null>;
    const pttls = await raw.pttls(keys);
    for (const [i, key] of keys.entries()) {
      const plant = planted.get(key);
      expect.soft(values[i], key).toBe(plant?.value);
      const pttl = pttls.get(key) ?? -2;
      if (plant?.expires === true) {
        expect.soft(pttl, key).toBeGreaterThan(0);
        expect.soft(pttl, key).toBeLessThanOrEqual(PLANTED_TTL_MS);
      } else expect.soft(pttl, key).toBe(-1);
    }
  }

  beforeAll(async () => {
    redis = await spawnRedis();
    raw = await RawRedis.connect(redis.port);
    planted = await plantPreviousLayout(raw, layout);
    engine = await startEngineApp(adapter, redis, prefix, { stampede: { lockTtl: LOCK_TTL_MS } });
  });

  afterAll(async () => {
    await engine?.close();
    raw?.close();
    await redis?.stop();
  });

  it('answers every route from its handler: a MISS, then a HIT, never the planted entry', async () => {
    for (const route of ROUTES) {
      const started = performance.now();
      // The planted ETag: a 304 here would be an answer from the old entry.
      const miss = await getRow(engine.url, route.path, {
        ...route.headers,
        'if-none-match': `"old-${route.namespace}"`,
      });
      const elapsed = performance.now() - started;
      expectFromHandler(miss, route, 'MISS');
      if (route.lock === true)
        expect.soft(elapsed, 'the planted lock was waited on').toBeLessThan(LOCK_TTL_MS / 2);
      await sleep(SETTLE_MS);
      const hit = await getRow(engine.url, route.path, route.headers);
      expectFromHandler(hit, route, 'HIT');
      expect.soft(hit.text, route.name).toBe(miss.text);
      expect.soft(engine.data.runsOf(route.resource), route.name).toBe(1);
    }
  });

  it('leaves every key of the previous layout as it was, and writes only under {prefix}:@', async () => {
    await expectPlantedUntouched();
    const keys = await written();
    expect(keys.filter((key) => !key.startsWith(`${prefix}:@`))).toEqual([]);
    expect(keys.filter((key) => key.startsWith(`${prefix}:@e:`))).toHaveLength(ROUTES.length);
  });

  it('invalidates through its own records only: the old generations and tag records keep their values', async () => {
    await engine.invalidation.invalidateNamespace('ei');
    await engine.invalidation.invalidateUser('u1');
    await engine.invalidation.invalidateScope('es', 'a0');
    await engine.invalidation.invalidateTags(['thing:t0']);
    await engine.invalidation.invalidateAll();
    await expectPlantedUntouched();
    for (const route of ROUTES) {
      expectFromHandler(await getRow(engine.url, route.path, route.headers), route, 'MISS');
      await sleep(SETTLE_MS);
      expectFromHandler(await getRow(engine.url, route.path, route.headers), route, 'HIT');
      expect.soft(engine.data.runsOf(route.resource), route.name).toBe(2);
    }
    expect((await written()).filter((key) => !key.startsWith(`${prefix}:@`))).toEqual([]);
  });

  it('serves a value shaped by the previous layout as a miss even under a name of this layout', async () => {
    const route: Route = {
      name: 'old value at an @e: name',
      path: '/e/item/i9',
      resource: 'item:i9',
      namespace: 'ei',
      built: `ei:GET:${encodeKeySegment('/e/item/:id')}:id=i9:`,
    };
    // The namespace `ei` encodes to itself, so this is the entry key of layout 2 for the request.
    const key = `${prefix}:@e:${route.built}`;
    const old = [...planted.values()].find((plant) => plant.value.includes(PLANTED));
    expect(old).toBeDefined();
    await raw.command('SET', key, old?.value ?? '', 'PX', PLANTED_TTL_MS);
    expectFromHandler(await getRow(engine.url, route.path), route, 'MISS');
    await sleep(SETTLE_MS);
    expectFromHandler(await getRow(engine.url, route.path), route, 'HIT');
    const replaced = parseEntry(await raw.command('GET', key));
    expect(typeof replaced?.tick).toBe('number');
  });

  it('the one-time cleanup of docs/invalidation.md (`{prefix}:#*`) removes layout 1 metadata only', async () => {
    const metadata = [...planted.keys()].filter((key) => key.startsWith(`${prefix}:#`)).sort();
    expect(await raw.scan(`${prefix}:#*`)).toEqual(metadata);
    const before = await written();
    await raw.command('UNLINK', ...metadata);
    expect(await written()).toEqual(before);
    for (const route of ROUTES)
      expectFromHandler(await getRow(engine.url, route.path, route.headers), route, 'HIT');
  });
});
