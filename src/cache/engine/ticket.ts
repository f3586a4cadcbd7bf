import type { StoredResponse } from '../stores/cache-store.interface.js';
import type { CacheBackend, Lookup } from './cache-backend.js';
import type { EntryPolicy } from './cache-engine.js';
import type { EntryKey } from './entry-key.js';

/** A computation that threw, handed to the callers that waited for it (values only, see {@link Ticket.fail}). */
export class FlightFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Ends a flight: followers receive the entry (or compute themselves on `undefined`, or get the leader's error on
 * a {@link FlightFailure}); `written` settles when stored.
 */
export type Settle = (entry: StoredResponse | FlightFailure | undefined, written?: Promise<boolean>) => void;

/** What a computed value is stored as: everything of an entry but its lifetimes, stamp and cost. */
export type EntryContent = Omit<
  StoredResponse,
  'expiresAt' | 'staleUntil' | 'tick' | 'computeMs' | 'tags' | 'bodyBytes'
>;

/**
 * The right (and duty) to compute one value: complete it with the result, or abandon it. Either ends the flight
 * that coalesced callers wait on; completing also stores the entry, stamped by the lookup that issued the
 * ticket, so that an invalidation since then makes the write a miss.
 */
export class Ticket {
  private readonly started = performance.now();
  private done = false;
  private stored: Promise<boolean> | undefined;

  constructor(
    private readonly backend: CacheBackend,
    private readonly key: EntryKey,
    private readonly policy: EntryPolicy,
    private readonly lookup: Lookup | undefined,
    /** The stale entry to answer with if computing fails (grace, refresh-ahead). */
    readonly stale: StoredResponse | undefined,
    private readonly settle: Settle,
  ) {}

  /**
   * Completes with the computed content (and its result tags), storing it when the lookup gave a stamp; returns the
   * entry as it is (or would have been) stored, for its lifetimes and validators.
   */
  complete(content: EntryContent, tags?: readonly string[], store = true): StoredResponse {
    const entry = this.entryOf(content, tags);
    if (this.done) return entry;
    this.done = true;
    const lookup = this.lookup;
    if (!store || lookup === undefined || lookup.stamp === undefined) {
      this.settle(undefined);
      return entry;
    }
    const written = this.backend.write(this.key, entry, this.policy.ttlMs + this.policy.graceMs, lookup.tier);
    this.stored = written;
    this.settle(entry, written);
    return entry;
  }

  /**
   * Ends the flight without storing anything, handing `content` to the callers that waited for it (a result
   * the cache may not keep, which they still must not compute again at the same time).
   */
  share(content: EntryContent): void {
    if (this.done) return;
    this.done = true;
    this.settle(this.entryOf(content, undefined));
  }

  private entryOf(content: EntryContent, tags: readonly string[] | undefined): StoredResponse {
    const now = Date.now();
    const { ttlMs, graceMs } = this.policy;
    // One literal of a fixed shape (a spread of `content` plus conditional fields costs microseconds per miss).
    const entry: { -readonly [K in keyof StoredResponse]: StoredResponse[K] } = {
      status: content.status,
      contentType: content.contentType,
      body: content.body,
      etag: content.etag,
      expiresAt: now + ttlMs,
      staleUntil: now + ttlMs + graceMs,
      tick: this.lookup?.stamp ?? 0,
      computeMs: Math.round(performance.now() - this.started),
    };
    if (content.encoding !== undefined) entry.encoding = content.encoding;
    if (content.contentEncoding !== undefined) entry.contentEncoding = content.contentEncoding;
    if (tags !== undefined && tags.length > 0) entry.tags = tags;
    if (content.vary !== undefined) entry.vary = content.vary;
    // Frozen here, so the memory store keeps this object itself instead of a frozen copy.
    return Object.freeze(entry);
  }

  /** Settles once a completed entry is stored (or refused); `undefined` when nothing was written. */
  get written(): Promise<boolean> | undefined {
    return this.stored;
  }

  /**
   * Computing threw: the callers that waited for this computation get the same error instead of each
   * computing again at once (for values, whose callers asked for the same call; a response is never failed).
   */
  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.settle(new FlightFailure(error));
  }

  /** Nothing to store (computing failed, or the result may not be cached): followers compute themselves. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.settle(undefined);
  }
}
