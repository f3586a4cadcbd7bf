import { decodeValue, instantiate, type ValueDecodeOptions } from './value-decoder.js';
import { FAST_CODE } from './value-format.js';

/** Longest text (in characters) whose parsed tree is kept: copying pays off, and the bound stays small. */
const MAX_TEXT_CHARS = 16_384;

/** Parsed trees kept at once, and the characters of their texts together (about 1 MB of text). */
const MAX_SLOTS = 2048;
const MAX_CHARS = 1 << 20;

/** What is known of the last text read under one key. */
interface Slot {
  readonly text: string;
  /** JSON.parse of `text`, never handed out (callers get copies); `undefined` until read twice. */
  tree: unknown;
}

/**
 * The value decoder with a memory of the entries read again and again: the parsed tree of a pure JSON text
 * (`j`, see value-format.ts) is kept by entry key, and a later read of the same text under that key gets a copy
 * of the tree, which costs about a quarter of parsing the text again. Every call still returns new objects,
 * shared with nothing, deep-equal to what {@link decodeValue} returns for the text.
 *
 * The tree is reused only for a text equal to the one it was parsed from, so what it returns never depends on
 * when an entry was written or invalidated (the engine decides which text is valid; this only reads it).
 * A tree is kept from the second read of a text on: a key read once costs one `Map` insertion more than a plain
 * decode. Bounded: at most 2048 keys and 1 MB of text; past either, everything is dropped and kept again.
 */
export class ValueCopies {
  private readonly slots = new Map<string, Slot>();
  private chars = 0;

  /** {@link decodeValue} of `text`, read under the entry key `key`: a fresh copy, or `undefined` for a miss. */
  decode(key: string, text: string, options: ValueDecodeOptions): { value: unknown } | undefined {
    if (text.length > MAX_TEXT_CHARS || text.charCodeAt(0) !== FAST_CODE) return decodeValue(text, options);
    const slot = this.slots.get(key);
    if (slot === undefined || slot.text !== text) {
      const found = decodeValue(text, options);
      if (found !== undefined) this.remember(key, text, slot);
      return found;
    }
    if (slot.tree === undefined) {
      const parsed = decodeValue(text, { maxBytes: options.maxBytes });
      if (parsed === undefined) return undefined;
      slot.tree = parsed.value;
    }
    const copy = copyTree(slot.tree);
    const type = options.type;
    return { value: type === undefined ? copy : instantiate(copy, type.prototype) };
  }

  /** Keys whose last text is remembered (a tree is kept for those read twice). */
  get size(): number {
    return this.slots.size;
  }

  /** Forgets every kept tree. */
  clear(): void {
    this.slots.clear();
    this.chars = 0;
  }

  private remember(key: string, text: string, previous: Slot | undefined): void {
    if (previous !== undefined) this.chars -= previous.text.length;
    else if (this.slots.size >= MAX_SLOTS) this.clear();
    if (this.chars + text.length > MAX_CHARS) this.clear();
    this.slots.set(key, { text, tree: undefined });
    this.chars += text.length;
  }
}

/**
 * A deep copy of a tree made by JSON.parse (plain objects, dense arrays, strings, numbers, booleans, null):
 * own keys in their order, so the copy is what parsing the text again would give. The tree's keys were checked
 * by the decoder (no `__proto__`), so plain assignment is safe.
 */
function copyTree(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  return Array.isArray(node) ? copyArray(node as unknown[]) : copyObject(node as Record<string, unknown>);
}

function copyArray(items: unknown[]): unknown[] {
  const length = items.length;
  const copy = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    const item = items[i];
    copy[i] =
      typeof item !== 'object' || item === null
        ? item
        : Array.isArray(item)
          ? copyArray(item as unknown[])
          : copyObject(item as Record<string, unknown>);
  }
  return copy;
}

function copyObject(record: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = record[key];
    copy[key] =
      typeof item !== 'object' || item === null
        ? item
        : Array.isArray(item)
          ? copyArray(item as unknown[])
          : copyObject(item as Record<string, unknown>);
  }
  return copy;
}
