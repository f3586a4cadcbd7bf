import { Logger } from '@nestjs/common';
import { concatWith, defer, from, ignoreElements, isObservable, tap } from 'rxjs';
import { errorMessage } from '../cache.errors.js';
import type { InvalidateCacheOptions } from '../invalidation/invalidate-cache.metadata.js';
import { applyInvalidation } from '../invalidation/invalidation-targets.js';
import type { InvalidationService } from '../invalidation/invalidation.service.js';

const logger = new Logger('Cache');

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * `@InvalidateCache` on a provider method: once the method succeeded (its promise resolved, its Observable
 * completed), or before it runs with `beforeInvocation`; nothing when it throws. An async method's call
 * settles after the invalidation (its failure rejects the call); a synchronous method returns at once, its
 * memory tiers already invalidated, and a failure is logged (never an unhandled rejection).
 */
export function invalidatingCall(
  invalidation: InvalidationService,
  label: string,
  options: InvalidateCacheOptions<unknown[]>,
  run: () => unknown,
  args: unknown[],
  /** The method is declared async (or returns a `Promise`): `beforeInvocation` then waits for Redis too. */
  declaredAsync: boolean,
): unknown {
  const apply = (result: unknown) => applyInvalidation(invalidation, options, result, args);
  const logged = (work: Promise<void>) =>
    void work.catch((error: unknown) =>
      logger.warn(`@InvalidateCache of ${label} failed: ${errorMessage(error)}`),
    );
  if (options.beforeInvocation === true) {
    const before = apply(undefined);
    // Memory and the process tier are invalidated already; an async method also waits for Redis.
    if (declaredAsync) return before.then(run);
    let result: unknown;
    try {
      result = run();
    } catch (error) {
      logged(before);
      throw error;
    }
    if (isThenable(result)) return before.then(() => result);
    logged(before);
    return result;
  }
  const result = run();
  if (isThenable(result)) {
    return Promise.resolve(result).then(async (value) => {
      await apply(value);
      return value;
    });
  }
  if (isObservable(result)) {
    return defer(() => {
      let last: unknown;
      return result.pipe(
        tap((value) => (last = value)),
        concatWith(defer(() => from(apply(last))).pipe(ignoreElements())),
      );
    });
  }
  logged(apply(result));
  return result;
}
