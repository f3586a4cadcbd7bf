interface RecordSlot {
  tick: number;
  expiresAt: number;
  /** Position of the slot's latest entry in the eviction queue. */
  seq: number;
}

/**
 * The invalidation clock and scope records of one process (docs/storage-model.md), bounded in number and in
 * time: a record expires with the last entry that needs it, and past `maxRecords` the longest-unwritten one
 * is dropped in O(1) (a queue of write order, with superseded positions skipped). A dropped record makes its
 * entries misses, never stale hits.
 */
export class MemoryRecords {
  private clock: number;
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

  /** The tick of a record, or `undefined` when it is missing or expired (at `now`). */
  get(key: string, now = this.now()): number | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= now) {
      this.slots.delete(key);
      return undefined;
    }
    return slot.tick;
  }

  /**
   * Creates a missing record at `tick`, and makes it live at least until `expiresAt`. Returns the record's tick
   * after the call.
   */
  ensure(key: string, tick: number, expiresAt: number, now = this.now()): number {
    const slot = this.slots.get(key);
    if (slot !== undefined && slot.expiresAt > now) {
      if (slot.expiresAt < expiresAt) slot.expiresAt = expiresAt;
      this.touch(key, slot);
      return slot.tick;
    }
    const created = { tick, expiresAt, seq: 0 };
    this.slots.set(key, created);
    this.touch(key, created);
    return tick;
  }

  /** Ticks the clock and moves the existing records among `keys` to the new tick. */
  invalidate(keys: readonly string[]): number {
    const tick = ++this.clock;
    for (const key of keys) {
      const slot = this.get(key) === undefined ? undefined : this.slots.get(key);
      if (slot !== undefined) slot.tick = tick;
    }
    return tick;
  }

  clear(): void {
    this.slots.clear();
    this.queueKeys = [];
    this.queueSeqs = [];
    this.head = 0;
  }

  /** Moves a record to the young end of the eviction queue, then evicts past the bound. */
  private touch(key: string, slot: RecordSlot): void {
    slot.seq = ++this.seq;
    this.queueKeys.push(key);
    this.queueSeqs.push(slot.seq);
    while (this.slots.size > this.maxRecords && this.head < this.queueKeys.length) {
      const oldest = this.queueKeys[this.head] ?? '';
      const seq = this.queueSeqs[this.head];
      this.head++;
      if (this.slots.get(oldest)?.seq === seq) this.slots.delete(oldest);
    }
    // Positions superseded by later writes or expired records pile up: drop them once they outnumber the live
    // ones, so the queue stays O(maxRecords) at amortized O(1) per write.
    // Positions already passed by eviction are dropped the same way once they are half the queue.
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
