import { types } from 'node:util';
import { CacheError } from '../cache.errors.js';

// The text of a cached method result is one shape character and a JSON document:
//   `j` + JSON.stringify(value)  pure JSON data (no Date, Map, undefined, -0, ...): read back by JSON.parse alone.
//   `t` + JSON of a tagged tree  everything else: an object with a key `~` is a tag node
//                                (`{"~":"Date","v":1700000000000}`); any other object or array is data.
// Tags: `undefined`, `NaN`, `Infinity`, `-Infinity`, `-0` (no payload); `BigInt` (v: decimal text); `Date`
// (v: epoch ms, null if invalid); `Map` (v: [key, value, key, value, ...]); `Set` (v: [item, ...]); `RegExp`
// (v: source, f: flags); `Buffer`, `ArrayBuffer`, `DataView` and the typed array class names (v: base64 bytes);
// `Object` (v: [key, value, ...]): a user object that has a `~` key, so that every tagged text has one
// meaning. `j` texts are never searched for tags, so they need no escaping. Decoding never runs code chosen
// by the payload: the tag only selects a branch of reviveTag's fixed switch.

const FAST = 'j';
const TAGGED = 't';
const FAST_CODE = FAST.charCodeAt(0);
const TAGGED_CODE = TAGGED.charCodeAt(0);
const MARK = '~';

/** Deepest nesting of objects, arrays, Maps and Sets that is encoded (the top-level container is level 1). */
const MAX_DEPTH = 1000;

// The pure-JSON test gives up below this level and leaves the value to the full encoder, which still writes
// the fast shape when it finds nothing to tag. The bound keeps the test linear on a cyclic value (each turn
// of a cycle would otherwise walk the siblings before it again, up to MAX_DEPTH times).
const FAST_DEPTH = 128;

// Any of these in a text may spell a forbidden key (`\u` escapes can spell any key), so only then are the
// keys of the parsed tree checked one by one.
const MAYBE_UNSAFE = /__proto__|constructor|prototype|\\u/;
const BIGINT_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const REGEXP_FLAGS = /^[dgimsuvy]*$/;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Largest absolute time value of a valid Date (ECMAScript TimeClip). */
const MAX_TIME = 8.64e15;

type ViewClass = new (buffer: ArrayBuffer) => ArrayBufferView;

// The views that come back as the class they were: tag (the class name) -> [class, bytes per element].
const VIEWS = new Map<unknown, readonly [ViewClass, number]>(
  (
    [
      Int8Array,
      Uint8Array,
      Uint8ClampedArray,
      Int16Array,
      Uint16Array,
      Int32Array,
      Uint32Array,
      Float32Array,
      Float64Array,
      BigInt64Array,
      BigUint64Array,
    ] as const
  )
    .map((View) => [View.name, [View as ViewClass, View.BYTES_PER_ELEMENT]] as const)
    .concat([['DataView', [DataView, 1]]]),
);

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

