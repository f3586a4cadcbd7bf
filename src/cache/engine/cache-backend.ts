import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { CacheTimeoutError, errorMessage } from '../cache.errors.js';
import { CacheStatsService } from '../observability/cache-stats.service.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import type { CacheBackendName, StoredResponse } from '../stores/cache-store.interface.js';
import { withDeadline } from '../stores/deadline.js';
import { CoherenceBus, type BusClient, type CoherenceMessage } from '../stores/coherence-bus.js';
import {
  LocalGenerations,
  MemoryGenerations,
  newGeneration,
  RedisGenerations,
  stampOf,
} from '../stores/generations.js';
import { MemoryStore } from '../stores/memory.store.js';
import { MemoryTagClock, RedisTagClock, tagsStillValid } from '../stores/tag-clock.js';
import { RedisStore } from '../stores/redis.store.js';

/** Consecutive Redis failures (errors or missed deadlines) that open the circuit breaker. */
const BREAKER_THRESHOLD = 3;
/** First pause before probing an open breaker; doubles on every failed probe, up to the maximum. */
const BREAKER_BASE_OPEN_MS = 250;
const BREAKER_MAX_OPEN_MS = 10_000;
/** Scopes remembered while Redis is unreachable before they collapse into "everything". */
const MAX_PENDING_SCOPES = 10_000;

/** Deletes a lock only when it still holds the caller's token (never someone else's lock). */
const RELEASE_LOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** What a lookup found. */
export interface Lookup {
  /** A valid entry (fresh, or stale within its grace); `undefined` on a miss. */
  readonly entry: StoredResponse | undefined;
  /**
   * The generations of the key's scopes at lookup time: a fresh entry must be written with exactly this, so
   * that an invalidation between the lookup and the write makes the write a miss. `undefined` when they could
   * not be read: the result must then not be stored.
   */
  readonly stamp: string | undefined;
  /** The tag clock's tick at lookup time, when asked for (tagged routes); stored with a fresh entry. */
  readonly tagTick?: number | undefined;
}

/** Scope names under which L1 keeps its copies of tag records, and the bus announces tag invalidations. */
const TAG_SCOPE = 'tag:';

/**
 * Owns the stores and decides which one serves: Redis while it is connected, its circuit breaker is closed and
 * every invalidation made while it was away has been applied; memory otherwise (or always, when Redis is not
 * enabled). Every Redis operation is bounded by a deadline and fails open: errors and timeouts become misses,
 * are counted by the breaker, and are never thrown at a request. The breaker is closed again only by a
 * background probe: requests never wait for Redis to come back.
 */
