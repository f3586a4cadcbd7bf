import type { InvalidateCacheOptions } from '../invalidation/invalidate-cache.metadata.js';
import type { CacheableOptions } from './cacheable.options.js';

/** One decorated method: what it does, and the options it was declared with. */
export type MethodDefinition =
  | {
      readonly kind: 'cacheable' | 'put';
      readonly methodName: string;
      readonly options: CacheableOptions;
      readonly declaringClass: object;
    }
  | {
      readonly kind: 'invalidate';
      readonly methodName: string;
      readonly options: InvalidateCacheOptions<unknown[]>;
      readonly declaringClass: object;
    };

/** Where a class keeps the definitions of its own decorated methods. */
const DEFINITIONS = Symbol('HTTP_CACHE:METHOD_DEFINITIONS');

/** Records `definition` on the prototype that declares it. */
export function addDefinition(prototype: object, definition: MethodDefinition): void {
  const own = Object.hasOwn(prototype, DEFINITIONS)
    ? (prototype as { [DEFINITIONS]: MethodDefinition[] })[DEFINITIONS]
    : undefined;
  if (own !== undefined) own.push(definition);
  else Object.defineProperty(prototype, DEFINITIONS, { value: [definition], enumerable: false });
}

/** Every decorated method of a class, its own and its bases' (the nearest declaration of a name first). */
export function definitionsOf(type: unknown): MethodDefinition[] {
  if (typeof type !== 'function') return [];
  const out: MethodDefinition[] = [];
  for (let proto: unknown = type.prototype; proto !== null && typeof proto === 'object';) {
    if (Object.hasOwn(proto, DEFINITIONS))
      out.push(...(proto as { [DEFINITIONS]: MethodDefinition[] })[DEFINITIONS]);
    proto = Object.getPrototypeOf(proto);
  }
  return out;
}
