import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { encodeKeySegment } from '../engine/key-segment.js';
import { argumentsKey, type ArgumentsKey } from './argument-key.js';

/** Every key: `:`-joined segments of characters `encodeKeySegment` and the hash may write, never empty or `_`. */
const KEY_SHAPE = /^(?:[A-Za-z0-9_.~%#-]+)?(?::[A-Za-z0-9_.~%#-]+)*$/;
/** A hashed segment: `#` then the 43 base64url characters of a SHA-256. */
const HASHED = /^#[A-Za-z0-9_-]{43}$/;

const sha = (text: string) => `#${createHash('sha256').update(text).digest('base64url')}`;

function keyOf(...args: unknown[]): string {
  const result = argumentsKey(args);
  if (!('key' in result)) throw new Error(`expected a key for ${inspect(args)}, got ${result.unencodable}`);
  return result.key;
}

function reasonOf(...args: unknown[]): string {
  const result = argumentsKey(args);
  if (!('unencodable' in result)) throw new Error(`expected no key for ${inspect(args)}, got ${result.key}`);
  return result.unencodable;
}

/** What is wrong with a key for a call of `arity` arguments, if anything. */
function shapeProblem(key: string, arity: number): string | undefined {
  if (!KEY_SHAPE.test(key)) return `bad characters in ${key}`;
  if (arity === 0) return key === '' ? undefined : `${key} for no arguments`;
  const segments = key.split(':');
  if (segments.length !== arity) return `${segments.length} segments in ${key} for ${arity} arguments`;
  for (const segment of segments) {
    if (segment === '' || segment === '_') return `segment '${segment}' in ${key}`;
    if (segment.includes('#') ? !HASHED.test(segment) : segment.length > 128 * 9) return `segment ${segment}`;
  }
  return undefined;
}

/** Checks a key's shape for a call of `arity` arguments; returns its segments. */
function segmentsOf(key: string, arity: number): string[] {
  expect(shapeProblem(key, arity)).toBeUndefined();
  return arity === 0 ? [] : key.split(':');
}

describe('argumentsKey', () => {
  it('keys a call without arguments as the empty string, and takes any array-like', () => {
    expect(argumentsKey([])).toEqual({ key: '' });
    function call(..._args: unknown[]): ArgumentsKey {
      // eslint-disable-next-line prefer-rest-params
      return argumentsKey(arguments);
    }
    expect(call(1, 'a')).toEqual({ key: 'n1:sa' });
    expect(argumentsKey({ length: 2, 0: true })).toEqual({ key: 't:u' });
  });

  it('writes each argument as one type-tagged segment', () => {
    expect(keyOf(42)).toBe('n42');
    expect(keyOf('abc')).toBe('sabc');
    expect(keyOf({ page: 2, size: 10 })).toBe('O2~page~n2~size~n10');
    expect(keyOf(1, '1', 1n, true, false, null, undefined)).toBe('n1:s1:b1:t:f:z:u');
    expect(keyOf([1, 'a', [], {}])).toBe('A4~n1~sa~A0~O0');
    expect(keyOf(new Map([['a', 1]]), new Set([2, 1]))).toBe('M1~sa~n1:S2~n1~n2');
    expect(keyOf(new Date(0), Buffer.from('hi'), new Int16Array([1]))).toBe('D0:BaGk:VInt16Array.AQA');
    expect(keyOf('a:b c', ['a:b'])).toBe('sa%3Ab%20c:A1~%22a%3Ab%22');
  });

  it('never gives two of these the same key', () => {
    const date = new Date('2024-05-01T10:00:00.000Z');
    const values: [string, unknown][] = [
      ['1', 1],
      ["'1'", '1'],
      ['1n', 1n],
      ['true', true],
      ["'true'", 'true'],
      ['null', null],
      ["'null'", 'null'],
      ['undefined', undefined],
      ["'undefined'", 'undefined'],
      ["''", ''],
      ["'u'", 'u'],
      ["'n1'", 'n1'],
      ['[1]', [1]],
      ["['1']", ['1']],
      ['[[1]]', [[1]]],
      ['[]', []],
      ['[undefined]', [undefined]],
      ['[null]', [null]],
      ['{ 0: 1 }', { 0: 1 }],
      ["{ '0': '1' }", { 0: '1' }],
      ['{}', {}],
      ['{ a: undefined }', { a: undefined }],
      ['{ a: null }', { a: null }],
      ['a Date', date],
      ['its ISO string', date.toISOString()],
      ['its time', date.getTime()],
      ["Map { 'a' => 1 }", new Map([['a', 1]])],
      ['{ a: 1 }', { a: 1 }],
      ["[['a', 1]]", [['a', 1]]],
      ['Map { 1 => 1 }', new Map([[1, 1]])],
      ['Set { 1 }', new Set([1])],
      ['Set {}', new Set()],
      ['Map {}', new Map()],
      ['Buffer [1]', Buffer.from([1])],
      ['Int8Array [1]', new Int8Array([1])],
      ['Uint16Array [1]', new Uint16Array([1])],
      ["'a,b'", 'a,b'],
      ["['a', 'b']", ['a', 'b']],
      ["['a,b']", ['a,b']],
      ["['a~b']", ['a~b']],
      ["['a', '~b']", ['a', '~b']],
      ["'a:b'", 'a:b'],
      ['\'"a"\'', '"a"'],
      ['[\'"a"\']', ['"a"']],
      ["'[1]'", '[1]'],
      ["'{}'", '{}'],
      ["'A1~n1'", 'A1~n1'],
      ["['A1~n1']", ['A1~n1']],
      ["{ a: 'b' }", { a: 'b' }],
      ["{ a: 'b', c: 'd' }", { a: 'b', c: 'd' }],
      ["{ 'a~b': 'c' }", { 'a~b': 'c' }],
      ["{ a: '~b~c' }", { a: '~b~c' }],
      ["{ '': 'a' }", { '': 'a' }],
      ['{ sa: 1 }', { sa: 1 }],
      ["[['a~A1'], 'b']", [['a~A1'], 'b']],
      ["[['a'], ['b']]", [['a'], ['b']]],
      ["{ k: ['b'] }", { k: ['b'] }],
      ["{ 'k~A1': 'b' }", { 'k~A1': 'b' }],
      ["{ k: 'b~A0' }", { k: 'b~A0' }],
      ["{ k: 'b', '~A0': 1 }", { k: 'b', '~A0': 1 }],
      ['NaN', NaN],
      ["'NaN'", 'NaN'],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['1e21', 1e21],
      ["'%41'", '%41'],
      ["'A'", 'A'],
    ];
    const seen = new Map<string, string>();
    for (const [name, value] of values) {
      const key = keyOf(value);
      segmentsOf(key, 1);
      expect(seen.get(key), `${name} and ${seen.get(key)} share ${key}`).toBeUndefined();
      seen.set(key, name);
    }
    expect(keyOf('a', 'b')).not.toBe(keyOf('a:b'));
    expect(keyOf(1)).not.toBe(keyOf(1, undefined));
  });

  it('gives equal arguments the same key', () => {
    const nullProto = Object.assign(Object.create(null) as object, { b: 2, a: 1 });
    const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const pairs: [unknown, unknown][] = [
      [
        { a: 1, b: 2 },
        { b: 2, a: 1 },
      ],
      [{ a: 1, b: 2 }, nullProto],
      [{ x: { c: 3, d: [{ f: 1, e: 2 }] } }, { x: { d: [{ e: 2, f: 1 }], c: 3 } }],
      [
        new Map<unknown, unknown>([
          ['a', 1],
          [2, 'b'],
        ]),
        new Map<unknown, unknown>([
          [2, 'b'],
          ['a', 1],
        ]),
      ],
      [new Set([1, 'a', null]), new Set([null, 'a', 1])],
      [new Set([{ a: 1 }, { b: 2 }]), new Set([{ b: 2 }, { a: 1 }])],
      [new Date(1_700_000_000_000), new Date(1_700_000_000_000)],
      [new Date(NaN), new Date('not a date')],
      [0, -0],
      [[0], [-0]],
      [NaN, 0 / 0],
      [{ n: NaN }, { n: Number('x') }],
      [Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])],
      [new Uint8Array([9, 1, 2, 3]).subarray(1), Buffer.from([1, 2, 3])],
      [sparse, [1, undefined, 3]],
      ['a'.repeat(500), 'a'.repeat(500)],
    ];
    for (const [a, b] of pairs) expect(keyOf(a), inspect([a, b])).toBe(keyOf(b));
  });

  it('writes every segment as encodeKeySegment of its canonical form', () => {
    let ascii = '';
    for (let code = 0; code < 128; code++) ascii += String.fromCharCode(code);
    for (const text of [ascii.slice(0, 64), ascii.slice(64), 'é😀 ü', 'a\uD800b', '\uDC00', '~!*()\'"']) {
      expect(keyOf(text)).toBe(encodeKeySegment(`s${text}`));
    }
    expect(keyOf(1e21, -1e-7, 12345678901234567890n)).toBe(
      ['n1e+21', 'n-1e-7', 'b12345678901234567890'].map((form) => encodeKeySegment(form)).join(':'),
    );
    expect(keyOf({ 'a b': 'é', '': ['x"y'] })).toBe(encodeKeySegment('O2~~A1~"x\\"y"~"a b"~"é"'));
  });

  it('writes canonical forms longer than 128 characters as their hash', () => {
    expect(keyOf('x'.repeat(127))).toBe(`s${'x'.repeat(127)}`);
    expect(keyOf('x'.repeat(128))).toBe(sha(`s${'x'.repeat(128)}`));
    expect(keyOf(['y'.repeat(124)])).toBe(`A1~s${'y'.repeat(124)}`);
    expect(keyOf(['y'.repeat(125)])).toBe(sha(`A1~s${'y'.repeat(125)}`));
    expect(keyOf(10n ** 130n)).toBe(sha(`b${10n ** 130n}`));
  });

  it('keeps long arguments bounded, and their hashes apart', () => {
    const big = { rows: Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `row ${i}` })) };
    const key = keyOf('z'.repeat(1_000_000), big, 'é'.repeat(128));
    const segments = segmentsOf(key, 3);
    for (const segment of segments) expect(segment).toMatch(HASHED);
    expect(key.length).toBe(44 * 3 + 2);
    expect(keyOf('é'.repeat(127))).toHaveLength(1 + 6 * 127);

    const otherBig = structuredClone(big);
    (otherBig.rows[9_999] as { name: string }).name = 'row 9998';
    expect(keyOf(otherBig)).not.toBe(keyOf(big));
    // UTF-8 would turn both lone surrogates into U+FFFD.
    expect(keyOf(`\uD800${'x'.repeat(200)}`)).not.toBe(keyOf(`\uDBFF${'x'.repeat(200)}`));
    expect(keyOf(`\uD800${'x'.repeat(200)}`)).not.toBe(keyOf(`\uFFFD${'x'.repeat(200)}`));
    expect(keyOf(`😀${'x'.repeat(200)}`)).toBe(sha(`s😀${'x'.repeat(200)}`));
  });

  it('keys a value reached twice without a cycle', () => {
    const shared = { a: 1 };
    expect(keyOf([shared, shared])).toBe(keyOf([{ a: 1 }, { a: 1 }]));
    expect(keyOf({ x: shared, y: [shared] }, shared)).toBe(keyOf({ x: { a: 1 }, y: [{ a: 1 }] }, { a: 1 }));
  });

  it('keys 100 nested containers and refuses 101', () => {
    const nest = (depth: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { v: value };
      return value;
    };
    expect(keyOf(nest(100))).toMatch(HASHED);
    expect(reasonOf(nest(101))).toMatch(/^nesting deeper than 100 at args\[0\]/);
  });

  it('refuses what it cannot key honestly, saying what and where', () => {
    class User {
      constructor(readonly id = 1) {}
    }
    class Empty {}
    class Thenable {
      then(): void {}
    }
    class MyDate extends Date {}
    class MyArray extends Array<number> {}
    class MyMap extends Map<string, number> {}
    class MyBytes extends Uint8Array {}
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cyclicArray: unknown[] = [1];
    cyclicArray.push([cyclicArray]);
    const cyclicMap = new Map<string, unknown>();
    cyclicMap.set('me', cyclicMap);
    const cyclicSet = new Set<unknown>();
    cyclicSet.add(cyclicSet);
    async function* generate(): AsyncGenerator<number> {
      yield 1;
    }
    const promise = Promise.resolve(1);

    const cases: [string, unknown[], RegExp][] = [
      ['a function', [() => 1], /^a function at args\[0\]$/],
      ['a named function', [1, function load() {}], /^a function \(load\) at args\[1\]$/],
      ['a method', [{ user: { save() {} } }], /^a function \(save\) at args\[0\]\.user\.save$/],
      ['a class', [User], /^a function \(User\) at args\[0\]$/],
      ['a symbol', [Symbol('x')], /^a symbol at args\[0\]$/],
      ['a nested symbol', [{ tags: ['a', Symbol.iterator] }], /^a symbol at args\[0\]\.tags\[1\]$/],
      [
        'a property keyed by a symbol',
        [{ where: { [Symbol('tenant')]: 'globex' } }],
        /^a property keyed by a symbol \(Symbol\(tenant\)\) at args\[0\]\.where$/,
      ],
      ['a class instance', [new User()], /^an instance of User at args\[0\]$/],
      ['an empty class instance', [{ 'a b': new Empty() }], /^an instance of Empty at args\[0\]\["a b"\]$/],
      ['a Promise', [promise], /^a Promise at args\[0\]$/],
      ['a thenable', [new Thenable()], /^a thenable \(Thenable\) at args\[0\]$/],
      ['a stream', [Readable.from(['a'])], /^a stream \(Readable\) at args\[0\]$/],
      ['an async generator', [generate()], /^an async iterator \(AsyncGenerator\) at args\[0\]$/],
      ['an async iterable', [{ [Symbol.asyncIterator]: generate }], /^an async iterator at args\[0\]$/],
      ['a WeakMap', [new WeakMap()], /^a WeakMap at args\[0\]$/],
      ['a WeakSet', [[new WeakSet()]], /^a WeakSet at args\[0\]\[0\]$/],
      ['a WeakRef', [new WeakRef({})], /^a WeakRef at args\[0\]$/],
      ['a cyclic object', [cyclic], /^a cycle at args\[0\]\.self$/],
      ['a cyclic array', [cyclicArray], /^a cycle at args\[0\]\[1\]\[0\]$/],
      ['a cyclic Map', [cyclicMap], /^a cycle at args\[0\]<map value 0>$/],
      ['a cyclic Set', [cyclicSet], /^a cycle at args\[0\]<set member 0>$/],
      ['a bad Map key', [new Map([[new User(), 1]])], /^an instance of User at args\[0\]<map key 0>$/],
      ['a Date subclass', [new MyDate(0)], /^an instance of MyDate at args\[0\]$/],
      ['an Array subclass', [MyArray.from([1])], /^an instance of MyArray at args\[0\]$/],
      ['a Map subclass', [new MyMap()], /^an instance of MyMap at args\[0\]$/],
      ['a Uint8Array subclass', [new MyBytes(1)], /^an instance of MyBytes at args\[0\]$/],
      ['a fake Date', [Object.create(Date.prototype)], /^an instance of Date at args\[0\]$/],
      ['a boxed number', [Object(1)], /^an instance of Number at args\[0\]$/],
      ['a RegExp', [/a/], /^an instance of RegExp at args\[0\]$/],
      ['an Error', [new Error('x')], /^an instance of Error at args\[0\]$/],
      ['an ArrayBuffer', [new ArrayBuffer(1)], /^an instance of ArrayBuffer at args\[0\]$/],
      ['a URL', [new URL('http://a')], /^an instance of URL at args\[0\]$/],
    ];
    for (const [name, args, reason] of cases) expect(reasonOf(...args), name).toMatch(reason);
  });

  it('refuses an argument whose getter throws', () => {
    const hostile = {
      get value(): never {
        throw new Error('boom');
      },
    };
    expect(reasonOf(1, hostile)).toBe('reading args[1] threw: boom');
  });
});

