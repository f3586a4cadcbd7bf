import { describe, expect, it } from 'vitest';
import { CacheTimeoutError } from '../cache.errors.js';
import { withDeadline } from './deadline.js';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const never = () => new Promise<never>(() => undefined);

describe('withDeadline', () => {
  it('settles like the promise when it is in time, value or error', async () => {
    await expect(withDeadline(later(5, 'v'), 200, 'get')).resolves.toBe('v');
    await expect(withDeadline(Promise.reject(new Error('boom')), 200, 'get')).rejects.toThrow('boom');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error reason is the case
    await expect(withDeadline(Promise.reject('text'), 200, 'get')).rejects.toThrow('text');
  });

  it('rejects with a CacheTimeoutError naming the operation once the time is up, not before', async () => {
    const started = performance.now();
    const error = (await withDeadline(never(), 40, 'lock').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(CacheTimeoutError);
    expect(error.message).toContain('lock');
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
  });

  it('times out every hung operation among many settled ones, each after its own start', async () => {
    const outcomes: Array<Promise<string>> = [];
    for (let i = 0; i < 2000; i++) {
      const hung = i % 500 === 7;
      outcomes.push(
        withDeadline(hung ? never() : later(1, `ok ${i}`), 30, `op ${i}`).catch((e: unknown) =>
          e instanceof CacheTimeoutError ? `timeout ${i}` : 'other',
        ),
      );
      if (i % 400 === 0) await later(10, undefined);
    }
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.startsWith('timeout'))).toEqual([
      'timeout 7',
      'timeout 507',
      'timeout 1007',
      'timeout 1507',
    ]);
    expect(results.filter((r) => r.startsWith('ok'))).toHaveLength(1996);
  });

  it('keeps durations apart: a short deadline is not held back by a long one', async () => {
    const long = withDeadline(never(), 1000, 'long').catch(() => 'long timed out');
    const started = performance.now();
    await expect(withDeadline(never(), 30, 'short')).rejects.toBeInstanceOf(CacheTimeoutError);
    expect(performance.now() - started).toBeLessThan(900);
    await expect(long).resolves.toBe('long timed out');
  });
});

describe('withDeadline, operations that settle out of order', () => {
  it('times out exactly the hung ones when the oldest, the newest and the middle ones settle first', async () => {
    const hung = new Set([1, 4, 8]);
    const releases: Array<() => void> = [];
    const outcomes = Array.from({ length: 10 }, (_, i) => {
      const work = new Promise<string>((resolve) => {
        if (!hung.has(i)) releases[i] = () => resolve(`ok ${i}`);
      });
      return withDeadline(work, 40, `op ${i}`).catch((e: unknown) =>
        e instanceof CacheTimeoutError ? `timeout ${i}` : 'other',
      );
    });
    for (const i of [0, 9, 5, 2, 7, 3, 6]) releases[i]?.();
    const results = await Promise.all(outcomes);
    expect(results).toEqual([
      'ok 0',
      'timeout 1',
      'ok 2',
      'ok 3',
      'timeout 4',
      'ok 5',
      'ok 6',
      'ok 7',
      'timeout 8',
      'ok 9',
    ]);
    // The queue is empty again: a new operation times out on its own deadline, not on a stale link.
    await expect(withDeadline(never(), 20, 'after')).rejects.toBeInstanceOf(CacheTimeoutError);
    await expect(withDeadline(later(1, 'v'), 40, 'after')).resolves.toBe('v');
  });
});
