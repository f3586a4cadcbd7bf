import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidationService } from '../../src/cache/index.js';
import { ADAPTERS } from '../fixtures/cache-fixture.js';
import { getRow, startEngineApp, type Answer, type EngineApp } from '../helpers/engine-app.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { RawRedis } from '../helpers/resp.js';
import { StorageLayout } from '../helpers/storage-layout.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('invalidation races', canSpawnRedis());
/** Time for a write sent after its response to land (a pause, not a performance bound). */
const SETTLE_MS = 50;

/** A kind of entry, and the invalidation that reaches it. */
interface Kind {
  name: string;
  path(id: string): string;
  headers?(id: string): Record<string, string>;
  resource(id: string): string;
  invalidate(invalidation: InvalidationService, id: string): Promise<void>;
}

const KINDS: Kind[] = [
  {
    name: 'a namespace',
    path: (id) => `/e/item/${id}`,
    resource: (id) => `item:${id}`,
    invalidate: (invalidation) => invalidation.invalidateNamespace('ei'),
  },
  {
    name: 'a user',
    path: () => '/e/me',
    headers: (id) => ({ 'x-user': id }),
    resource: (id) => `me:${id}`,
    invalidate: (invalidation, id) => invalidation.invalidateUser(id),
  },
  {
    name: 'a scope',
    path: (id) => `/e/scoped/${id}/b`,
    resource: (id) => `scoped:${id}:b`,
    invalidate: (invalidation, id) => invalidation.invalidateScope('es', id),
  },
  {
    name: 'a tag (@Cached({ tags }) + invalidateTags)',
    path: (id) => `/e/tagged/${id}`,
    resource: (id) => `thing:${id}`,
    invalidate: (invalidation, id) => invalidation.invalidateTags([`thing:${id}`]),
  },
];

describe.skipIf(skip).each(ADAPTERS)('the invalidation-between-lookup-and-store race on %s', (adapter) => {
  let redis: OwnedRedis;
  let raw: RawRedis;
  let engine: EngineApp;
  const prefix = `race-${adapter}`;
  const layout = new StorageLayout(prefix);
  let ids = 0;

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

  /** One entry of a kind, and the steps the cases combine. */
  function subject(kind: Kind) {
    const id = `r${++ids}`;
    const path = kind.path(id);
    const headers = kind.headers?.(id) ?? {};
    const resource = kind.resource(id);
    const get = () => getRow(engine.url, path, headers);
    return {
      get,
      /** Stores the entry (MISS) and checks it is served (HIT). */
      async prime() {
        expect((await get()).cache).toBe('MISS');
        await sleep(SETTLE_MS);
        expect((await get()).cache).toBe('HIT');
      },
      /** Changes the data, then invalidates; returns the new version once the invalidation has returned. */
      async change(): Promise<number> {
        const version = engine.data.bump([resource]);
        await kind.invalidate(engine.invalidation, id);
        return version;
      },
      /** Starts a GET whose handler reads the data and then waits until `release()`. */
      async blocked(): Promise<{ release(): Promise<Answer> }> {
        const gate = engine.data.hold(resource);
        const answer = get();
        await waitUntil(() => gate.arrived > 0, 5000, 'the handler to run');
        return {
          async release() {
            gate.release();
            return answer;
          },
        };
      },
      /** The next GET runs the handler and shows `version`, and its entry is then served. */
      async expectFresh(version: number) {
        // The raced write may be sent after the response: let it land before looking.
        await sleep(3 * SETTLE_MS);
        const next = await get();
        expect(next.cache, 'the entry stored by the raced handler was served').toBe('MISS');
        expect(next.row.version).toBe(version);
        await sleep(SETTLE_MS);
        const again = await get();
        expect(again.cache).toBe('HIT');
        expect(again.row.version).toBe(version);
      },
    };
  }

  /** The value of every record now. */
  async function recordValues(): Promise<Map<string, string | null>> {
    const keys = await layout.records(raw);
    const values = keys.length === 0 ? [] : ((await raw.command('MGET', ...keys)) as Array<string | null>);
    return new Map(keys.map((key, i) => [key, values[i] ?? null]));
  }

  /** The records `action` (an invalidation) changed. */
  async function movedBy(action: () => Promise<unknown>): Promise<string[]> {
    const before = await recordValues();
    await action();
    const after = await recordValues();
    return [...after].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
  }

  async function deleteRecords(clock = false): Promise<number> {
    const keys = [...(await layout.records(raw)), ...(clock ? layout.clockKeys : [])];
    return keys.length === 0 ? 0 : Number(await raw.command('DEL', ...keys));
  }

  describe.each(KINDS)('invalidating $name', (kind) => {
    it('records present at lookup: the entry stored after the invalidation is not served', async () => {
      const s = subject(kind);
      await s.prime();
      const before = await s.change();
      const run = await s.blocked();
      const after = await s.change();
      const raced = await run.release();
      expect(raced.cache).toBe('MISS');
      expect(raced.row.version).toBe(before);
      await s.expectFresh(after);
    });

    it('no metadata at all at lookup (first request ever, empty server): not served', async () => {
      await raw.command('FLUSHALL');
      const s = subject(kind);
      const run = await s.blocked();
      const after = await s.change();
      const raced = await run.release();
      expect(raced.cache).toBe('MISS');
      expect(raced.row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it("first request ever for this entry's own scope (other records present): not served", async () => {
      await subject(kind).prime();
      const s = subject(kind);
      const run = await s.blocked();
      const after = await s.change();
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('records deleted before the lookup: not served', async () => {
      const s = subject(kind);
      await s.prime();
      expect(await deleteRecords()).toBeGreaterThan(0);
      const run = await s.blocked();
      const after = await s.change();
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('all records deleted while the handler runs, then an invalidation: not served', async () => {
      const s = subject(kind);
      await s.prime();
      await s.change();
      const run = await s.blocked();
      expect(await deleteRecords()).toBeGreaterThan(0);
      const after = await s.change();
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('the records an invalidation moves deleted while the handler runs, then that invalidation: not served', async () => {
      const s = subject(kind);
      await s.prime();
      const targeted = await movedBy(() => s.change());
      expect(targeted.length, 'records the invalidation moves').toBeGreaterThan(0);
      const run = await s.blocked();
      expect(Number(await raw.command('DEL', ...targeted))).toBe(targeted.length);
      const after = await s.change();
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('an invalidation, then only the records it moved deleted while the handler runs: not served', async () => {
      const s = subject(kind);
      await s.prime();
      await s.change();
      const run = await s.blocked();
      let after = 0;
      const moved = await movedBy(async () => (after = await s.change()));
      expect(moved.length, 'records the invalidation moved').toBeGreaterThan(0);
      expect(Number(await raw.command('DEL', ...moved))).toBe(moved.length);
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('an invalidation, then all records deleted while the handler runs: not served', async () => {
      const s = subject(kind);
      await s.prime();
      await s.change();
      const run = await s.blocked();
      const after = await s.change();
      expect(await deleteRecords()).toBeGreaterThan(0);
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });

    it('an invalidation, then records and clock deleted while the handler runs: not served', async () => {
      const s = subject(kind);
      await s.prime();
      await s.change();
      const run = await s.blocked();
      const after = await s.change();
      expect(await deleteRecords(true)).toBeGreaterThan(0);
      expect((await run.release()).row.version).toBeLessThan(after);
      await s.expectFresh(after);
    });
  });
});
