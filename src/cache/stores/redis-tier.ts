import type { EntryKey } from '../engine/entry-key.js';
import { errorMessage } from '../cache.errors.js';
import type { StoredResponse } from './cache-store.interface.js';
import { parseEntry, serializeEntry } from './entry-format.js';
import type { CacheTier, TierRead } from './cache-tier.interface.js';
import { RecordLifetimes } from './record-lifetimes.js';
import {
  CLOCK_SCRIPT,
  ENSURE_RECORD_SCRIPT,
  INVALIDATE_RECORD_SCRIPT,
  RAISE_RECORD_SCRIPT,
  INVALIDATE_SCRIPT,
  TICK_SCRIPT,
  WRITE_SCRIPT,
  type RedisScript,
} from './redis-scripts.js';
import type { RedisCommands } from './redis.store.js';

/** A record or clock value: a non-negative integer, else missing (corrupt values count as lost). */
function tickOf(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The reply of a write script that stored its entry: `[1, shortest remaining lifetime of its records]`. */
function storedFor(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || Number(reply[0]) !== 1) return undefined;
  const shortest = Number(reply[1]);
  return Number.isFinite(shortest) && shortest > 0 ? shortest : 0;
}

/**
 * Entries and their invalidation metadata in Redis (docs/storage-model.md). On one server a lookup is one
 * `MGET`, a miss's write one script (or one `SET`, see {@link RecordLifetimes}) and an invalidation one script.
 * On a cluster, where one command may not span slots, each step is split into single-key commands sent together.
 */
export class RedisTier implements CacheTier {
  /** Single server: which records are known to outlive the entries written now (writes without a script). */
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
      if (tick === undefined) this.lifetimes.forget(key.recordKeys[i] as string);
    }
    return {
      entry: withEntry ? parseEntry(values[0]) : undefined,
      clock: tickOf(values[offset]) ?? 0,
      records,
    };
  }

  async readRecords(recordKeys: readonly string[]): Promise<Array<number | undefined>> {
    if (recordKeys.length === 0) return [];
    const values = await this.commands.mGet(recordKeys as string[]);
    return values.map((value, i) => {
      const tick = tickOf(value);
      if (tick === undefined) this.lifetimes.forget(recordKeys[i] as string);
      return tick;
    });
  }

  async write(
    key: EntryKey,
    recordKeys: readonly string[],
    entry: StoredResponse,
    ttlMs: number,
  ): Promise<boolean> {
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const payload = serializeEntry(entry, ttlMs);
    const tick = String(entry.tick);
    if (!this.cluster) {
      const sentAt = Date.now();
      if (this.lifetimes.outlive(recordKeys, sentAt + Number(ttl))) {
        // Every record is known to outlive the entry: the entry alone. If an invalidation raced this write, the
        // records it moved refuse the entry when it is read; if a record was lost, the entry is a miss.
        await this.commands.set(key.key, payload, { expiration: { type: 'PX', value: Number(ttl) } });
        return true;
      }
      const reply = await this.run(
        WRITE_SCRIPT,
        [key.key, this.clockKey, ...recordKeys],
        [tick, payload, ttl],
      );
      const shortest = storedFor(reply);
      if (shortest === undefined) return false;
      this.lifetimes.learn(recordKeys, sentAt + shortest);
      return true;
    }
    return this.writeAcrossSlots(recordKeys, key, entry.tick, payload, ttl);
  }

  /**
   * The write on a cluster, where no command spans slots: every part goes out at once (so that a read issued
   * after the response is ordered after them on each node). Each record allows or refuses the entry on its own
   * node; a missing one is created at the stamp. An invalidation that lands meanwhile creates the records it
   * targets, so whichever of the two a node runs first, the entry ends up refused. A record that was missing
   * while the clock moved (it may have been invalidated and lost meanwhile) is raised to the clock afterwards.
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
    if (replies.some((reply) => Number(reply) === 0)) {
      // Refused. A lost clock reads as 0, which every existing record refuses: bring the clock back.
      if (tick === 0) await this.run(CLOCK_SCRIPT, [this.clockKey], []);
      return false;
    }
    const created = recordKeys.filter((_, i) => Number(replies[i]) === 2);
    const clock = tickOf(clockRaw) ?? 0;
    if (created.length === 0 || clock === tick) return true;
    // A record was missing while the clock moved: it may have been invalidated and lost (expired, evicted)
    // while the value was computed. Raise the records this write created to the clock: the entry is refused.
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

  /** Loads the scripts of the single-server path (after every connect: a restarted server forgot them). */
  async load(): Promise<void> {
    this.lifetimes.clear();
    if (this.cluster) return;
    await Promise.all([WRITE_SCRIPT, INVALIDATE_SCRIPT].map((s) => this.commands.scriptLoad(s.source)));
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
