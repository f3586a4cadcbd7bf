import type { CacheRequest } from './cache-key.js';

/**
 * Nest's handler of one route, as an adapter calls it: `(request, reply)` on Fastify, `(req, res, next)` on
 * Express. Nest runs its guards, interceptors and pipes inside it.
 */
export type RouteHandler = (this: unknown, request: unknown, res: unknown, next: unknown) => unknown;

/** Marks the request of a cached route private before the guards run, when it has to be. */
export type Preset = (request: CacheRequest, res: object) => void;

/**
 * Answers a request before Nest's handler, or lets it through: it calls `answered` once it sent a response
 * (with what the adapter's `send` returned), or `proceed` for the handler to run; either synchronously or
 * later, and exactly one of them.
 */
export type EarlyAnswer = (
  request: CacheRequest,
  res: object,
  answered: (sent: unknown) => void,
  proceed: () => void,
) => void;

/** `handler` with `preset` run first on its request and response, `this` and arity kept. */
export function withPreset(handler: RouteHandler, preset: Preset): RouteHandler {
  return function presetThenHandle(this: unknown, request: unknown, res: unknown, next: unknown): unknown {
    preset(request as CacheRequest, res as object);
    return handler.call(this, request, res, next);
  };
}

/**
 * `handler` behind `answer`: a request it answers never reaches the handler. Synchronous answers and
 * hand-overs return what the handler would (nothing, or its promise); a later one returns a promise that
 * settles as the answer's `send()` does, or with the handler's own result, so the adapter (Fastify waits on a
 * handler's promise) sees the request end as it would without the cache.
 */
export function withEarlyAnswer(handler: RouteHandler, answer: EarlyAnswer): RouteHandler {
  return function answerOrHandle(this: unknown, request: unknown, res: unknown, next: unknown): unknown {
    const state: { outcome: 'pending' | 'answered' | 'proceed'; settle?: (value: unknown) => void } = {
      outcome: 'pending',
    };
    const run = (): unknown => handler.call(this, request, res, next);
    answer(
      request as CacheRequest,
      res as object,
      (sent) => {
        if (state.outcome !== 'pending') return;
        state.outcome = 'answered';
        // Settled with Fastify's reply (a thenable that settles once the response is written), never with
        // `undefined` before that: Fastify would send an unwritten reply a second time.
        state.settle?.(sent);
      },
      () => {
        if (state.outcome !== 'pending') return;
        state.outcome = 'proceed';
        state.settle?.(run());
      },
    );
    if (state.outcome === 'answered') return undefined;
    if (state.outcome === 'proceed') return run();
    return new Promise((resolve) => {
      state.settle = resolve;
    });
  };
}