describe('argumentsKey (generated calls)', () => {
  it('gives 10,000 generated pairs of calls equal keys exactly when their arguments are equal', () => {
    const rng = mulberry32(0x5eed);
    const failures: string[] = [];
    const firstByKey = new Map<string, unknown[]>();
    const corpus: { args: unknown[]; key: string }[] = [];
    let equalPairs = 0;
    let unequalPairs = 0;

    const record = (args: unknown[]): string => {
      const result = argumentsKey(args);
      if (!('key' in result)) throw new Error(`no key for ${inspect(args)}: ${result.unencodable}`);
      const problem = shapeProblem(result.key, args.length);
      if (problem !== undefined && failures.length < 5) failures.push(problem);
      const first = firstByKey.get(result.key);
      if (first === undefined) firstByKey.set(result.key, args);
      else if (!sameArgs(first, args) && failures.length < 5) {
        failures.push(`collision on ${result.key}: ${inspect(first)} vs ${inspect(args)}`);
      }
      corpus.push({ args, key: result.key });
      return result.key;
    };

    for (let i = 0; i < 10_000; i++) {
      const a = generateArgs(rng);
      const rate = pick(rng, [0, 0.05, 0.15, 0.3, 0.5]);
      const b = variantArgs(rng, a, rate);
      const keyA = record(a);
      const keyB = record(b);
      const equal = sameArgs(a, b);
      if (equal) equalPairs++;
      else unequalPairs++;
      if ((keyA === keyB) !== equal && failures.length < 5) {
        failures.push(
          `${equal ? 'equal' : 'unequal'} calls ${inspect(a)} / ${inspect(b)}: ${keyA} / ${keyB}`,
        );
      }
    }

    // Every pair among the first calls, generated independently of each other.
    const sample = corpus.slice(0, 1_200);
    let sampleEqual = 0;
    for (let i = 0; i < sample.length; i++) {
      for (let j = i + 1; j < sample.length; j++) {
        const x = sample[i];
        const y = sample[j];
        if (x === undefined || y === undefined) continue;
        const equal = sameArgs(x.args, y.args);
        if (equal) sampleEqual++;
        if ((x.key === y.key) !== equal && failures.length < 5) {
          failures.push(`${inspect(x.args)} / ${inspect(y.args)}: ${x.key} / ${y.key}`);
        }
      }
    }

    expect(failures).toEqual([]);
    expect(equalPairs).toBeGreaterThan(4_000);
    expect(unequalPairs).toBeGreaterThan(2_500);
    expect(sampleEqual).toBeGreaterThan(1_000);
    expect(firstByKey.size).toBeGreaterThan(7_000);
  });

  it('is checked by a reference equality that tells near misses apart', () => {
    expect(same(0, -0)).toBe(true);
    expect(same(NaN, NaN)).toBe(true);
    expect(same(1, '1')).toBe(false);
    expect(same({ a: undefined }, {})).toBe(false);
    expect(same({ a: undefined }, { a: null })).toBe(false);
    expect(same([undefined], [])).toBe(false);
    expect(same(new Map([['a', 1]]), { a: 1 })).toBe(false);
    expect(same(new Set([1, 2]), new Set([2, 1]))).toBe(true);
    expect(same(new Set([{}, {}]), new Set([{}]))).toBe(false);
    expect(same(Buffer.from([1]), new Uint8Array([1]))).toBe(true);
    expect(same(new Int8Array([1]), new Uint8Array([1]))).toBe(false);
    expect(same(new Date(1), 1)).toBe(false);
  });
});

