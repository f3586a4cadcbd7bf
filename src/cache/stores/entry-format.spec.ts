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
      // An earlier form of this layout stamped some entries with an `@{tick}` line: no longer read.
      `@1796179132093494\n${serializeEntry({ ...base, status: 200, body: 'hi' }, 1000)}`,
    ]) {
      expect(parseEntry(raw)).toBeUndefined();
    }
  });
});
