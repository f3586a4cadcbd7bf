import type { MethodDefinition } from './method-definition.js';

/** What a decorated method calls through: the method cache of one application. */
export interface MethodInvoker {
  invoke(
    definition: MethodDefinition,
    instance: object,
    original: (...args: unknown[]) => unknown,
    args: unknown[],
  ): unknown;
}

/** The invoker an instance was bound to at bootstrap (a non-enumerable own property). */
const INVOKER = Symbol('HTTP_CACHE:METHOD_INVOKER');

/** Classes of request-scoped and transient providers, per application that declared them. */
const byClass = new WeakMap<object, Set<MethodInvoker>>();

/** Applications alive in this process. */
const live = new Set<MethodInvoker>();

/** Applications alive in this process whose caching is disabled. */
let liveDisabled = 0;

/**
 * Classes of request-scoped and transient providers declared by live applications whose caching is disabled:
 * their instances cannot be told from those of an enabled application, so none of them is cached.
 */
const claimedWhileDisabled = new WeakMap<object, number>();

/**
 * An instance two applications registered (the same object given to both with `useValue`): nothing tells
 * which application a call comes from, so it is cached only while exactly one of them lives.
 */
class SharedInstance {
  readonly invokers = new Set<MethodInvoker>();
  /** An application with caching disabled registered it too (its calls must never be cached). */
  disabled = false;

  /** The one live application it belongs to, or `undefined` while it is shared (or one is disabled). */
  current(): MethodInvoker | undefined {
    if (this.disabled) return undefined;
    let found: MethodInvoker | undefined;
    for (const one of this.invokers) {
      if (!live.has(one)) continue;
      if (found !== undefined) return undefined;
      found = one;
    }
    return found;
  }
}

/**
 * Binds a provider instance to its application's method cache, or (`false`) marks it as belonging to an
 * application whose caching is disabled: its decorated methods then run as they are, at once. An instance
 * another application bound already is shared (see {@link SharedInstance}).
 */
export function bindInstance(instance: object, invoker: MethodInvoker | false): void {
  const existing = (instance as { [INVOKER]?: MethodInvoker | false | SharedInstance })[INVOKER];
  let value: MethodInvoker | false | SharedInstance = invoker;
  if (existing !== undefined && existing !== invoker) {
    const shared = existing instanceof SharedInstance ? existing : new SharedInstance();
    for (const one of [existing, invoker]) {
      if (one === false) shared.disabled = true;
      else if (!(one instanceof SharedInstance)) shared.invokers.add(one);
    }
    value = shared;
  }
  try {
    Object.defineProperty(instance, INVOKER, {
      value,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  } catch {
    // A frozen instance: found through its class, or the only application.
  }
}

/** Registers a class whose instances are created per request (or per consumer) for one application. */
export function bindClass(type: object, invoker: MethodInvoker): void {
  let set = byClass.get(type);
  if (set === undefined) byClass.set(type, (set = new Set()));
  set.add(invoker);
}

/**
 * Registers (or, with `claimed` false, forgets) a class of request-scoped or transient providers declared by an
 * application whose caching is disabled.
 */
export function claimClassWhileDisabled(type: object, claimed: boolean): void {
  const count = (claimedWhileDisabled.get(type) ?? 0) + (claimed ? 1 : -1);
  if (count > 0) claimedWhileDisabled.set(type, count);
  else claimedWhileDisabled.delete(type);
}

/** An application starts (or stops) serving decorated methods; a stopped one is forgotten by its classes. */
export function setLive(invoker: MethodInvoker, alive: boolean, classes: readonly object[] = []): void {
  if (alive) {
    live.add(invoker);
    return;
  }
  live.delete(invoker);
  for (const type of classes) byClass.get(type)?.delete(invoker);
}

/** An application whose caching is disabled starts (or stops). */
export function setLiveDisabled(alive: boolean): void {
  liveDisabled = Math.max(0, liveDisabled + (alive ? 1 : -1));
}

/**
 * Whether decorated methods need their cache wrappers: some application caches, or none has started (nothing
 * tells yet what an instance made with `new` belongs to). Not while only applications with caching disabled
 * live: their methods then run as they were written.
 */
export function wrappersNeeded(): boolean {
  return live.size > 0 || liveDisabled === 0;
}

/**
 * The method cache a call on `instance` goes through, found at call time: the application that created the
 * instance (bound at bootstrap), or for one created per request, the one live application that declared its
 * class. `undefined` (the method runs uncached) for anything else: an instance made with `new` outside Nest,
 * one of a factory provider, or a class two live applications declared (one with caching disabled counts).
 * Nothing is ever shared by guess.
 */
export function invokerOf(instance: unknown): MethodInvoker | undefined {
  // No application caches (the usual case with caching disabled): one check, before any property lookup.
  if (live.size === 0 || instance === null || typeof instance !== 'object') return undefined;
  const own = (instance as { [INVOKER]?: MethodInvoker | false | SharedInstance })[INVOKER];
  if (own === false) return undefined;
  if (own !== undefined) {
    if (!(own instanceof SharedInstance)) return live.has(own) ? own : undefined;
    return own.current();
  }
  const declared = byClass.get(instance.constructor);
  if (declared === undefined || claimedWhileDisabled.has(instance.constructor)) return undefined;
  let found: MethodInvoker | undefined;
  for (const one of declared) {
    if (!live.has(one)) continue;
    if (found !== undefined) return undefined;
    found = one;
  }
  return found;
}
