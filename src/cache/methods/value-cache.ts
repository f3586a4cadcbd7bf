import { Inject, Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheEngine, type AccessMode, type Acquired, type EntryPolicy } from '../engine/cache-engine.js';
import { Scopes, type EntryKey } from '../engine/entry-key.js';
import type { Ticket } from '../engine/ticket.js';
import type { MethodCounters } from '../observability/cache-stats.service.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { VALUE_STATUS } from '../stores/entry-format.js';
import { decodeValue, encodeValueShape } from '../values/value-codec.js';
import { ValueCopies } from '../values/value-copies.js';
import type { ValueType } from './cache-call.options.js';

/** A computation stopped because its caller left (an Observable unsubscribed first): nothing to share. */
export class ComputationLeft extends Error {
  constructor() {
    super('the caller left before the computation completed');
  }
}

export { VALUE_STATUS };

/** Read, then write: a normal call. */
export const READ_WRITE: AccessMode = { read: true, write: true };
/** Write only: `@CachePut`, `CacheService.set()`, and a call that found an unreadable entry. */
export const WRITE_ONLY: AccessMode = { read: false, write: true };

/** One cached call: where its entry lives, how it is stored, and what the caller gets back. */
export interface ValueCall {
  readonly key: EntryKey;
  /** The entry's namespace, and its key below it (encoded segments): its own scope, for writes. */
  readonly namespace: string;
  readonly rest: string;
  readonly policy: EntryPolicy & { readonly counters: MethodCounters };
  /**
   * Fixed tags of the call's options: stored with the entry (like result tags), so that every reader checks
   * them, whatever options it was called with.
   */
  readonly fixedTags: readonly string[];
  /** Tags from the result (the call's arguments already bound); a failure means "not stored". */
  readonly tagsOf: ((result: unknown) => readonly string[]) | undefined;
  /** `true`: returned, not stored. */
  readonly unless: ((result: unknown) => boolean) | undefined;
  readonly type: ValueType | undefined;
  /** Names the call in logs: `Class.method`, or `CacheService(namespace)`. */
  readonly label: string;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/**
 * Values (not HTTP responses) through the engine: an entry is a value encoded by the value codec, decoded into
 * a fresh copy for every caller. The asynchronous face, for `CacheService` and async methods; the same rules
 * as routes (stamps, coalescing, locks, grace, refresh-ahead, fail-open).
 */
@Injectable()
export class ValueCache {
  private readonly logger = new Logger('Cache');
  private readonly warned = new Set<string>();
  /** Parsed trees of entries read again and again: a hit copies one instead of parsing the text. */
  private readonly copies = new ValueCopies();

  constructor(
    readonly engine: CacheEngine,
    @Inject(RESOLVED_CACHE_OPTIONS) readonly options: ResolvedCacheOptions,
  ) {}

  /** Whether caching is enabled at all. */
  get enabled(): boolean {
    return this.engine.enabled;
  }

