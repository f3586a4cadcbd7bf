import { Logger } from '@nestjs/common';
import { CacheTimeoutError, errorMessage } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import type { CacheStatsService } from '../observability/cache-stats.service.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { recordsAllow, validEntry, type TierRead } from '../stores/cache-tier.interface.js';
import { CoherenceBus, type BusClient, type CoherenceMessage } from '../stores/coherence-bus.js';
import { withDeadline } from '../stores/deadline.js';
import { RedisTier } from '../stores/redis-tier.js';
import { RedisStore, type RedisCommands } from '../stores/redis.store.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { EntryKey, KeySpace } from './entry-key.js';
import { L1Tier } from './l1-tier.js';
import { RedisInvalidator } from './redis-invalidator.js';

/**
 * The Redis side of the backend: the connection, its circuit breaker, its invalidations (a
 * {@link RedisInvalidator}), and the optional L1 tier with its coherence bus. Every operation is bounded by a deadline; reads and writes
 * reject on failure (the backend falls back), invalidations never do.
 */
export class RedisConnection {
  readonly store: RedisStore;
  readonly l1: L1Tier | undefined;
  private readonly tier: RedisTier;
  private readonly breaker: CircuitBreaker;
  private readonly bus: CoherenceBus | undefined;
  private readonly logger = new Logger('Cache');
  private readonly invalidator: RedisInvalidator;
  private outageLogged = false;

  constructor(
    private readonly options: ResolvedCacheOptions,
    private readonly keys: KeySpace,
    private readonly stats: CacheStatsService,
    /** Told of the records another instance announces it invalidated. */
    private readonly announced: (records: readonly string[]) => void = () => undefined,
    /** Told when Redis serves again: what was written to memory meanwhile never heard of other instances. */
    private readonly recovered: () => void = () => undefined,
    /** Told when the coherence bus was lost: announcements made meanwhile were missed. */
    private readonly busLost: () => void = () => undefined,
  ) {
    const redis = options.redis;
    const clusterNodes = redis.clusterNodes;
    this.store = new RedisStore(
      {
        url: redis.url,
        connectTimeout: redis.connectTimeout,
        ...(clusterNodes !== undefined ? { clusterNodes } : {}),
      },
      { ready: () => void this.breaker.tryClose(), error: (error) => this.onError(error) },
    );
    this.tier = new RedisTier(
      this.store.commands,
      keys.clockKey,
      clusterNodes !== undefined,
      Math.max(options.stampede.coalesceTimeout, options.stampede.lockTtl) + 5000,
    );
    this.breaker = new CircuitBreaker(
      () => this.probe(),
      (open, cause) => this.onBreaker(open, cause),
    );
    this.invalidator = new RedisInvalidator(
      this.tier,
      options.redis.invalidationTimeout,
      () => this.bus,
      () => this.l1,
      keys.record('*'),
      (error) => this.breaker.trip(error),
    );
    if (options.l1.enabled) {
      this.l1 = new L1Tier(options.l1.maxEntries, options.l1.maxBytes, (tags) => keys.tagRecords(tags));
      const l1 = this.l1;
      this.bus = new CoherenceBus(this.store.commands as unknown as BusClient, `${keys.prefix}:@bus`, {
        message: (message: CoherenceMessage) => {
          if (message.type === 'overwrite') return l1.drop(message.key);
          this.announced(message.scopes);
          l1.forget(message.scopes);
        },
        down: () => {
          l1.setLive(false);
          this.busLost();
        },
        up: () => {
          l1.setLive(true);
          // Announcements may have been missed until now, too.
          this.busLost();
        },
      });
    }
  }

  /** The raw commands (locks). */
  get commands(): RedisCommands {
    return this.store.commands;
  }

  /** Whether Redis serves: connected, breaker closed, and no invalidation owed to it. */
  get serving(): boolean {
    return !this.breaker.open && !this.invalidator.owes && this.store.ready;
  }

  get breakerOpen(): boolean {
    return this.breaker.open;
  }

