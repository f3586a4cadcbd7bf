import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CacheError } from '../cache.errors.js';
import { decodeValue, encodeValue, ValueEncodingError, type ValueDecodeOptions } from './value-codec.js';

/** The decoded value; fails the test on a miss. */
function roundTrip(value: unknown, options?: ValueDecodeOptions): unknown {
  const text = encodeValue(value);
  const hit = decodeValue(text, options);
  if (hit === undefined) throw new Error(`decoded as a miss: ${text}`);
  return hit.value;
}

/** What encodeValue throws for `value` (fails the test if it does not throw a ValueEncodingError). */
function encodingError(value: unknown): ValueEncodingError {
  try {
    encodeValue(value);
  } catch (error) {
    if (error instanceof ValueEncodingError) return error;
    throw error;
  }
  throw new Error('encodeValue did not throw');
}

const proto = (value: unknown): unknown => Object.getPrototypeOf(value);

function bytesOf(value: ArrayBuffer | ArrayBufferView): number[] {
  return value instanceof ArrayBuffer
    ? [...new Uint8Array(value)]
    : [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
}

/**
 * The first difference between `actual` and `expected`, strictly: same prototypes, Object.is on primitives
 * (-0, NaN), the same own keys in the same order (so a missing `undefined` property or a hole differs), Map
 * and Set entries in order, the same bytes in binary data. `undefined` when they are the same.
 */
function difference(actual: unknown, expected: unknown, path = ''): string | undefined {
  if (typeof actual !== typeof expected) return `${path}: ${typeof actual} instead of ${typeof expected}`;
  if (typeof expected !== 'object' || expected === null || actual === null) {
    return Object.is(actual, expected)
      ? undefined
      : `${path}: ${String(actual)} instead of ${String(expected)}`;
  }
  const a = actual as object;
  if (proto(a) !== proto(expected)) return `${path}: another prototype`;
  if (expected instanceof Date) {
    return Object.is((a as Date).getTime(), expected.getTime()) ? undefined : `${path}: another time`;
  }
  if (expected instanceof RegExp) {
    const r = a as RegExp;
    return r.source === expected.source && r.flags === expected.flags ? undefined : `${path}: another RegExp`;
  }
  if (expected instanceof ArrayBuffer || ArrayBuffer.isView(expected)) {
    const same = bytesOf(a as ArrayBuffer).join() === bytesOf(expected).join();
    return same ? undefined : `${path}: other bytes`;
  }
  if (expected instanceof Map) {
    const x = [...(a as Map<unknown, unknown>)];
    const y = [...expected] as [unknown, unknown][];
    if (x.length !== y.length) return `${path}: ${x.length} entries instead of ${y.length}`;
    for (const [i, [key, value]] of y.entries()) {
      const found =
        difference(x[i]?.[0], key, `${path}<key #${i}>`) ??
        difference(x[i]?.[1], value, `${path}<value #${i}>`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (expected instanceof Set) {
    return difference([...(a as Set<unknown>)], [...(expected as Set<unknown>)], `${path}<items>`);
  }
  const keys = Reflect.ownKeys(a).filter((key) => !(Array.isArray(a) && key === 'length'));
  const wanted = Reflect.ownKeys(expected).filter((key) => !(Array.isArray(expected) && key === 'length'));
  if (keys.map(String).join() !== wanted.map(String).join()) {
    return `${path}: keys [${keys.map(String).join()}] instead of [${wanted.map(String).join()}]`;
  }
  if (Array.isArray(expected) && (a as unknown[]).length !== expected.length)
    return `${path}: another length`;
  for (const key of wanted) {
    const found = difference(
      (a as Record<string | symbol, unknown>)[key],
      (expected as Record<string | symbol, unknown>)[key],
      `${path}.${String(key)}`,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Every object reachable from `value`, including Map keys, Set items and the memory of binary data. */
function objectsIn(value: unknown, into = new Set<object>()): Set<object> {
  if (typeof value !== 'object' || value === null || into.has(value)) return into;
  into.add(value);
  if (ArrayBuffer.isView(value)) into.add(value.buffer);
  if (value instanceof Map) {
    for (const [key, item] of value) objectsIn(item, objectsIn(key, into));
  } else if (value instanceof Set) {
    for (const item of value) objectsIn(item, into);
  } else if (!ArrayBuffer.isView(value)) {
    for (const item of Object.values(value)) objectsIn(item, into);
  }
  return into;
}

function shared(a: unknown, b: unknown): boolean {
  const seen = objectsIn(a);
  return [...objectsIn(b)].some((object) => seen.has(object));
}

/** `depth` arrays, one inside the other, around `leaf`. */
function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}

  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

describe('the strict comparison the tests rely on', () => {
  it('finds the differences that toEqual lets through', () => {
    expect(difference({ a: 1 }, { a: 1 })).toBeUndefined();
    expect(difference(0, -0)).toBeDefined();
    expect(difference(NaN, NaN)).toBeUndefined();
    expect(difference({}, { a: undefined })).toBeDefined();
    expect(difference([1, undefined], new Array<unknown>(2).fill(1, 0, 1))).toBeDefined();
    expect(difference(new Uint8Array([1]), Buffer.from([1]))).toBeDefined();
    expect(difference({ x: 1, y: 2 }, new Point(1, 2))).toBeDefined();
    expect(
      difference(
        new Map([
          [1, 'a'],
          [2, 'b'],
        ]),
        new Map([
          [2, 'b'],
          [1, 'a'],
        ]),
      ),
    ).toBeDefined();
    expect(difference(new Float64Array([1]), new Float64Array([2]))).toBeDefined();
    expect(difference(new Date(1), new Date(2))).toBeDefined();
    expect(difference({ b: 1, a: 2 }, { a: 2, b: 1 })).toBeDefined();
  });
});

describe('encodeValue / decodeValue round trips', () => {
  it.each<[string, unknown]>([
    ['a string', 'héllo "quoted" \\ \n \u0000 😀 \ud800'],
    ['an empty string', ''],
    ['an integer', 42],
    ['a float', -1.5e-300],
    ['Number.MAX_VALUE', Number.MAX_VALUE],
    ['true', true],
    ['false', false],
    ['null', null],
    ['a plain object', { id: 1, name: 'x', nested: { list: [1, 'two', null, false] } }],
    ['an array', [1, [2, [3, []]], {}]],
    ['keys that are numbers, empty or odd', { '': 1, '10': 2, '2': 3, 'a b': 4, é: 5, '\u0000': 6 }],
  ])('%s, as JSON data in the fast shape', (_name, value) => {
    const text = encodeValue(value);
    expect(text).toBe(`j${JSON.stringify(value)}`);
    expect(difference(roundTrip(value), value)).toBeUndefined();
  });

  it('NaN, Infinity, -Infinity and -0, at the top and nested', () => {
    for (const number of [NaN, Infinity, -Infinity, -0]) {
      expect(encodeValue(number).startsWith('t')).toBe(true);
      expect(Object.is(roundTrip(number), number)).toBe(true);
      const decoded = roundTrip({ n: number, list: [number] }) as { n: number; list: number[] };
      expect(Object.is(decoded.n, number)).toBe(true);
      expect(Object.is(decoded.list[0], number)).toBe(true);
    }
    expect(Object.is(roundTrip(0), 0)).toBe(true);
  });

  it('undefined at the top level (a hit, not a miss)', () => {
    expect(decodeValue(encodeValue(undefined))).toEqual({ value: undefined });
    expect(decodeValue(encodeValue(undefined))).not.toBeUndefined();
  });

  it('undefined as a property value: the property is kept', () => {
    const decoded = roundTrip({ a: undefined, b: 1, c: { d: undefined } }) as Record<string, unknown>;
    expect('a' in decoded).toBe(true);
    expect(decoded.a).toBeUndefined();
    expect(Object.keys(decoded)).toEqual(['a', 'b', 'c']);
    expect('d' in (decoded.c as object)).toBe(true);
  });

  it('undefined in arrays and holes, which come back as undefined elements', () => {
    // eslint-disable-next-line no-sparse-arrays
    const decoded = roundTrip([1, undefined, , 4]) as unknown[];
    expect(decoded).toHaveLength(4);
    expect(1 in decoded).toBe(true);
    expect(2 in decoded).toBe(true);
    expect(decoded[1]).toBeUndefined();
    expect(decoded[2]).toBeUndefined();
    expect(decoded[3]).toBe(4);
  });

  it('BigInt', () => {
    for (const big of [0n, -1n, 2n ** 200n, -(10n ** 50n)]) {
      expect(roundTrip(big)).toBe(big);
    }
    expect(roundTrip({ list: [1n] })).toEqual({ list: [1n] });
  });

  it('Date, also an invalid one, as a Date', () => {
    const date = new Date('2026-01-02T03:04:05.678Z');
    const decoded = roundTrip({ at: date, invalid: new Date(NaN), min: new Date(-8.64e15) }) as Record<
      string,
      Date
    >;
    expect(decoded.at).toBeInstanceOf(Date);
    expect(decoded.at?.getTime()).toBe(date.getTime());
    expect(decoded.at).not.toBe(date);
    expect(decoded.invalid).toBeInstanceOf(Date);
    expect(Number.isNaN(decoded.invalid?.getTime())).toBe(true);
    expect(decoded.min?.getTime()).toBe(-8.64e15);
  });

  it('Map with keys of any type, in insertion order', () => {
    const objectKey = { id: 1 };
    const map = new Map<unknown, unknown>([
      ['z', 1],
      [objectKey, 'object key'],
      [2, [1, 2]],
      [NaN, 'nan'],
      [undefined, null],
      [null, undefined],
      [new Date(5), new Map([[1n, new Set([1])]])],
      ['a', { '~': 'Date', v: 1 }],
    ]);
    const decoded = roundTrip(map) as Map<unknown, unknown>;
    expect(decoded).toBeInstanceOf(Map);
    expect(difference(decoded, map)).toBeUndefined();
    expect([...decoded.keys()][0]).toBe('z');
    expect([...decoded.keys()][1]).not.toBe(objectKey);
    expect(decoded.get(NaN)).toBe('nan');
    expect(decoded.has(null)).toBe(true);
  });

  it('Set, in insertion order', () => {
    const set = new Set<unknown>(['b', 'a', 1, NaN, { x: 1 }, [1], undefined]);
    const decoded = roundTrip(set) as Set<unknown>;
    expect(decoded).toBeInstanceOf(Set);
    expect(difference(decoded, set)).toBeUndefined();
    expect(decoded.has(NaN)).toBe(true);
  });

  it('Buffer comes back as a Buffer, Uint8Array as a Uint8Array', () => {
    const buffer = Buffer.from('héllo, wörld');
    const decodedBuffer = roundTrip(buffer);
    expect(Buffer.isBuffer(decodedBuffer)).toBe(true);
    expect((decodedBuffer as Buffer).equals(buffer)).toBe(true);

    const bytes = new Uint8Array([0, 1, 254, 255]);
    const decodedBytes = roundTrip(bytes);
    expect(decodedBytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(decodedBytes)).toBe(false);
    expect(difference(decodedBytes, bytes)).toBeUndefined();
  });

  it.each([
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
  ])('%o, the same class with the same elements', (View) => {
    const view = new View([0, 1, -1, 127, 255, 65535, 2 ** 31 - 1, -(2 ** 31)]);
    const decoded = roundTrip(view);
    expect(decoded).toBeInstanceOf(View);
    expect(proto(decoded)).toBe(View.prototype);
    expect([...(decoded as typeof view)]).toEqual([...view]);
  });

  it('BigInt64Array, BigUint64Array, Float64Array with NaN and -0, and DataView', () => {
    const signed = roundTrip(new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])) as BigInt64Array;
    expect(signed).toBeInstanceOf(BigInt64Array);
    expect([...signed]).toEqual([-(2n ** 63n), 0n, 2n ** 63n - 1n]);
    const unsigned = roundTrip(new BigUint64Array([2n ** 64n - 1n])) as BigUint64Array;
    expect(unsigned).toBeInstanceOf(BigUint64Array);
    expect(unsigned[0]).toBe(2n ** 64n - 1n);
    const floats = roundTrip(new Float64Array([NaN, -0, Infinity])) as Float64Array;
    expect(Object.is(floats[0], NaN)).toBe(true);
    expect(Object.is(floats[1], -0)).toBe(true);
    const view = new DataView(new ArrayBuffer(4));
    view.setUint32(0, 0xdeadbeef);
    const decodedView = roundTrip(view) as DataView;
    expect(decodedView).toBeInstanceOf(DataView);
    expect(decodedView.getUint32(0)).toBe(0xdeadbeef);
  });

  it('a view on part of a larger buffer carries only its own bytes', () => {
    const whole = new Uint16Array([1, 2, 3, 4, 5]);
    const part = whole.subarray(1, 3);
    const decoded = roundTrip(part) as Uint16Array;
    expect([...decoded]).toEqual([2, 3]);
    expect(decoded.byteOffset).toBe(0);
    expect(decoded.buffer.byteLength).toBe(4);
    const pooled = Buffer.from('ab');
    expect(pooled.buffer.byteLength).toBeGreaterThan(2);
    expect((roundTrip(pooled) as Buffer).buffer.byteLength).toBe(2);
  });

  it('ArrayBuffer', () => {
    const buffer = new Uint8Array([9, 8, 7]).buffer;
    const decoded = roundTrip(buffer);
    expect(decoded).toBeInstanceOf(ArrayBuffer);
    expect(bytesOf(decoded as ArrayBuffer)).toEqual([9, 8, 7]);
    expect((roundTrip(new ArrayBuffer(0)) as ArrayBuffer).byteLength).toBe(0);
  });

  it('RegExp, with its flags', () => {
    const decoded = roundTrip({ re: /^a+\/b\u{1F600}$/giu }) as { re: RegExp };
    expect(decoded.re).toBeInstanceOf(RegExp);
    expect(decoded.re.source).toBe('^a+\\/b\\u{1F600}$');
    expect(decoded.re.flags).toBe('giu');
    expect(decoded.re.test('AAA/b😀')).toBe(true);
  });

  it('Number, String and Boolean objects as their primitive, as JSON.stringify writes them', () => {
    expect(roundTrip([new Number(3), new String('s'), new Boolean(false), Object(5n)])).toEqual([
      3,
      's',
      false,
      5n,
    ]);
  });

  it('a null-prototype object, as a plain object', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: { c: 2 } });
    const decoded = roundTrip(bare);
    expect(proto(decoded)).toBe(Object.prototype);
    expect(difference(decoded, { a: 1, b: { c: 2 } })).toBeUndefined();
    expect(
      difference(roundTrip({ at: new Date(1), bare }), { at: new Date(1), bare: { a: 1, b: { c: 2 } } }),
    ).toBeUndefined();
  });

  it('a class instance as the plain data of its own enumerable string-keyed properties', () => {
    const point = new Point(3, 4);
    Object.defineProperty(point, 'hidden', { value: 1, enumerable: false });
    Object.assign(point, { [Symbol('s')]: 'ignored' });
    const decoded = roundTrip({ point, list: [point] });
    expect(difference(decoded, { point: { x: 3, y: 4 }, list: [{ x: 3, y: 4 }] })).toBeUndefined();
    // In the fast shape too: nothing in it needs a tag.
    expect(encodeValue(point)).toBe('j{"x":3,"y":4}');
    expect(difference(roundTrip(new Point(1, NaN)), { x: 1, y: NaN })).toBeUndefined();
  });

  it('symbol-keyed properties are ignored', () => {
    expect(difference(roundTrip({ a: 1, [Symbol('s')]: 2 }), { a: 1 })).toBeUndefined();
    expect(difference(roundTrip({ a: new Date(0), [Symbol('s')]: 2 }), { a: new Date(0) })).toBeUndefined();
  });

  it('an object with a toJSON method as its toJSON() result, called with the key as JSON.stringify does', () => {
    const keys: string[] = [];
    class Money {
      constructor(readonly cents: number) {}
      toJSON(key: string): unknown {
        keys.push(key);
        return { amount: this.cents / 100, currency: 'EUR', at: new Date(7) };
      }
    }
    const decoded = roundTrip({ price: new Money(150), list: [new Money(1)] });
    expect(
      difference(decoded, {
        price: { amount: 1.5, currency: 'EUR', at: new Date(7) },
        list: [{ amount: 0.01, currency: 'EUR', at: new Date(7) }],
      }),
    ).toBeUndefined();
    expect(keys).toEqual(['price', '0']);
    expect(roundTrip(new Money(2))).toEqual({ amount: 0.02, currency: 'EUR', at: new Date(7) });
    expect(keys[2]).toBe('');
  });

  it('the toJSON() result is not passed through toJSON again, and toJSON returning this keeps the data', () => {
    class Inner {
      p = 1;
      toJSON(): string {
        return 'inner';
      }
    }
    class Outer {
      toJSON(): Inner {
        return new Inner();
      }
    }
    class Self {
      q = 2;
      toJSON(): this {
        return this;
      }
    }
    expect(JSON.stringify({ o: new Outer() })).toBe('{"o":{"p":1}}');
    expect(roundTrip({ o: new Outer() })).toEqual({ o: { p: 1 } });
    expect(roundTrip({ o: new Outer(), d: new Date(0) })).toEqual({ o: { p: 1 }, d: new Date(0) });
    expect(roundTrip(new Self())).toEqual({ q: 2 });
    expect(roundTrip([new Inner()])).toEqual(['inner']);
  });

  it('a Date is kept as a Date, not as its toJSON() string', () => {
    expect(roundTrip([new Date(0)])).toEqual([new Date(0)]);
    expect((roundTrip([new Date(0)]) as unknown[])[0]).toBeInstanceOf(Date);
  });

  it('a shared object (not a cycle) is written twice and comes back as two objects', () => {
    const common = { n: 1 };
    for (const value of [
      { a: common, b: common },
      { a: common, b: common, at: new Date(0) },
    ]) {
      const decoded = roundTrip(value) as { a: object; b: object };
      expect(decoded.a).toEqual({ n: 1 });
      expect(decoded.b).toEqual({ n: 1 });
      expect(decoded.a).not.toBe(decoded.b);
    }
  });

  it('nesting of 1,000 levels (in both shapes)', () => {
    expect(difference(roundTrip(nested(1000, 1)), nested(1000, 1))).toBeUndefined();
    expect(encodeValue(nested(1000, 1)).startsWith('j')).toBe(true);
    expect(difference(roundTrip(nested(999, new Date(1))), nested(999, new Date(1)))).toBeUndefined();
    expect(difference(roundTrip(nested(1000, -0)), nested(1000, -0))).toBeUndefined();
  });
});

describe('no shared references', () => {
  const input = {
    list: [{ id: 1 }],
    map: new Map([['k', { v: 1 }]]),
    set: new Set([[1]]),
    bytes: new Uint8Array([1, 2]),
    buffer: Buffer.from([3, 4]),
    raw: new Uint8Array([5]).buffer,
    at: new Date(10),
  };

  it('a decoded value shares no object with the input or with another decode of the same text', () => {
    const text = encodeValue(input);
    const first = decodeValue(text)?.value;
    const second = decodeValue(text)?.value;
    expect(shared(first, input)).toBe(false);
    expect(shared(first, second)).toBe(false);
    const fast = encodeValue({ a: { b: [1] } });
    expect(shared(decodeValue(fast)?.value, decodeValue(fast)?.value)).toBe(false);
  });

  it('mutating a decoded value changes neither a second decode nor the input', () => {
    const text = encodeValue(input);
    const first = decodeValue(text)?.value as typeof input;
    first.list[0]!.id = 99;
    first.list.push({ id: 2 });
    first.map.get('k')!.v = 99;
    first.map.set('new', { v: 0 });
    [...first.set][0]!.push(2);
    first.bytes[0] = 99;
    first.buffer[0] = 99;
    new Uint8Array(first.raw)[0] = 99;
    first.at.setTime(0);
    const second = decodeValue(text)?.value;
    expect(difference(second, input)).toBeUndefined();
    expect(input.list).toEqual([{ id: 1 }]);
    expect(input.map.get('k')).toEqual({ v: 1 });
    expect([...input.bytes]).toEqual([1, 2]);
    expect(input.at.getTime()).toBe(10);
  });

  it('two decoded Buffers do not share memory (no pooled slab)', () => {
    const text = encodeValue(Buffer.from('x'));
    const a = decodeValue(text)?.value as Buffer;
    const b = decodeValue(text)?.value as Buffer;
    expect(a.buffer).not.toBe(b.buffer);
  });
});

describe('objects that look like tag nodes', () => {
  it.each<[string, unknown]>([
    ['a tag key holding a tag', { '~': 'Date', v: 0 }],
    ['an escaped-object lookalike', { '~': 'Object', v: ['a', 1] }],
    ['an undefined lookalike', { '~': 'undefined' }],
    ['a marker with odd values', { '~': null, v: undefined, f: [new Date(1)] }],
    ['nested lookalikes', { a: [{ '~': 'Map', v: [] }], '~': { '~': 'Set', v: [1] } }],
    ['a Buffer lookalike', { '~': 'Buffer', v: 'AAAA' }],
    ['a view lookalike', { '~': 'Float64Array', v: 'AAAAAAAAAAA=' }],
  ])('%s round-trips as itself, in both shapes', (_name, value) => {
    expect(difference(roundTrip(value), value)).toBeUndefined();
    const withTag = { value, tagged: -0 };
    expect(encodeValue(withTag).startsWith('t')).toBe(true);
    expect(difference(roundTrip(withTag), withTag)).toBeUndefined();
    const inMap = new Map([[value, value]]);
    expect(difference(roundTrip(inMap), inMap)).toBeUndefined();
  });

  it('keeps the key order of an object with the marker key', () => {
    const decoded = roundTrip({ b: 1, '~': 2, a: new Date(0) }) as object;
    expect(Object.keys(decoded)).toEqual(['b', '~', 'a']);
  });

  it('a string that looks like a tagged text stays a string', () => {
    for (const text of ['t{"~":"undefined"}', 'j1', '{"~":"Date","v":0}']) {
      expect(roundTrip(text)).toBe(text);
      expect(roundTrip([text, -0])).toEqual([text, -0]);
    }
  });
});

describe('with a type', () => {
  let constructed = 0;
  class User {
    declare id: number;
    declare joined: Date;
    constructor() {
      constructed++;
    }

    label(): string {
      return `user ${this.id}`;
    }
  }

  it('a plain object becomes an instance without running the constructor', () => {
    const before = constructed;
    for (const value of [{ id: 1 }, { id: 1, joined: new Date(3) }]) {
      const decoded = roundTrip(value, { type: User }) as User;
      expect(decoded).toBeInstanceOf(User);
      expect(decoded.label()).toBe('user 1');
      expect(decoded).toMatchObject(value);
    }
    expect(constructed).toBe(before);
    expect((roundTrip({ id: 1, joined: new Date(3) }, { type: User }) as User).joined).toBeInstanceOf(Date);
  });

  it('each plain-object element of an array becomes an instance; other elements and nested objects do not', () => {
    const decoded = roundTrip([{ id: 1, meta: { a: 1 } }, new Date(0), 'x', [{ id: 2 }], { id: 3 }], {
      type: User,
    }) as unknown[];
    expect(decoded[0]).toBeInstanceOf(User);
    expect((decoded[0] as { meta: object }).meta.constructor).toBe(Object);
    expect(decoded[1]).toBeInstanceOf(Date);
    expect(decoded[2]).toBe('x');
    expect((decoded[3] as unknown[])[0]).not.toBeInstanceOf(User);
    expect(decoded[4]).toBeInstanceOf(User);
  });

  it('leaves primitives, Maps and Dates as they are', () => {
    expect(roundTrip(5, { type: User })).toBe(5);
    expect(roundTrip(new Map(), { type: User })).toBeInstanceOf(Map);
    expect(roundTrip(null, { type: User })).toBeNull();
  });

  it('without a type, an instance comes back as plain data', () => {
    const user = Object.assign(Object.create(User.prototype) as User, { id: 4 });
    const decoded = roundTrip(user);
    expect(decoded).not.toBeInstanceOf(User);
    expect(proto(decoded)).toBe(Object.prototype);
  });
});

describe('unsafe payloads', () => {
  const unsafe = [
    'j{"__proto__":{"polluted":true}}',
    'j{"a":[{"b":{"constructor":{"prototype":{"polluted":true}}}}]}',
    'j[[[[{"x":{"prototype":{"polluted":true}}}]]]]',
    String.raw`j{"\u005f\u005fproto\u005f\u005f":{"polluted":true}}`,
    String.raw`j{"a":{"\u0063onstructor":{"polluted":true}}}`,
    String.raw`j{"a":{"prototyp\u0065":1}}`,
    't{"a":{"~":"undefined"},"__proto__":{"polluted":true}}',
    't{"a":[{"~":"NaN"},{"b":{"constructor":{"polluted":true}}}]}',
    String.raw`t{"a":{"~":"-0"},"\u005f\u005fproto\u005f\u005f":{"polluted":true}}`,
    't{"~":"Object","v":["__proto__",{"polluted":true}]}',
    String.raw`t{"~":"Object","v":["\u005f_proto__",{"polluted":true}]}`,
    't{"~":"Object","v":["~",1,"constructor",{"prototype":{"polluted":true}}]}',
    't{"~":"Map","v":["k",{"constructor":{"prototype":{"polluted":true}}}]}',
    't{"~":"Map","v":[{"__proto__":{"polluted":true}},1]}',
    't{"~":"Set","v":[{"x":{"prototype":{"polluted":true}}}]}',
    't[{"~":"Object","v":["~",{"__proto__":{"polluted":true}}]}]',
  ];

  it.each(unsafe)('%s decodes as a miss and pollutes nothing', (text) => {
    expect(decodeValue(text)).toBeUndefined();
    class Target {}
    expect(decodeValue(text, { type: Target })).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Target.prototype, 'polluted')).toBe(false);
  });

  it('the same texts without the forbidden keys decode (the check is on keys, not on the words)', () => {
    for (const text of unsafe) {
      const renamed = text
        .replaceAll('__proto__', '__proto_x')
        .replaceAll('constructor', 'constructox')
        .replaceAll('prototype', 'prototypx')
        .replaceAll(String.raw`\u005f\u005fproto\u005f\u005f`, '__proto_x')
        .replaceAll(String.raw`\u005f_proto__`, '__proto_x')
        .replaceAll(String.raw`\u0063onstructor`, 'constructox')
        .replaceAll(String.raw`prototyp\u0065`, 'prototypx');
      expect(decodeValue(renamed), renamed).toBeDefined();
    }
  });

  it('the words in values, and \\u escapes in values, are fine', () => {
    const value = { text: 'the constructor.prototype of __proto__', control: '\u0001', lone: '\udc00' };
    expect(encodeValue(value)).toContain('\\u');
    expect(roundTrip(value)).toEqual(value);
    expect(roundTrip({ ...value, at: new Date(0) })).toEqual({ ...value, at: new Date(0) });
    const map = new Map([['__proto__', 'constructor']]);
    expect(roundTrip(map)).toEqual(map);
  });

  it('encodeValue refuses a forbidden key rather than write a value that always misses', () => {
    const own = JSON.parse('{"a":{"__proto__":1}}') as unknown;
    expect(encodingError(own).message).toBe('cannot cache the reserved key "__proto__" at .a');
    expect(encodingError({ constructor: 'x' }).path).toBe('');
    expect(encodingError({ list: [{ prototype: 1, at: new Date(0) }] }).path).toBe('.list[0]');
  });
});