@Injectable()
export class CacheBackend implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Cache');
  readonly memory: MemoryStore;
  private readonly memoryGenerations = new MemoryGenerations();
  private readonly memoryTags = new MemoryTagClock();
  private readonly redisTags: RedisTagClock | undefined;
  readonly redis: RedisStore | undefined;
  private readonly redisGenerations: RedisGenerations | undefined;
  /** Open until a probe succeeds; starts open (Redis has not answered yet). */
  private breakerOpen = true;
  private failures = 0;
  private openMs = BREAKER_BASE_OPEN_MS;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  /** Scopes invalidated while Redis could not be told; applied before Redis serves again. */
  private pending = new Set<string>();
  private outageLogged = false;
  /** The in-process tier in front of Redis, when enabled. */
  readonly l1: MemoryStore | undefined;
  private readonly localGenerations = new LocalGenerations();
  private readonly bus: CoherenceBus | undefined;
  /** L1 is trusted only while the bus delivers messages. */
  private l1Live = false;
  /** How many times L1 was flushed because the bus subscription was lost. */
  private l1LostCount = 0;

  constructor(
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Optional() private readonly stats: CacheStatsService = new CacheStatsService(),
  ) {
    this.memory = new MemoryStore(options.memory.maxEntries, options.memory.maxBytes);
    if (options.enabled && options.redis.enabled) {
      this.redis = new RedisStore(
        {
          url: options.redis.url,
          connectTimeout: options.redis.connectTimeout,
          ...(options.redis.clusterNodes !== undefined ? { clusterNodes: options.redis.clusterNodes } : {}),
        },
        { ready: () => this.onRedisReady(), error: (error) => this.onRedisError(error) },
      );
      this.redisGenerations = new RedisGenerations(this.redis.commands, options.keyPrefix);
      this.redisTags = new RedisTagClock(this.redis.commands, options.keyPrefix);
      if (options.l1.enabled) {
        this.l1 = new MemoryStore(options.l1.maxEntries, options.l1.maxBytes);
        this.bus = new CoherenceBus(
          this.redis.commands as unknown as BusClient,
          `${options.keyPrefix}:#bus`,
          {
            message: (message) => this.onBusMessage(message),
            down: () => this.setL1Live(false),
            up: () => this.setL1Live(true),
          },
        );
      }
    }
  }

  /** Whether L1 copies are being served (L1 enabled and the bus subscribed). */
  get l1Serving(): boolean {
    return this.l1Live;
  }

  /** How many times the bus subscription was lost (and L1 flushed). */
  get l1SubscriptionLosses(): number {
    return this.l1LostCount;
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Which store answers right now. */
  get backend(): CacheBackendName {
    if (this.redis === undefined) return 'memory';
    return this.activeRedis() === undefined ? 'memory-fallback' : 'redis';
  }

  /** Whether the circuit breaker keeps requests away from Redis. */
  get breakerState(): 'closed' | 'open' {
    return this.redis !== undefined && this.breakerOpen ? 'open' : 'closed';
  }

  onModuleInit(): void {
    if (this.redis === undefined) return;
    if (!this.options.redis.hasPassword) {
      this.logger.warn(`Redis at ${this.options.redis.safeUrl} is used without a password`);
    }
    this.redis.connect();
    this.bus?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    this.bus?.close();
    await this.redis?.close();
    await this.memory.close();
  }

  /**
   * Looks `key` up (or, with `withEntry` false, only reads the stamp a fresh entry would get). Synchronous
   * for memory. Never rejects: a failing Redis answers from memory.
   */
  read(key: string, scopes: readonly string[], withEntry = true, tagged = false): Lookup | Promise<Lookup> {
    const redis = this.activeRedis();
    const generations = this.redisGenerations;
    const tags = this.redisTags;
    if (redis === undefined || generations === undefined || tags === undefined) {
      return this.readMemory(key, scopes, withEntry, tagged);
    }
    if (this.l1Live && !(tagged && !withEntry)) {
      const local = this.readL1(key, scopes, withEntry);
      if (local !== undefined) return local;
    }
    const epoch = this.localGenerations.epoch;
    const work = (async (): Promise<Lookup> => {
      const [entry, current, tagTick] = await Promise.all([
        withEntry ? redis.get(key) : undefined,
        generations.read(scopes),
        tagged ? tags.now() : undefined,
      ]);
      const stamp = stampOf(current);
      let valid = isValid(entry, stamp);
      if (valid && entry?.tags !== undefined && entry.tags.length > 0) {
        const invalidatedAt = await tags.invalidatedAt(entry.tags);
        valid = tagsStillValid(entry.tagTick ?? 0, invalidatedAt);
        if (this.l1Live) {
          const known = invalidatedAt.map((at) => (at === undefined ? '' : String(at)));
          if (!known.includes(''))
            this.localGenerations.learn(
              entry.tags.map((t) => TAG_SCOPE + t),
              known,
              epoch,
            );
        }
      }
      if (this.l1Live) {
        this.localGenerations.learn(scopes, current, epoch);
        if (valid && entry !== undefined) this.l1?.set(key, entry, entry.staleUntil - Date.now());
      }
      return { entry: valid ? entry : undefined, stamp, tagTick };
    })();
    return withDeadline(work, this.options.redis.operationTimeout, 'get').then(
      (lookup) => {
        this.failures = 0;
        return lookup;
      },
      (error: unknown) => {
        this.redisFailed('read', error);
        return this.readMemory(key, scopes, withEntry, tagged);
      },
    );
  }

  /**
   * Stores an entry. Callers need not wait: the result settles (never rejects) once the entry is stored or
   * the write failed; failures are counted and logged, never thrown.
   */
  write(key: string, value: StoredResponse, ttlMs: number): Promise<void> {
    const redis = this.activeRedis();
    if (redis === undefined || this.redisTags === undefined) {
      if (value.tags !== undefined) this.memoryTags.register(value.tags);
      this.writeMemory(key, value, ttlMs);
      return Promise.resolve();
    }
    const tags = this.redisTags;
    // Both go out now, before the response: a read that finds the entry before its tag records treats the
    // missing records as lost (a miss), never as valid.
    const stored = Promise.all([
      value.tags !== undefined && value.tags.length > 0 ? tags.register(value.tags) : undefined,
      redis.set(key, value, ttlMs),
    ]);
    const written = withDeadline(stored, this.options.redis.operationTimeout, 'set').then(
      () => void (this.failures = 0),
      (error: unknown) => this.redisFailed('write', error),
    );
    if (this.l1Live && this.l1 !== undefined && this.bus !== undefined) {
      this.l1.set(key, value, ttlMs);
      this.bus
        .publish({ type: 'overwrite', key })
        .catch((error: unknown) => this.redisFailed('publish', error));
    }
    return written;
  }

  /**
   * Makes every entry of these scopes a miss, in memory at once and in Redis before this resolves. When Redis
   * cannot be told in time, the scopes are remembered, Redis stops serving, and they are applied before it
   * serves again. Never rejects.
   */
  async invalidate(scopes: readonly string[]): Promise<void> {
    if (!this.options.enabled) return;
    this.memoryGenerations.bump(scopes);
    if (this.redis === undefined || this.redisGenerations === undefined) return;
    const generations = this.redisGenerations;
    await this.tellRedis(scopes, () => generations.bump(scopes), 'Invalidation');
  }

  /**
   * Makes every entry carrying one of these tags a miss: in memory at once, in Redis before this resolves
   * (remembered, like scopes, when Redis cannot be told). Never rejects.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (!this.options.enabled || tags.length === 0) return;
    this.memoryTags.invalidate(tags);
    const clock = this.redisTags;
    if (this.redis === undefined || clock === undefined) return;
    const scopes = tags.map((tag) => TAG_SCOPE + tag);
    await this.tellRedis(scopes, () => clock.invalidate(tags), 'Tag invalidation');
  }

  /**
   * Applies an invalidation to Redis and announces it to the other instances, within the invalidation
   * deadline. When Redis is away or too slow, the scopes are remembered and Redis stops serving until they
   * have been applied (by the breaker's probe).
   */
  private async tellRedis(
    scopes: readonly string[],
    apply: () => Promise<unknown>,
    what: string,
  ): Promise<void> {
    if (this.activeRedis() === undefined) {
      this.remember(scopes);
      return;
    }
    // Local copies go first, so that this instance's own L1 never answers from them again.
    this.localGenerations.forget(scopes);
    try {
      await withDeadline(
        (async () => {
          await apply();
          // The other instances drop their copies when this arrives (measured: well under a millisecond).
          await this.bus?.publish({ type: 'invalidate', scopes });
        })(),
        this.options.redis.invalidationTimeout,
        'invalidate',
      );
      this.failures = 0;
    } catch (error) {
      this.remember(scopes);
      this.logger.warn(
        `${what} could not reach Redis (${errorMessage(error)}); it will be applied before Redis serves again`,
      );
      this.openBreaker();
    }
  }

  /**
   * Tries to take the cross-process lock of `key` for `ttlMs`: its token when taken, `null` when another holder
   * has it, `undefined` when Redis is not serving (the caller then relies on in-process coalescing only).
   */
  async tryLock(key: string, ttlMs: number): Promise<string | null | undefined> {
    const redis = this.activeRedis();
    if (redis === undefined) return undefined;
    const token = newGeneration();
    try {
      const reply = await withDeadline(
        redis.commands.set(`${this.options.keyPrefix}:#lock:${key}`, token, {
          condition: 'NX',
          expiration: { type: 'PX', value: ttlMs },
        }),
        this.options.redis.operationTimeout,
        'lock',
      );
      return reply === 'OK' ? token : null;
    } catch (error) {
      this.redisFailed('lock', error);
      return undefined;
    }
  }

  /** Releases a lock taken by {@link tryLock}, only if this token still holds it. */
  async unlock(key: string, token: string): Promise<void> {
    const redis = this.redis;
    if (redis === undefined) return;
    try {
      await withDeadline(
        redis.commands.eval(RELEASE_LOCK, {
          keys: [`${this.options.keyPrefix}:#lock:${key}`],
          arguments: [token],
        }),
        this.options.redis.operationTimeout,
        'unlock',
      );
    } catch (error) {
      // It expires on its own (lockTtl).
      this.logger.debug(`Redis unlock of ${key} failed: ${errorMessage(error)}`);
    }
  }

  /** An L1 answer when both the entry and the generations of its scopes are known locally. */
  private readL1(key: string, scopes: readonly string[], withEntry: boolean): Lookup | undefined {
    const generations = this.localGenerations.get(scopes);
    if (generations === undefined) return undefined;
    const stamp = stampOf(generations);
    if (!withEntry) return { entry: undefined, stamp };
    const entry = this.l1?.get(key);
    if (!isValid(entry, stamp)) return undefined;
    if (entry.tags !== undefined && entry.tags.length > 0) {
      const known = this.localGenerations.get(entry.tags.map((t) => TAG_SCOPE + t));
      if (known === undefined || !tagsStillValid(entry.tagTick ?? 0, known.map(Number))) return undefined;
    }
    return { entry, stamp };
  }

  private onBusMessage(message: CoherenceMessage): void {
    if (message.type === 'invalidate') this.localGenerations.forget(message.scopes);
    else this.l1?.delete(message.key);
  }

  private setL1Live(live: boolean): void {
    if (!live) this.l1LostCount++;
    // Whatever was local may have missed messages: start over either way.
    this.l1?.clear();
    this.localGenerations.clear();
    if (this.l1 !== undefined && live !== this.l1Live) {
      this.logger.log(
        live
          ? 'L1 coherence bus subscribed; serving L1 copies'
          : 'L1 coherence bus lost; serving from Redis only',
      );
    }
    this.l1Live = live && this.l1 !== undefined;
  }

  private readMemory(key: string, scopes: readonly string[], withEntry: boolean, tagged = false): Lookup {
    const stamp = this.memoryGenerations.stamp(scopes);
    const tagTick = tagged ? this.memoryTags.now() : undefined;
    if (!withEntry) return { entry: undefined, stamp, tagTick };
    const entry = this.memory.get(key);
    let valid = isValid(entry, stamp);
    if (valid && entry?.tags !== undefined && entry.tags.length > 0) {
      valid = tagsStillValid(entry.tagTick ?? 0, this.memoryTags.invalidatedAt(entry.tags));
    }
    return { entry: valid ? entry : undefined, stamp, tagTick };
  }

  private writeMemory(key: string, value: StoredResponse, ttlMs: number): void {
    if (this.redis === undefined) {
      this.memory.set(key, value, ttlMs);
      return;
    }
    // Redis is configured but away: what is written meanwhile lives only briefly.
    const cap = Date.now() + this.options.redis.fallbackTtl * 1000;
    this.memory.set(
      key,
      { ...value, expiresAt: Math.min(value.expiresAt, cap), staleUntil: Math.min(value.staleUntil, cap) },
      Math.min(ttlMs, this.options.redis.fallbackTtl * 1000),
    );
  }

  private activeRedis(): RedisStore | undefined {
    const redis = this.redis;
    return redis !== undefined && !this.breakerOpen && this.pending.size === 0 && redis.ready
      ? redis
      : undefined;
  }

  private remember(scopes: readonly string[]): void {
    for (const scope of scopes) this.pending.add(scope);
    if (this.pending.size > MAX_PENDING_SCOPES) this.pending = new Set(['*']);
  }

  private redisFailed(operation: string, error: unknown): void {
    this.logger.debug(`Redis ${operation} failed open: ${errorMessage(error)}`);
    if (error instanceof CacheTimeoutError) this.stats.store.timeouts++;
    else this.stats.store.errors++;
    this.failures++;
    if (this.failures >= BREAKER_THRESHOLD && !this.breakerOpen) {
      this.logger.warn(
        `Redis failed ${this.failures} times in a row (last: ${errorMessage(error)}); serving from memory until it answers again`,
      );
      this.openBreaker();
    }
  }

  private openBreaker(): void {
    this.breakerOpen = true;
    this.failures = 0;
    this.scheduleProbe(this.openMs);
    this.openMs = Math.min(this.openMs * 2, BREAKER_MAX_OPEN_MS);
  }

  private scheduleProbe(delayMs: number): void {
    if (this.closed || this.probeTimer !== undefined) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, delayMs).unref();
  }

  /** Closes the breaker once Redis answers and every remembered invalidation has been applied. */
  private async probe(): Promise<void> {
    const redis = this.redis;
    const generations = this.redisGenerations;
    if (this.probing || this.closed || redis === undefined || generations === undefined) return;
    if (!redis.ready) return; // the client's 'ready' event probes again
    this.probing = true;
    try {
      await withDeadline(
        redis.ping(`${this.options.keyPrefix}:#probe`),
        Math.max(this.options.redis.operationTimeout * 2, 250),
        'probe',
      );
      while (this.pending.size > 0) {
        const remembered = [...this.pending];
        const tags = remembered.filter((s) => s.startsWith(TAG_SCOPE)).map((s) => s.slice(TAG_SCOPE.length));
        const scopes = remembered.filter((s) => !s.startsWith(TAG_SCOPE));
        await withDeadline(
          (async () => {
            if (scopes.length > 0) await generations.bump(scopes);
            if (tags.length > 0) await this.redisTags?.invalidate(tags);
          })(),
          this.options.redis.invalidationTimeout,
          'invalidate',
        );
        for (const scope of remembered) this.pending.delete(scope);
      }
      const wasOpen = this.breakerOpen;
      this.breakerOpen = false;
      this.failures = 0;
      this.openMs = BREAKER_BASE_OPEN_MS;
      this.outageLogged = false;
      if (wasOpen) this.logger.log(`Redis at ${this.options.redis.safeUrl} answers; caching in Redis`);
    } catch (error) {
      this.logger.debug(`Redis probe failed: ${errorMessage(error)}`);
      this.breakerOpen = true;
      this.scheduleProbe(this.openMs);
      this.openMs = Math.min(this.openMs * 2, BREAKER_MAX_OPEN_MS);
    } finally {
      this.probing = false;
    }
  }

  private onRedisReady(): void {
    void this.probe();
  }

  private onRedisError(error: Error): void {
    this.breakerOpen = true;
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.logger.warn(
      `Redis at ${this.options.redis.safeUrl} is unreachable (${errorMessage(error)}); caching in memory until it answers`,
    );
  }
}

function isValid(entry: StoredResponse | undefined, stamp: string): entry is StoredResponse {
  return entry !== undefined && entry.stamp === stamp && entry.staleUntil > Date.now();
}
