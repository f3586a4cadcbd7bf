import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheStatsService } from '../observability/cache-stats.service.js';
import type { CacheBackendName, StoredResponse } from '../stores/cache-store.interface.js';
import { recordsAllow } from '../stores/cache-tier.interface.js';
import { withDeadline } from '../stores/deadline.js';
import { MemoryTier } from '../stores/memory-tier.js';
import { RELEASE_LOCK_SCRIPT } from '../stores/redis-scripts.js';
import { KeySpace, Scopes, scopesReached, type EntryKey } from './entry-key.js';
import { RedisConnection } from './redis-connection.js';

/** The settled outcomes of a synchronous write (a settled promise is immutable: one of each serves every write). */
const STORED = Promise.resolve(true);
const NOT_STORED = Promise.resolve(false);

/** What a lookup found. */
export interface Lookup {
  /** A valid entry (fresh, or stale within its grace); `undefined` on a miss. */
  readonly entry: StoredResponse | undefined;
  /**
   * The stamp anything computed from now on is written with (the clock read by the lookup); `undefined` when
   * it is not known (an L1 answer, or a failed read): the result must then not be stored.
   */
  readonly stamp: number | undefined;
  /** The tier that answered: a result is written back only to it (stamps of two tiers never mix). */
  readonly tier: 'memory' | 'redis';
  /** Answered by L1 (no stamp): a caller that wants to refresh the entry reads Redis again. */
  readonly fromL1?: true;
}

/**
 * Owns the tiers and decides which one serves: Redis while it is connected, its breaker is closed and every
 * invalidation made while it was away has been applied; memory otherwise (or always, when Redis is not
 * enabled). Every Redis operation is bounded by a deadline and fails open: errors and timeouts become misses,
 * are counted, and are never thrown at a caller. No HTTP in here: callers pass entry keys and entries.
 */
@Injectable()
export class CacheBackend implements OnModuleInit, OnApplicationShutdown {
  readonly keys: KeySpace;
  readonly memory: MemoryTier;
  /**
   * Entries of synchronous cached methods, which can never wait for Redis: in this process only, invalidated
   * with everything else (and, with Redis and L1, by other instances over the coherence bus).
   */
  readonly local: MemoryTier;
  /** The Redis side (connection, breaker, L1, bus), when Redis is enabled. */
  readonly redis: RedisConnection | undefined;
  private readonly logger = new Logger('Cache');
  private invalidations = 0;