describe('corrupt texts', () => {
  it.each([
    '',
    'j',
    't',
    'x{}',
    'J{}',
    '{}',
    ' j{}',
    'j{',
    'j{"a":1',
    'j[1,]',
    'jundefined',
    't{"~":"Nope"}',
    't{"~":"Nope","v":1}',
    't{"~":1}',
    't{"~":null}',
    't{"~":{}}',
    't{"~":"constructor","v":"AAAA"}',
    't{"~":"toString","v":"AAAA"}',
    't{"~":"undefined","v":1}',
    't{"~":"NaN","x":1}',
    't{"~":"Date"}',
    't{"~":"Date","v":"2020-01-01"}',
    't{"~":"Date","v":1.5}',
    't{"~":"Date","v":9e15}',
    't{"~":"Date","v":1,"x":2}',
    't{"~":"BigInt","v":"12a"}',
    't{"~":"BigInt","v":"01"}',
    't{"~":"BigInt","v":12}',
    't{"~":"Map","v":[1]}',
    't{"~":"Map","v":{}}',
    't{"~":"Set","v":1}',
    't{"~":"Object","v":[1,2]}',
    't{"~":"Object","v":["a"]}',
    't{"~":"Buffer","v":"not base64!"}',
    't{"~":"Buffer","v":"abc"}',
    't{"~":"Buffer","v":5}',
    't{"~":"ArrayBuffer","v":"A==="}',
    't{"~":"Float64Array","v":"AAAA"}',
    't{"~":"Uint16Array","v":"AA=="}',
    't{"~":"RegExp","v":"(","f":""}',
    't{"~":"RegExp","v":"a","f":"x"}',
    't{"~":"RegExp","v":"a"}',
    't[{"~":"Date","v":"x"}]',
    `t${JSON.stringify(nested(1001, 1))}`,
  ])('%s decodes as a miss', (text) => {
    expect(decodeValue(text)).toBeUndefined();
  });

  it('a non-string decodes as a miss', () => {
    for (const input of [undefined, null, 5, {}, Buffer.from('j1')] as unknown[]) {
      expect(decodeValue(input as string)).toBeUndefined();
    }
  });

  it('every truncation of an object text decodes as a miss', () => {
    const value = {
      a: [1, 'two', { three: new Date(3) }],
      m: new Map([[1, new Set([2n])]]),
      b: Buffer.from('xy'),
    };
    for (const text of [encodeValue(value), encodeValue({ a: [1, 'two', { three: 3 }] })]) {
      expect(decodeValue(text)).toBeDefined();
      for (let length = 0; length < text.length; length++) {
        expect(decodeValue(text.slice(0, length)), text.slice(0, length)).toBeUndefined();
      }
    }
  });

  it('never throws on randomly damaged texts', () => {
    const random = prng(7);
    const text = encodeValue({
      a: [1, 'two', { three: new Date(3) }],
      m: new Map<unknown, unknown>([[1, new Set([2n, -0])]]),
      b: new Float32Array([1.5]),
      r: /x/g,
      u: undefined,
    });
    const alphabet = '{}[]":,~tjvf0123456789-.eEnul\\ab';
    for (let i = 0; i < 3000; i++) {
      const chars = [...text];
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const pick = alphabet[Math.floor(random() * alphabet.length)] ?? '';
        const kind = random();
        if (kind < 0.4) chars[at] = pick;
        else if (kind < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, pick);
      }
      expect(() => decodeValue(chars.join(''))).not.toThrow();
    }
  });
});

