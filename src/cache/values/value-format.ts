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

/** Shape character of a text that is `JSON.stringify(value)` of pure JSON data. */
export const FAST = 'j';

/** Shape character of a text that is the JSON of a tagged tree. */
export const TAGGED = 't';

/** {@link FAST} as a UTF-16 code unit, for comparing with `text.charCodeAt(0)`. */
export const FAST_CODE = FAST.charCodeAt(0);

/** {@link TAGGED} as a UTF-16 code unit, for comparing with `text.charCodeAt(0)`. */
export const TAGGED_CODE = TAGGED.charCodeAt(0);

/** The key that makes an object of a tagged tree a tag node; its value is the tag name. */
export const MARK = '~';

/** Deepest nesting of objects, arrays, Maps and Sets that is encoded (the top-level container is level 1). */
export const MAX_DEPTH = 1000;

/**
 * Whether a text may spell a key that {@link isForbiddenKey} refuses (`\u` escapes can spell any key), so
 * that only then are the keys of the parsed tree checked one by one. Keep it in step with isForbiddenKey.
 */
export const MAYBE_UNSAFE = /__proto__|constructor|prototype|\\u/;

/**
 * Whether `key` is an object key that is never written or read: `__proto__`, `constructor` or `prototype`
 * (assigning the first one would set a prototype).
 */
export function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

type ViewClass = new (buffer: ArrayBuffer) => ArrayBufferView;

/** Every typed-array class (the value codec and the argument keys both know them by exact prototype). */
export const TYPED_ARRAY_CLASSES = [
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
] as const;

/**
 * The views that come back as the class they were: tag (the class name) -> [class, bytes per element].
 * `Buffer` is tagged apart, as it is a Uint8Array that must come back as a Buffer.
 */
export const VIEWS = new Map<unknown, readonly [ViewClass, number]>(
  TYPED_ARRAY_CLASSES.map((View) => [View.name, [View as ViewClass, View.BYTES_PER_ELEMENT]] as const).concat(
    [['DataView', [DataView, 1]]],
  ),
);
