import { from, isObservable, Observable, type Subscription } from 'rxjs';
import type { AccessMode } from '../engine/cache-engine.js';
import type { ValueCache, ValueCall } from './value-cache.js';

/** Ends the computation of a subscriber that left before its upstream completed. */
class Unsubscribed extends Error {
  constructor() {
    super('unsubscribed before completion');
  }
}

/**
 * Observable-returning methods: the lookup happens on subscribe; on a miss the upstream runs once for every
 * concurrent subscriber of the key (coalesced like any miss) and its emissions are stored on completion; a hit
 * replays them. Emissions reach subscribers once the upstream completed (an entry is only ever complete). A
 * subscriber that leaves first stops the upstream run it started (nothing is stored; callers that waited on it
 * run their own): an endless source never keeps a computation alive.
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
    const run = () =>
      new Promise<unknown[]>((resolve, reject) => {
        const source = compute();
        const items: unknown[] = [];
        upstream = (isObservable(source) ? source : from(Promise.resolve(source))).subscribe({
          next: (value) => items.push(value),
          error: reject,
          complete: () => resolve(items),
        });
        stop = () => reject(new Unsubscribed());
        if (left) stop();
      });
    values.getOrSet(call, run, mode).then(
      (emissions) => {
        if (left) return;
        for (const value of emissions) subscriber.next(value);
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