describe('maxBytes', () => {
  it('decodes a text of exactly maxBytes and misses one byte less', () => {
    const text = encodeValue({ list: Array.from({ length: 50 }, (_, i) => i) });
    expect(decodeValue(text, { maxBytes: text.length })).toBeDefined();
    expect(decodeValue(text, { maxBytes: text.length - 1 })).toBeUndefined();
    expect(decodeValue(text, { maxBytes: text.length * 3 })).toBeDefined();
  });

  it('counts UTF-8 bytes, not UTF-16 code units', () => {
    const text = encodeValue('é€😀'.repeat(100));
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeGreaterThan(text.length);
    expect(decodeValue(text, { maxBytes: bytes })).toBeDefined();
    expect(decodeValue(text, { maxBytes: bytes - 1 })).toBeUndefined();
    expect(decodeValue(text, { maxBytes: text.length })).toBeUndefined();
  });

  it('misses a tagged text over the limit too', () => {
    const text = encodeValue(new Map([[1, 'x'.repeat(1000)]]));
    expect(decodeValue(text, { maxBytes: 1000 })).toBeUndefined();
    expect(decodeValue(text, { maxBytes: 2000 })).toBeDefined();
  });
});

describe('values that cannot be stored', () => {
  it('a function, with its path', () => {
    const error = encodingError({ items: [1, 2, { fn: () => 1 }] });
    expect(error).toBeInstanceOf(ValueEncodingError);
    expect(error).toBeInstanceOf(CacheError);
    expect(error.code).toBe('E_CACHE_VALUE');
    expect(error.name).toBe('ValueEncodingError');
    expect(error.what).toBe('a function');
    expect(error.path).toBe('.items[2].fn');
    expect(error.message).toBe('cannot cache a function at .items[2].fn');
  });

  it.each<[string, () => unknown, string, string]>([
    ['a function as the value', () => () => 1, 'a function', ''],
    ['a class', () => ({ type: Point }), 'a function', '.type'],
    ['a symbol', () => ({ s: Symbol('s') }), 'a symbol', '.s'],
    ['a Symbol object', () => [Object(Symbol('s')) as object], 'a symbol', '[0]'],
    ['a cycle', () => cyclic(), 'a cycle', '.child.parent'],
    ['a self-reference', () => selfReferencing(), 'a cycle', '.parent'],
    ['an array cycle', () => arrayCycle(), 'a cycle', '[1]'],
    ['a cycle through a Map', () => mapCycle(), 'a cycle', '.get("self")'],
    ['a Promise', () => ({ pending: Promise.resolve(1) }), 'a Promise', '.pending'],
    [
      'a thenable',
      () => [
        new (class {
          then(): void {}
        })(),
      ],
      'a Promise',
      '[0]',
    ],
    ['a stream', () => ({ body: new PassThrough() }), 'a stream', '.body'],
    [
      'an object with a pipe method',
      () => ({
        body: new (class {
          pipe(): void {}
        })(),
      }),
      'a stream',
      '.body',
    ],
    [
      'an Observable',
      () => ({
        o: new (class {
          pipe(): void {}
          subscribe(): void {}
        })(),
      }),
      'an Observable',
      '.o',
    ],
    ['an async iterator', () => ({ rows: (async function* () {})() }), 'an async iterator', '.rows'],
    ['a generator', () => ({ rows: (function* () {})() }), 'a generator', '.rows'],
    ['a WeakMap', () => ({ cache: new WeakMap() }), 'a WeakMap', '.cache'],
    ['a WeakSet', () => ({ seen: new WeakSet() }), 'a WeakSet', '.seen'],
    ['a WeakRef', () => ({ ref: new WeakRef({}) }), 'a WeakRef', '.ref'],
    ['a SharedArrayBuffer', () => ({ mem: new SharedArrayBuffer(1) }), 'a SharedArrayBuffer', '.mem'],
    ['a Map iterator', () => ({ keys: new Map([[1, 2]]).keys() }), 'an iterator', '.keys'],
    ['an array iterator', () => [[1, 2].values()], 'an iterator', '[0]'],
    ['an Error', () => ({ failure: new RangeError('out of range') }), 'an Error', '.failure'],
    ['a URL', () => ({ next: new URL('https://example.com/a') }), 'a URL', '.next'],
    ['a URLSearchParams', () => ({ query: new URLSearchParams('a=1') }), 'a URLSearchParams', '.query'],
    ['a Set iterator', () => ({ entries: new Set([1]).entries() }), 'an iterator', '.entries'],
    ['a Blob', () => ({ file: new Blob(['x']) }), 'a Blob', '.file'],
    ['a function in a Map value', () => new Map([['k', { f: () => 1 }]]), 'a function', '.get("k").f'],
    ['a function in a Map key', () => new Map([[() => 1, 1]]), 'a function', '<Map key #0>'],
    ['a function under an object key', () => new Map([[{}, () => 1]]), 'a function', '.get(<key #0>)'],
    ['a function in a Set', () => ({ s: new Set([1, () => 1]) }), 'a function', '.s<Set item #1>'],
    ['an odd key', () => ({ 'a b': [Symbol('x')] }), 'a symbol', '["a b"][0]'],
    ['a toJSON result', () => ({ x: { toJSON: () => () => 1 } }), 'a function', '.x.toJSON()'],
    ['a toJSON cycle', () => toJSONCycle(), 'a cycle', '.toJSON().self'],
    [
      'nesting of 1,001 levels',
      () => nested(1001, 1),
      'a value nested deeper than 1000 levels',
      '[0]'.repeat(1000),
    ],
    [
      'nesting of 1,001 levels with a tag',
      () => nested(1000, new Date(0)),
      'a value nested deeper than 1000 levels',
      '[0]'.repeat(1000),
    ],
  ])('%s', (_name, make, what, path) => {
    const error = encodingError(make());
    expect(error.what).toBe(what);
    expect(error.path).toBe(path);
    const shown = path.length > 160 ? `${path.slice(0, 80)}…${path.slice(-80)}` : path;
    expect(error.message).toBe(`cannot cache ${what} ${path === '' ? 'as the value itself' : `at ${shown}`}`);
  });

  function cyclic(): unknown {
    const root: Record<string, unknown> = { name: 'root' };
    root.child = { parent: root };
    return root;
  }

  function selfReferencing(): unknown {
    const node: Record<string, unknown> = { name: 'node' };
    node.parent = node;
    return node;
  }

  function arrayCycle(): unknown {
    const list: unknown[] = [1];
    list.push(list);
    return list;
  }

  function mapCycle(): unknown {
    const map = new Map<string, unknown>();
    map.set('self', map);
    return map;
  }

  function toJSONCycle(): unknown {
    const value = {
      toJSON(): unknown {
        return { self: value };
      },
    };
    return value;
  }
});

