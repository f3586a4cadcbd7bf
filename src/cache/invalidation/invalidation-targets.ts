import type { InvalidateCacheOptions } from './invalidate-cache.metadata.js';
import type { InvalidationService } from './invalidation.service.js';

function resolve<T>(
  targets: readonly T[] | ((result: unknown, ...context: unknown[]) => readonly T[]) | undefined,
  result: unknown,
  context: unknown[],
): readonly T[] {
  if (targets === undefined) return [];
  return typeof targets === 'function' ? targets(result, ...context) : targets;
}

/**
 * Applies `@InvalidateCache()` options: `result` is the method's (`undefined` before invocation), `context`
 * what target functions receive after it (`[request]` on a route, the arguments on a provider method).
 * Resolves once every target is invalidated.
 */
export async function applyInvalidation(
  service: InvalidationService,
  options: InvalidateCacheOptions<unknown[]>,
  result: unknown,
  context: unknown[],
): Promise<void> {
  const work: Array<Promise<void>> = [];
  for (const namespace of options.namespaces ?? []) work.push(service.invalidateNamespace(namespace));
  const tags = resolve(options.tags, result, context);
  if (tags.length > 0) work.push(service.invalidateTags(tags));
  for (const key of resolve(options.keys, result, context)) {
    // `'ns:a:b'`: segments as written; `['ns', a, b]`: each segment taken literally (may hold `:`).
    const [namespace = '', ...segments] = typeof key === 'string' ? key.split(':') : key;
    work.push(service.invalidateScope(String(namespace), ...segments));
  }
  await Promise.all(work);
}
