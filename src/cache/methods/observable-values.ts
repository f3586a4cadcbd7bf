import { from, isObservable, Observable, type Subscription } from 'rxjs';
import type { AccessMode } from '../engine/cache-engine.js';
import { ComputationLeft, type ValueCache, type ValueCall } from './value-cache.js';

/**
 * Observable-returning methods: the lookup happens on subscribe; on a miss the upstream runs once for every
 * concurrent subscriber of the key (coalesced like any miss) and its emissions are stored on completion; a hit
 * replays them. The subscriber whose subscription runs the upstream gets its emissions as they come (so
 * `take(n)` or `first()` on an endless source work as without the cache); the ones that waited on it, and hits,
 * get them all once it completed (an entry is only ever complete). With `grace`, whose stale answer may replace
 * a failing run, every subscriber gets them on completion. A subscriber that leaves first stops the upstream run
 * it started (nothing is stored; callers that waited on it run their own): an endless source never keeps a
 * computation alive.
 */
export function cachedObservable(
  values: ValueCache,
  call: ValueCall,
  compute: () => unknown,
  mode: AccessMode,
): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let left = false;
    let upstream: Subscription | undefined;
    let stop: (() => void) | undefined;
    // Emissions go out as they come only when no stale answer can replace them (no grace).
    const live = call.policy.graceMs === 0;
    let ranHere = false;
    const run = () =>
      new Promise<unknown[]>((resolve, reject) => {
        ranHere = true;
        const source = compute();
        const items: unknown[] = [];
        upstream = (isObservable(source) ? source : from(Promise.resolve(source))).subscribe({
          next: (value) => {
            items.push(value);
            if (live && !left) subscriber.next(value);
          },
          error: reject,
          complete: () => resolve(items),
        });
        stop = () => reject(new ComputationLeft());
        if (left) stop();
      });
    values.getOrSet(call, run, mode).then(
      (emissions) => {
        if (left) return;
        if (!(live && ranHere)) for (const value of emissions) subscriber.next(value);
        subscriber.complete();
      },
      (error: unknown) => {
        if (!left) subscriber.error(error);
      },
    );
    return () => {
      left = true;
      upstream?.unsubscribe();
      stop?.();
    };
  });
}
