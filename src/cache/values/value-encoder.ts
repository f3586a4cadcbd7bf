import { types } from 'node:util';
import { CacheError } from '../cache.errors.js';
import { FAST, isForbiddenKey, MARK, MAX_DEPTH, TAGGED, VIEWS } from './value-format.js';

// The pure-JSON test gives up below this level and leaves the value to the full encoder, which still writes
// the fast shape when it finds nothing to tag. The bound keeps the test linear on a cyclic value (each turn
// of a cycle would otherwise walk the siblings before it again, up to MAX_DEPTH times).
const FAST_DEPTH = 128;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Tag nodes without a payload, written by the encoder (never mutated: JSON.stringify only reads them). */
const UNDEFINED_NODE = Object.freeze({ [MARK]: 'undefined' });
const NAN_NODE = Object.freeze({ [MARK]: 'NaN' });
const INFINITY_NODE = Object.freeze({ [MARK]: 'Infinity' });
const NEGATIVE_INFINITY_NODE = Object.freeze({ [MARK]: '-Infinity' });
const NEGATIVE_ZERO_NODE = Object.freeze({ [MARK]: '-0' });

/**
 * A value that a cache cannot store: a function, a symbol, a cycle, a Promise, a stream, an async iterator,
 * a WeakMap/WeakSet/WeakRef, a reserved object key or a nesting deeper than 1,000 levels. The message says
 * what and where, e.g. `cannot cache a function at .items[2].fn` (a path over 160 characters is shortened in
 * the message, not in `path`).
 *
 * @example
 * try { text = encodeValue(result); } catch (error) { if (error instanceof ValueEncodingError) skipCache(); }
 */
export class ValueEncodingError extends CacheError {
  constructor(
    /** What cannot be stored, e.g. `a function`, `a cycle`, `a WeakMap`. */
    readonly what: string,
    /** Where in the value, e.g. `.items[2].fn`; empty for the value itself. */
    readonly path: string,
  ) {
    super(
      'E_CACHE_VALUE',
      `cannot cache ${what} ${path === '' ? 'as the value itself' : `at ${shorten(path)}`}`,
    );
  }
}

/** A path short enough for a log line (`path` keeps it whole). */
function shorten(path: string): string {
  return path.length <= 160 ? path : `${path.slice(0, 80)}…${path.slice(-80)}`;
}

/**
 * Encodes a method result as a string for the memory and Redis stores; {@link decodeValue} reads it back
 * deep-equal, with the same types.
 *
 * Kept: JSON data, plain and null-prototype objects (read back as plain objects), array holes (as `undefined`),
 * `undefined` anywhere, `NaN`, `±Infinity`, `-0`, BigInt, Date (also invalid), Map, Set, RegExp, Buffer, the
 * typed arrays, DataView and ArrayBuffer. A class instance is written as the plain data of its own enumerable
 * string-keyed properties, or as its `toJSON()` result if it has that method (as `JSON.stringify` does);
 * symbol-keyed properties are ignored; an object met twice (not a cycle) is written twice.
 *
 * @throws ValueEncodingError for a value that cannot be stored (see the class), including an object key
 * `__proto__`, `constructor` or `prototype`, which {@link decodeValue} would always read as a miss.
 * @example
 * const text = encodeValue({ at: new Date(), tags: new Set(['a']) });
 */
export function encodeValue(value: unknown): string {
  return encodeValueShape(value).text;
}

/**
 * {@link encodeValue}, and whether the value is plain JSON data (plain objects, arrays, strings, finite
 * numbers, booleans, `null`): then decoding the text gives a value of the same shape and types, so a caller
 * that owns `value` may use it in place of a decoded copy.
 * @throws ValueEncodingError as {@link encodeValue} does.
 */
export function encodeValueShape(value: unknown): { text: string; plain: boolean } {
  if (isPureJson(value, 1)) return { text: FAST + JSON.stringify(value), plain: true };
  return { text: encodeTagged(value), plain: false };
}

function encodeTagged(value: unknown): string {
  const context: EncodeContext = { open: new Set(), tagged: false };
  let tree: unknown;
  try {
    tree = encodeNode(value, '', 1, context, true);
  } catch (error) {
    if (error instanceof Unencodable) throw new ValueEncodingError(error.what, error.path);
    throw error;
  }
  return (context.tagged ? TAGGED : FAST) + JSON.stringify(tree);
}

