import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { encodeKeySegment } from '../engine/key-segment.js';
import { TYPED_ARRAY_CLASSES } from '../values/value-format.js';

/**
 * The key of one method call from its arguments, or why the arguments cannot be keyed honestly.
 *
 * @example
 * argumentsKey([42, 'abc']); // { key: 'n42:sabc' }
 * argumentsKey([() => 1]); // { unencodable: 'a function at args[0]' }
 */
export type ArgumentsKey = { readonly key: string } | { readonly unencodable: string };

/** Canonical forms longer than this many characters are written as `#` + their SHA-256. */
const MAX_LITERAL_LENGTH = 128;

/** Containers (arrays, objects, maps, sets) nested deeper than this are refused. */
const MAX_DEPTH = 100;

/** Path segments shown in a reason before it is cut short. */
const MAX_REASON_PATH = 8;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Hashing text as UTF-8 would turn every lone surrogate into U+FFFD; WTF-8 keeps them apart. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * ASCII characters `encodeKeySegment` keeps (`UNRESERVED`), those that stand bare in a container (`BARE`: all
 * of them but `~`, the separator), and the escape of every ASCII character.
 */
const UNRESERVED = new Uint8Array(128);
const BARE = new Uint8Array(128);
const ESCAPES: string[] = [];
for (let code = 0; code < 128; code++) {
  UNRESERVED[code] = /[\w.~-]/.test(String.fromCharCode(code)) ? 1 : 0;
  BARE[code] = /[\w.-]/.test(String.fromCharCode(code)) ? 1 : 0;
  ESCAPES.push(`%${code.toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Byte views keyed by their bytes, by exact prototype; `Buffer` and `Uint8Array` share a tag. */
const BYTE_TAGS = new Map<object, string>([
  [Uint8Array.prototype, 'B'],
  [Buffer.prototype, 'B'],
  ...[...TYPED_ARRAY_CLASSES.filter((view) => view !== Uint8Array), DataView].map(
    (view): [object, string] => [view.prototype, `V${view.name}.`],
  ),
]);

/** The state of encoding the objects of one call, reset for each argument. */
class Walk {
  /** The containers around the value being encoded, outermost first. */
  readonly ancestors: object[] = [];
  /**
   * Whether the form may hold characters `encodeKeySegment` escapes. Only JSON string literals and numbers past
   * 1e21 (`1e+21`) bring them, so most forms are known clean without a scan.
   */
  escapes = false;
}

/** Why a value cannot be keyed; `path` is filled innermost first while the failure unwinds. */
class Unencodable {
  readonly path: string[] = [];

  constructor(readonly what: string) {}
}

/**
 * The key of a call: one segment per argument, joined by `:` (`''` for no arguments). A segment is
 * `encodeKeySegment` of the argument's canonical form, or `#` + its SHA-256 (base64url) when that form is longer
 * than 128 characters. Canonical forms are type-tagged and injective, and equal arguments share them:
 *
 * - scalars: `u` undefined, `z` null, `t`/`f`, `n42` numbers (`-0` is `n0`, `NaN` is `nNaN`), `b42` bigints,
 *   `sabc` strings; inside a container a string is `sabc` only when it is all `[A-Za-z0-9_.-]`, else its JSON
 *   literal (`"a:b"`);
 * - containers: a tag, the count, then `~` before each item: `A2~n1~u` arrays (holes are `u`),
 *   `O2~page~n2~size~n10` plain and null-prototype objects (own enumerable string keys, sorted; a key is bare or
 *   its JSON literal), `M1~sa~n1` maps (key then value) and `S2~n1~n2` sets, entries sorted by their forms;
 * - `D<ms>` dates, `B<base64url>` `Buffer`/`Uint8Array` bytes, `V<Type>.<base64url>` other typed arrays and
 *   `DataView`s.
 *
 * Functions, symbols, class instances, Promises, streams, async iterators, weak collections, cycles and
 * containers nested deeper than 100 are `unencodable`, with what was found and where (`args[0].user.id`).
 *
 * @example
 * argumentsKey([{ size: 10, page: 2 }, 'a b']); // { key: 'O2~page~n2~size~n10:sa%20b' }
 * argumentsKey([]); // { key: '' }
 */
export function argumentsKey(args: ArrayLike<unknown>): ArgumentsKey {
  let key = '';
  let walk: Walk | undefined;
  let index = 0;
  try {
    for (; index < args.length; index++) {
      const arg = args[index];
      let segment: string;
      switch (typeof arg) {
        case 'number':
          segment = isPlainNumber(arg) ? `n${arg}` : segmentOf(`n${arg}`);
          break;
        case 'string':
          segment = segmentOf(`s${arg}`);
          break;
        case 'boolean':
          segment = arg ? 't' : 'f';
          break;
        case 'undefined':
          segment = 'u';
          break;
        case 'bigint':
          segment = segmentOf(`b${arg}`);
          break;
        default: {
          walk ??= new Walk();
          walk.escapes = false;
          const form = canonicalOf(arg, walk);
          if (typeof form !== 'string') return { unencodable: reasonOf(form, index) };
          segment = walk.escapes || form.length > MAX_LITERAL_LENGTH ? segmentOf(form) : form;
        }
      }
      key = index === 0 ? segment : `${key}:${segment}`;
    }
  } catch (error) {
    // A getter or proxy trap threw while the argument was read.
    const message = error instanceof Error ? error.message : String(error);
    return { unencodable: `reading args[${index}] threw: ${message.slice(0, 80)}` };
  }
  return { key };
}

/** The canonical form of a value inside a container. */
function canonicalOf(value: unknown, walk: Walk): string | Unencodable {
  switch (typeof value) {
    case 'number':
      if (!isPlainNumber(value)) walk.escapes = true;
      return `n${value}`;
    case 'string':
      if (isBare(value)) return `s${value}`;
      walk.escapes = true;
      return JSON.stringify(value);
    case 'boolean':
      return value ? 't' : 'f';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `b${value}`;
    case 'symbol':
      return new Unencodable('a symbol');
    case 'function':
      return new Unencodable(value.name ? `a function (${value.name})` : 'a function');
    case 'object':
      return value === null ? 'z' : objectFormOf(value, walk);
  }
}

function objectFormOf(value: object, walk: Walk): string | Unencodable {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    if ((value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== undefined) {
      return new Unencodable('an async iterator');
    }
    return enter(value, walk) ?? recordOf(value as Record<string, unknown>, walk);
  }
  // Each prototype is matched exactly, then the value's own kind checked: `Object.create(Date.prototype)` is
  // no date, and a subclass may hold state its base's form would drop.
  if (proto === Array.prototype && Array.isArray(value)) {
    return enter(value, walk) ?? arrayOf(value as unknown[], walk);
  }
  if (proto === Date.prototype && types.isDate(value)) return `D${value.getTime()}`;
  if (proto === Map.prototype && types.isMap(value)) {
    return enter(value, walk) ?? mapOf(value, walk);
  }
  if (proto === Set.prototype && types.isSet(value)) {
    return enter(value, walk) ?? setOf(value, walk);
  }
  const tag = BYTE_TAGS.get(proto as object);
  if (tag !== undefined && ArrayBuffer.isView(value)) {
    return tag + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64url');
  }
  return new Unencodable(instanceDescription(value, proto as object));
}

/** Refuses a container that is its own ancestor or nested too deep; else makes it the innermost ancestor. */
function enter(value: object, walk: Walk): Unencodable | undefined {
  if (walk.ancestors.includes(value)) return new Unencodable('a cycle');
  if (walk.ancestors.length >= MAX_DEPTH) return new Unencodable(`nesting deeper than ${MAX_DEPTH}`);
  walk.ancestors.push(value);
  return undefined;
}

function recordOf(value: Record<string, unknown>, walk: Walk): string | Unencodable {
  // A property under a symbol has no stable name to key it by: such a record is never keyed as if it had none.
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) {
      return new Unencodable(`a property keyed by a symbol (${symbol.toString()})`);
    }
  }
  const keys = Object.keys(value);
  if (keys.length > 1) sortInPlace(keys);
  let out = `O${keys.length}`;
  for (const key of keys) {
    const form = canonicalOf(value[key], walk);
    if (typeof form !== 'string') {
      return failedAt(form, IDENTIFIER.test(key) ? `.${key}` : `[${quoted(key)}]`);
    }
    if (isBare(key)) out += `~${key}~${form}`;
    else {
      walk.escapes = true;
      out += `~${JSON.stringify(key)}~${form}`;
    }
  }
  walk.ancestors.pop();
  return out;
}

