import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { namespaceSelector, ownerSelector, prefixSelector } from '../../src/cache/cache-key.js';
import type { CacheStore, StoredResponse } from '../../src/cache/stores/cache-store.interface.js';

/** A store under test, with a key prefix unique to this run so a shared server is never disturbed. */
export interface ContractSubject {
  store: CacheStore;
  prefix: string;
  /** Writes a raw value under a key, bypassing the store's format (stores that can be corrupted only). */
  plant?(key: string, raw: string): Promise<void>;
  teardown(): Promise<void>;
}

function entry(
  body: string | undefined,
  ttlMs = 60_000,
  extra: Partial<StoredResponse> = {},
): StoredResponse {
  return {
    status: 200,
    contentType: 'application/json; charset=utf-8',
    body,
    etag: '"etag"',
    expiresAt: Date.now() + ttlMs,
    ...extra,
  };
}

/** The behaviour every backend must have; run once per backend. */
export function describeStoreContract(name: string, create: () => Promise<ContractSubject>): void {
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
      await subject.store.deleteMatching([prefixSelector(subject.prefix)]);
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
      expect(await store.get(key('a'))).toEqual(value);
    });

    it('keeps bodiless, binary and large entries intact', async () => {
      const empty = entry(undefined, 60_000, { contentType: undefined });
      const binary = entry(Buffer.from([0, 1, 2, 255]).toString('base64'), 60_000, { encoding: 'base64' });
      const large = entry(JSON.stringify({ data: 'x'.repeat(200_000) }));
      await store.set(key('empty'), empty, 60_000);
      await store.set(key('bin'), binary, 60_000);
      await store.set(key('large'), large, 60_000);
      expect(await store.get(key('empty'))).toEqual(empty);
      expect(await store.get(key('bin'))).toEqual(binary);
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

    it('deletes a namespace and nothing else', async () => {
      await store.set(`${p}:one:a`, entry('1'), 60_000);
      await store.set(`${p}:one:b:c`, entry('2'), 60_000);
      await store.set(`${p}:onex:a`, entry('3'), 60_000);
      await store.set(`${p}x:one:a`, entry('4'), 60_000);
      expect(await store.deleteMatching([namespaceSelector(p, 'one')])).toBe(2);
      expect(await store.get(`${p}:one:a`)).toBeUndefined();
      expect(await store.get(`${p}:one:b:c`)).toBeUndefined();
      expect((await store.get(`${p}:onex:a`))?.body).toBe('3');
      expect((await store.get(`${p}x:one:a`))?.body).toBe('4');
      await store.deleteMatching([prefixSelector(`${p}x`)]);
    });

    it('deletes by owner segment exactly: 1 never reaches 10, globs are literal', async () => {
      await store.set(`${p}:user:1:me`, entry('u1'), 60_000);
      await store.set(`${p}:user:1`, entry('u1-bare'), 60_000);
      await store.set(`${p}:user:10:me`, entry('u10'), 60_000);
      await store.set(`${p}:orders:1:list`, entry('o1'), 60_000);
      await store.set(`${p}:user:*:me`, entry('star'), 60_000);
      await store.set(`${p}:user:a:1`, entry('a1'), 60_000);
      expect(await store.deleteMatching([ownerSelector(p, '1')])).toBe(3);
      expect((await store.get(`${p}:user:10:me`))?.body).toBe('u10');
      expect((await store.get(`${p}:user:a:1`))?.body).toBe('a1');
      expect(await store.deleteMatching([ownerSelector(p, '*', 'user')])).toBe(1);
      expect((await store.get(`${p}:user:10:me`))?.body).toBe('u10');
    });

    it('treats corrupt values as misses and overwrites them', async () => {
      if (subject.plant === undefined) return;
      for (const [i, raw] of [
        'not json',
        '',
        '{"value":42}',
        '[1,2]',
        '{"value":{"status":"x"}}',
      ].entries()) {
        await subject.plant(key(`bad${i}`), raw);
        expect(await store.get(key(`bad${i}`))).toBeUndefined();
        await store.set(key(`bad${i}`), entry('fixed'), 60_000);
        expect((await store.get(key(`bad${i}`)))?.body).toBe('fixed');
      }
    });
  });
}