  /** The cached value of `call`, or `compute()`'s, stored; `compute` runs at most once per key at a time. */
  getOrSet<T>(call: ValueCall, compute: () => T | Promise<T>, mode: AccessMode = READ_WRITE): Promise<T> {
    if (!mode.read) return this.getOrSetFrom(call, compute, mode, undefined);
    // A hit answered synchronously (memory, L1) resolves without another turn through an async function.
    let acquired: Acquired | Promise<Acquired>;
    try {
      acquired = this.engine.acquire(call.key, call.policy, mode);
      if (!isPromise(acquired) && acquired.kind === 'hit') {
        const found = this.decode(acquired.entry, call);
        if (found !== undefined) return Promise.resolve(found.value as T);
      }
    } catch (error) {
      // The caller gets the error as it was thrown, whatever it is (as from an async function).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
    return this.getOrSetFrom(call, compute, mode, acquired);
  }

  /** {@link getOrSet} once the engine was asked (`acquired`), or from the start (`undefined`). */
  private async getOrSetFrom<T>(
    call: ValueCall,
    compute: () => T | Promise<T>,
    mode: AccessMode,
    asked: Acquired | Promise<Acquired> | undefined,
  ): Promise<T> {
    if (!mode.read) await this.evictOwn(call);
    const acquired = await (asked ?? this.acquire(call, mode));
    if (acquired.kind === 'hit') {
      const found = this.decode(acquired.entry, call);
      if (found !== undefined) return found.value as T;
      // Unreadable (corrupt, too big, unsafe, written by another version): recompute and overwrite it.
      const again = await this.acquire(call, WRITE_ONLY);
      if (again.kind === 'hit') return compute();
      return this.computeAndStore(again.ticket, call, compute, false);
    }
    // A write-only call (`@CachePut`) resolves once its entry is stored: the next read sees it.
    return this.computeAndStore(acquired.ticket, call, compute, !mode.read);
  }

  /** The cached value of `call`, or `undefined` (no entry, or an unreadable one). Never computes. */
  async get(call: ValueCall): Promise<{ value: unknown } | undefined> {
    if (!this.enabled) return undefined;
    const entry = (await this.engine.backend.read(call.key)).entry;
    // An entry past its lifetime (kept for grace) is not a value `get()` returns.
    const found = entry === undefined || entry.expiresAt <= Date.now() ? undefined : this.decode(entry, call);
    if (found === undefined) call.policy.counters.misses++;
    else call.policy.counters.hits++;
    return found;
  }

  /** Stores `value` under `call` (stamped now: an invalidation after this call returns reaches it). */
  async set(call: ValueCall, value: unknown): Promise<boolean> {
    await this.evictOwn(call);
    const acquired = await this.acquire(call, WRITE_ONLY);
    if (acquired.kind === 'hit') return false;
    // Storing a given value computes nothing: the engine counted this write as a miss.
    call.policy.counters.misses--;
    const stored = this.store(acquired.ticket, call, value);
    return stored.written === undefined ? false : stored.written;
  }

  /** A fresh copy of a value entry, or `undefined` when the entry is not a readable value. */
  decode(entry: StoredResponse, call: ValueCall): { value: unknown } | undefined {
    if (entry.status !== VALUE_STATUS || entry.body === undefined) return undefined;
    return this.copies.decode(call.key.key, entry.body, {
      maxBytes: this.options.memory.maxBytes,
      type: call.type,
    });
  }

  /**
   * Encodes and stores a computed value through its ticket; returns what the caller gets (a decoded copy when
   * stored, so a miss and a hit give values of the same types) and the write's outcome.
   */
  store<T>(ticket: Ticket, call: ValueCall, value: T): { value: T; written: Promise<boolean> | undefined } {
    const encoded = this.encode(call, value);
    if (encoded === undefined) {
      // Not stored (`undefined`, or `unless`): the callers waiting for it still get it, not a run of their own.
      const shared = value === undefined || call.unless !== undefined ? this.shareable(value) : undefined;
      if (shared === undefined) ticket.abandon();
      else ticket.share({ status: VALUE_STATUS, contentType: undefined, body: shared, etag: '' });
      return { value, written: undefined };
    }
    ticket.complete(
      { status: VALUE_STATUS, contentType: undefined, body: encoded.text, etag: '' },
      encoded.tags,
    );
    return { value: this.copyOf(call, encoded, value), written: ticket.written };
  }

  /**
   * The text and tags (fixed and from the result) `value` is stored with; `undefined` when it is not stored:
   * `undefined` itself, `unless` said so, or the codec or `tags` failed (counted, logged once).
   */
  encode(
    call: ValueCall,
    value: unknown,
  ): { text: string; plain: boolean; tags: readonly string[] | undefined } | undefined {
    if (value === undefined) return undefined;
    try {
      if (call.unless !== undefined && call.unless(value)) return undefined;
      const { text, plain } = encodeValueShape(value);
      if (call.tagsOf === undefined) {
        return { text, plain, tags: call.fixedTags.length === 0 ? undefined : call.fixedTags };
      }
      const tags = call.tagsOf(value).filter((t): t is string => typeof t === 'string' && t !== '');
      return { text, plain, tags: [...new Set([...call.fixedTags, ...tags])] };
    } catch (error) {
      call.policy.counters.errors++;
      this.warnOnce(call.label, `${call.label}: result not cached (${errorMessage(error)})`);
      return undefined;
    }
  }

  /** The codec text of a value that is not stored, for the callers waiting on it; `undefined` if it has none. */
  private shareable(value: unknown): string | undefined {
    try {
      return encodeValueShape(value).text;
    } catch {
      return undefined;
    }
  }

  /**
   * What the caller of a miss gets: its own value when it is plain JSON data (nobody else holds it: the cache
   * keeps text), else a copy decoded from the stored text, so that a miss and a hit give the same types.
   */
  copyOf<T>(call: ValueCall, encoded: { text: string; plain: boolean }, value: T): T {
    if (encoded.plain && call.type === undefined) return value;
    const copy = decodeValue(encoded.text, { type: call.type });
    return copy === undefined ? value : (copy.value as T);
  }

  /**
   * Makes the entry of exactly this key (not those that extend it) a miss everywhere, before a write-only call
   * computes: a computation that started earlier can then never store its older value over this one, and a
   * result that is not stored (`undefined`) still removes the old one.
   */
  evictOwn(call: ValueCall): Promise<void> {
    return this.engine.backend.invalidate([Scopes.exact(call.namespace, call.rest === '' ? '_' : call.rest)]);
  }

  /** Logs `message` the first time `label` has a problem (not on every call). */
  warnOnce(label: string, message: string): void {
    if (this.warned.has(label)) return;
    if (this.warned.size >= 10_000) this.warned.clear();
    this.warned.add(label);
    this.logger.warn(`${message} (logged once)`);
  }

  private acquire(call: ValueCall, mode: AccessMode): Promise<Acquired> {
    const acquired = this.engine.acquire(call.key, call.policy, mode);
    return isPromise(acquired) ? acquired : Promise.resolve(acquired);
  }

  private async computeAndStore<T>(
    ticket: Ticket,
    call: ValueCall,
    compute: () => T | Promise<T>,
    awaitWrite: boolean,
  ): Promise<T> {
    const counters = call.policy.counters;
    counters.inFlight++;
    let value: T;
    try {
      value = await compute();
    } catch (error) {
      if (error instanceof ComputationLeft) {
        // Its caller left: the callers waiting for it run their own (they asked for a value, not this error).
        ticket.abandon();
        throw error;
      }
      const stale = ticket.stale === undefined ? undefined : this.decode(ticket.stale, call);
      if (stale === undefined) {
        // The callers waiting for this computation get its error too: it runs once, not once per caller.
        ticket.fail(error);
        throw error;
      }
      ticket.abandon();
      this.logger.warn(
        `${call.label}: recomputing failed (${errorMessage(error)}); returning the stale value`,
      );
      counters.stale++;
      return stale.value as T;
    } finally {
      counters.inFlight--;
    }
    const stored = this.store(ticket, call, value);
    if (awaitWrite) await stored.written;
    return stored.value;
  }
}
