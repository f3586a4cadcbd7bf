import {
  FAST_CODE,
  isForbiddenKey,
  MARK,
  MAX_DEPTH,
  MAYBE_UNSAFE,
  TAGGED_CODE,
  VIEWS,
} from './value-format.js';

const BIGINT_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const REGEXP_FLAGS = /^[dgimsuvy]*$/;

/** Largest absolute time value of a valid Date (ECMAScript TimeClip). */
const MAX_TIME = 8.64e15;

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

/**
 * The `type` option's rule: a plain object, or each plain-object element of an array, becomes an instance of
 * `prototype`'s class without running its constructor; anything else is returned as it is.
 */
export function instantiate(value: unknown, prototype: unknown): unknown {
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