// ---------------------------------------------------------------------------------------------------------
// Property test

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates [value, what decoding it must give] pairs mixing every supported type. */
class Generator {
  constructor(private readonly random: () => number) {}

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  private string(): string {
    const pieces = ['a', 'z', ' ', '"', '\\', '\n', '\u0000', '\u001f', 'é', '€', '😀', '\ud800', '~', '_'];
    const words = ['constructor', '__proto__', 'prototype', '\\u0041', 'j', 't{', '{"~":"Date"}'];
    let out = '';
    const length = this.int(8);
    for (let i = 0; i < length; i++) out += this.random() < 0.1 ? this.pick(words) : this.pick(pieces);
    return out;
  }

  private key(): string {
    const key =
      this.random() < 0.7
        ? this.pick([
            'a',
            'b',
            'id',
            'name',
            '~',
            'v',
            'f',
            '',
            '0',
            '7',
            '10',
            'a b',
            'é',
            '~~',
            'toJSON',
            'then',
          ])
        : this.string();
    // A forbidden key cannot be stored (and `__proto__` would set the prototype here).
    return key === '__proto__' || key === 'constructor' || key === 'prototype' ? 'x' : key;
  }

  private bytes(length: number): number[] {
    return Array.from({ length }, () => this.int(256));
  }