function arrayOf(value: unknown[], walk: Walk): string | Unencodable {
  let out = `A${value.length}`;
  for (let i = 0; i < value.length; i++) {
    const form = canonicalOf(value[i], walk);
    if (typeof form !== 'string') return failedAt(form, `[${i}]`);
    out += `~${form}`;
  }
  walk.ancestors.pop();
  return out;
}

function mapOf(value: Map<unknown, unknown>, walk: Walk): string | Unencodable {
  const entries: string[] = [];
  for (const [key, item] of value) {
    const keyForm = canonicalOf(key, walk);
    if (typeof keyForm !== 'string') return failedAt(keyForm, `<map key ${entries.length}>`);
    const itemForm = canonicalOf(item, walk);
    if (typeof itemForm !== 'string') return failedAt(itemForm, `<map value ${entries.length}>`);
    entries.push(`~${keyForm}~${itemForm}`);
  }
  walk.ancestors.pop();
  return `M${entries.length}${entries.sort().join('')}`;
}

function setOf(value: Set<unknown>, walk: Walk): string | Unencodable {
  const members: string[] = [];
  for (const member of value) {
    const form = canonicalOf(member, walk);
    if (typeof form !== 'string') return failedAt(form, `<set member ${members.length}>`);
    members.push(`~${form}`);
  }
  walk.ancestors.pop();
  return `S${members.length}${members.sort().join('')}`;
}

