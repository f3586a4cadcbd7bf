import { Injectable } from '@nestjs/common';

/** Counters of one namespace. Plain numbers, incremented in place on the request path. */
export interface NamespaceCounters {
  hits: number;
  misses: number;
  /** Stale entries served (grace), while a refresh ran or instead of a failed one. */
  stale: number;
  /** Requests that waited for a coalesced leader instead of running the handler. */
  coalesced: number;
}

/** Counters of one cached method (`@Cacheable`, `@CachePut`), by `Class.method`. */
export interface MethodCounters extends NamespaceCounters {
  /** Calls served uncached: `condition` false, arguments that cannot be keyed, streams. */
  bypasses: number;
  /**
   * Results that could not be stored (a value the codec cannot encode, failing `unless` or `tags`). Faults of the
   * store itself (a slow or failing Redis, answered from memory) are counted once for the whole cache, in the
   * store stats and `http_cache_store_errors_total`, not per method.
   */
  errors: number;
  /** Computations running right now. */
  inFlight: number;
}

/** Counters of the stores, whatever the namespace. */
export interface StoreCounters {
  /** Failed store operations (each one was answered as a miss, or from memory). */
  errors: number;
  /** Store operations abandoned at their deadline. */
  timeouts: number;
}

/** A point-in-time copy of every counter. */
export interface CacheStatsSnapshot {
  namespaces: Record<string, NamespaceCounters>;
  /** Per cached method, by `Class.method`. */
  methods: Record<string, MethodCounters>;
  store: StoreCounters;
}

/**
 * Hit, miss, stale, coalescing and store-error counters, per namespace, since the process started. Read it
 * for dashboards or tests; `CACHE_METRICS=prometheus` exposes the same figures on `/metrics`.
 */
@Injectable()
export class CacheStatsService {
  private readonly byNamespace = new Map<string, NamespaceCounters>();
  private readonly byMethod = new Map<string, MethodCounters>();
  readonly store: StoreCounters = { errors: 0, timeouts: 0 };

  /** The live counters of a namespace (created at zero); the interceptor keeps a reference per route. */
  namespace(name: string): NamespaceCounters {
    let counters = this.byNamespace.get(name);
    if (counters === undefined) {
      counters = { hits: 0, misses: 0, stale: 0, coalesced: 0 };
      this.byNamespace.set(name, counters);
    }
    return counters;
  }

  /** The live counters of a cached method, by `Class.method` (created at zero). */
  method(name: string): MethodCounters {
    let counters = this.byMethod.get(name);
    if (counters === undefined) {
      counters = { hits: 0, misses: 0, stale: 0, coalesced: 0, bypasses: 0, errors: 0, inFlight: 0 };
      this.byMethod.set(name, counters);
    }
    return counters;
  }

  snapshot(): CacheStatsSnapshot {
    const namespaces: Record<string, NamespaceCounters> = {};
    for (const [name, counters] of this.byNamespace) namespaces[name] = { ...counters };
    const methods: Record<string, MethodCounters> = {};
    for (const [name, counters] of this.byMethod) methods[name] = { ...counters };
    return { namespaces, methods, store: { ...this.store } };
  }
}
