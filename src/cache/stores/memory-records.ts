interface RecordSlot {
  tick: number;
  expiresAt: number;
  /** Position of the slot's latest invalidation in the eviction queue. */
  seq: number;
}

/**
 * The invalidation clock and scope records of one process (docs/storage-model.md, "In process"). A record is
 * made by an invalidation only, so a miss writes none: a scope never invalidated has no record, and a missing
 * record holds the floor, which is at least the tick of every record ever dropped. The floor rises when a record
 * goes (expired, or dropped past `maxRecords`, the longest-uninvalidated first, in O(1)), so a lost record makes
 * the entries older than it misses, never stale hits. A record lives until every entry written before it was
 * made has expired (the latest grace end of any entry written so far), so a record that expires in steady
 * traffic raises the floor past entries that are gone already.
 */
export class MemoryRecords {
  private clock: number;
  private floorTick = 0;
  /** The latest `staleUntil` of any entry written so far (epoch milliseconds). */
  private horizon = 0;
  private readonly slots = new Map<string, RecordSlot>();
  private queueKeys: string[] = [];
  private queueSeqs: number[] = [];
  private head = 0;
  private seq = 0;

  constructor(
    private readonly maxRecords: number,
    private readonly now: () => number = Date.now,
  ) {
    // Microseconds of wall time: above any tick this process could have handed out before.
    this.clock = now() * 1000;
  }

  /** Number of records held. */
  get size(): number {
    return this.slots.size;
  }

  /** The current tick. */
  get current(): number {
    return this.clock;
  }

  /** The tick every missing record holds: entries stamped below it are misses. */
  get floor(): number {
    return this.floorTick;
  }

  /** The tick of a record: its own while it lives, the floor when it is missing (or expired at `now`). */
  get(key: string, now = this.now()): number {
    const slot = this.slots.get(key);
    if (slot === undefined) return this.floorTick;
    if (slot.expiresAt <= now) {
      this.drop(key, slot);
      return this.floorTick;
    }
    return slot.tick;
  }

  /**
   * Whether an entry stamped `tick`, depending on `keys`, may be stored: no record of them (expired or not) was
   * invalidated after the stamp, and no record dropped since held a later tick. A stored entry then counts
   * towards the lifetime of the records invalidations make (`staleUntil`, epoch milliseconds).
   */
  admit(tick: number, keys: readonly string[], staleUntil: number): boolean {
    if (tick < this.floorTick) return false;
    for (let i = 0; i < keys.length; i++) {
      const slot = this.slots.get(keys[i] ?? '');
      if (slot !== undefined && slot.tick > tick) return false;
    }
    if (staleUntil > this.horizon) this.horizon = staleUntil;
    return true;
  }

  /**
   * Ticks the clock and sets the records of `keys` to the new tick, made to live as long as the entries that
   * may depend on them; when no entry lives any more, the floor takes the tick instead (nothing to record).
   */
  invalidate(keys: readonly string[], now = this.now()): number {
    const tick = ++this.clock;
    if (this.horizon <= now) {
      // Every entry is gone: only computations still running may depend on these scopes, and they are stamped
      // below the new tick.
      this.floorTick = tick;
      return tick;
    }
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] ?? '';
      let slot = this.slots.get(key);
      if (slot === undefined) {
        slot = { tick, expiresAt: this.horizon, seq: 0 };
        this.slots.set(key, slot);
      } else {
        slot.tick = tick;
        if (slot.expiresAt < this.horizon) slot.expiresAt = this.horizon;
      }
      this.touch(key, slot);
    }
    return tick;
  }

  /** Forgets every record; the floor takes the clock, so nothing stamped before is valid or stored. */
  clear(): void {
    this.slots.clear();
    this.queueKeys = [];
    this.queueSeqs = [];
    this.head = 0;
    this.floorTick = this.clock;
  }

  private drop(key: string, slot: RecordSlot): void {
    this.slots.delete(key);
    if (slot.tick > this.floorTick) this.floorTick = slot.tick;
  }

  /** Moves a record to the young end of the eviction queue, then drops the oldest past the bound. */
  private touch(key: string, slot: RecordSlot): void {
    slot.seq = ++this.seq;
    this.queueKeys.push(key);
    this.queueSeqs.push(slot.seq);
    while (this.slots.size > this.maxRecords && this.head < this.queueKeys.length) {
      const oldest = this.queueKeys[this.head] ?? '';
      const seq = this.queueSeqs[this.head];
      this.head++;
      const candidate = this.slots.get(oldest);
      if (candidate !== undefined && candidate.seq === seq) this.drop(oldest, candidate);
    }
    // Positions superseded by later invalidations or expired records pile up: drop them once they outnumber the
    // live ones, so the queue stays O(maxRecords) at amortized O(1) per invalidation. Positions already passed by
    // eviction are dropped the same way once they are half the queue.
    const pending = this.queueKeys.length - this.head;
    if (pending > 2 * this.slots.size + 1024 || this.head > Math.max(1024, pending)) this.compact();
  }

  private compact(): void {
    const keys: string[] = [];
    const seqs: number[] = [];
    for (let i = this.head; i < this.queueKeys.length; i++) {
      const key = this.queueKeys[i] ?? '';
      const seq = this.queueSeqs[i];
      if (this.slots.get(key)?.seq === seq) {
        keys.push(key);
        seqs.push(seq ?? 0);
      }
    }
    this.queueKeys = keys;
    this.queueSeqs = seqs;
    this.head = 0;
  }
}
