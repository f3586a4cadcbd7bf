import type { StoredResponse } from '../../src/cache/stores/cache-store.interface.js';
import type { RedisCommands } from '../../src/cache/stores/redis.store.js';
import { RedisStore } from './internals.js';

/** A RedisStore whose client is connected and ready for commands (at most 10 s), to drive a RedisTier. */
export async function readyStore(settings: ConstructorParameters<typeof RedisStore>[0]): Promise<RedisStore> {
  const store = new RedisStore(settings, { ready: () => undefined, error: () => undefined });
  await store.connect();
  const deadline = Date.now() + 10_000;
  while (!store.ready) {
    if (Date.now() > deadline) throw new Error('Redis store not ready');
    await new Promise((r) => setTimeout(r, 20));
  }
  return store;
}

/** The same commands, each call passed through `around` (which sends it by calling `send`). */
export function intercepted(
  commands: RedisCommands,
  around: (method: string, args: unknown[], send: () => Promise<unknown>) => Promise<unknown>,
): RedisCommands {
  return new Proxy(commands, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => around(property, args, () => method.apply(target, args));
    },
  });
}

/** A text response entry stamped `tick`, fresh for 60 s: what the tier tests write. */
export function textEntry(tick: number, body: string): StoredResponse {
  const expiresAt = Date.now() + 60_000;
  return {
    status: 200,
    contentType: 'text/plain',
    body,
    etag: '"e"',
    expiresAt,
    staleUntil: expiresAt,
    tick,
    computeMs: 1,
  };
}
