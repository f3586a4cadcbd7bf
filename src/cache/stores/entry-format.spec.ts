import { describe, expect, it } from 'vitest';
import type { StoredResponse } from './cache-store.interface.js';
import { parseEntry, serializeEntry, VALUE_STATUS } from './entry-format.js';

const base = { etag: '', expiresAt: 2_000, staleUntil: 3_000, tick: 7, computeMs: 1, contentType: undefined };

describe('entry format in Redis', () => {
  it('keeps responses in Keyv serialization, readable by Keyv clients', () => {
    const response: StoredResponse = {
      ...base,
      status: 200,
      contentType: 'text/plain',
      body: 'hi',
      etag: '"x"',
    };
    const raw = serializeEntry(response, 1000);
    expect((JSON.parse(raw) as { value: unknown }).value).toEqual(response);
    expect(parseEntry(raw)).toEqual(response);
  });

  it('keeps a value entry body unescaped after its fields, and reads it back', () => {
    const body = 'j{"quote":"\\"","line":"a\\nb"}';
    const value: StoredResponse = { ...base, status: VALUE_STATUS, body, tags: ['t'] };
    const raw = serializeEntry(value, 1000);
    expect(raw.startsWith('V{')).toBe(true);
    expect(raw.endsWith(`\n${body}`)).toBe(true);
    expect(parseEntry(raw)).toEqual({ ...value });
  });

  it('reads the stamp a write gave an entry when its lookup found no clock (`@{tick}` line)', () => {
    const response: StoredResponse = { ...base, tick: 0, status: 200, body: 'hi', etag: '"x"' };
    const value: StoredResponse = { ...base, tick: 0, status: VALUE_STATUS, body: 'j1' };
    for (const entry of [response, value]) {
      expect(parseEntry(`@1796179132093494\n${serializeEntry(entry, 1000)}`)).toEqual({
        ...entry,
        tick: 1796179132093494,
      });
    }
    for (const head of [
      '@0',
      '@-5',
      '@1.5',
      '@abc',
      '@',
      '@99999999999999999',
      '@ 7',
      '@0x10',
      '@1e3',
      '@07',
      '@5\n@6',
    ]) {
      expect(parseEntry(`${head}\n${serializeEntry(response, 1000)}`), head).toBeUndefined();
    }
    expect(parseEntry('@123')).toBeUndefined();
    // Never throws, however many stamp lines (at most one is read).
    expect(parseEntry(`${'@5\n'.repeat(100_000)}${serializeEntry(response, 1000)}`)).toBeUndefined();
  });

  it('reads anything else as no entry, without throwing', () => {
    for (const raw of [
      undefined,
      5,
      '',
      'V',
      'V{"status":0}',
      'V{"status":200,"etag":""}\nx',
      'V{bad\nx',
      '{',
      '{"value":1}',
      'null',
    ]) {
      expect(parseEntry(raw)).toBeUndefined();
    }
  });
});