  private leaf(): unknown {
    switch (this.int(18)) {
      case 0:
        return this.string();
      case 1:
        return this.int(2000) - 1000;
      case 2:
        return (this.random() - 0.5) * 10 ** (this.int(40) - 20);
      case 3:
        return this.pick([NaN, Infinity, -Infinity, -0, 0, Number.MAX_VALUE, Number.MIN_VALUE]);
      case 4:
        return this.random() < 0.5;
      case 5:
        return null;
      case 6:
        return undefined;
      case 7:
        return BigInt(this.int(1e9)) * BigInt(this.int(1e9)) * (this.random() < 0.5 ? -1n : 1n);
      case 8:
        return this.random() < 0.2 ? new Date(NaN) : new Date(this.int(4e12) - 1e12);
      case 9:
        return new RegExp(
          this.pick(['a+', '^x$', '\\d{2}', '[é]', '']),
          this.pick(['', 'g', 'gi', 'u', 'sy']),
        );
      case 10:
        return Buffer.from(this.bytes(this.int(20)));
      case 11:
        return new Uint8Array(this.bytes(this.int(10)));
      case 12: {
        const View = this.pick([
          Int8Array,
          Uint8ClampedArray,
          Int16Array,
          Uint16Array,
          Int32Array,
          Uint32Array,
        ]);
        const bytes = new Uint8Array(this.bytes(this.int(5) * 4)).buffer;
        return new View(bytes);
      }
      case 13: {
        const View = this.pick([Float32Array, Float64Array, BigInt64Array, BigUint64Array]);
        return new View(new Uint8Array(this.bytes(this.int(4) * 8)).buffer);
      }
      case 14:
        return new Uint8Array(this.bytes(this.int(10))).buffer;
      case 15:
        return new DataView(new Uint8Array(this.bytes(this.int(10))).buffer);
      default: {
        const whole = new Uint16Array(this.bytes(6));
        return whole.subarray(1, 1 + this.int(5));
      }
    }
  }

