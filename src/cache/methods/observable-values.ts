import { defer, from, isObservable, lastValueFrom, mergeMap, toArray, type Observable } from 'rxjs';
import type { AccessMode } from '../engine/cache-engine.js';
import type { ValueCache, ValueCall } from './value-cache.js';

/**
 * Observable-returning methods: the lookup happens on subscribe; on a miss the upstream runs once for every
 * concurrent subscriber of the key (coalesced like any miss) and its emissions are stored on completion; a hit
 * replays them. Emissions reach subscribers once the upstream completed (an entry is only ever complete).
 */
export function cachedObservable(
  values: ValueCache,
  call: ValueCall,
  compute: () => unknown,
  mode: AccessMode,
): Observable<unknown> {
  return defer(() =>
    from(
      values.getOrSet(
        call,
        async () => {
          const source = compute();
          return isObservable(source) ? lastValueFrom(source.pipe(toArray())) : [await source];
        },
        mode,
      ),
    ),
  ).pipe(mergeMap((emissions) => from(emissions)));
}
