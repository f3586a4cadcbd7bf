import { describe, expect, it } from 'vitest';
import { MemoryRecords } from './memory-records.js';

/** A clock the test moves by hand, in epoch milliseconds. */
function manualClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
  };
}

/**
 * Length of the eviction queue, unconsumed part and all: the class keeps it private, and its bound under churn
 * is what these tests are about.
 */
function queueLength(records: MemoryRecords): number {
  return (Reflect.get(records, 'queueKeys') as string[]).length;
}

describe('MemoryRecords', () => {
  describe('the clock', () => {
    it('starts at the wall time in microseconds', () => {
      const clock = manualClock(1_700_000_000_000);
      expect(new MemoryRecords(10, clock.now).current).toBe(1_700_000_000_000_000);
    });

    it('ticks by one per invalidation and returns the new tick', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      const start = records.current;
      expect(records.invalidate([])).toBe(start + 1);
      expect(records.invalidate(['a', 'b'])).toBe(start + 2);
      expect(records.current).toBe(start + 2);
    });

    it('does not tick on reads or writes', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      const start = records.current;
      records.ensure('a', start, clock.now() + 1000);
      records.get('a');
      records.get('missing');
      clock.advance(5000);
      expect(records.current).toBe(start);
    });

    it('comes back above every tick handed out before, after a restart a millisecond later', () => {
      const clock = manualClock();
      const before = new MemoryRecords(10, clock.now);
      let last = 0;
      for (let i = 0; i < 999; i++) last = before.invalidate(['a']);
      clock.advance(1);
      expect(new MemoryRecords(10, clock.now).current).toBeGreaterThan(last);
    });
  });

  describe('records', () => {
    it('misses a record that was never written', () => {
      const records = new MemoryRecords(10, manualClock().now);
      expect(records.get('a')).toBeUndefined();
      expect(records.size).toBe(0);
    });

    it('creates a missing record at the given tick', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      expect(records.ensure('a', 42, clock.now() + 1000)).toBe(42);
      expect(records.get('a')).toBe(42);
      expect(records.size).toBe(1);
    });

    it('keeps the tick of an existing record and returns it', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 42, clock.now() + 1000);
      expect(records.ensure('a', 7, clock.now() + 1000)).toBe(42);
      expect(records.ensure('a', 99, clock.now() + 1000)).toBe(42);
      expect(records.get('a')).toBe(42);
    });

    it('expires a record at its expiry time', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      clock.advance(999);
      expect(records.get('a')).toBe(1);
      clock.advance(1);
      expect(records.get('a')).toBeUndefined();
      expect(records.size).toBe(0);
    });

    it('re-creates an expired record at the new tick, not the old one', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      clock.advance(1000);
      expect(records.ensure('a', 5, clock.now() + 1000)).toBe(5);
      expect(records.get('a')).toBe(5);
    });

    it('ensure() extends a lifetime and never shortens it', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      records.ensure('a', 1, clock.now() + 5000);
      records.ensure('a', 1, clock.now() + 10);
      clock.advance(4999);
      expect(records.get('a')).toBe(1);
      clock.advance(1);
      expect(records.get('a')).toBeUndefined();
    });

    it('clear() forgets every record and keeps the clock', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      const tick = records.invalidate(['a']);
      records.clear();
      expect(records.size).toBe(0);
      expect(records.get('a')).toBeUndefined();
      expect(records.current).toBe(tick);
      records.ensure('b', tick, clock.now() + 1000);
      expect(records.get('b')).toBe(tick);
    });
  });

  describe('invalidate', () => {
    it('moves the existing records among the keys to the new tick', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      records.ensure('b', 1, clock.now() + 1000);
      records.ensure('c', 1, clock.now() + 1000);
      const tick = records.invalidate(['a', 'c']);
      expect(records.get('a')).toBe(tick);
      expect(records.get('b')).toBe(1);
      expect(records.get('c')).toBe(tick);
    });

    it('never creates a record', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.invalidate(['a', 'b']);
      expect(records.get('a')).toBeUndefined();
      expect(records.get('b')).toBeUndefined();
      expect(records.size).toBe(0);
    });

    it('leaves an expired record missing', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      clock.advance(1000);
      records.invalidate(['a']);
      expect(records.get('a')).toBeUndefined();
      expect(records.size).toBe(0);
    });

    it('keeps the lifetime of the records it moves', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      records.ensure('a', 1, clock.now() + 1000);
      const tick = records.invalidate(['a']);
      clock.advance(999);
      expect(records.get('a')).toBe(tick);
      clock.advance(1);
      expect(records.get('a')).toBeUndefined();
    });
  });

  describe('bounded in number', () => {
    it('holds at most maxRecords, dropping the longest-unwritten first', () => {
      const clock = manualClock();
      const records = new MemoryRecords(3, clock.now);
      const later = clock.now() + 60_000;
      records.ensure('a', 1, later);
      records.ensure('b', 1, later);
      records.ensure('c', 1, later);
      // A write makes a record the youngest; a read or an invalidation does not.
      records.ensure('a', 1, later);
      records.get('b');
      records.invalidate(['b']);
      records.ensure('d', 1, later);
      expect(records.size).toBe(3);
      expect(records.get('b')).toBeUndefined();
      expect(records.get('a')).toBe(1);
      expect(records.get('c')).toBe(1);
      expect(records.get('d')).toBe(1);
      records.ensure('e', 1, later);
      expect(records.get('c')).toBeUndefined();
      expect(records.size).toBe(3);
    });

    it('counts a record dropped by expiry out of the bound', () => {
      const clock = manualClock();
      const records = new MemoryRecords(2, clock.now);
      records.ensure('short', 1, clock.now() + 10);
      records.ensure('long', 1, clock.now() + 60_000);
      clock.advance(10);
      expect(records.get('short')).toBeUndefined();
      records.ensure('new', 1, clock.now() + 60_000);
      expect(records.size).toBe(2);
      expect(records.get('long')).toBe(1);
      expect(records.get('new')).toBe(1);
    });

    it('evicts in constant time per write: half a million writes past the bound stay fast', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10_000, clock.now);
      const later = clock.now() + 60_000;
      const started = performance.now();
      for (let i = 0; i < 500_000; i++) records.ensure(`k${i}`, 1, later);
      const elapsed = performance.now() - started;
      expect(records.size).toBe(10_000);
      expect(records.get('k499999')).toBe(1);
      expect(records.get('k489999')).toBeUndefined();
      expect(records.get('k490000')).toBe(1);
      // A scan of the held records per eviction would take minutes here.
      expect(elapsed).toBeLessThan(5000);
    });

    it('keeps the queue bounded when the same records are rewritten over and over', () => {
      const clock = manualClock();
      const records = new MemoryRecords(1000, clock.now);
      const later = clock.now() + 60_000;
      let longest = 0;
      for (let i = 0; i < 200_000; i++) {
        records.ensure(`k${i % 500}`, 1, later);
        longest = Math.max(longest, queueLength(records));
      }
      expect(records.size).toBe(500);
      expect(longest).toBeLessThanOrEqual(2 * 500 + 1024 + 1);
    });

    it('keeps the queue bounded under churn of new records past the bound', () => {
      const clock = manualClock();
      const records = new MemoryRecords(100, clock.now);
      const later = clock.now() + 60_000;
      let longest = 0;
      for (let i = 0; i < 200_000; i++) {
        records.ensure(`k${i}`, 1, later);
        longest = Math.max(longest, queueLength(records));
      }
      expect(records.size).toBe(100);
      expect(longest).toBeLessThanOrEqual(2 * 100 + 1024 + 100 + 1);
    });

    it('keeps the queue bounded when records expire instead of being evicted', () => {
      const clock = manualClock();
      const records = new MemoryRecords(100_000, clock.now);
      let longest = 0;
      for (let i = 0; i < 200_000; i++) {
        records.ensure(`k${i}`, 1, clock.now() + 5);
        clock.advance(1);
        // Readers drop what expired.
        records.get(`k${i - 5}`);
        longest = Math.max(longest, queueLength(records));
      }
      expect(records.size).toBeLessThanOrEqual(6);
      expect(longest).toBeLessThanOrEqual(2 * 6 + 1024 + 1);
    });

    it('keeps the eviction order right across compactions', () => {
      const clock = manualClock();
      const records = new MemoryRecords(50, clock.now);
      const later = clock.now() + 60_000;
      for (let i = 0; i < 50; i++) records.ensure(`k${i}`, i, later);
      // Rewrite the even ones often enough to compact the queue several times.
      for (let round = 0; round < 200; round++) {
        for (let i = 0; i < 50; i += 2) records.ensure(`k${i}`, i, later);
      }
      for (let i = 0; i < 25; i++) records.ensure(`new${i}`, 0, later);
      for (let i = 0; i < 50; i++) {
        expect(records.get(`k${i}`), `k${i}`).toBe(i % 2 === 0 ? i : undefined);
      }
      expect(records.size).toBe(50);
    });
  });
});