// --- generated calls -------------------------------------------------------------------------------------------

type Rng = () => number;

/** A small seeded PRNG (mulberry32): the same seed gives the same calls on every run. */
function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  10,
  42,
  1.5,
  0.1,
  1e21,
  -1e21,
  1e-7,
  NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  5e-324,
];
/** Tags, separators, escapes and look-alikes of other types' forms. */
const STRINGS = [
  ...[
    '',
    '0',
    '1',
    '-0',
    '42',
    'a',
    'b',
    'ab',
    'u',
    'z',
    't',
    'f',
    'n1',
    'b1',
    's',
    'sa',
    'A0',
    'O0',
    'M0',
    'S0',
  ],
  ...[
    'D0',
    'B',
    'BAQ',
    '~',
    'a~b',
    '~n1',
    '"',
    '"a"',
    ',',
    ':',
    'a:b',
    '[',
    ']',
    '{',
    '}',
    '\\',
    '#',
    '%',
    '%3A',
  ],
  ...[
    '_',
    ' ',
    'é',
    '😀',
    '\uD800',
    '\uDC00',
    'NaN',
    'true',
    'null',
    'undefined',
    '1970-01-01T00:00:00.000Z',
  ],
  'x'.repeat(126),
  'x'.repeat(127),
];
const CHARACTERS = [
  'a',
  'b',
  '1',
  's',
  'n',
  '~',
  ':',
  ',',
  '"',
  '\\',
  '[',
  ']',
  '{',
  '}',
  ' ',
  '_',
  '.',
  '-',
  '#',
];
const EXTRA_CHARACTERS = ['%', 'é', '😀', '\uD800', '\uDC00'];
const PROPERTY_NAMES = [
  'a',
  'b',
  'c',
  '0',
  '1',
  'sa',
  'n1',
  'a b',
  'a~b',
  'a~A1',
  '~',
  '"',
  '',
  'é',
  'u',
  'O1',
];
const TIMES = [0, 1, -1, 1e12, 8.64e15, NaN];
const BYTES = [0, 1, 2, 255];

