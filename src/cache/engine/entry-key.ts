import { createHash } from 'node:crypto';
import { encodeKeySegment } from './key-segment.js';

/** Longest key ever written, in bytes; longer ones are hashed (their scopes are computed before hashing). */
export const MAX_KEY_BYTES = 256;

/** Deepest key prefix (namespace plus this many segments) that `invalidateScope()` targets exactly. */
export const MAX_SCOPE_DEPTH = 3;

/** Where an entry lives and the scope records it depends on, all under one key prefix. */
export interface EntryKey {
  /** The entry: `{prefix}:@e:{namespace}:{rest}` (a value's: `{prefix}:@v2:…`). */
  readonly key: string;
  /** Its distributed lock: `{prefix}:@l:{namespace}:{rest}`. */
  readonly lockKey: string;
  /** The scope records the entry depends on (`{prefix}:@s:{scope}`), known before its value is computed. */
  readonly recordKeys: readonly string[];
  /** What one lookup reads: the entry, the clock, then {@link recordKeys}. Shared: never mutate. */
  readonly readKeys: readonly string[];
}

const TAG_MEMO_SIZE = 10_000;
const RECORD_MEMO_SIZE = 10_000;

/** Scope names: see docs/storage-model.md. Each is the suffix of one record key. */
export const Scopes = {
  /** Every entry under the prefix. */
  all: '*',
  /** Every entry of a namespace (taken literally, encoded here). */
  namespace: (namespace: string): string => `n:${encodeKeySegment(namespace)}`,
  /** Entries of a namespace whose key continues with these (already encoded) segments. */
  prefix: (namespace: string, segments: readonly string[]): string =>
    segments.length === 0
      ? Scopes.namespace(namespace)
      : `p:${encodeKeySegment(namespace)}:${segments.slice(0, MAX_SCOPE_DEPTH).join(':')}`,
  /** Entries carrying a tag (taken literally, encoded here). */
  tag: (tag: string): string => `t:${encodeKeySegment(tag)}`,
  /**
   * The one value entry (`@Cacheable`, `CacheService`) of exactly this key (its already encoded rest), none that
   * extend it: what a write of that key evicts. Every prefix scope of the same segments reaches it too.
   */
  exact: (namespace: string, rest: string): string => `x:${encodeKeySegment(namespace)}:${rest}`,
} as const;