  constructor(
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Optional() private readonly stats: CacheStatsService = new CacheStatsService(),
  ) {
    this.keys = new KeySpace(options.keyPrefix);
    this.memory = new MemoryTier(options.memory.maxEntries, options.memory.maxBytes);
    this.local = new MemoryTier(options.memory.maxEntries, options.memory.maxBytes);
    if (options.enabled && options.redis.enabled) {
      this.redis = new RedisConnection(
        options,
        this.keys,
        this.stats,
        (records) => {
          this.invalidations++;
          this.local.invalidate(records);
        },
        () => this.memory.clear(),
        () => this.local.clear(),
      );
    }
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * Changes when an invalidation starts here (or is announced by another instance): a lookup that started
   * before it must not be shared with callers that come after.
   */
  get invalidationEpoch(): number {
    return this.invalidations;
  }

  /** Which tier answers right now. */
  get backend(): CacheBackendName {
    if (this.redis === undefined) return 'memory';
    return this.redis.serving ? 'redis' : 'memory-fallback';
  }

  /** Whether L1 copies are being served (L1 enabled and its coherence bus subscribed). */
  get l1Serving(): boolean {
    return this.redis?.l1?.serving === true;
  }

  /** How many times the L1 bus subscription was lost (and L1 flushed). */
  get l1SubscriptionLosses(): number {
    return this.redis?.l1?.subscriptionLosses ?? 0;
  }

  /** Whether the circuit breaker keeps requests away from Redis. */
  get breakerState(): 'closed' | 'open' {
    return this.redis?.breakerOpen === true ? 'open' : 'closed';
  }

  /** Waits (at most `connectTimeout`) for Redis, so that it serves from the first request. */
  async onModuleInit(): Promise<void> {
    await this.redis?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
    this.memory.clear();
    this.local.clear();
  }

  /**
   * Looks `key` up (or, with `withEntry` false, only reads the stamp a fresh entry would get). Synchronous for
   * memory and L1. Never rejects: a failing Redis answers from memory.
   */
  read(key: EntryKey, withEntry = true, viaL1 = true): Lookup | Promise<Lookup> {
    const redis = this.redis;
    if (redis === undefined || !redis.serving) return this.readMemory(key, withEntry);
    if (withEntry && viaL1) {
      const local = redis.l1?.get(key);
      if (local !== undefined) return { entry: local, stamp: undefined, tier: 'redis', fromL1: true };
    }
    return redis.read(key, withEntry).then(
      (found): Lookup => ({ entry: found.entry, stamp: found.stamp, tier: 'redis' }),
      () => this.readMemory(key, withEntry),
    );
  }

  /**
   * Stores an entry stamped by a lookup of `tier` (`entry.tick`). Settles (never rejects) once it is stored, or
   * refused because an invalidation came first, or failed; resolves to whether it was stored.
   */
  write(key: EntryKey, entry: StoredResponse, ttlMs: number, tier: Lookup['tier']): Promise<boolean> {
    const records =
      entry.tags === undefined || entry.tags.length === 0
        ? key.recordKeys
        : [
            ...key.recordKeys,
            ...this.keys.tagRecords(entry.tags).filter((record) => !key.recordKeys.includes(record)),
          ];
    if (tier === 'memory') {
      if (this.redis?.serving === true) return NOT_STORED;
      return this.writeMemory(key, records, entry, ttlMs) ? STORED : NOT_STORED;
    }
    if (this.redis === undefined || !this.redis.serving) return NOT_STORED;
    return this.redis.write(key, records, entry, ttlMs);
  }

  /**
   * Makes every entry of these scopes (docs/storage-model.md) a miss: in memory at once, in Redis before this
   * resolves (or, when Redis cannot be told in time, before Redis serves again). Never rejects.
   */
  async invalidate(scopes: readonly string[]): Promise<void> {
    if (!this.options.enabled || scopes.length === 0) return;
    this.invalidations++;
    const records = scopes.flatMap((scope) =>
      scopesReached(scope).map((reached) => this.keys.record(reached)),
    );
    this.memory.invalidate(records);
    this.local.invalidate(records);
    await this.redis?.invalidate(records);
  }

  /** {@link invalidate} of the tags' scopes. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.invalidate(tags.map((tag) => Scopes.tag(tag)));
  }

  /**
   * Tries to take the cross-process lock of `key` for `ttlMs`: its token when taken, `null` when another holder
   * has it, `undefined` when Redis is not serving (the caller then relies on in-process coalescing only).
   */
  async tryLock(key: EntryKey, ttlMs: number): Promise<string | null | undefined> {
    const redis = this.redis;
    if (redis === undefined || !redis.serving) return undefined;
    const token = randomBytes(12).toString('base64url');
    try {
      const reply = await withDeadline(
        redis.commands.set(key.lockKey, token, {
          condition: 'NX',
          expiration: { type: 'PX', value: ttlMs },
        }),
        this.options.redis.operationTimeout,
        'lock',
      );
      return reply === 'OK' ? token : null;
    } catch (error) {
      redis.failed('lock', error);
      return undefined;
    }
  }

  /** Releases a lock taken by {@link tryLock}, only if this token still holds it. */
  async unlock(key: EntryKey, token: string): Promise<void> {
    const redis = this.redis;
    if (redis === undefined) return;
    try {
      await withDeadline(
        redis.commands.eval(RELEASE_LOCK_SCRIPT.source, { keys: [key.lockKey], arguments: [token] }),
        this.options.redis.operationTimeout,
        'unlock',
      );
    } catch (error) {
      // It expires on its own (lockTtl).
      this.logger.debug(`Redis unlock of ${key.key} failed: ${errorMessage(error)}`);
    }
  }

  private readMemory(key: EntryKey, withEntry: boolean): Lookup {
    const memory = this.memory;
    let entry = withEntry ? memory.lookup(key) : undefined;
    if (entry?.tags !== undefined && entry.tags.length > 0) {
      const ticks = memory.readRecords(this.keys.tagRecords(entry.tags));
      if (!recordsAllow(entry.tick, ticks)) entry = undefined;
    }
    return { entry, stamp: memory.clock, tier: 'memory' };
  }

  private writeMemory(
    key: EntryKey,
    records: readonly string[],
    entry: StoredResponse,
    ttlMs: number,
  ): boolean {
    if (this.redis === undefined) return this.memory.write(key, records, entry, ttlMs);
    // Redis is configured but away: what is written meanwhile is local to this process, so it lives briefly.
    const capMs = this.options.redis.fallbackTtl * 1000;
    const cap = Date.now() + capMs;
    const capped = {
      ...entry,
      expiresAt: Math.min(entry.expiresAt, cap),
      staleUntil: Math.min(entry.staleUntil, cap),
    };
    return this.memory.write(key, records, capped, Math.min(ttlMs, capMs));
  }
}
