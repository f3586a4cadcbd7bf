import { describe, expect, it } from 'vitest';
import type { StoredResponse } from './cache-store.interface.js';
import { parseEntry, serializeEntry, VALUE_STATUS } from './entry-format.js';

const base = { etag: '', expiresAt: 2_000, staleUntil: 3_000, tick: 7, computeMs: 1, contentType: undefined };

describe('entry format in Redis', () => {
  it('keeps a response body unescaped after its fields, and reads it back', () => {
    const response: StoredResponse = {
      ...base,
      status: 200,
      contentType: 'application/json',
      body: '{"quote":"\\"","line":"a\\nb"}\nsecond line',
      etag: '"x"',
    };
    const raw = serializeEntry(response);
    expect(raw.startsWith('R{')).toBe(true);
    expect(raw.endsWith(`\n${response.body}`)).toBe(true);
    expect(parseEntry(raw)).toEqual(response);
    // Without a body: no newline, and none comes back.
    const empty: StoredResponse = { ...base, status: 204, etag: '"e"', body: undefined };
    expect(serializeEntry(empty)).not.toContain('\n');
    expect(parseEntry(serializeEntry(empty))).toEqual(empty);
  });

  it('still reads a response in the Keyv serialization earlier versions wrote', () => {
    const response: StoredResponse = { ...base, status: 200, body: 'hi', etag: '"x"' };
    expect(parseEntry(JSON.stringify({ value: response, expires: 5 }))).toEqual(response);
  });

  it('keeps a value entry body unescaped after its fields, and reads it back', () => {
    const body = 'j{"quote":"\\"","line":"a\\nb"}';
    const value: StoredResponse = { ...base, status: VALUE_STATUS, body, tags: ['t'] };
    const raw = serializeEntry(value);
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
      `@1796179132093494\n${serializeEntry({ ...base, status: 200, body: 'hi' })}`,
      // A mark that does not match the status, a body among the fields, no fields.
      `V${JSON.stringify({ ...base, status: 200 })}\nx`,
      `R${JSON.stringify({ ...base, status: 0 })}\nx`,
      `R${JSON.stringify({ ...base, status: 200, body: 'inside' })}\nx`,
      `V${JSON.stringify({ ...base, status: 0 })}`,
      'R',
      'R\n',
      JSON.stringify({ value: { ...base, status: 0, body: 'j1' } }),
      // A prototype or a tick beyond the integers from Redis (untrusted text).
      `R${JSON.stringify({ ...base, status: 200 }).replace('{', '{"__proto__":{"tags":[1]},')}\nx`,
      JSON.stringify({ value: { ...base, status: 200, body: 'x' } }).replace(
        '{"value":{',
        '{"value":{"__proto__":{},',
      ),
      `R${JSON.stringify({ ...base, status: 200 }).replace('"tick":7', '"tick":1e400')}\nx`,
      `R${JSON.stringify({ ...base, status: 200 }).replace('"tick":7', '"tick":1.5')}\nx`,
    ]) {
      expect(parseEntry(raw)).toBeUndefined();
    }
  });
});
