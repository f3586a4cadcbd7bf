import { Inject, Injectable } from '@nestjs/common';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import type { NamespaceCounters } from '../observability/cache-stats.service.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { CacheBackend, type Lookup } from './cache-backend.js';
import type { EntryKey } from './entry-key.js';
import { lockOrWait } from './lock-wait.js';
import { SingleFlight } from './single-flight.js';
import { FlightFailure, Ticket, type Settle } from './ticket.js';

/** How one cache (a route, a method, a programmatic call) stores and protects its entries. */
export interface EntryPolicy {
  /** Milliseconds an entry is fresh. */
  readonly ttlMs: number;
  /** Milliseconds after expiry during which a stale entry may still be served. */
  readonly graceMs: number;
  /** XFetch beta, or 0 for no early refresh. */
  readonly refreshBeta: number;
  /** Concurrent misses of one key in this process compute once. */
  readonly coalesce: boolean;
  /** Also across processes, with a Redis lock. */
  readonly lock: boolean;
  /** The counters this cache's outcomes are added to. */
  readonly counters: NamespaceCounters;
}

/** What the caller wants of the cache for this call (request directives, HEAD). */
export interface AccessMode {
  /** Look for an entry (false: `no-cache`, or `no-store`). */
  readonly read: boolean;
  /** Store the computed value (false: `no-store`, HEAD). */
  readonly write: boolean;
}

/** The four access modes, shared (a request's mode is one of them). */
const ACCESS_MODES: readonly AccessMode[] = [
  Object.freeze({ read: false, write: false }),
  Object.freeze({ read: false, write: true }),
  Object.freeze({ read: true, write: false }),
  Object.freeze({ read: true, write: true }),
];

/** The shared access mode that reads and writes as asked. */
export function accessModeOf(read: boolean, write: boolean): AccessMode {
  return ACCESS_MODES[(read ? 2 : 0) + (write ? 1 : 0)] as AccessMode;
}

/** The outcome of {@link CacheEngine.acquire}: an entry to answer with, or a value to compute. */
export type Acquired =
  | { readonly kind: 'hit'; readonly entry: StoredResponse; readonly label: 'HIT' | 'STALE' }
  | { readonly kind: 'compute'; readonly ticket: Ticket };

const NO_FLIGHT: Settle = () => undefined;

