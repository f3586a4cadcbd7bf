/** Record keys remembered at most; past it the memo starts over (it only saves work, it never decides validity). */
const MAX_KNOWN = 10_000;

/**
 * Until when (this process's clock, ms) each scope record is known to live in Redis, as the last full write
 * reported it (`PTTL` after raising it). A miss whose records all outlive its entry skips their expiries
 * ({@link FAST_WRITE_SCRIPT}) instead of checking and raising every record again.
 *
 * Never a question of correctness: that write still refuses an entry whose records moved past its stamp, and
 * hands a missing record to the full write (which makes or fences it); and a lookup reads an entry's records
 * with it, so a record that is missing or moved makes the entry a miss. A wrong memo costs records that expire
 * before the entries that depend on them: more misses, never stale hits. A record a read found missing is
 * forgotten at once, so the next write of its entries is the full one.
 */
export class RecordLifetimes {
  private readonly known = new Map<string, number>();

  /** Whether every one of `keys` is known to live at least until `until`. */
  outlive(keys: readonly string[], until: number): boolean {
    for (let i = 0; i < keys.length; i++) {
      const known = this.known.get(keys[i] ?? '');
      if (known === undefined || known < until) return false;
    }
    return true;
  }

  /** `keys` live at least until `until` (a full write raised them). */
  learn(keys: readonly string[], until: number): void {
    if (this.known.size + keys.length > MAX_KNOWN) this.known.clear();
    for (const key of keys) this.known.set(key, until);
  }

  /** A record a read found missing (lost, expired, never made): its entries' next write recreates it. */
  forget(key: string): void {
    this.known.delete(key);
  }
}
