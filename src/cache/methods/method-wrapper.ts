import { invokerOf } from './method-binding.js';
import { addDefinition, type MethodDefinition } from './method-definition.js';

type Method = (...args: unknown[]) => unknown;

/** Marks a wrapper with the kinds of layer it already adds, so a repeated decorator adds no second one. */
const LAYERS = Symbol('HTTP_CACHE:METHOD_LAYERS');

/** Copies every reflect-metadata key of `from` onto `to`. */
function copyMetadata(from: Method, to: Method): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
}

/** Copies `name`, `length` and every reflect-metadata key of `from` onto `to`. */
function copyIdentity(from: Method, to: Method): void {
  Object.defineProperty(to, 'name', { value: from.name, configurable: true });
  Object.defineProperty(to, 'length', { value: from.length, configurable: true });
  copyMetadata(from, to);
}

/** One wrapper made by {@link wrapMethod}: where it was declared and what it wraps. */
interface Layer {
  readonly prototype: WeakRef<object>;
  readonly methodName: string;
  readonly wrapper: Method;
  readonly inner: Method;
}

/** Every wrapper made in this process, in the order they were made (inner layers first). */
let layers: Layer[] = [];
let wrappersInstalled = true;

/** Puts `to` where `from` is the prototype's own method (anything else there, such as an outer wrapper, stays). */
function replaceOn(layer: Layer, from: Method, to: Method): boolean {
  const prototype = layer.prototype.deref();
  if (prototype === undefined) return false;
  const descriptor = Object.getOwnPropertyDescriptor(prototype, layer.methodName);
  if (descriptor?.value !== from) return true;
  // Decorators applied outside this one put their metadata on the function they were given.
  copyMetadata(from, to);
  try {
    Object.defineProperty(prototype, layer.methodName, { ...descriptor, value: to });
  } catch {
    // A frozen prototype keeps what it has: a wrapper still runs the original when nothing caches.
  }
  return true;
}

/**
 * Puts the cache wrappers on their prototypes (`true`) or the original methods back (`false`). Off while the
 * only live applications have caching disabled, so that their decorated methods cost nothing at all; on while
 * an application caches (and before any starts: an instance made with `new` then runs the original through the
 * wrapper). Instances look methods up on their prototype, so the change reaches every one of them.
 */
export function installWrappers(installed: boolean): void {
  if (installed === wrappersInstalled) return;
  wrappersInstalled = installed;
  // Outer layers come off first and go back on last.
  const order = installed ? layers : [...layers].reverse();
  const kept = order.filter((layer) =>
    installed ? replaceOn(layer, layer.inner, layer.wrapper) : replaceOn(layer, layer.wrapper, layer.inner),
  );
  layers = installed ? kept : kept.reverse();
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
  const own = (original as { [LAYERS]?: ReadonlySet<string> })[LAYERS];
  if (own?.has(definition.kind) === true) return;
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
  Object.defineProperty(wrapper, LAYERS, { value: new Set([...(own ?? []), definition.kind]) });
  descriptor.value = wrapper;
  addDefinition(prototype, full);
  layers.push({ prototype: new WeakRef(prototype), methodName, wrapper, inner });
}