function generateString(rng: Rng): string {
  if (rng() < 0.6) return pick(rng, STRINGS);
  let out = '';
  const length = Math.floor(rng() * 6);
  for (let i = 0; i < length; i++) out += pick(rng, rng() < 0.9 ? CHARACTERS : EXTRA_CHARACTERS);
  return out;
}

function generateScalar(rng: Rng): unknown {
  const roll = rng();
  if (roll < 0.3) return pick(rng, NUMBERS);
  if (roll < 0.65) return generateString(rng);
  if (roll < 0.72) return pick(rng, [0n, 1n, -1n, 10n ** 30n]);
  if (roll < 0.8) return rng() < 0.5;
  if (roll < 0.9) return null;
  return undefined;
}

function generateBytes(rng: Rng): ArrayBufferView {
  const bytes = Array.from({ length: Math.floor(rng() * 4) }, () => pick(rng, BYTES));
  const kind = rng();
  if (kind < 0.4) return Buffer.from(bytes);
  if (kind < 0.8) return new Uint8Array(bytes);
  if (kind < 0.9) return new Int8Array(bytes);
  return new Uint16Array(bytes);
}

function generateValue(rng: Rng, depth: number): unknown {
  const roll = depth >= 3 ? 0 : rng();
  if (roll < 0.5) return generateScalar(rng);
  if (roll < 0.62) {
    const array: unknown[] = new Array<unknown>(Math.floor(rng() * 4));
    for (let i = 0; i < array.length; i++) if (rng() < 0.9) array[i] = generateValue(rng, depth + 1);
    return array;
  }
  if (roll < 0.76) {
    const record: Record<string, unknown> =
      rng() < 0.2 ? (Object.create(null) as Record<string, unknown>) : {};
    const count = Math.floor(rng() * 4);
    for (let i = 0; i < count; i++) record[pick(rng, PROPERTY_NAMES)] = generateValue(rng, depth + 1);
    return record;
  }
  if (roll < 0.84) {
    const map = new Map<unknown, unknown>();
    const count = Math.floor(rng() * 4);
    for (let i = 0; i < count; i++) map.set(generateValue(rng, depth + 2), generateValue(rng, depth + 1));
    return map;
  }
  if (roll < 0.91) {
    return new Set(Array.from({ length: Math.floor(rng() * 4) }, () => generateValue(rng, depth + 1)));
  }
  if (roll < 0.95) return new Date(pick(rng, TIMES));
  return generateBytes(rng);
}