/** Whether `value` is JSON data that `JSON.stringify` writes and `JSON.parse` reads back as it is. */
function isPureJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // Finite and not -0 (`x - x` is NaN for NaN and ±Infinity).
      return value === 0 ? 1 / value > 0 : value - value === 0;
    case 'object': {
      if (value === null) return true;
      if (depth > FAST_DEPTH) return false;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Array.prototype) {
        const items = value as unknown[];
        if ((items as { toJSON?: unknown }).toJSON !== undefined) return false;
        for (let i = 0; i < items.length; i++) if (!isPureJson(items[i], depth + 1)) return false;
        return true;
      }
      // A null-prototype object is read back as a plain one: not returned as it is on a miss either.
      if (proto !== Object.prototype) return false;
      const record = value as Record<string, unknown>;
      // for-in visits the own enumerable string keys (plain objects inherit none) and allocates nothing.
      for (const key in record) {
        if ((key.length === 9 || key.length === 11) && isForbiddenKey(key)) return false;
        if (!isPureJson(record[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

interface EncodeContext {
  /** The objects being encoded on the current path from the root (a repeat is a cycle). */
  readonly open: Set<object>;
  /** Whether a tag node was written (else the tree is pure JSON and takes the fast shape). */
  tagged: boolean;
}

/** Thrown inside the encoder; each enclosing container prepends its segment to `path` on the way out. */
class Unencodable extends Error {
  path = '';
  constructor(readonly what: string) {
    super(what);
  }
}

function within(error: unknown, segment: string): unknown {
  if (error instanceof Unencodable) error.path = segment + error.path;
  return error;
}

/**
 * The JSON tree that stands for `value`: `value` itself where nothing needs a tag (no copy), else a copy
 * with tag nodes. `key` is the argument for a `toJSON` method, as `JSON.stringify` passes it.
 */
function encodeNode(
  value: unknown,
  key: string | number,
  depth: number,
  context: EncodeContext,
  useToJSON: boolean,
): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (value === 0 ? 1 / value > 0 : value - value === 0) return value;
      context.tagged = true;
      return value === 0
        ? NEGATIVE_ZERO_NODE
        : value > 0
          ? INFINITY_NODE
          : value < 0
            ? NEGATIVE_INFINITY_NODE
            : NAN_NODE;
    case 'undefined':
      context.tagged = true;
      return UNDEFINED_NODE;
    case 'bigint':
      context.tagged = true;
      return { [MARK]: 'BigInt', v: value.toString() };
    case 'object':
      return value === null ? null : encodeObject(value, key, depth, context, useToJSON);
    case 'symbol':
      throw new Unencodable('a symbol');
    default:
      throw new Unencodable('a function');
  }
}

function encodeObject(
  value: object,
  key: string | number,
  depth: number,
  context: EncodeContext,
  useToJSON: boolean,
): unknown {
  const { open } = context;
  if (open.has(value)) throw new Unencodable('a cycle');
  if (depth > MAX_DEPTH) throw new Unencodable(`a value nested deeper than ${MAX_DEPTH} levels`);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
    const node = encodeBuiltIn(value, depth, context);
    if (node !== NOT_BUILT_IN) return node;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // JSON.stringify would call toJSON again on an object put into the tree as it is: such objects are copied.
  const hasToJSON = typeof toJSON === 'function';
  open.add(value);
  try {
    if (hasToJSON && useToJSON) {
      const result: unknown = toJSON.call(value, typeof key === 'number' ? String(key) : key);
      if (result !== value) {
        try {
          return encodeNode(result, key, depth, context, false);
        } catch (error) {
          throw within(error, '.toJSON()');
        }
      }
    }
    return Array.isArray(value)
      ? encodeArray(value as unknown[], depth, context, hasToJSON)
      : encodeProperties(value as Record<string, unknown>, depth, context, hasToJSON);
  } finally {
    open.delete(value);
  }
}

function encodeArray(items: unknown[], depth: number, context: EncodeContext, copy: boolean): unknown[] {
  let out: unknown[] | undefined = copy ? [] : undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    let encoded: unknown;
    try {
      encoded = encodeNode(item, i, depth + 1, context, true);
    } catch (error) {
      throw within(error, `[${i}]`);
    }
    if (out !== undefined) {
      out.push(encoded);
    } else if (encoded !== item) {
      out = [];
      for (let j = 0; j < i; j++) out.push(items[j]);
      out.push(encoded);
    }
  }
  return out ?? items;
}

function encodeProperties(
  record: Record<string, unknown>,
  depth: number,
  context: EncodeContext,
  copy: boolean,
): unknown {
  const keys = Object.keys(record);
  const escaped = Object.prototype.propertyIsEnumerable.call(record, MARK);
  const entries: unknown[] | undefined = escaped ? [] : undefined;
  let out: Record<string, unknown> | undefined = copy && !escaped ? {} : undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (isForbiddenKey(key)) throw new Unencodable(`the reserved key ${JSON.stringify(key)}`);
    const child = record[key];
    let encoded: unknown;
    try {
      encoded = encodeNode(child, key, depth + 1, context, true);
    } catch (error) {
      throw within(error, propertySegment(key));
    }
    if (entries !== undefined) {
      entries.push(key, encoded);
    } else if (out !== undefined) {
      out[key] = encoded;
    } else if (encoded !== child) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = record[keys[j] as string];
      out[key] = encoded;
    }
  }
  if (entries === undefined) return out ?? record;
  context.tagged = true;
  return { [MARK]: 'Object', v: entries };
}

const NOT_BUILT_IN = Symbol('not a built-in');

