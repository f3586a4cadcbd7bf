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

/** Applications alive in this process whose caching is disabled, each by its token. */
const liveDisabled = new Set<DisabledApp>();

/** Stands for one application whose caching is disabled, where an instance records what it belongs to. */
export class DisabledApp {}

/** Whether what an instance is bound to is still alive. */
function isAlive(binding: MethodInvoker | DisabledApp): boolean {
  return binding instanceof DisabledApp ? liveDisabled.has(binding) : live.has(binding);
}

/**
 * An instance two live applications registered (the same object given to both with `useValue`): nothing tells
 * which application a call comes from, so it is cached only while exactly one of them lives and caches.
 */
class SharedInstance {
  constructor(readonly members: Set<MethodInvoker | DisabledApp>) {}

  /** The one live application it belongs to, if that one caches; `undefined` while it is shared. */
  current(): MethodInvoker | undefined {
    let found: MethodInvoker | DisabledApp | undefined;
    for (const one of this.members) {
      if (!isAlive(one)) continue;
      if (found !== undefined) return undefined;
      found = one;
    }
    return found instanceof DisabledApp ? undefined : found;
  }
}

type Binding = MethodInvoker | DisabledApp | SharedInstance;

/**
 * Classes of request-scoped and transient providers declared by live applications whose caching is disabled:
 * their instances cannot be told from those of an enabled application, so none of them is cached.
 */
const claimedWhileDisabled = new WeakMap<object, number>();

/**
 * Binds a provider instance to its application's method cache, or (a {@link DisabledApp}) marks it as belonging
 * to an application whose caching is disabled: its decorated methods then run as they are. An instance another
 * live application bound already is shared (see {@link SharedInstance}); one bound by an application that
 * closed since is simply rebound.
 */
export function bindInstance(instance: object, binding: MethodInvoker | DisabledApp): void {
  const existing = (instance as { [INVOKER]?: Binding })[INVOKER];
  let value: Binding = binding;
  if (existing instanceof SharedInstance) {
    const members = new Set([...existing.members].filter(isAlive));
    members.add(binding);
    value = members.size === 1 ? binding : new SharedInstance(members);
  } else if (existing !== undefined && existing !== binding && isAlive(existing)) {
    value = new SharedInstance(new Set([existing, binding]));
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
export function setLiveDisabled(app: DisabledApp, alive: boolean): void {
  if (alive) liveDisabled.add(app);
  else liveDisabled.delete(app);
}

/**
 * Whether decorated methods need their cache wrappers: some application caches, or none has started (nothing
 * tells yet what an instance made with `new` belongs to). Not while only applications with caching disabled
 * live: their methods then run as they were written.
 */
export function wrappersNeeded(): boolean {
  return live.size > 0 || liveDisabled.size === 0;
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
  const own = (instance as { [INVOKER]?: Binding })[INVOKER];
  if (own !== undefined) {
    if (live.has(own as MethodInvoker)) return own as MethodInvoker;
    return own instanceof SharedInstance ? own.current() : undefined;
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