function generateArgs(rng: Rng): unknown[] {
  return Array.from({ length: Math.floor(rng() * 4) }, () => generateValue(rng, 0));
}

/**
 * A copy of `value` rebuilt in another shape that changes nothing (key order, null prototypes, `-0`, holes, entry
 * order, `Buffer` for `Uint8Array`), with near misses mixed in at `rate` per node. Whether the result still equals
 * `value` is for {@link same} to say, not for this function.
 */
function variantOf(rng: Rng, value: unknown, rate: number): unknown {
  if (rng() < rate) return nearMiss(rng, value);
  if (typeof value === 'number') return value === 0 && rng() < 0.5 ? -value : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = variantOf(rng, value[i], rate);
      if (item !== undefined || rng() < 0.5) copy[i] = item;
    }
    return copy;
  }
  if (value instanceof Map) {
    return new Map(
      shuffled(rng, [...value]).map(([k, v]) => [variantOf(rng, k, rate), variantOf(rng, v, rate)]),
    );
  }
  if (value instanceof Set) return new Set(shuffled(rng, [...value]).map((v) => variantOf(rng, v, rate)));
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value)) {
    if (value instanceof Uint8Array) return rng() < 0.5 ? Buffer.from(value) : new Uint8Array(value);
    return value.constructor === Int8Array
      ? new Int8Array(value as Int8Array)
      : new Uint16Array(value as Uint16Array);
  }
  const copy: Record<string, unknown> = rng() < 0.3 ? (Object.create(null) as Record<string, unknown>) : {};
  for (const key of shuffled(rng, Object.keys(value))) {
    const item = (value as Record<string, unknown>)[key];
    if (rng() < rate / 2) {
      const change = rng();
      if (change < 0.4) continue;
      copy[key] = change < 0.7 ? undefined : null;
    } else copy[key] = variantOf(rng, item, rate);
  }
  if (rng() < rate / 4) copy[pick(rng, PROPERTY_NAMES)] = undefined;
  return copy;
}

