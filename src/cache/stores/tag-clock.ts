import { encodeKeySegment } from '../http/cache-key.js';

/**
 * Tag invalidation without listing the entries of a tag. A clock ticks on every tag invalidation, and each tag
 * remembers the tick at which it was last invalidated. An entry records the tick read before its handler ran
 * and the tags its result carries; it is valid while each of its tags was last invalidated at or before that
 * tick. A handler that started before an invalidation therefore stores an entry that is already invalid.
 * A tag whose record is lost (eviction, restart) makes its entries invalid rather than valid again.
 */
export interface TagClock {
  /** The current tick; read before a tagged handler runs. */
  now(): number | Promise<number>;
  /** When each tag was last invalidated; `undefined` when its record is lost. */
  invalidatedAt(tags: readonly string[]): Array<number | undefined> | Promise<Array<number | undefined>>;
  /** Creates the records of tags about to be used (at tick 0), so that a later loss is detectable. */
  register(tags: readonly string[]): void | Promise<void>;
  /** Invalidates the tags; resolves to the tick at which it happened. */
  invalidate(tags: readonly string[]): number | Promise<number>;
}

/** Whether an entry stamped at `tick` with these tags is still valid, given when the tags were invalidated. */
export function tagsStillValid(tick: number, invalidatedAt: ReadonlyArray<number | undefined>): boolean {
  return invalidatedAt.every((at) => at !== undefined && at <= tick);
}

/**
 * A starting tick above any tick handed out before (microseconds of wall time), so a clock that was lost
 * restarts ahead of every entry stamped with the old one.
 */
function freshBase(): number {
  return Date.now() * 1000;
}

/** The clock of one process, bounded: a forgotten tag makes its entries misses, never stale hits. */
export class MemoryTagClock implements TagClock {
  private tick = freshBase();
  private readonly tags = new Map<string, number>();

  constructor(private readonly maxTags = 100_000) {}

  now(): number {
    return this.tick;
  }

  invalidatedAt(tags: readonly string[]): Array<number | undefined> {
    return tags.map((tag) => this.tags.get(tag));
  }

  register(tags: readonly string[]): void {
    for (const tag of tags) if (!this.tags.has(tag)) this.tags.set(tag, 0);
    while (this.tags.size > this.maxTags) {
      const oldest = this.tags.keys().next().value;
      if (oldest === undefined) break;
      this.tags.delete(oldest);
    }
  }

  invalidate(tags: readonly string[]): number {
    this.tick++;
    for (const tag of tags) {
      this.tags.delete(tag);
      this.tags.set(tag, this.tick);
    }
    return this.tick;
  }
}

/** The subset of a node-redis client that {@link RedisTagClock} uses. */
export interface TagClockClient {
  get(key: string): Promise<unknown>;
  mGet(keys: string[]): Promise<unknown[]>;
  set(key: string, value: string, options?: { condition?: 'NX' }): Promise<unknown>;
  incr(key: string): Promise<number>;
}

/** The clock kept in Redis: `{prefix}:#tagclock` and `{prefix}:#tag:{tag}`. */
export class RedisTagClock implements TagClock {
  private readonly clockKey: string;

  constructor(
    private readonly client: TagClockClient,
    private readonly prefix: string,
  ) {
    this.clockKey = `${prefix}:#tagclock`;
  }

  keyOf(tag: string): string {
    return `${this.prefix}:#tag:${encodeKeySegment(tag)}`;
  }

  async now(): Promise<number> {
    const value = Number(await this.client.get(this.clockKey));
    if (Number.isSafeInteger(value) && value > 0) return value;
    await this.client.set(this.clockKey, String(freshBase()), { condition: 'NX' });
    return Number(await this.client.get(this.clockKey));
  }

  async invalidatedAt(tags: readonly string[]): Promise<Array<number | undefined>> {
    if (tags.length === 0) return [];
    const values = await this.client.mGet(tags.map((tag) => this.keyOf(tag)));
    return values.map((value) => {
      const n = Number(value);
      return value === null || value === undefined || !Number.isSafeInteger(n) ? undefined : n;
    });
  }

  async register(tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((tag) => this.client.set(this.keyOf(tag), '0', { condition: 'NX' })));
  }

  async invalidate(tags: readonly string[]): Promise<number> {
    // Make sure the clock runs ahead of every tick handed out before a possible loss, then tick.
    await this.client.set(this.clockKey, String(freshBase()), { condition: 'NX' });
    const tick = await this.client.incr(this.clockKey);
    await Promise.all(tags.map((tag) => this.client.set(this.keyOf(tag), String(tick))));
    return tick;
  }
}
