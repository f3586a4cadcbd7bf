import type { CacheCallOptions, CacheKeyInput } from './cache-call.options.js';

/**
 * Options of `@Cacheable()` and `@CachePut()`. Callbacks run with `this` the real instance and receive the
 * call's arguments (`unless` and `tags` the result first).
 */
export interface CacheableOptions<A extends unknown[] = unknown[], R = unknown> extends Omit<
  CacheCallOptions<R>,
  'tags'
> {
  /**
   * The entry's key from the arguments; a string or number is one segment, an array one segment per element.
   * Required on request-scoped and transient providers (an arguments-only key would be shared by all users).
   * @default a collision-free, type-tagged encoding of every argument
   * @example (id: number) => id
   */
  key?: (...args: A) => CacheKeyInput;
  /** `false`: the call is neither read from nor written to the cache. @default always */
  condition?: (...args: A) => boolean;
  /** `true`: the result is returned but not stored. @default never */
  unless?: (result: Awaited<R>, ...args: A) => boolean;
  /** Tags of the entry, fixed or computed from the result and the arguments. */
  tags?: readonly string[] | ((result: Awaited<R>, ...args: A) => readonly string[]);
  /**
   * Arguments the default key cannot encode (class instances, functions, symbols, cycles) throw a
   * `CacheDefinitionError` instead of running uncached with a warning.
   * @default false
   */
  strictKeys?: boolean;
}
