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
  /** How to copy JSON.parse of `text` (never handed out: callers get copies); `undefined` until read twice. */
  plan: CopyPlan | undefined;
  /** JSON.parse of `text` when it is a primitive (its own copy). */
  primitive: unknown;
  /** Whether `plan` and `primitive` are set. */
  parsed: boolean;
}

/**
 * The value decoder with a memory of the entries read again and again: the parsed tree of a pure JSON text
 * (`j`, see value-format.ts) is kept by entry key, and a later read of the same text under that key gets a copy
 * of the tree, which costs about an eighth of parsing the text again. Every call still returns new objects,
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
    if (!slot.parsed) {
      const parsed = decodeValue(text, { maxBytes: options.maxBytes });
      if (parsed === undefined) return undefined;
      slot.plan = planOf(parsed.value);
      slot.primitive = slot.plan === undefined ? parsed.value : undefined;
      slot.parsed = true;
    }
    const copy = slot.plan === undefined ? slot.primitive : copyOf(slot.plan);
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
    this.slots.set(key, { text, plan: undefined, primitive: undefined, parsed: false });
    this.chars += text.length;
  }
}

/**
 * How to copy one object or array of a tree made by JSON.parse (plain objects, dense arrays, strings, numbers,
 * booleans, null): a shallow copy of the node (spread, or `slice()`), then a copy of each nested object or
 * array in place. The copy has the node's own keys in their order, so it is what parsing the text again gives;
 * spreading defines properties (it never sets a prototype) and reads nothing inherited.
 */
interface CopyPlan {
  readonly node: object;
  readonly array: boolean;
  /** Keys (or indexes) of the node whose values are objects or arrays, and the plan of each. */
  readonly nested: ReadonlyArray<string | number>;
  readonly plans: readonly CopyPlan[];
}

const NONE: readonly never[] = [];

/** The plan of a parsed tree; `undefined` for a primitive (which is its own copy). */
function planOf(tree: unknown): CopyPlan | undefined {
  return typeof tree === 'object' && tree !== null ? planNode(tree) : undefined;
}

function planNode(node: object): CopyPlan {
  const array = Array.isArray(node);
  const keys: ReadonlyArray<string | number> = array
    ? (node as unknown[]).map((_, i) => i)
    : Object.keys(node);
  let nested: Array<string | number> | undefined;
  let plans: CopyPlan[] | undefined;
  for (const key of keys) {
    const item = (node as Record<string | number, unknown>)[key];
    if (typeof item !== 'object' || item === null) continue;
    (nested ??= []).push(key);
    (plans ??= []).push(planNode(item));
  }
  return { node, array, nested: nested ?? NONE, plans: plans ?? NONE };
}

function copyOf(plan: CopyPlan): unknown {
  const copy = (plan.array ? (plan.node as unknown[]).slice() : { ...plan.node }) as Record<
    string | number,
    unknown
  >;
  const nested = plan.nested;
  for (let i = 0; i < nested.length; i++)
    copy[nested[i] as string | number] = copyOf(plan.plans[i] as CopyPlan);
  return copy;
}
