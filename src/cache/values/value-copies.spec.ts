import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from './value-codec.js';
import { ValueCopies } from './value-copies.js';

const user = (id: number): unknown => ({
  id,
  name: `user ${id}`,
  '10': 'an integer key first',
  tags: ['a', ['nested', { deep: [1, null, true, 0.5] }]],
  none: null,
});

/** Decodes `text` under `key`, failing the test on a miss. */
function read(copies: ValueCopies, key: string, text: string, type?: abstract new () => unknown): unknown {
  const found = copies.decode(key, text, { type });
  if (found === undefined) throw new Error(`a miss: ${text}`);
  return found.value;
}

describe('ValueCopies', () => {
  it('returns what decodeValue returns, as a new tree on every read', () => {
    const copies = new ValueCopies();
    const text = encodeValue(user(1));
    // Pure JSON data: the shape whose parsed tree is kept.
    expect(text.startsWith('j')).toBe(true);
    const reads = [1, 2, 3, 4].map(() => read(copies, 'k', text));
    for (const value of reads) {
      expect(value).toStrictEqual(decodeValue(text)?.value);
      expect(Object.keys(value as object)).toEqual(Object.keys(decodeValue(text)?.value as object));
    }
    // Mutating one caller's value changes no other read, earlier or later.
    const first = reads[2] as { name: string; tags: [string, [string, { deep: unknown[] }]] };
    first.name = 'changed';
    first.tags[1][1].deep.push('more');
    expect(read(copies, 'k', text)).toStrictEqual(user(1));
    expect(reads[3]).toStrictEqual(user(1));
    expect(new Set(reads).size).toBe(reads.length);
  });

  it('reads the new text when the entry under a key changes, and each key its own text', () => {
    const copies = new ValueCopies();
    const one = encodeValue(user(1));
    const two = encodeValue(user(2));
    read(copies, 'k', one);
    read(copies, 'k', one);
    expect(read(copies, 'k', two)).toStrictEqual(user(2));
    expect(read(copies, 'k', two)).toStrictEqual(user(2));
    expect(read(copies, 'other', one)).toStrictEqual(user(1));
    // An equal text that is another string (as from each Redis reply) is the same text.
    expect(read(copies, 'k', `${two.slice(0, 5)}${two.slice(5)}`)).toStrictEqual(user(2));
  });

  it('gives instances of the declared type, and tagged values of their own types', () => {
    class User {
      id = 0;
      greet(): string {
        return `hi ${this.id}`;
      }
    }
    const copies = new ValueCopies();
    const text = encodeValue({ id: 7 });
    for (let i = 0; i < 3; i++) expect((read(copies, 'k', text, User) as User).greet()).toBe('hi 7');
    const list = encodeValue([{ id: 1 }, { id: 2 }]);
    for (let i = 0; i < 3; i++) {
      expect((read(copies, 'l', list, User) as User[]).map((u) => u.greet())).toEqual(['hi 1', 'hi 2']);
    }
    const tagged = encodeValue({ at: new Date(5), ids: new Set([1n]) });
    for (let i = 0; i < 3; i++) {
      const value = read(copies, 't', tagged) as { at: Date; ids: Set<bigint> };
      expect(value.at).toEqual(new Date(5));
      expect(value.ids).toEqual(new Set([1n]));
    }
  });

  it('reads primitives, and copies nothing inherited', () => {
    const copies = new ValueCopies();
    for (const value of [42, 'text', null, true, []]) {
      const text = encodeValue(value);
      for (let i = 0; i < 3; i++) expect(read(copies, `p${String(value)}`, text)).toStrictEqual(value);
    }
    const plain = { id: 3, nested: { list: [{ a: 1 }] } };
    const text = encodeValue(plain);
    expect(text.startsWith('j')).toBe(true);
    read(copies, 'k', text);
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.inherited = { polluted: true };
    try {
      for (let i = 0; i < 3; i++) {
        const value = read(copies, 'k', text) as object;
        expect(Object.keys(value)).not.toContain('inherited');
        expect(value).toStrictEqual(plain);
        expect(Object.keys((value as typeof plain).nested)).toEqual(['list']);
      }
    } finally {
      delete prototype.inherited;
    }
  });

  it('reads corrupt, unsafe and over-long texts as misses on every read', () => {
    const copies = new ValueCopies();
    for (const text of ['j{"a":', 'j{"__proto__":{"x":1}}', 'j{"\\u0063onstructor":1}', 'x{}']) {
      for (let i = 0; i < 3; i++) expect(copies.decode('k', text, {})).toBeUndefined();
    }
    const long = encodeValue('x'.repeat(100));
    read(copies, 'long', long);
    expect(copies.decode('long', long, { maxBytes: 50 })).toBeUndefined();
  });

  it('never hands out the kept tree: changing the read that kept it changes no later read', () => {
    const copies = new ValueCopies();
    const text = encodeValue(user(5));
    read(copies, 'k', text);
    const second = read(copies, 'k', text) as { tags: [string, [string, { deep: unknown[] }]] };
    second.tags[1][1].deep.length = 0;
    expect(read(copies, 'k', text)).toStrictEqual(user(5));
  });

  it('decodes deep or large trees on every read instead of keeping them, and never throws', () => {
    const copies = new ValueCopies();
    const deep = `j${'['.repeat(5000)}${']'.repeat(5000)}`;
    for (let i = 0; i < 3; i++) {
      let node = copies.decode('deep', deep, {})?.value;
      for (let level = 1; level < 5000; level++) node = (node as unknown[])[0];
      expect(node).toEqual([]);
    }
    const wide = encodeValue(Array.from({ length: 5000 }, (_, i) => ({ i })));
    for (let i = 0; i < 3; i++) expect(read(copies, 'wide', wide)).toHaveLength(5000);
    expect(copies.keptNodes).toBe(0);
    // Within the bounds: kept, and the kept objects and arrays of all trees stay bounded.
    for (let n = 0; n < 100; n++) {
      const text = encodeValue(Array.from({ length: 4000 }, () => []));
      read(copies, `many${n}`, text);
      expect(read(copies, `many${n}`, text)).toHaveLength(4000);
      expect(copies.keptNodes).toBeLessThanOrEqual(1 << 16);
    }
    expect(copies.keptNodes).toBeGreaterThan(0);
  });

  it('keeps a bounded number of keys and of text characters', () => {
    const copies = new ValueCopies();
    for (let i = 0; i < 10_000; i++) {
      const text = encodeValue(user(i));
      expect(read(copies, `k${i}`, text)).toStrictEqual(user(i));
      expect(read(copies, `k${i}`, text)).toStrictEqual(user(i));
      expect(copies.size).toBeLessThanOrEqual(2048);
    }
    const big = encodeValue('y'.repeat(10_000));
    for (let i = 0; i < 500; i++) read(copies, `big${i}`, big);
    expect(copies.size).toBeLessThanOrEqual(105);
  });
});
