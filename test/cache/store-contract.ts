import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheStore, StoredResponse } from '../../src/cache/stores/cache-store.interface.js';
import type { Generations } from '../../src/cache/stores/generations.js';

/** What a store returned, minus the bytes an in-process store keeps beside the body. */
function withoutBytes<T extends object | undefined>(value: T): T {
  if (value === undefined) return value;
  const { bodyBytes: _bytes, ...rest } = value as T & { bodyBytes?: unknown };
  return rest as T;
}

/** A store under test, with a key prefix unique to this run so a shared server is never disturbed. */
export interface ContractSubject {
  store: CacheStore;
  generations: Generations;
  prefix: string;
  /** Writes a raw value under a key, bypassing the store's format (stores that can be corrupted only). */
  plant?: (key: string, raw: string) => Promise<void>;
  /** Forgets one generation, as an eviction or a restarted server would. */
  forgetGeneration?: (scope: string) => Promise<void>;
  teardown(): Promise<void>;
}

function entry(
  body: string | undefined,
  ttlMs = 60_000,
  extra: Partial<StoredResponse> = {},
): StoredResponse {
  const expiresAt = Date.now() + ttlMs;
  return {
    status: 200,
    contentType: 'application/json; charset=utf-8',
    body,
    etag: '"etag"',
    expiresAt,
    staleUntil: expiresAt,
    stamp: 'g1.g2',
    computeMs: 3,
    ...extra,
  };
}

/** The behaviour every backend must have; run once per backend. */
/** What a backend can be put through beyond the common contract. */
export interface ContractCapabilities {
  /** Raw values can be planted under its keys (`plant`). */
  corruptible?: boolean;
  /** A generation can be lost, as by eviction or a restart (`forgetGeneration`). */
  losesGenerations?: boolean;
}

export function describeStoreContract(
  name: string,
  create: () => Promise<ContractSubject>,
  capabilities: ContractCapabilities = {},
): void {
  describe(`store contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: CacheStore;
    let p: string;
    let n = 0;
    const key = (rest: string) => `${p}:ns:${rest}`;

    beforeAll(async () => {
      subject = await create();
      store = subject.store;
    });
    afterAll(async () => {
      await subject.teardown();
    });
    beforeEach(() => {
      p = `${subject.prefix}-${++n}`;
    });

    it('misses on an absent key', async () => {
      expect(await store.get(key('absent'))).toBeUndefined();
    });

    it('returns what was stored, field for field', async () => {
      const value = entry('{"a":1,"text":"héllo ✓ 😀"}');
      await store.set(key('a'), value, 60_000);
      expect(withoutBytes(await store.get(key('a')))).toEqual(value);
    });

    it('keeps bodiless, binary and large entries intact', async () => {
      const empty = entry(undefined, 60_000, { contentType: undefined });
      const binary = entry(Buffer.from([0, 1, 2, 255]).toString('base64'), 60_000, { encoding: 'base64' });
      const large = entry(JSON.stringify({ data: 'x'.repeat(200_000) }));
      await store.set(key('empty'), empty, 60_000);
      await store.set(key('bin'), binary, 60_000);
      await store.set(key('large'), large, 60_000);
      expect(withoutBytes(await store.get(key('empty')))).toEqual(empty);
      expect(withoutBytes(await store.get(key('bin')))).toEqual(binary);
      expect((await store.get(key('large')))?.body).toBe(large.body);
    });

    it('never hands out a live reference', async () => {
      const value = entry('{"v":1}');
      await store.set(key('ref'), value, 60_000);
      (value as { body: string }).body = 'changed by the caller';
      const read = await store.get(key('ref'));
      expect(read?.body).toBe('{"v":1}');
      try {
        (read as { body: string }).body = 'changed by a reader';
      } catch {
        // frozen: fine
      }
      expect((await store.get(key('ref')))?.body).toBe('{"v":1}');
    });

    it('overwrites an existing key', async () => {
      await store.set(key('over'), entry('1'), 60_000);
      await store.set(key('over'), entry('2'), 60_000);
      expect((await store.get(key('over')))?.body).toBe('2');
    });

    it('forgets entries after their TTL', async () => {
      await store.set(key('ttl'), entry('soon gone', 150), 150);
      expect((await store.get(key('ttl')))?.body).toBe('soon gone');
      await new Promise((r) => setTimeout(r, 400));
      expect(await store.get(key('ttl'))).toBeUndefined();
    });

    if (capabilities.corruptible === true) {
      it('treats corrupt values as misses and overwrites them', async () => {
        const plant = subject.plant;
        if (plant === undefined) throw new Error('a corruptible subject must provide plant()');
        const corrupt = [
          'not json',
          '',
          '{"value":42}',
          '[1,2]',
          '{"value":{"status":"x"}}',
          '{"value":{"status":200}}',
        ];
        for (const [i, raw] of corrupt.entries()) {
          await plant(key(`bad${i}`), raw);
          expect(await store.get(key(`bad${i}`))).toBeUndefined();
          await store.set(key(`bad${i}`), entry('fixed'), 60_000);
          expect((await store.get(key(`bad${i}`)))?.body).toBe('fixed');
        }
      });
    }

    it('keeps one generation per scope until it is bumped, and bumps only the given scopes', async () => {
      const gens = subject.generations;
      const scopes = [`${p}:a`, `${p}:b`, `${p}:c`];
      const first = await gens.read(scopes);
      expect(new Set(first).size).toBe(3);
      expect(await gens.read(scopes)).toEqual(first);
      await gens.bump([`${p}:b`]);
      const second = await gens.read(scopes);
      expect(second[0]).toBe(first[0]);
      expect(second[1]).not.toBe(first[1]);
      expect(second[2]).toBe(first[2]);
    });

    it('agrees on a new generation when many readers create it at once', async () => {
      const scope = `${p}:race`;
      const reads = await Promise.all(
        Array.from({ length: 20 }, () => Promise.resolve(subject.generations.read([scope]))),
      );
      expect(new Set(reads.map((r) => r[0])).size).toBe(1);
    });

    if (capabilities.losesGenerations === true) {
      it('comes back with a never-seen generation when one is lost', async () => {
        const forget = subject.forgetGeneration;
        if (forget === undefined) throw new Error('such a subject must provide forgetGeneration()');
        const scope = `${p}:lost`;
        const [before] = await subject.generations.read([scope]);
        await forget(scope);
        const [after] = await subject.generations.read([scope]);
        expect(after).toBeDefined();
        expect(after).not.toBe(before);
      });
    }
  });
}