  /**
   * [input, what decoding its text must give]. `plainResult`: no object with a toJSON method here (a
   * toJSON() result is not passed through toJSON again, so its own toJSON function would not be data).
   */
  value(depth: number, plainResult = false): [unknown, unknown] {
    if (depth > 4 || this.random() < 0.35) {
      const leaf = this.leaf();
      return [leaf, leaf];
    }
    const size = this.int(5);
    switch (this.int(plainResult ? 7 : 9)) {
      case 0: {
        const input: unknown[] = [];
        const expected: unknown[] = [];
        for (let i = 0; i < size; i++) {
          if (this.random() < 0.1) {
            input.length++;
            expected.push(undefined);
            continue;
          }
          const [v, e] = this.value(depth + 1);
          input.push(v);
          expected.push(e);
        }
        return [input, expected];
      }
      case 1:
      case 2: {
        const input: Record<string, unknown> = {};
        const expected: Record<string, unknown> = {};
        for (let i = 0; i < size; i++) {
          const key = this.key();
          const [v, e] = this.value(depth + 1);
          input[key] = v;
          expected[key] = e;
        }
        return [input, expected];
      }
      case 3: {
        const input = Object.create(null) as Record<string, unknown>;
        const expected: Record<string, unknown> = {};
        for (let i = 0; i < size; i++) {
          const key = this.key();
          const [v, e] = this.value(depth + 1);
          input[key] = v;
          expected[key] = e;
        }
        return [input, expected];
      }
      case 4: {
        const input = new Map<unknown, unknown>();
        const expected = new Map<unknown, unknown>();
        for (let i = 0; i < size; i++) {
          const [k, ek] = this.value(depth + 1);
          const [v, e] = this.value(depth + 1);
          if (input.has(k)) continue;
          input.set(k, v);
          expected.set(ek, e);
        }
        return [input, expected];
      }
      case 5: {
        const input = new Set<unknown>();
        const expected = new Set<unknown>();
        for (let i = 0; i < size; i++) {
          const [v, e] = this.value(depth + 1);
          if (input.has(v)) continue;
          input.add(v);
          expected.add(e);
        }
        return [input, expected];
      }
      case 6: {
        const [x, ex] = this.value(depth + 1);
        const [y, ey] = this.value(depth + 1);
        return [new Point(x as number, y as number), { x: ex, y: ey }];
      }
      case 7: {
        const [inner, expected] = this.value(depth + 1, true);
        return [{ toJSON: (): unknown => inner }, expected];
      }
      default: {
        // Objects that look like tag nodes.
        const tag = this.pick(['Date', 'Object', 'Map', 'undefined', 'Buffer', 'Float64Array']);
        const [v, e] = this.value(depth + 1);
        const [w, f] = this.value(depth + 1);
        return [
          { '~': tag, v, w },
          { '~': tag, v: e, w: f },
        ];
      }
    }
  }
}

describe('property: decodeValue(encodeValue(v)) is v', () => {
  it('for 2,000 generated nested values of every type', () => {
    const generator = new Generator(prng(20_261_201));
    let tagged = 0;
    for (let i = 0; i < 2000; i++) {
      const [input, expected] = generator.value(0);
      const text = encodeValue(input);
      if (text.startsWith('t')) tagged++;
      const first = decodeValue(text);
      const second = decodeValue(text);
      expect(first, text).toBeDefined();
      const found = difference(first?.value, expected);
      if (found !== undefined) expect.fail(`value #${i} ${text}: ${found}`);
      expect(first?.value).toEqual(expected);
      expect(shared(first?.value, second?.value)).toBe(false);
      expect(shared(first?.value, input)).toBe(false);
    }
    // Both shapes were exercised.
    expect(tagged).toBeGreaterThan(400);
    expect(tagged).toBeLessThan(1900);
  });
});
