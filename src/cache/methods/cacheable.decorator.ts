import type { CacheableOptions } from './cacheable.options.js';
import { wrapMethod } from './method-wrapper.js';
import { checkCacheableOptions } from './method-plan.js';

/** A decorator for provider methods. */
export type CacheableDecorator = <M extends (...args: never[]) => unknown>(
  target: object,
  name: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/**
 * Caches a provider method's results, keyed by its arguments (like Spring's `@Cacheable` or Python's
 * `lru_cache`), on the same engine as `@Cached` routes: same stores, coalescing, locks, grace, tags, and
 * `InvalidationService` reaches these entries as it reaches routes. Async methods go through Redis when it is
 * enabled; synchronous methods stay synchronous and are served from this process; Observable-returning
 * methods return an Observable that replays the stored emissions. Nothing happens when caching is disabled.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class ReportsService {
 *   @Cacheable({ expire: 60, tags: (report: Report) => [`team:${report.teamId}`] })
 *   async report(teamId: number): Promise<Report> { ... }
 * }
 * ```
 */
export function Cacheable<A extends unknown[] = unknown[], R = unknown>(
  options: CacheableOptions<A, R> = {},
): CacheableDecorator {
  const general = options as CacheableOptions;
  return (target, name, descriptor) => {
    checkCacheableOptions(general, target, name, '@Cacheable()');
    wrapMethod(target, name, descriptor, { kind: 'cacheable', options: general }, '@Cacheable()');
  };
}

/**
 * Always runs the method and stores its result under the key `@Cacheable` would use for the same arguments
 * and namespace: refreshes an entry after a write (Spring's `@CachePut`). Give it the `namespace` and the
 * `key` of the `@Cacheable` method whose entries it refreshes (both declare the same `key`, or neither and
 * the arguments match). It invalidates the entry first, so an older computation never overwrites it.
 *
 * @example
 * ```ts
 * @CachePut({ namespace: 'users', key: (id: number) => id })
 * async rename(id: number, name: string): Promise<User> { ... }
 * ```
 */
export function CachePut<A extends unknown[] = unknown[], R = unknown>(
  options: CacheableOptions<A, R> = {},
): CacheableDecorator {
  const general = options as CacheableOptions;
  return (target, name, descriptor) => {
    checkCacheableOptions(general, target, name, '@CachePut()');
    wrapMethod(target, name, descriptor, { kind: 'put', options: general }, '@CachePut()');
  };
}
