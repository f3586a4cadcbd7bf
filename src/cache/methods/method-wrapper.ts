import { invokerOf } from './method-binding.js';
import { addDefinition, type MethodDefinition } from './method-definition.js';

type Method = (...args: unknown[]) => unknown;

/** Marks a wrapper with the kinds of layer it already adds, so a repeated decorator adds no second one. */
const LAYERS = Symbol('HTTP_CACHE:METHOD_LAYERS');

/** Copies `name`, `length` and every reflect-metadata key of `from` onto `to`. */
function copyIdentity(from: Method, to: Method): void {
  Object.defineProperty(to, 'name', { value: from.name, configurable: true });
  Object.defineProperty(to, 'length', { value: from.length, configurable: true });
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
}

/**
 * Replaces a method with one that calls through the method cache of the application that owns `this` (looked
 * up at call time), keeping its name, length and metadata; a method already wrapped for this kind is left as
 * it is. Without an application (an instance made with `new` outside Nest), the original runs.
 */
export function wrapMethod(
  prototype: object,
  methodName: string | symbol,
  descriptor: PropertyDescriptor,
  definition: Omit<MethodDefinition, 'methodName' | 'declaringClass'>,
  decorator: string,
): void {
  const original = descriptor.value as unknown;
  if (typeof original !== 'function' || typeof methodName !== 'string') {
    throw new TypeError(`${decorator} decorates methods only`);
  }
  const layers = (original as { [LAYERS]?: ReadonlySet<string> })[LAYERS];
  if (layers?.has(definition.kind) === true) return;
  const full = {
    ...definition,
    methodName,
    declaringClass: (prototype as { constructor: object }).constructor,
  } as MethodDefinition;
  const inner = original as Method;
  const wrapper: Method = function (this: unknown): unknown {
    const invoker = invokerOf(this);
    // `arguments`, not a rest parameter: the uncached path (caching disabled) then allocates nothing.
    // eslint-disable-next-line prefer-rest-params
    const args = arguments as unknown as unknown[];
    if (invoker === undefined) return inner.apply(this, args);
    return invoker.invoke(full, this as object, inner, Array.prototype.slice.call(args));
  };
  copyIdentity(inner, wrapper);
  Object.defineProperty(wrapper, LAYERS, { value: new Set([...(layers ?? []), definition.kind]) });
  descriptor.value = wrapper;
  addDefinition(prototype, full);
}
