import KeyvRedis, { createClient } from '@keyv/redis';
import { createCache, type Cache as CacheManager } from 'cache-manager';
import { Keyv } from 'keyv';
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
}

type RedisClient = ReturnType<typeof createClient>;

/** Delay before reconnect attempt `retries` (0-based): exponential from 100 ms, capped at 5 s, with jitter. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(100 * 2 ** Math.min(retries, 16), 5000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * Redis through cache-manager and `@keyv/redis`. The node-redis client runs with its offline queue disabled,
 * so a command issued while disconnected fails at once instead of waiting (and replaying later). The same
 * client serves the generations (see `generations.ts`).
 */
export class RedisStore implements CacheStore {
  readonly client: RedisClient;
  private readonly cache: CacheManager;
  private readonly keyvRedis: KeyvRedis<unknown>;
  private closed = false;

  constructor(settings: RedisStoreSettings, events: RedisStoreEvents) {
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

  /** A round trip to the server, for the circuit breaker's probe. */
  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // destroy() drops the socket at once: close() would wait for replies a hung server never sends.
    if (this.client.isOpen) this.client.destroy();
  }
}