/** The tag node of a built-in object, NOT_BUILT_IN for other objects; throws for those that cannot be stored. */
function encodeBuiltIn(value: object, depth: number, context: EncodeContext): unknown {
  if (types.isDate(value)) {
    context.tagged = true;
    const time = value.getTime();
    return { [MARK]: 'Date', v: Number.isNaN(time) ? null : time };
  }
  if (types.isMap(value)) return encodeMap(value, depth, context);
  if (types.isSet(value)) return encodeSet(value, depth, context);
  if (ArrayBuffer.isView(value)) {
    const tag = Buffer.isBuffer(value)
      ? 'Buffer'
      : types.isDataView(value)
        ? 'DataView'
        : ((value as unknown as Record<symbol, unknown>)[Symbol.toStringTag] as string);
    if (tag !== 'Buffer' && !VIEWS.has(tag)) throw new Unencodable(`a ${tag}`);
    context.tagged = true;
    return { [MARK]: tag, v: base64(value.buffer, value.byteOffset, value.byteLength) };
  }
  if (types.isArrayBuffer(value)) {
    context.tagged = true;
    return { [MARK]: 'ArrayBuffer', v: base64(value, 0, value.byteLength) };
  }
  if (types.isRegExp(value)) {
    context.tagged = true;
    return { [MARK]: 'RegExp', v: value.source, f: value.flags };
  }
  if (types.isBoxedPrimitive(value)) {
    if (types.isSymbolObject(value)) throw new Unencodable('a symbol');
    // Number, String, Boolean and BigInt objects: their primitive, as JSON.stringify writes them.
    return encodeNode((value as { valueOf(): unknown }).valueOf(), '', depth, context, false);
  }
  const what = unstorable(value);
  if (what !== undefined) throw new Unencodable(what);
  return NOT_BUILT_IN;
}

/**
 * What `value` is if it yields its data over time (a stream, an async iterator, a generator, any iterator): a
 * cache can store none of them, and a cached method passes them through as they are. An Observable is none.
 */
export function iterationKind(value: object): string | undefined {
  const duck = value as Record<string | symbol, unknown>;
  // Before the async iterator: Node streams are async iterable too.
  if (typeof duck.pipe === 'function') return typeof duck.subscribe === 'function' ? undefined : 'a stream';
  if (typeof duck[Symbol.asyncIterator] === 'function') return 'an async iterator';
  if (types.isGeneratorObject(value)) return 'a generator';
  // Built-ins whose state is not in their own enumerable properties: as plain data they would come back `{}`.
  if (typeof duck.next === 'function' && typeof duck[Symbol.iterator] === 'function') return 'an iterator';
  return undefined;
}

/** What `value` is if it is a kind of object that a cache cannot store. */
function unstorable(value: object): string | undefined {
  const duck = value as Record<string | symbol, unknown>;
  if (types.isPromise(value) || typeof duck.then === 'function') return 'a Promise';
  if (types.isWeakMap(value)) return 'a WeakMap';
  if (types.isWeakSet(value)) return 'a WeakSet';
  if (value instanceof WeakRef) return 'a WeakRef';
  if (value instanceof FinalizationRegistry) return 'a FinalizationRegistry';
  if (types.isSharedArrayBuffer(value)) return 'a SharedArrayBuffer';
  if (typeof duck.pipe === 'function' && typeof duck.subscribe === 'function') return 'an Observable';
  const iteration = iterationKind(value);
  if (iteration !== undefined) return iteration;
  if (types.isNativeError(value) || value instanceof Error) return 'an Error';
  if (value instanceof URL) return 'a URL';
  if (value instanceof URLSearchParams) return 'a URLSearchParams';
  if (value instanceof Blob) return 'a Blob';
  return undefined;
}

function encodeMap(map: Map<unknown, unknown>, depth: number, context: EncodeContext): unknown {
  context.open.add(map);
  try {
    const entries: unknown[] = [];
    let i = 0;
    for (const [key, value] of map) {
      try {
        entries.push(encodeNode(key, '', depth + 1, context, true));
      } catch (error) {
        throw within(error, `<Map key #${i}>`);
      }
      try {
        entries.push(encodeNode(value, '', depth + 1, context, true));
      } catch (error) {
        throw within(error, `.get(${describeKey(key, i)})`);
      }
      i++;
    }
    context.tagged = true;
    return { [MARK]: 'Map', v: entries };
  } finally {
    context.open.delete(map);
  }
}

function encodeSet(set: Set<unknown>, depth: number, context: EncodeContext): unknown {
  context.open.add(set);
  try {
    const items: unknown[] = [];
    for (const item of set) {
      try {
        items.push(encodeNode(item, '', depth + 1, context, true));
      } catch (error) {
        throw within(error, `<Set item #${items.length}>`);
      }
    }
    context.tagged = true;
    return { [MARK]: 'Set', v: items };
  } finally {
    context.open.delete(set);
  }
}

function base64(buffer: ArrayBufferLike, offset: number, length: number): string {
  return Buffer.from(buffer, offset, length).toString('base64');
}

function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describeKey(key: unknown, index: number): string {
  switch (typeof key) {
    case 'string':
      return JSON.stringify(key);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(key);
    case 'bigint':
      return `${key}n`;
    default:
      return key === null ? 'null' : `<key #${index}>`;
  }
}
