import type { CacheRequest } from './cache-key.js';

/**
 * Nest's handler of one route, as an adapter calls it: `(request, reply)` on Fastify, `(req, res, next)` on
 * Express. Nest runs its guards, interceptors and pipes inside it.
 */
export type RouteHandler = (this: unknown, request: unknown, res: unknown, next: unknown) => unknown;

/** Marks the request of a cached route private before the guards run, when it has to be. */
export type Preset = (request: CacheRequest, res: object) => void;

/** What an early answer returns when it does not answer: the route's own handler takes the request. */
export const PROCEED: unique symbol = Symbol('HTTP_CACHE:PROCEED');

/**
 * Answers a request before Nest's handler: what the adapter's `send()` returned, or {@link PROCEED} for the
 * handler to run; at once, or later through a promise (never rejected).
 */
export type EarlyAnswer = (request: CacheRequest, res: object) => unknown;

/** `handler` with `preset` run first on its request and response, `this` and arity kept. */
export function withPreset(handler: RouteHandler, preset: Preset): RouteHandler {
  return function presetThenHandle(this: unknown, request: unknown, res: unknown, next: unknown): unknown {
    preset(request as CacheRequest, res as object);
    return handler.call(this, request, res, next);
  };
}

/**
 * `handler` behind `answer`: a request it answers never reaches the handler. An answer or a hand-over at once
 * returns what the handler would (nothing, or its promise); a later one returns a promise that settles as the
 * answer's `send()` does (Fastify's reply settles once the response is written: Fastify, which waits on a
 * handler's promise, would otherwise send an unwritten reply a second time), or with the handler's result.
 */
export function withEarlyAnswer(handler: RouteHandler, answer: EarlyAnswer): RouteHandler {
  return function answerOrHandle(this: unknown, request: unknown, res: unknown, next: unknown): unknown {
    const outcome = answer(request as CacheRequest, res as object);
    if (outcome === PROCEED) return handler.call(this, request, res, next);
    // Not `then`-duck-typing: Fastify's reply, what its `send()` returns, is a thenable too.
    if (!(outcome instanceof Promise)) return undefined;
    return outcome.then((later: unknown) =>
      later === PROCEED ? handler.call(this, request, res, next) : later,
    );
  };
}
