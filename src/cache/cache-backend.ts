import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { prefixSelector, type KeySelector } from './cache-key.js';
import type { ResolvedCacheOptions } from './cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from './cache.constants.js';
import type { CacheBackendName, StoredResponse } from './stores/cache-store.interface.js';
import { withDeadline } from './stores/deadline.js';
import { MemoryStore } from './stores/memory.store.js';
import { RedisStore } from './stores/redis.store.js';

/** Most invalidations remembered while Redis is unreachable before they collapse into "everything". */
const MAX_PENDING_INVALIDATIONS = 256;
/** Pause between attempts to apply remembered invalidations to a Redis that is connected but failing. */
const FLUSH_RETRY_MS = 1000;
/** Longest a background catch-up invalidation may run before it is retried. */
const FLUSH_TIMEOUT_MS = 60_000;

/**
 * Owns the stores and decides which one serves: Redis while it is connected and caught up, memory otherwise
 * (or always, when Redis is not enabled). Every Redis operation is bounded by the operation deadline and
 * fails open: errors and timeouts become misses, logged, never thrown at a request.
 */
@Injectable()
export class CacheBackend implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Cache');
  readonly memory: MemoryStore;
  readonly redis: RedisStore | undefined;
  /** Redis is connected and every invalidation missed during an outage has been applied. */
  private redisUsable = false;
  private pending: KeySelector[] = [];
  private outageLogged = false;
  private flushing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Invalidations whose caller stopped waiting (deadline) but that still run: reads avoid Redis meanwhile. */
  private overdue = 0;

  constructor(@Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions) {
    this.memory = new MemoryStore(options.memory.maxEntries, options.memory.maxBytes);
    this.redis =
      options.enabled && options.redis.enabled
        ? new RedisStore(
            { url: options.redis.url, connectTimeout: options.redis.connectTimeout },
            { ready: () => this.onRedisReady(), error: (error) => this.onRedisError(error) },
          )
        : undefined;
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Which store answers right now. */
  get backend(): CacheBackendName {
    if (this.redis === undefined) return 'memory';
    return this.activeRedis() === undefined ? 'memory-fallback' : 'redis';
  }

  onModuleInit(): void {
    if (this.redis === undefined) return;
    if (!this.options.redis.hasPassword) {
      this.logger.warn(`Redis at ${this.options.redis.safeUrl} is used without a password`);
    }
    this.redis.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.redisUsable = false;
    clearTimeout(this.retryTimer);
    await this.redis?.close();
    await this.memory.close();
  }

  /** Reads an entry; synchronous for memory. Never rejects. */
  read(key: string): StoredResponse | undefined | Promise<StoredResponse | undefined> {
    const redis = this.activeRedis();
    if (redis === undefined) return this.memory.get(key);
    return withDeadline(redis.get(key), this.options.redis.operationTimeout, 'get').then(
      (value) => (value !== undefined && value.expiresAt > Date.now() ? value : undefined),
      (error: unknown) => this.failOpen('get', key, error),
    );
  }

  /** Stores an entry without waiting for it; failures are logged, never thrown. */
  write(key: string, value: StoredResponse, ttlMs: number): void {
    const redis = this.activeRedis();
    if (redis === undefined) {
      this.memory.set(key, value, ttlMs);
      return;
    }
    withDeadline(redis.set(key, value, ttlMs), this.options.redis.operationTimeout, 'set').catch(
      (error: unknown) => this.failOpen('set', key, error),
    );
  }

  /**
   * Removes every matching entry from memory and from Redis. When Redis cannot be reached the selectors are
   * remembered and applied before Redis serves again. Never rejects.
   */
  async invalidate(selectors: readonly KeySelector[]): Promise<void> {
    if (!this.options.enabled) return;
    this.memory.deleteMatching(selectors);
    if (this.redis === undefined) return;
    if (!this.redis.ready || this.pending.length > 0) {
      // Applied in order, before Redis serves reads again.
      this.remember(selectors);
      this.scheduleFlush();
      return;
    }
    const work = Promise.resolve(this.redis.deleteMatching(selectors));
    let settled = false;
    const tracked = work.then(
      () => void (settled = true),
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    try {
      await withDeadline(tracked, this.options.redis.invalidationTimeout, 'invalidate');
    } catch (error) {
      if (!settled) {
        // Still running: the caller goes on, so until it completes no read may come from Redis, where the
        // entries it removes may still be.
        this.overdue++;
        this.logger.warn(
          `Invalidation is slower than ${this.options.redis.invalidationTimeout} ms; reading from memory until it completes`,
        );
        work.then(
          () => this.overdue--,
          () => {
            this.overdue--;
            this.invalidationFailed(selectors);
          },
        );
        return;
      }
      this.logger.warn(
        `Invalidation could not reach Redis (${describe(error)}); it will be applied on reconnect`,
      );
      this.invalidationFailed(selectors);
    }
  }

  private invalidationFailed(selectors: readonly KeySelector[]): void {
    this.remember(selectors);
    this.redisUsable = false;
    this.scheduleFlush();
  }

  private activeRedis(): RedisStore | undefined {
    const redis = this.redis;
    return redis !== undefined && this.redisUsable && this.overdue === 0 && redis.ready ? redis : undefined;
  }

  private remember(selectors: readonly KeySelector[]): void {
    this.pending.push(...selectors);
    if (this.pending.length > MAX_PENDING_INVALIDATIONS)
      this.pending = [prefixSelector(this.options.keyPrefix)];
  }

  private onRedisReady(): void {
    this.scheduleFlush();
  }

  /** Applies remembered invalidations, then lets Redis serve again; one run at a time. */
  private scheduleFlush(): void {
    const redis = this.redis;
    if (this.flushing || redis === undefined) return;
    this.flushing = true;
    void this.flush(redis).finally(() => {
      this.flushing = false;
    });
  }

  private async flush(redis: RedisStore): Promise<void> {
    try {
      while (this.pending.length > 0 && redis.ready) {
        const batch = this.pending;
        this.pending = [];
        try {
          // In the background, so a large keyspace may take its time; only a hung server is cut off.
          await withDeadline(Promise.resolve(redis.deleteMatching(batch)), FLUSH_TIMEOUT_MS, 'invalidate');
        } catch (error) {
          this.pending = [...batch, ...this.pending];
          throw error;
        }
      }
      if (redis.ready && this.pending.length === 0) {
        const wasUsable = this.redisUsable;
        this.redisUsable = true;
        this.outageLogged = false;
        if (!wasUsable)
          this.logger.log(`Redis at ${this.options.redis.safeUrl} is connected; caching in Redis`);
      }
    } catch (error) {
      this.logger.warn(
        `Redis is connected but could not be brought up to date (${describe(error)}); retrying`,
      );
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.scheduleFlush();
      }, FLUSH_RETRY_MS).unref();
    }
  }

  private onRedisError(error: Error): void {
    this.redisUsable = false;
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.logger.warn(
      `Redis at ${this.options.redis.safeUrl} is unreachable (${describe(error)}); caching in memory until it answers`,
    );
  }

  private failOpen(operation: string, key: string, error: unknown): undefined {
    this.logger.debug(`Redis ${operation} of ${key} failed open: ${describe(error)}`);
    return undefined;
  }
}

/** An error's message without anything that could carry a credential (node-redis messages do not). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
