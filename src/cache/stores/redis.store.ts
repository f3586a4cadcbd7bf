import KeyvRedis, { createClient } from '@keyv/redis';
import { createCache, type Cache as CacheManager } from 'cache-manager';
import { Keyv } from 'keyv';
import type { KeySelector } from '../cache-key.js';
import { isStoredResponse, type CacheStore, type StoredResponse } from './cache-store.interface.js';

/** Connection events the owner of the store reacts to (logging, fallback). */
export interface RedisStoreEvents {
  ready(): void;
  error(error: Error): void;
}

/** Settings of {@link RedisStore}. */
export interface RedisStoreSettings {
  url: string;
  connectTimeout: number;
  /** Keys fetched per SCAN step during invalidation. @default 500 */
  scanCount?: number;
}

type RedisClient = ReturnType<typeof createClient>;

/** Delay before reconnect attempt `retries` (0-based): exponential from 100 ms, capped at 5 s, with jitter. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 16), 5000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * Redis through cache-manager and `@keyv/redis`. The node-redis client runs with its offline queue disabled,
 * so a command issued while disconnected fails at once instead of waiting (and replaying later).
 * Invalidation uses the same client directly: SCAN with an escaped MATCH pattern, then UNLINK.
 */
export class RedisStore implements CacheStore {
  readonly client: RedisClient;
  private readonly cache: CacheManager;
  private readonly keyvRedis: KeyvRedis<unknown>;
  private closed = false;

  constructor(
    private readonly settings: RedisStoreSettings,
    events: RedisStoreEvents,
  ) {
    this.client = createClient({
      url: settings.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: settings.connectTimeout,
        reconnectStrategy: (retries: number) => reconnectDelay(retries),
      },
    });
    this.client.on('error', (error: unknown) =>
      events.error(error instanceof Error ? error : new Error(String(error))),
    );
    this.client.on('ready', () => events.ready());
    this.keyvRedis = new KeyvRedis(this.client, { throwOnConnectError: false, throwOnErrors: false });
    // Errors of reads and writes surface as misses; connection state comes from the client's own events.
    this.keyvRedis.on('error', () => undefined);
    const keyv = new Keyv({ store: this.keyvRedis, useKeyPrefix: false, namespace: undefined });
    keyv.on('error', () => undefined);
    this.cache = createCache({ stores: [keyv] });
  }

  /** Starts connecting in the background; never awaited by startup or by requests. */
  connect(): void {
    this.client.connect().catch(() => {
      // Reported through the 'error' event; the client keeps retrying per reconnectStrategy.
    });
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return !this.closed && this.client.isReady;
  }

  async get(key: string): Promise<StoredResponse | undefined> {
    const value = await this.cache.get<unknown>(key);
    return isStoredResponse(value) ? value : undefined;
  }

  async set(key: string, value: StoredResponse, ttlMs: number): Promise<void> {
    await this.cache.set(key, value, ttlMs);
  }

  /** Runs every selector even when one fails; rejects afterwards with the first failure. */
  async deleteMatching(selectors: readonly KeySelector[]): Promise<number> {
    const outcomes = await Promise.allSettled(selectors.map((selector) => this.deleteOne(selector)));
    let removed = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw outcome.reason;
      removed += outcome.value;
    }
    return removed;
  }

  private async deleteOne(selector: KeySelector): Promise<number> {
    let removed = 0;
    const count = this.settings.scanCount ?? 500;
    for await (const batch of this.client.scanIterator({ MATCH: selector.pattern, COUNT: count })) {
      const keys = batch.filter((key) => selector.matches(key));
      if (keys.length > 0) removed += await this.client.unlink(keys);
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // destroy() drops the socket at once: close() would wait for replies a hung server never sends.
    if (this.client.isOpen) this.client.destroy();
  }
}
