import type { EntryKey } from '../engine/entry-key.js';
import { errorMessage } from '../cache.errors.js';
import type { StoredResponse } from './cache-store.interface.js';
import { parseEntry, serializeEntry } from './entry-format.js';
import type { CacheTier, TierRead } from './cache-tier.interface.js';
import {
  CLOCK_SCRIPT,
  ENSURE_RECORD_SCRIPT,
  INVALIDATE_RECORD_SCRIPT,
  RAISE_RECORD_SCRIPT,
  INVALIDATE_SCRIPT,
  TICK_SCRIPT,
  FAST_WRITE_SCRIPT,
  WRITE_SCRIPT,
  type RedisScript,
} from './redis-scripts.js';
import type { RedisCommands } from './redis.store.js';
import { RecordLifetimes } from './record-lifetimes.js';

/**
 * How much longer than an entry its records must be known to live for a write to skip them: covers the time
 * between taking `Date.now()` here and Redis running the write (the entry's expiry counts from then).
 */
const LIFETIME_MARGIN_MS = 100;

/** A record or clock value: a non-negative integer, else missing (corrupt values count as lost). */
function tickOf(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Entries and their invalidation metadata in Redis (docs/storage-model.md). On one server a lookup is one
 * `MGET`, a miss's write one script (a shorter one while its records are known to outlive the entry) and an
 * invalidation one script. On a cluster, where one command may not span slots, each step is split into
 * single-key commands sent together.
 */
export class RedisTier implements CacheTier {
  /** How long records live, as full writes last reported (one server only; see {@link RecordLifetimes}). */
  private readonly lifetimes = new RecordLifetimes();

  constructor(
    private readonly commands: RedisCommands,
    private readonly clockKey: string,
    private readonly cluster: boolean,
    /** Cluster only: how long a record an invalidation creates lives (longer than a value takes to compute). */
    private readonly clusterRecordTtlMs = 10_000,
  ) {}

  async read(key: EntryKey, withEntry: boolean): Promise<TierRead> {
    const keys = key.readKeys as string[];
    const values = await this.commands.mGet(withEntry ? keys : keys.slice(1));
    const offset = withEntry ? 1 : 0;
    const records = new Array<number | undefined>(values.length - offset - 1);
    for (let i = 0; i < records.length; i++) {
      const tick = tickOf(values[i + offset + 1]);
      records[i] = tick;
      // Gone since the last full write: this miss's write goes straight to the full script (one command,
      // sent before any later read), which makes or fences the record.
      if (tick === undefined) this.lifetimes.forget(key.recordKeys[i] ?? '');
    }
    let clock = tickOf(values[offset]);
    // No clock (a new prefix, a flush, a loss): it is made before anything is computed with it as the stamp,
    // so that a loss after this read is told apart from no invalidation at all (docs/storage-model.md).
    if (clock === undefined || clock === 0) clock = await this.clock();
    return { entry: withEntry ? parseEntry(values[0]) : undefined, clock, records };
  }

  /**
   * The clock, made when missing; 0 when that failed (a full server that evicts nothing, a read-only replica):
   * writes stamped with it are refused, and reads still answer.
   */
  private async clock(): Promise<number> {
    try {
      return tickOf(await this.run(CLOCK_SCRIPT, [this.clockKey], [])) ?? 0;
    } catch {
      return 0;
    }
  }

  async readRecords(recordKeys: readonly string[]): Promise<Array<number | undefined>> {
    if (recordKeys.length === 0) return [];
    const values = await this.commands.mGet(recordKeys as string[]);
    return values.map((raw, i) => {
      const tick = tickOf(raw);
      if (tick === undefined) this.lifetimes.forget(recordKeys[i] ?? '');
      return tick;
    });
  }

  async write(
    key: EntryKey,
    recordKeys: readonly string[],
    entry: StoredResponse,
    ttlMs: number,
  ): Promise<boolean> {
    // Stamped 0: its lookup could not make the clock, so nothing tells whether an invalidation came since.
    if (entry.tick === 0) return false;
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const payload = serializeEntry(entry);
    if (this.cluster) return this.writeAcrossSlots(recordKeys, key, entry.tick, payload, ttl);
    const stamp = String(entry.tick);
    const sent = Date.now();
    if (this.lifetimes.outlive(recordKeys, sent + ttlMs + LIFETIME_MARGIN_MS)) {
      const reply = Number(
        await this.run(FAST_WRITE_SCRIPT, [key.key, this.clockKey, ...recordKeys], [stamp, payload, ttl]),
      );
      if (reply !== -1) return reply === 1;
      // A record or the clock went missing after the lookup read it: the full write makes (or fences) it, and
      // what it reports replaces what was known.
    }
    const reply = await this.run(
      WRITE_SCRIPT,
      [key.key, this.clockKey, ...recordKeys],
      [stamp, payload, ttl],
    );
    if (!Array.isArray(reply)) return Number(reply) === 1;
    if (Number(reply[0]) !== 1) return false;
    this.lifetimes.learn(recordKeys, sent + Number(reply[1]));
    return true;
  }

  /**
   * The write on a cluster, where no command spans slots: every part goes out at once (so that a read issued
   * after the response is ordered after them on each node). Each record allows or refuses the entry on its own
   * node; a missing one is created at the stamp. An invalidation that lands meanwhile creates the records it
   * targets, so whichever of the two a node runs first, the entry ends up refused. A record that was missing
   * while the clock moved (it may have been invalidated and lost meanwhile) is raised to the clock afterwards;
   * if that raise fails (its node unreachable), the entry stays valid until it expires (docs/storage-model.md).
   */
  private async writeAcrossSlots(
    recordKeys: readonly string[],
    key: EntryKey,
    tick: number,
    payload: string,
    ttl: string,
  ): Promise<boolean> {
    const stamp = String(tick);
    const [replies, clockRaw] = await Promise.all([
      Promise.all(
        recordKeys.map((recordKey) =>
          this.commands.eval(ENSURE_RECORD_SCRIPT.source, { keys: [recordKey], arguments: [stamp, ttl] }),
        ),
      ),
      this.commands.get(this.clockKey),
      this.commands.set(key.key, payload, { expiration: { type: 'PX', value: Number(ttl) } }),
    ]);
    if (replies.some((reply) => Number(reply) === 0)) return false;
    const created = recordKeys.filter((_, i) => Number(replies[i]) === 2);
    if (created.length === 0) return true;
    let clock = tickOf(clockRaw) ?? 0;
    if (clock === tick) return true;
    // A record was missing while the clock moved, or while the clock was lost (invalidations before the loss
    // are unknown): it may have been invalidated and lost (expired, evicted) while the value was computed.
    // Raise the records this write created to the clock (brought back first, when lost): the entry is refused.
    if (clock === 0) clock = await this.clock();
    if (clock === 0) return false;
    await Promise.all(
      created.map((recordKey) =>
        this.commands.eval(RAISE_RECORD_SCRIPT.source, { keys: [recordKey], arguments: [String(clock)] }),
      ),
    );
    return false;
  }

  async invalidate(recordKeys: readonly string[]): Promise<number> {
    if (!this.cluster) return Number(await this.run(INVALIDATE_SCRIPT, [this.clockKey, ...recordKeys], []));
    const tick = String(await this.run(TICK_SCRIPT, [this.clockKey], []));
    const min = String(this.clusterRecordTtlMs);
    await Promise.all(
      recordKeys.map((recordKey) =>
        this.commands.eval(INVALIDATE_RECORD_SCRIPT.source, { keys: [recordKey], arguments: [tick, min] }),
      ),
    );
    return Number(tick);
  }

  /**
   * After every connect: makes the clock when missing (so that the first lookups find it) and, on one server,
   * loads the scripts (a restarted server forgot them).
   */
  async load(): Promise<void> {
    const scripts = this.cluster ? [] : [WRITE_SCRIPT, INVALIDATE_SCRIPT, CLOCK_SCRIPT];
    await Promise.all(scripts.map((s) => this.commands.scriptLoad(s.source)));
    await this.clock();
  }

  /** `EVALSHA`, or `EVAL` (which also loads it) when the server does not know the script yet. */
  private async run(script: RedisScript, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.commands.evalSha(script.sha, { keys, arguments: args });
    } catch (error) {
      if (!errorMessage(error).includes('NOSCRIPT')) throw error;
      return this.commands.eval(script.source, { keys, arguments: args });
    }
  }
}