  /** Connects, waiting at most `connectTimeout` for Redis to answer; then serves from memory until it does. */
  async start(): Promise<void> {
    if (!this.options.redis.hasPassword) {
      this.logger.warn(`Redis at ${this.options.redis.safeUrl} is used without a password`);
    }
    this.bus?.start();
    const timeout = this.options.redis.connectTimeout;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.store.connect().then(
        () => this.breaker.tryClose(),
        () => undefined, // reported through the client's error events; it keeps retrying
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
    ]);
    clearTimeout(timer);
    if (this.breaker.open && !this.outageLogged) {
      this.outageLogged = true;
      this.logger.warn(
        `Redis at ${this.options.redis.safeUrl} did not answer within ${timeout} ms; caching in memory until it does`,
      );
    }
  }

  async close(): Promise<void> {
    this.breaker.stop();
    this.bus?.close();
    await this.store.close();
  }

  /**
   * Reads and validates `key` (records, then the tags of a stored entry); rejects on failure or deadline. One
   * promise chain (no async wrappers): a hit is on the hot path.
   */
  read(key: EntryKey, withEntry: boolean): Promise<{ entry: StoredResponse | undefined; stamp: number }> {
    const l1 = this.l1;
    const epoch = l1?.epoch ?? 0;
    const work = this.tier.read(key, withEntry).then((read) => {
      const entry = validEntry(read.entry, read.records);
      const tags = entry?.tags;
      if (entry !== undefined && tags !== undefined && tags.length > 0) {
        // The records of tags the lookup already read (the caller's fixed tags) were checked with the others.
        const tagKeys = this.keys.tagRecords(tags).filter((k) => !key.recordKeys.includes(k));
        if (tagKeys.length > 0) {
          return this.tier.readRecords(tagKeys).then((ticks) => {
            const allowed = recordsAllow(entry.tick, ticks);
            if (allowed) l1?.learn(tagKeys, ticks, epoch);
            return this.learned(key, read, allowed ? entry : undefined, epoch);
          });
        }
      }
      return this.learned(key, read, entry, epoch);
    });
    return withDeadline(work, this.options.redis.operationTimeout, 'get').then(
      (found) => {
        this.breaker.succeeded();
        return found;
      },
      (error: unknown) => {
        this.failed('read', error);
        throw error;
      },
    );
  }

  /** What a read found, once L1 learned its records (and its entry). */
  private learned(
    key: EntryKey,
    read: TierRead,
    entry: StoredResponse | undefined,
    epoch: number,
  ): { entry: StoredResponse | undefined; stamp: number } {
    this.l1?.learn(
      key.recordKeys,
      read.records,
      epoch,
      entry === undefined ? undefined : { key: key.key, value: entry },
    );
    return { entry, stamp: read.clock };
  }

  /** Writes an entry (one script); resolves to whether it was stored, never rejects. */
  async write(
    key: EntryKey,
    records: readonly string[],
    entry: StoredResponse,
    ttlMs: number,
  ): Promise<boolean> {
    try {
      const stored = await withDeadline(
        this.tier.write(key, records, entry, ttlMs),
        this.options.redis.operationTimeout,
        'set',
      );
      this.breaker.succeeded();
      if (stored && this.l1?.serving === true && this.bus !== undefined) {
        this.l1.keep(key.key, entry, ttlMs);
        this.bus
          .publish({ type: 'overwrite', key: key.key })
          .catch((error: unknown) => this.failed('publish', error));
      }
      return stored;
    } catch (error) {
      this.failed('write', error);
      return false;
    }
  }

  /** See {@link RedisInvalidator.invalidate}. Never rejects. */
  invalidate(records: readonly string[]): Promise<void> {
    return this.invalidator.invalidate(records, this.serving);
  }

  /** Counts a failed operation; enough of them in a row open the breaker. */
  failed(operation: string, error: unknown): void {
    this.logger.debug(`Redis ${operation} failed open: ${errorMessage(error)}`);
    if (error instanceof CacheTimeoutError) this.stats.store.timeouts++;
    else this.stats.store.errors++;
    this.breaker.failed(error);
  }

  /** Closes the breaker once Redis answers and every remembered invalidation has been applied. */
  private async probe(): Promise<void> {
    if (!this.store.ready) throw new Error('not connected'); // the client's 'ready' event probes again
    await withDeadline(
      this.store.ping(`${this.keys.prefix}:@probe`),
      Math.max(this.options.redis.operationTimeout * 2, 250),
      'probe',
    );
    await withDeadline(this.tier.load(), this.options.redis.invalidationTimeout, 'script load');
    await this.invalidator.applyOwed();
  }

  private onBreaker(open: boolean, cause: unknown): void {
    if (open) {
      this.logger.warn(
        `Redis failed repeatedly (last: ${errorMessage(cause)}); serving from memory until it answers again`,
      );
      return;
    }
    this.outageLogged = false;
    this.recovered();
    this.logger.log(`Redis at ${this.options.redis.safeUrl} answers; caching in Redis`);
  }

  private onError(error: Error): void {
    this.breaker.hold();
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.logger.warn(
      `Redis at ${this.options.redis.safeUrl} is unreachable (${errorMessage(error)}); caching in memory until it answers`,
    );
  }
}