/** The scopes an invalidation of `scope` bumps: a prefix also covers the value entry of exactly that key. */
export function scopesReached(scope: string): readonly string[] {
  return scope.startsWith('p:') ? [scope, `x:${scope.slice(2)}`] : [scope];
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function bounded(base: string, tail: string): string {
  const key = base + tail;
  if (key.length <= MAX_KEY_BYTES / 4 || Buffer.byteLength(key) <= MAX_KEY_BYTES) return key;
  // `#` never occurs in an encoded segment, so a hashed tail never equals a literal one.
  return `${base}#${hashOf(tail)}`;
}

/** A builder's result without its leading `namespace:`; `_` when nothing is left. */
export function restOf(namespace: string, built: string): string {
  let rest: string;
  if (built === namespace) rest = '';
  else if (built.startsWith(namespace) && built.charCodeAt(namespace.length) === 58 /* : */) {
    rest = built.slice(namespace.length + 1);
  } else rest = built;
  return rest === '' ? '_' : rest;
}

/** What an entry holds: an HTTP response (`@Cached`) or a value (`@Cacheable`, `CacheService`). */
export type EntryKind = 'response' | 'value';

/** A namespace as keys use it: encoded, its record, and the prefix scopes of the key heads seen in it. */
interface KnownNamespace {
  readonly encoded: string;
  readonly record: string;
  readonly prefixes: Map<string, readonly string[]>;
}

/** Names every key of one prefix: entries, scope records, the clock and locks. */
export class KeySpace {
  /** The invalidation clock: the one key that has no expiry. */
  readonly clockKey: string;
  private readonly entryBase: string;
  private readonly valueBase: string;
  private readonly lockBase: string;
  private readonly recordBase: string;
  private readonly tagKeys = new Map<string, string>();
  private readonly namespaces = new Map<string, KnownNamespace>();
  /** Prefix lists remembered in all namespaces together. */
  private prefixCount = 0;
  private readonly allRecord: string;

  constructor(readonly prefix: string) {
    this.clockKey = `${prefix}:@clock`;
    this.entryBase = `${prefix}:@e:`;
    // `@v2`: since fixed tags travel with the entry; entries of the earlier `@v` layout are never read.
    this.valueBase = `${prefix}:@v2:`;
    this.lockBase = `${prefix}:@l:`;
    this.recordBase = `${prefix}:@s:`;
    this.allRecord = this.record(Scopes.all);
  }

  /** The record keys of tags (memoized: tags repeat). */
  tagRecords(tags: readonly string[]): string[] {
    const out = new Array<string>(tags.length);
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i] ?? '';
      let key = this.tagKeys.get(tag);
      if (key === undefined) {
        key = this.record(Scopes.tag(tag));
        if (this.tagKeys.size >= TAG_MEMO_SIZE) this.tagKeys.clear();
        this.tagKeys.set(tag, key);
      }
      out[i] = key;
    }
    return out;
  }

  /** The record key of a scope. */
  record(scope: string): string {
    return bounded(this.recordBase, scope);
  }

  /**
   * The entry key of a built key in `namespace` (any string, encoded injectively), with the records it depends
   * on: everything, its namespace, the prefixes of its first {@link MAX_SCOPE_DEPTH} segments and `tags`.
   * Values (method results, `CacheService`) live beside responses under their own base: the same scopes reach
   * both, but a value and a response never share an entry.
   */
  entry(
    namespace: string,
    built: string,
    tags: readonly string[] = [],
    kind: EntryKind = 'response',
  ): EntryKey {
    const rest = restOf(namespace, built);
    const ns = this.namespaceOf(namespace);
    // The first MAX_SCOPE_DEPTH segments that a `:` ends name the prefix scopes; keys of one route share them.
    let end = -1;
    let segments = 0;
    while (segments < MAX_SCOPE_DEPTH) {
      const next = rest.indexOf(':', end + 1);
      if (next === -1) break;
      end = next;
      segments++;
    }
    const recordKeys = [this.allRecord, ns.record];
    if (segments > 0) recordKeys.push(...this.prefixRecords(ns, rest.slice(0, end)));
    // Fewer segments: the whole key is a prefix scope of its own (a leaf: unique per entry on miss-heavy routes,
    // where a memo would only churn). A value's leaf is exact (below): a write of its key evicts it and never the
    // keys that extend it.
    if (segments < MAX_SCOPE_DEPTH && kind === 'response')
      recordKeys.push(this.record(`p:${ns.encoded}:${rest}`));
    if (kind === 'value') recordKeys.push(this.record(`x:${ns.encoded}:${rest}`));
    for (const tag of tags) {
      const record = this.tagRecords([tag])[0] ?? '';
      if (!recordKeys.includes(record)) recordKeys.push(record);
    }
    const tail = `${ns.encoded}:${rest}`;
    return kind === 'response'
      ? new ResolvedEntryKey(this, bounded(this.entryBase, tail), tail, recordKeys)
      : new ResolvedEntryKey(this, bounded(this.valueBase, tail), `@v2:${tail}`, recordKeys);
  }

  /** The lock key of an entry's tail (`{namespace}:{rest}`). */
  lockOf(tail: string): string {
    return bounded(this.lockBase, tail);
  }

  private namespaceOf(namespace: string): KnownNamespace {
    let known = this.namespaces.get(namespace);
    if (known === undefined) {
      known = {
        encoded: encodeKeySegment(namespace),
        record: this.record(Scopes.namespace(namespace)),
        prefixes: new Map(),
      };
      if (this.namespaces.size >= RECORD_MEMO_SIZE) {
        this.forgetPrefixes();
        this.namespaces.clear();
      }
      this.namespaces.set(namespace, known);
    }
    return known;
  }

  /**
   * The record keys of the prefix scopes of `head` (a key's first segments, without the `:` that ends the last
   * one), shortest first: remembered per namespace, since the keys of one route begin alike.
   */
  private prefixRecords(ns: KnownNamespace, head: string): readonly string[] {
    let known = ns.prefixes.get(head);
    if (known === undefined) {
      const records: string[] = [];
      for (let end = head.indexOf(':'); ; end = head.indexOf(':', end + 1)) {
        records.push(this.record(`p:${ns.encoded}:${end === -1 ? head : head.slice(0, end)}`));
        if (end === -1) break;
      }
      known = records;
      if (this.prefixCount >= RECORD_MEMO_SIZE) this.forgetPrefixes();
      ns.prefixes.set(head, known);
      this.prefixCount++;
    }
    return known;
  }

  private forgetPrefixes(): void {
    for (const ns of this.namespaces.values()) ns.prefixes.clear();
    this.prefixCount = 0;
  }
}

/** An {@link EntryKey} whose lock key and read list are built on first use. */
class ResolvedEntryKey implements EntryKey {
  private lock: string | undefined;
  private reads: string[] | undefined;

  constructor(
    private readonly space: KeySpace,
    readonly key: string,
    private readonly tail: string,
    readonly recordKeys: readonly string[],
  ) {}

  get lockKey(): string {
    return (this.lock ??= this.space.lockOf(this.tail));
  }

  get readKeys(): readonly string[] {
    return (this.reads ??= [this.key, this.space.clockKey, ...this.recordKeys]);
  }
}
