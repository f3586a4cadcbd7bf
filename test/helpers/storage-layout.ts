import type { RawRedis } from './resp.js';

/**
 * Redis key names of the storage model (docs/storage-model.md) that the engine tests look for and break.
 * The previous layout's names (`#gen:`, `#tag:`, `#tagclock`, `#lock:`) are listed too, so the same tests also
 * run against the engine being replaced; the new layout never writes them (its names start with `@`).
 */
export class StorageLayout {
  constructor(readonly prefix: string) {}

  /** SCAN patterns of invalidation records (scope and tag records). */
  get recordPatterns(): string[] {
    return [`${this.prefix}:@s:*`, `${this.prefix}:#gen:*`, `${this.prefix}:#tag:*`];
  }

  /** The invalidation clock(s). */
  get clockKeys(): string[] {
    return [`${this.prefix}:@clock`, `${this.prefix}:#tagclock`];
  }

  /** Whether a key is a distributed lock. */
  isLock(key: string): boolean {
    return key.startsWith(`${this.prefix}:@l:`) || key.startsWith(`${this.prefix}:#lock:`);
  }

  /** Every invalidation record in the server now. */
  async records(redis: RawRedis): Promise<string[]> {
    const found = await Promise.all(this.recordPatterns.map((pattern) => redis.scan(pattern)));
    return found.flat().sort();
  }

  /** Every key under the prefix. */
  all(redis: RawRedis): Promise<string[]> {
    return redis.scan(`${this.prefix}:*`);
  }
}
