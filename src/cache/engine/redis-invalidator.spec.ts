import { describe, expect, it } from 'vitest';
import type { RedisTier } from '../stores/redis-tier.js';
import { RedisInvalidator } from './redis-invalidator.js';

/** A tier whose invalidations wait until released, recording what they were given. */
function gatedTier() {
  const applied: string[][] = [];
  let release: () => void = () => undefined;
  const tier = {
    invalidate: (records: readonly string[]) =>
      new Promise<number>((resolve) => {
        applied.push([...records]);
        release = () => resolve(applied.length);
      }),
  } as unknown as RedisTier;
  return { tier, applied, release: () => release() };
}

/** An invalidator with no bus and no L1, collapsing into the record `all`. */
const over = (tier: RedisTier) =>
  new RedisInvalidator(
    tier,
    1000,
    () => undefined,
    () => undefined,
    'all',
    () => undefined,
  );

describe('RedisInvalidator', () => {
  it('remembers an invalidation while Redis is not serving, and owes it until applied', async () => {
    const { tier, applied, release } = gatedTier();
    const invalidator = over(tier);
    await invalidator.invalidate(['a'], false);
    expect(invalidator.owes).toBe(true);
    const replay = invalidator.applyOwed();
    release();
    await replay;
    expect(applied).toEqual([['a']]);
    expect(invalidator.owes).toBe(false);
  });

  it('keeps one remembered while its earlier copy is being replayed, and replays it again', async () => {
    const { tier, applied, release } = gatedTier();
    const invalidator = over(tier);
    await invalidator.invalidate(['a'], false);
    const replay = invalidator.applyOwed();
    // While the replay is in flight, the application changes the data again and invalidates 'a' again.
    await invalidator.invalidate(['a'], false);
    release();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await replay;
    expect(applied).toEqual([['a'], ['a']]);
    expect(invalidator.owes).toBe(false);
  });

  it('remembers again what a failed replay could not apply', async () => {
    const tier = { invalidate: () => Promise.reject(new Error('down')) } as unknown as RedisTier;
    const invalidator = over(tier);
    await invalidator.invalidate(['a', 'b'], false);
    await expect(invalidator.applyOwed()).rejects.toThrow('down');
    expect(invalidator.owes).toBe(true);
  });

  it('collapses into the record of everything past its bound', async () => {
    const { tier, applied, release } = gatedTier();
    const invalidator = over(tier);
    await invalidator.invalidate(
      Array.from({ length: 10_001 }, (_, i) => `r${i}`),
      false,
    );
    const replay = invalidator.applyOwed();
    release();
    await replay;
    expect(applied).toEqual([['all']]);
  });
});
