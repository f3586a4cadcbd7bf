import { CacheTimeoutError } from '../cache.errors.js';

/**
 * Settles like `promise`, or rejects with {@link CacheTimeoutError} after `ms`. The abandoned promise is
 * left to settle on its own; its rejection is swallowed so it can never become unhandled.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CacheTimeoutError(operation, ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