/** Options of {@link decodeValue}. */
export interface ValueDecodeOptions {
  /**
   * Largest text, in UTF-8 bytes, that is decoded; a longer one decodes as a miss.
   * @default undefined (no limit)
   */
  maxBytes?: number;
  /**
   * Class of the cached result. A decoded plain object, or each plain-object element of a decoded array,
   * becomes an instance of it without running its constructor (`Object.assign(Object.create(prototype), data)`).
   * Nested objects stay plain.
   * @default undefined (class instances come back as plain data)
   */
  type?: abstract new (...args: never[]) => unknown;
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

/**
 * Reads a text written by {@link encodeValue}. Never throws: `undefined` means "treat as a miss" (corrupt or
 * truncated text, unknown shape or tag, a tag node of the wrong shape, a text over `maxBytes`, or an object key
 * `__proto__`, `constructor` or `prototype` at any depth, however it is spelled). Every call returns new
 * objects, shared with nothing.
 *
 * @example
 * const hit = decodeValue(text, { maxBytes: 1_000_000, type: User });
 * if (hit !== undefined) return hit.value;
 */
export function decodeValue(text: string, options?: ValueDecodeOptions): { value: unknown } | undefined {
  try {
    if (typeof text !== 'string') return undefined;
    const maxBytes = options?.maxBytes;
    if (
      maxBytes !== undefined &&
      text.length * 3 > maxBytes &&
      (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes)
    ) {
      return undefined;
    }
    const shape = text.charCodeAt(0);
    let value: unknown;
    if (shape === FAST_CODE) {
      value = JSON.parse(text.slice(1));
      if (MAYBE_UNSAFE.test(text)) checkKeys(value, 1);
    } else if (shape === TAGGED_CODE) {
      value = revive(JSON.parse(text.slice(1)), 1, MAYBE_UNSAFE.test(text));
    } else {
      return undefined;
    }
    const type = options?.type;
    return { value: type === undefined ? value : instantiate(value, type.prototype) };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

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
      if (proto !== Object.prototype && proto !== null) return false;
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

/** What `value` is if it is a kind of object that a cache cannot store. */
function unstorable(value: object): string | undefined {
  const duck = value as Record<string | symbol, unknown>;
  if (types.isPromise(value) || typeof duck.then === 'function') return 'a Promise';
  if (types.isWeakMap(value)) return 'a WeakMap';
  if (types.isWeakSet(value)) return 'a WeakSet';
  if (value instanceof WeakRef) return 'a WeakRef';
  if (value instanceof FinalizationRegistry) return 'a FinalizationRegistry';
  if (types.isSharedArrayBuffer(value)) return 'a SharedArrayBuffer';
  // Before the async iterator: Node streams are async iterable too.
  if (typeof duck.pipe === 'function') {
    return typeof duck.subscribe === 'function' ? 'an Observable' : 'a stream';
  }
  if (typeof duck[Symbol.asyncIterator] === 'function') return 'an async iterator';
  if (types.isGeneratorObject(value)) return 'a generator';
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

function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/**
 * Thrown inside the decoder for anything the encoder never writes; decodeValue turns it into a miss. One
 * instance, so that a corrupt text costs no stack capture.
 */
const CORRUPT = new Error('corrupt cached value');

/** Throws CORRUPT if any object key in the tree is forbidden or the tree is deeper than the encoder goes. */
function checkKeys(node: unknown, depth: number): void {
  if (typeof node !== 'object' || node === null) return;
  if (depth > MAX_DEPTH) throw CORRUPT;
  if (Array.isArray(node)) {
    for (const item of node as unknown[]) checkKeys(item, depth + 1);
    return;
  }
  const record = node as Record<string, unknown>;
  for (const key in record) {
    if (isForbiddenKey(key)) throw CORRUPT;
    checkKeys(record[key], depth + 1);
  }
}

/**
 * The value of a parsed tagged tree. Arrays and plain objects are fresh from JSON.parse and are updated in
 * place; tag nodes are replaced. `check`: whether object keys must be checked (see MAYBE_UNSAFE).
 */
function revive(node: unknown, depth: number, check: boolean): unknown {
  if (typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) {
    if (depth > MAX_DEPTH) throw CORRUPT;
    const items = node as unknown[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item === 'object' && item !== null) items[i] = revive(item, depth + 1, check);
    }
    return items;
  }
  const record = node as Record<string, unknown>;
  const tag = record[MARK];
  if (tag !== undefined) return reviveTag(record, tag, depth, check);
  if (depth > MAX_DEPTH) throw CORRUPT;
  for (const key in record) {
    // Checked before the assignment below: `record['__proto__'] = x` would set the prototype.
    if (check && isForbiddenKey(key)) throw CORRUPT;
    const child = record[key];
    if (typeof child === 'object' && child !== null) record[key] = revive(child, depth + 1, check);
  }
  return record;
}

function reviveTag(node: Record<string, unknown>, tag: unknown, depth: number, check: boolean): unknown {
  const size = keyCount(node);
  const payload = node.v;
  if (size === 1) {
    switch (tag) {
      case 'undefined':
        return undefined;
      case 'NaN':
        return NaN;
      case 'Infinity':
        return Infinity;
      case '-Infinity':
        return -Infinity;
      case '-0':
        return -0;
    }
    throw CORRUPT;
  }
  if (size === 3 && tag === 'RegExp') {
    if (depth > MAX_DEPTH) throw CORRUPT;
    const flags = node.f;
    if (typeof payload !== 'string' || typeof flags !== 'string' || !REGEXP_FLAGS.test(flags)) throw CORRUPT;
    return new RegExp(payload, flags);
  }
  // The node has exactly the keys `~` and `v` (JSON.parse never yields an undefined property).
  if (size !== 2 || payload === undefined) throw CORRUPT;
  if (tag === 'BigInt') {
    if (typeof payload !== 'string' || !BIGINT_TEXT.test(payload)) throw CORRUPT;
    return BigInt(payload);
  }
  // Like the encoder, count objects as levels, primitives (the tags above) not.
  if (depth > MAX_DEPTH) throw CORRUPT;
  switch (tag) {
    case 'Date':
      if (payload === null) return new Date(NaN);
      if (!Number.isInteger(payload) || Math.abs(payload as number) > MAX_TIME) throw CORRUPT;
      return new Date(payload as number);
    case 'Map': {
      const entries = evenArray(payload);
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < entries.length; i += 2) {
        map.set(revive(entries[i], depth + 1, check), revive(entries[i + 1], depth + 1, check));
      }
      return map;
    }
    case 'Set': {
      if (!Array.isArray(payload)) throw CORRUPT;
      const set = new Set<unknown>();
      for (const item of payload as unknown[]) set.add(revive(item, depth + 1, check));
      return set;
    }
    case 'Object': {
      const entries = evenArray(payload);
      const record: Record<string, unknown> = {};
      for (let i = 0; i < entries.length; i += 2) {
        const key = entries[i];
        if (typeof key !== 'string' || isForbiddenKey(key)) throw CORRUPT;
        record[key] = revive(entries[i + 1], depth + 1, check);
      }
      return record;
    }
    case 'Buffer':
      return Buffer.from(bytes(payload, 1));
    case 'ArrayBuffer':
      return bytes(payload, 1);
  }
  const view = VIEWS.get(tag);
  if (view === undefined) throw CORRUPT;
  const [View, unit] = view;
  return new View(bytes(payload, unit));
}

function keyCount(node: object): number {
  let count = 0;
  for (const _ in node) count++;
  return count;
}

function evenArray(payload: unknown): unknown[] {
  if (!Array.isArray(payload) || payload.length % 2 !== 0) throw CORRUPT;
  return payload as unknown[];
}

/** A new ArrayBuffer (shared with nothing, unlike pooled Buffers) holding the bytes of a base64 payload. */
function bytes(payload: unknown, unit: number): ArrayBuffer {
  if (typeof payload !== 'string' || payload.length % 4 !== 0 || !BASE64_TEXT.test(payload)) throw CORRUPT;
  const length = Buffer.byteLength(payload, 'base64');
  if (length % unit !== 0) throw CORRUPT;
  const buffer = new ArrayBuffer(length);
  if (Buffer.from(buffer).write(payload, 'base64') !== length) throw CORRUPT;
  return buffer;
}

function instantiate(value: unknown, prototype: unknown): unknown {
  if (isPlainObject(value)) return Object.assign(Object.create(prototype as object) as object, value);
  if (Array.isArray(value)) {
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (isPlainObject(item)) items[i] = Object.assign(Object.create(prototype as object) as object, item);
    }
  }
  return value;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