/** XFetch: refresh early with a probability that grows as expiry nears and with the value's cost. */
function refreshesEarly(entry: StoredResponse, now: number, beta: number): boolean {
  return now - Math.max(entry.computeMs, 1) * beta * Math.log(Math.random()) >= entry.expiresAt;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/**
 * The cache's read-decide-compute-write cycle, for any caller: lookup, then a hit, a stale entry served while
 * one caller refreshes it (grace, refresh-ahead), a coalesced wait for another caller's value (in process, or
 * across processes with a lock), or a {@link Ticket} to compute the value and complete. No HTTP in here.
 */
@Injectable()
export class CacheEngine {
  /** Lookups in flight, per key (see {@link sharedLookup}). */
  private readonly lookups = new Map<string, { lookup: Promise<Lookup>; epoch: number }>();
  /** In-process coalescing of concurrent misses, per key and stamp. */
  private readonly flights: SingleFlight<StoredResponse | FlightFailure>;

  constructor(
    readonly backend: CacheBackend,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {
    this.flights = new SingleFlight(options.stampede.coalesceTimeout);
  }

  /** Whether caching is enabled at all. */
  get enabled(): boolean {
    return this.backend.enabled;
  }

  /**
   * Looks `key` up and decides; synchronous when the answering tier is. Never rejects, but for a caller that
   * waited on a value computation that threw ({@link Ticket.fail}): it gets that error.
   */
  acquire(key: EntryKey, policy: EntryPolicy, mode: AccessMode): Acquired | Promise<Acquired> {
    if (!mode.read && !mode.write) return this.compute(key, policy, undefined, undefined, NO_FLIGHT);
    const lookup = mode.read && policy.coalesce ? this.sharedLookup(key) : this.backend.read(key, mode.read);
    if (isPromise(lookup)) return lookup.then((found) => this.decide(key, policy, mode, found));
    return this.decide(key, policy, mode, lookup);
  }

  /**
   * Concurrent lookups of one key share one read: the callers then decide in arrival order, so the first miss
   * leads and the others follow it (with an asynchronous store, each would otherwise see no flight yet).
   */
  private sharedLookup(key: EntryKey): Lookup | Promise<Lookup> {
    const epoch = this.backend.invalidationEpoch;
    const pending = this.lookups.get(key.key);
    // A lookup that started before an invalidation may have found what it removed: never shared after it.
    if (pending !== undefined && pending.epoch === epoch) return pending.lookup;
    const lookup = this.backend.read(key);
    if (!isPromise(lookup)) return lookup;
    const shared = { lookup, epoch };
    this.lookups.set(key.key, shared);
    // read() never rejects.
    void lookup.then(() => {
      if (this.lookups.get(key.key) === shared) this.lookups.delete(key.key);
    });
    return lookup;
  }

  private decide(
    key: EntryKey,
    policy: EntryPolicy,
    mode: AccessMode,
    lookup: Lookup,
  ): Acquired | Promise<Acquired> {
    const entry = lookup.entry;
    const stamp = mode.write ? lookup.stamp : undefined;
    // Flights are per key and stamp: a caller that arrives after an invalidation never joins (or receives the
    // result of) a computation that started before it.
    // (Memory stamps are told apart from Redis ones by their sign.)
    const flight = stamp === undefined ? undefined : lookup.tier === 'redis' ? stamp : -1 - stamp;
    if (entry !== undefined) {
      const now = Date.now();
      const fresh = entry.expiresAt > now;
      if (fresh && !(policy.refreshBeta > 0 && refreshesEarly(entry, now, policy.refreshBeta))) {
        return this.hit(policy, entry, 'HIT');
      }
      // L1 gives no stamp to refresh with: ask Redis (which may also hold a fresher entry by now).
      if (lookup.fromL1 === true && mode.write) {
        const again = this.backend.read(key, true, false);
        return isPromise(again)
          ? again.then((found) => this.decide(key, policy, mode, found))
          : this.decide(key, policy, mode, again);
      }
      // Stale (within grace) or due for an early refresh: one caller refreshes, the others keep the entry.
      if (flight === undefined || this.flights.join(key.key, flight) !== undefined) {
        return this.hit(policy, entry, fresh ? 'HIT' : 'STALE');
      }
      const settle = this.flights.lead(key.key, flight);
      return this.compute(key, policy, lookup, entry, settle);
    }
    if (!policy.coalesce || !mode.read || flight === undefined) {
      return this.compute(key, policy, stamp === undefined ? undefined : lookup, undefined, NO_FLIGHT);
    }
    const running = this.flights.join(key.key, flight);
    if (running !== undefined) {
      policy.counters.coalesced++;
      return running.then((led) => {
        // The leader's error, as it threw it (only value computations fail their flight).
        if (led instanceof FlightFailure) throw led.error;
        return led !== undefined
          ? this.hit(policy, led, 'HIT')
          : this.compute(key, policy, lookup, undefined, NO_FLIGHT);
      });
    }
    const settle = this.flights.lead(key.key, flight);
    if (!policy.lock) return this.compute(key, policy, lookup, undefined, settle);
    return lockOrWait(this.backend, key, this.options.stampede.lockTtl).then((outcome) => {
      if (outcome.entry !== undefined) {
        settle(outcome.entry);
        return this.hit(policy, outcome.entry, 'HIT');
      }
      const token = outcome.token;
      if (token === undefined) return this.compute(key, policy, lookup, undefined, settle);
      const release: Settle = (stored, written) => {
        settle(stored);
        // Released once the entry is in Redis: an instance that then finds the lock free finds the entry too.
        void (written ?? Promise.resolve(false)).then(() => this.backend.unlock(key, token));
      };
      return this.compute(key, policy, lookup, undefined, release);
    });
  }

  private hit(policy: EntryPolicy, entry: StoredResponse, label: 'HIT' | 'STALE'): Acquired {
    if (label === 'HIT') policy.counters.hits++;
    else policy.counters.stale++;
    return { kind: 'hit', entry, label };
  }

  private compute(
    key: EntryKey,
    policy: EntryPolicy,
    lookup: Lookup | undefined,
    stale: StoredResponse | undefined,
    settle: Settle,
  ): Acquired {
    policy.counters.misses++;
    return { kind: 'compute', ticket: new Ticket(this.backend, key, policy, lookup, stale, settle) };
  }
}
