import { Logger } from '@nestjs/common';
import { errorMessage } from '../cache.errors.js';
import type { CoherenceBus } from '../stores/coherence-bus.js';
import { withDeadline } from '../stores/deadline.js';
import type { RedisTier } from '../stores/redis-tier.js';
import type { L1Tier } from './l1-tier.js';

/** Records invalidated while Redis could not be told, before they collapse into "everything". */
const MAX_OWED = 10_000;

/**
 * Applies invalidations to Redis and announces them to the other instances, within the invalidation deadline;
 * remembers those Redis could not be told (Redis must not serve until they are applied). Keeps this instance's
 * L1 honest: its copies of the records are forgotten before an invalidation is applied (so it stops answering
 * from them) and again once applied (a read that started in between may have learned them as they were).
 */
export class RedisInvalidator {
  private readonly logger = new Logger('Cache');
  private owed = new Set<string>();

  constructor(
    private readonly tier: RedisTier,
    private readonly timeoutMs: number,
    private readonly bus: () => CoherenceBus | undefined,
    private readonly l1: () => L1Tier | undefined,
    /** The record of everything: what the owed records collapse into past {@link MAX_OWED}. */
    private readonly allRecord: string,
    /** Told when Redis could not be told in time (the breaker opens). */
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Whether some invalidation still has to be applied to Redis. */
  get owes(): boolean {
    return this.owed.size > 0;
  }

  /**
   * Invalidates `records` in Redis (when `serving`) or remembers them. Resolves once Redis and the bus have
   * taken it, or it has been remembered; never rejects.
   */
  async invalidate(records: readonly string[], serving: boolean): Promise<void> {
    this.l1()?.forget(records);
    if (!serving) {
      this.remember(records);
      return;
    }
    try {
      await withDeadline(this.apply(records), this.timeoutMs, 'invalidate');
    } catch (error) {
      this.remember(records);
      this.logger.warn(
        `Invalidation could not reach Redis (${errorMessage(error)}); it will be applied before Redis serves again`,
      );
      this.failed(error);
    }
  }

  /** Applies every remembered invalidation (the breaker's probe); rejects when Redis still cannot take them. */
  async applyOwed(): Promise<void> {
    while (this.owed.size > 0) {
      // Taken out before applying: one remembered again meanwhile (the breaker is still open) is applied by the
      // next pass, not dropped with this one.
      const owed = this.owed;
      this.owed = new Set();
      try {
        await withDeadline(this.apply([...owed]), this.timeoutMs, 'invalidate');
      } catch (error) {
        this.remember([...owed]);
        throw error;
      }
    }
  }

  private async apply(records: readonly string[]): Promise<void> {
    await this.tier.invalidate(records);
    this.l1()?.forget(records);
    // The other instances drop their copies when this arrives (measured: well under a millisecond).
    await this.bus()?.publish({ type: 'invalidate', scopes: records });
  }

  private remember(records: readonly string[]): void {
    for (const record of records) this.owed.add(record);
    if (this.owed.size > MAX_OWED) this.owed = new Set([this.allRecord]);
  }
}