/** A value close to `value`: another type with the same text, a neighbour, a wrapper, a sibling container. */
function nearMiss(rng: Rng, value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return pick(rng, [
        String(value),
        Number.isInteger(value) ? BigInt(value) : value + 1,
        [value],
        { 0: value },
        -value,
        new Date(value),
        value + 1,
      ]);
    case 'string':
      return pick(rng, [
        `${value}~`,
        `~${value}`,
        `${value}:`,
        value.slice(1),
        `s${value}`,
        JSON.stringify(value),
        Number(value),
        [value],
        { [value]: value },
        value.toUpperCase(),
        `${value}\uD800`,
      ]);
    case 'bigint':
      return pick(rng, [Number(value), String(value), value + 1n, -value]);
    case 'boolean':
      return pick(rng, [String(value), Number(value), !value, [value]]);
    case 'undefined':
      return pick(rng, [null, 'undefined', 'u', [], {}]);
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return pick(rng, [undefined, 'null', 'z', 0, {}, []]);
  if (Array.isArray(value)) {
    const items: unknown[] = value;
    return pick(rng, [
      new Set(items),
      { ...items },
      [...items].reverse(),
      [...items, undefined],
      items.slice(1),
      [items],
      items.flat(),
      items.map(textOf),
    ]);
  }
  if (value instanceof Map) {
    const entries = [...value];
    return pick(rng, [
      Object.fromEntries(entries.map(([k, v]) => [textOf(k), v])),
      new Map(entries.slice(1)),
      new Map(entries.map(([k, v]) => [textOf(k), v])),
      new Map(entries.map(([k, v]) => [v, k])),
      entries,
    ]);
  }
  if (value instanceof Set) {
    const members: unknown[] = [...(value as Set<unknown>)];
    return pick(rng, [members, new Set(members.slice(1)), new Set([...members, 'x']), new Set([members])]);
  }
  if (value instanceof Date) {
    const time = value.getTime();
    return pick(rng, [Number.isNaN(time) ? 'Invalid Date' : value.toISOString(), time, new Date(time + 1)]);
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
    return pick(rng, [
      bytes,
      new Int8Array(bytes),
      Buffer.from([...bytes, 0]),
      Buffer.from([...bytes].reverse()),
    ]);
  }
  const entries = Object.entries(value);
  return pick(rng, [
    new Map(entries),
    entries,
    Object.values(value),
    [value],
    Object.fromEntries(entries.map(([k, v]) => [`${k} `, v])),
    Object.fromEntries(entries.map(([k, v]) => [k, [v]])),
  ]);
}

