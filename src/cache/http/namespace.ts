import { CacheDefinitionError } from '../cache.errors.js';

/** Longest namespace, in bytes of its UTF-8 encoding. */
export const MAX_NAMESPACE_BYTES = 128;

/** A value as a short, printable part of an error message. */
function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * Checks a namespace and returns it unchanged. Any non-empty string of at most {@link MAX_NAMESPACE_BYTES}
 * bytes (UTF-8) is a namespace, taken literally: `products:123`, `a*` or `日本` are namespaces of their own
 * (the store encodes them, so no character widens an invalidation). Lone UTF-16 surrogates count 3 bytes each,
 * as they are stored.
 *
 * @param namespace the value to check (from a decorator's options or an `InvalidationService` call).
 * @param where what the message names first: the route (`@Cached() on UsersController.me`) or the call
 * (`invalidateNamespace()`).
 * @returns the namespace, as given.
 * @throws {CacheDefinitionError} when it is not a string, is empty or is longer than
 * {@link MAX_NAMESPACE_BYTES} bytes.
 * @example
 * ```ts
 * validateNamespace('products:123', 'invalidateNamespace()'); // 'products:123'
 * validateNamespace('', 'invalidateNamespace()'); // throws: invalidateNamespace(): namespace must not be empty
 * ```
 */
export function validateNamespace(namespace: unknown, where: string): string {
  if (typeof namespace !== 'string') {
    const type = namespace === null ? 'null' : typeof namespace;
    throw new CacheDefinitionError(`${where}: namespace must be a string, got ${type}`);
  }
  if (namespace === '') throw new CacheDefinitionError(`${where}: namespace must not be empty`);
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short names need no byte count.
  if (namespace.length * 3 > MAX_NAMESPACE_BYTES) {
    const bytes = Buffer.byteLength(namespace);
    if (bytes > MAX_NAMESPACE_BYTES) {
      throw new CacheDefinitionError(
        `${where}: namespace must be at most ${MAX_NAMESPACE_BYTES} bytes (UTF-8), got ${bytes} bytes: ${shown(namespace)}`,
      );
    }
  }
  return namespace;
}