/** Whether text can stand bare inside a container: only `[A-Za-z0-9_.-]`, none of which ends a token. */
function isBare(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BARE[code] !== 1) return false;
  }
  return true;
}

/** `keys.sort()`, by UTF-16 code units; an insertion sort is several times faster on the few keys of most objects. */
function sortInPlace(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
}

/**
 * Whether `String(value)` has no `+` (no positive exponent). `String()` round-trips every number exactly and
 * writes `-0` as `0`, so it alone is the number's form.
 */
function isPlainNumber(value: number): boolean {
  return value < 1e21 && value > -1e21;
}

function failedAt(failure: Unencodable, segment: string): Unencodable {
  failure.path.push(segment);
  return failure;
}

function reasonOf(failure: Unencodable, index: number): string {
  const path = failure.path.reverse();
  const shown = path.length > MAX_REASON_PATH ? `${path.slice(0, MAX_REASON_PATH).join('')}…` : path.join('');
  return `${failure.what} at args[${index}]${shown}`;
}

/** What a non-plain object is, for a reason: the kinds a cache must never key get their own names. */
function instanceDescription(value: object, proto: object): string {
  const probe = value as { then?: unknown; pipe?: unknown; [Symbol.asyncIterator]?: unknown };
  const name = classNameOf(value, proto);
  if (value instanceof Promise) return 'a Promise';
  if (typeof probe.then === 'function') return `a thenable (${name})`;
  if (typeof probe.pipe === 'function') return `a stream (${name})`;
  if (typeof probe[Symbol.asyncIterator] === 'function') return `an async iterator (${name})`;
  if (value instanceof WeakMap) return 'a WeakMap';
  if (value instanceof WeakSet) return 'a WeakSet';
  if (value instanceof WeakRef) return 'a WeakRef';
  return `an instance of ${name}`;
}

function classNameOf(value: object, proto: object): string {
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  if (typeof ctor === 'function' && ctor.name !== '') return ctor.name;
  return Object.prototype.toString.call(value).slice(8, -1);
}

function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * `encodeKeySegment(form)`, or its hash when `form` is long. ASCII forms (nearly all) are escaped here, with
 * the same result: `encodeKeySegment` (two passes and a regex replace) costs more than the rest of a call.
 */
function segmentOf(form: string): string {
  if (form.length > MAX_LITERAL_LENGTH) return hashed(form);
  let out = '';
  let start = 0;
  for (let i = 0; i < form.length; i++) {
    const code = form.charCodeAt(i);
    if (code >= 128) return encodeKeySegment(form);
    if (UNRESERVED[code] === 1) continue;
    out += `${form.slice(start, i)}${ESCAPES[code] ?? ''}`;
    start = i + 1;
  }
  return start === 0 ? form : out + form.slice(start);
}

function hashed(form: string): string {
  const hash = createHash('sha256').update(LONE_SURROGATE.test(form) ? wtf8(form) : form);
  return `#${hash.digest('base64url')}`;
}

/** UTF-8, except that each lone surrogate becomes its own three bytes (which valid UTF-8 never holds). */
function wtf8(text: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    parts.push(
      Buffer.from(text.slice(start, i)),
      Buffer.from([0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]),
    );
    start = i + 1;
  }
  parts.push(Buffer.from(text.slice(start)));
  return Buffer.concat(parts);
}