/** Any value as text (`String()` throws on null-prototype objects). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value);
}

function variantArgs(rng: Rng, args: unknown[], rate: number): unknown[] {
  const out = args.map((arg) => variantOf(rng, arg, rate));
  if (rng() < rate / 2) {
    const change = rng();
    if (change < 0.3) out.push(undefined);
    else if (change < 0.5) out.pop();
    else if (change < 0.75) {
      const index = out.findIndex((arg) => typeof arg === 'string' && arg.includes(':'));
      if (index !== -1) out.splice(index, 1, ...(out[index] as string).split(':'));
    } else if (out.length >= 2 && typeof out[0] === 'string' && typeof out[1] === 'string') {
      out.splice(0, 2, `${out[0]}:${out[1]}`);
    } else out.unshift(out.length);
  }
  return out;
}

// --- the reference equality --------------------------------------------------------------------------------------

function sameArgs(a: unknown[], b: unknown[]): boolean {
  return same(a, b);
}

/** What kind a value is for equality: `Buffer` and `Uint8Array` are both `[object Uint8Array]`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof Map) return 'map';
  if (value instanceof Set) return 'set';
  if (ArrayBuffer.isView(value)) return Object.prototype.toString.call(value);
  return 'object';
}

/** Structural equality under the rules of the brief, written without looking at any key. */
function same(a: unknown, b: unknown): boolean {
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return false;
  switch (kind) {
    case 'number':
      return a === b || (Number.isNaN(a) && Number.isNaN(b));
    case 'array': {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!same(x[i], y[i])) return false;
      return true;
    }
    case 'object': {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const keys = Object.keys(x);
      if (keys.length !== Object.keys(y).length) return false;
      return keys.every((key) => Object.prototype.propertyIsEnumerable.call(y, key) && same(x[key], y[key]));
    }
    case 'date':
      return same((a as Date).getTime(), (b as Date).getTime());
    case 'map': {
      const x = a as Map<unknown, unknown>;
      const y = b as Map<unknown, unknown>;
      return (
        x.size === y.size && sameMembers([...x], [...y], ([k1, v1], [k2, v2]) => same(k1, k2) && same(v1, v2))
      );
    }
    case 'set': {
      const x = a as Set<unknown>;
      const y = b as Set<unknown>;
      return x.size === y.size && sameMembers([...x], [...y], same);
    }
    default:
      if (!kind.startsWith('[object ')) return a === b;
      return Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));
  }
}

function bytesOf(value: unknown): Uint8Array {
  const view = value as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Multiset equality; greedy matching is exact because `equal` is an equivalence. */
function sameMembers<T>(a: T[], b: T[], equal: (x: T, y: T) => boolean): boolean {
  const used = new Array<boolean>(b.length).fill(false);
  return a.every((x) => {
    const index = b.findIndex((y, i) => !used[i] && equal(x, y));
    if (index === -1) return false;
    used[index] = true;
    return true;
  });
}
