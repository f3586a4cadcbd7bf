import type { SendFunction, SendHook } from './response-access.js';

/** Where a response keeps the hook for its next `send()` (a data property: the response's shape stays put). */
const HOOK = Symbol('HTTP_CACHE:SEND_HOOK');
/** Marks a prototype whose `send` has been wrapped. */
const WRAPPED = Symbol('HTTP_CACHE:SEND_WRAPPED');

interface Sendable {
  send: SendFunction;
  [HOOK]?: SendHook | undefined;
}

/**
 * Wraps the `send` of a response's prototype once (Express's per-app `response`, each Fastify `Reply`
 * prototype): a response that carries a hook runs it, with the original `send` for it to call; any other goes
 * straight to the original. The old way, an own `send` closure on every response, kept every request's objects
 * alive through young-generation collections (measured: 5 KB per request promoted instead of 0.2 KB, twice
 * the GC time of a miss).
 */
function wrapPrototype(proto: Sendable): void {
  if (Object.hasOwn(proto, WRAPPED)) return;
  const original = proto.send;
  Object.defineProperty(proto, 'send', {
    configurable: true,
    writable: true,
    value: function send(this: Sendable, payload?: unknown): unknown {
      const hook = this[HOOK];
      if (hook === undefined) return original.call(this, payload);
      this[HOOK] = undefined;
      return hook(payload, (body) => original.call(this, body));
    },
  });
  Object.defineProperty(proto, WRAPPED, { value: true });
}

/** Runs `hook` in place of the next `send()` of `res` (then `send` is the adapter's own again). */
export function hookNextSend(res: { send: SendFunction }, hook: SendHook): void {
  const target = res as Sendable;
  const proto = Object.getPrototypeOf(res) as Sendable | null;
  if (proto !== null && !Object.hasOwn(res, 'send') && typeof proto.send === 'function') {
    wrapPrototype(proto);
    target[HOOK] = hook;
    return;
  }
  // A response whose `send` is its own property (patched by someone else): shadow it for this response only.
  const own = res.send;
  res.send = (payload?: unknown) => {
    res.send = own;
    return hook(payload, (body) => own.call(res, body));
  };
}
