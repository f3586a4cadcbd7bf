/** Records whose lifetime is remembered at once; past it, everything is forgotten (and learned again). */
const MAX_RECORDS = 50_000;

/**
 * What this process knows of how long invalidation records live in Redis: a lower bound on each one's expiry,
 * in this process's clock, learned from the write script (which makes every record of an entry outlive it
 * and returns the shortest remaining lifetime among them).
 *
 * A write whose records are all known to outlive its entry needs no script: a plain `SET` of the entry is as
 * safe, because validity is decided when an entry is read (docs/storage-model.md, "Validity"). Knowledge may
 * be wrong only towards "alive" (a record evicted or lost since), and a missing record makes an entry a miss,
 * never a stale hit; a lookup that finds a record missing forgets it, so the next write recreates it.
 */
export class RecordLifetimes {
  private readonly until = new Map<string, number>();

  /** Whether every record of `recordKeys` is known to live until `at` (epoch ms) or later. */
  outlive(recordKeys: readonly string[], at: number): boolean {
    if (recordKeys.length === 0) return false;
    for (let i = 0; i < recordKeys.length; i++) {
      const until = this.until.get(recordKeys[i] as string);
      if (until === undefined || until < at) return false;
    }
    return true;
  }

  /** Every record of `recordKeys` lives until `until` (epoch ms) or later. */
  learn(recordKeys: readonly string[], until: number): void {
    if (this.until.size + recordKeys.length > MAX_RECORDS) this.until.clear();
    for (let i = 0; i < recordKeys.length; i++) this.until.set(recordKeys[i] as string, until);
  }

  /** A record was found missing: nothing is known of it any more. */
  forget(recordKey: string): void {
    this.until.delete(recordKey);
  }

  /** Forgets everything (a new connection: the server may have restarted empty). */
  clear(): void {
    this.until.clear();
  }

  /** Records whose lifetime is known. */
  get size(): number {
    return this.until.size;
  }
}
