import type { StoredResponse } from '../stores/cache-store.interface.js';
import type { CacheBackend } from './cache-backend.js';
import type { EntryKey } from './entry-key.js';

/** Pause between looks for the entry of another instance that holds the lock. */
const LOCK_POLL_MS = 25;

/**
 * Cross-process coalescing: take the Redis lock of `key` (then compute: `token` is returned), or wait for the
 * holder's entry (`entry`). Gives up waiting after `lockTtlMs` (a crashed holder's lock has expired by then)
 * and computes without the lock (neither is returned). `token` is also absent when Redis is not serving.
 */
export async function lockOrWait(
  backend: CacheBackend,
  key: EntryKey,
  lockTtlMs: number,
): Promise<{ entry?: StoredResponse; token?: string }> {
  const deadline = Date.now() + lockTtlMs;
  // Any entry the records allow reflects every invalidation of its scopes (they all came before its stamp).
  const stored = async () => (await backend.read(key, true, false)).entry;
  for (let attempt = 0; ; attempt++) {
    const token = await backend.tryLock(key, lockTtlMs);
    if (token === undefined) return {};
    if (token !== null && attempt === 0) return { token };
    if (token !== null) {
      // Taken after waiting: the previous holder may have stored the entry just before it let go.
      const entry = await stored();
      if (entry === undefined) return { token };
      await backend.unlock(key, token);
      return { entry };
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    const entry = await stored();
    if (entry !== undefined) return { entry };
    if (Date.now() >= deadline) return {};
  }
}
