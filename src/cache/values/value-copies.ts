import { decodeValue, instantiate, type ValueDecodeOptions } from './value-decoder.js';
import { FAST_CODE } from './value-format.js';

/** Longest text (in characters) whose parsed tree is kept: copying pays off, and the bound stays small. */
const MAX_TEXT_CHARS = 16_384;

/** Keys remembered at once, and the characters of their texts together (about 1 MB of text). */
const MAX_SLOTS = 2048;
const MAX_CHARS = 1 << 20;

/**
 * Objects and arrays of the kept trees together (each kept with its copy plan: about 100-200 bytes), and of one
 * tree; and the deepest tree kept (copies recurse once per level). A tree past a bound is decoded on every read.
 */
const MAX_NODES = 1 << 16;
const MAX_TREE_NODES = 4096;
const MAX_TREE_DEPTH = 64;

/** What is known of the last text read under one key. */
interface Slot {
  readonly text: string;
  /**
   * `seen`: read once; `kept`: its plan is kept; `decoded`: a primitive or a tree past the bounds, decoded on
   * every read.
   */
  state: 'seen' | 'kept' | 'decoded';
  /** How to copy JSON.parse of `text` (never handed out: callers get copies), when kept. */
  plan: CopyPlan | undefined;
  /** Objects and arrays of the kept tree. */
  nodes: number;
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
 * decode. Bounded: at most 2048 keys, 1 MB of text and 65,536 kept objects and arrays (a tree of more than 4096,
 * or deeper than 64 levels, is never kept); past a bound, everything is dropped and kept again.
 */
export class ValueCopies {
  private readonly slots = new Map<string, Slot>();
  private chars = 0;
  private nodes = 0;

  /** {@link decodeValue} of `text`, read under the entry key `key`: a fresh copy, or `undefined` for a miss. */
  decode(key: string, text: string, options: ValueDecodeOptions): { value: unknown } | undefined {
    if (text.length > MAX_TEXT_CHARS || text.charCodeAt(0) !== FAST_CODE) return decodeValue(text, options);
    const slot = this.slots.get(key);
    if (slot === undefined || slot.text !== text) {
      const found = decodeValue(text, options);
      if (found !== undefined) this.remember(key, text, slot);
      return found;
    }
    if (slot.state === 'seen') {
      const parsed = decodeValue(text, { maxBytes: options.maxBytes });
      if (parsed === undefined) return undefined;
      // Not kept: nothing else holds this tree, so it is the caller's.
      if (!this.keep(slot, parsed.value)) return { value: typed(parsed.value, options) };
    } else if (slot.state === 'decoded') {
      return decodeValue(text, options);
    }
    return { value: typed(copyOf(slot.plan as CopyPlan), options) };
  }

  /** Keys whose last text is remembered (a tree is kept for those read twice). */
  get size(): number {
    return this.slots.size;
  }

  /** Objects and arrays of the kept trees. */
  get keptNodes(): number {
    return this.nodes;
  }

  /** Forgets every kept tree. */
  clear(): void {
    this.slots.clear();
    this.chars = 0;
    this.nodes = 0;
  }

  private remember(key: string, text: string, previous: Slot | undefined): void {
    if (previous !== undefined) {
      this.chars -= previous.text.length;
      this.nodes -= previous.nodes;
    } else if (this.slots.size >= MAX_SLOTS) this.clear();
    if (this.chars + text.length > MAX_CHARS) this.clear();
    this.slots.set(key, { text, state: 'seen', plan: undefined, nodes: 0 });
    this.chars += text.length;
  }

  /** Keeps the plan of `tree` (parsed from the slot's text) when it is within the bounds; whether it did. */
  private keep(slot: Slot, tree: unknown): boolean {
    // A primitive costs next to nothing to parse: decoded on every read.
    if (typeof tree !== 'object' || tree === null) {
      slot.state = 'decoded';
      return false;
    }
    const count = { nodes: 0 };
    const plan = planNode(tree, 1, count);
    if (plan === undefined) {
      slot.state = 'decoded';
      return false;
    }
    if (this.nodes + count.nodes > MAX_NODES) {
      // Everything is dropped; this key is kept again from its next two reads.
      this.clear();
      return false;
    }
    slot.plan = plan;
    slot.nodes = count.nodes;
    slot.state = 'kept';
    this.nodes += count.nodes;
    return true;
  }
}

/** A decoded value as the caller's options want it (an instance of `type`, see the decoder). */
function typed(value: unknown, options: ValueDecodeOptions): unknown {
  const type = options.type;
  return type === undefined ? value : instantiate(value, type.prototype);
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
  /** No nested object or array: the shallow copy is the whole copy. */
  readonly leaf: boolean;
}

const NONE: readonly never[] = [];

/**
 * The plan of a parsed object or array, counting its objects and arrays in `count`; `undefined` when the tree
 * has more than {@link MAX_TREE_NODES} of them or is deeper than {@link MAX_TREE_DEPTH}.
 */
function planNode(node: object, depth: number, count: { nodes: number }): CopyPlan | undefined {
  if (depth > MAX_TREE_DEPTH || ++count.nodes > MAX_TREE_NODES) return undefined;
  const array = Array.isArray(node);
  const keys: ReadonlyArray<string | number> = array
    ? (node as unknown[]).map((_, i) => i)
    : Object.keys(node);
  let nested: Array<string | number> | undefined;
  let plans: CopyPlan[] | undefined;
  for (const key of keys) {
    const item = (node as Record<string | number, unknown>)[key];
    if (typeof item !== 'object' || item === null) continue;
    const plan = planNode(item, depth + 1, count);
    if (plan === undefined) return undefined;
    (nested ??= []).push(key);
    (plans ??= []).push(plan);
  }
  return { node, array, nested: nested ?? NONE, plans: plans ?? NONE, leaf: nested === undefined };
}

function copyOf(plan: CopyPlan): unknown {
  const copy = (plan.array ? (plan.node as unknown[]).slice() : { ...plan.node }) as Record<
    string | number,
    unknown
  >;
  // Leaves (most nodes: the items of a list, their tag arrays) return at once: measured 17 % off a copy.
  if (plan.leaf) return copy;
  const nested = plan.nested;
  const plans = plan.plans;
  for (let i = 0; i < nested.length; i++) copy[nested[i] as string | number] = copyOf(plans[i] as CopyPlan);
  return copy;
}
