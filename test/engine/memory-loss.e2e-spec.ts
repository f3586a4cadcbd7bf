import { describe, expect, it } from 'vitest';
import { KeySpace, Scopes, type EntryKey } from '../../src/cache/engine/entry-key.js';
import type { StoredResponse } from '../../src/cache/stores/cache-store.interface.js';
import { MemoryTier } from '../../src/cache/stores/memory-tier.js';
import { seededRandom } from '../helpers/seeded-random.js';

interface Pending {
  readonly key: EntryKey;
  readonly stamp: number;
  readonly ttlMs: number;
}

/**
 * Random traffic against the in-process tier, checked against an oracle that never loses anything: every
 * entry a lookup returns was stamped no earlier than the last invalidation of each of its scopes. Records are
 * lost on the way (expiry, and the count bound under floods of invalidations of other scopes).
 */
function run(seed: number, steps: number): { hits: number; refused: number; dropped: number } {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  let t = 1_000_000;
  const tier = new MemoryTier(50, 64 * 1024 * 1024, () => t);
  const space = new KeySpace('prop');
  const keys: EntryKey[] = [];
  for (const ns of ['users', 'keys']) {
    for (const a of ['1', '2', '12']) {
      for (const b of ['x', 'y']) keys.push(space.entry(ns, `${ns}:${a}:${b}`, [`t${a}`]));
    }
  }
  const scopes = [...new Set(keys.flatMap((key) => key.recordKeys)), space.record(Scopes.namespace('users'))];
  /** The tick of the last invalidation of each record, as the oracle keeps it. */
  const truth = new Map<string, number>();
  const pending: Pending[] = [];
  let hits = 0;
  let refused = 0;
  let dropped = 0;
  for (let step = 0; step < steps; step++) {
    const roll = next();
    if (roll < 0.25) {
      pending.push({ key: pick(keys), stamp: tier.clock, ttlMs: pick([50, 500, 5000]) });
    } else if (roll < 0.55 && pending.length > 0) {
      const [done] = pending.splice(Math.floor(next() * pending.length), 1);
      if (done === undefined) continue;
      const entry: StoredResponse = {
        status: 200,
        contentType: 'text/plain',
        body: `${done.stamp}`,
        etag: '"e"',
        expiresAt: t + done.ttlMs,
        staleUntil: t + done.ttlMs,
        tick: done.stamp,
        computeMs: 1,
      };
      if (!tier.write(done.key, done.key.recordKeys, entry, done.ttlMs)) refused++;
    } else if (roll < 0.61) {
      const targets = [pick(scopes), ...(next() < 0.3 ? [pick(scopes)] : [])];
      const tick = tier.invalidate(targets);
      for (const target of targets) truth.set(target, tick);
    } else if (roll < 0.635) {
      // A flood of invalidations of other scopes: past the records bound, the oldest records go.
      const floor = tier.records.floor;
      for (let i = 0; i < 1100; i++) tier.invalidate([`prop:@s:flood:${step}:${i}`]);
      if (tier.records.floor > floor) dropped++;
    } else if (roll < 0.7) {
      // Now and then long enough that every entry is gone while computations are still running.
      t += pick([1, 10, 100, 1000, 10_000]);
    } else {
      const key = pick(keys);
      const found = tier.lookup(key);
      if (found === undefined) continue;
      hits++;
      for (const record of key.recordKeys) {
        expect(truth.get(record) ?? 0, `seed ${seed} step ${step}: ${record}`).toBeLessThanOrEqual(
          found.tick,
        );
      }
    }
  }
  return { hits, refused, dropped };
}

describe('MemoryTier under random traffic with lost records', () => {
  it('never returns an entry stamped before an invalidation that reaches it (20 seeds × 3,000 steps)', () => {
    let hits = 0;
    let refused = 0;
    let dropped = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const outcome = run(seed, 3000);
      hits += outcome.hits;
      refused += outcome.refused;
      dropped += outcome.dropped;
    }
    // The runs really served entries, refused writes computed across invalidations and lost records.
    expect(hits).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(100);
    expect(dropped).toBeGreaterThan(20);
  });
});
