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

/** Admits an entry stamped at the current clock that lives `ms` from now: invalidations then keep records. */
function liveFor(records: MemoryRecords, now: number, ms: number): void {
  expect(records.admit(records.current, [], now + ms)).toBe(true);
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
      liveFor(records, clock.now(), 1000);
      expect(records.invalidate(['a', 'b'])).toBe(start + 2);
      expect(records.current).toBe(start + 2);
    });

    it('does not tick on reads or admitted writes', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      const start = records.current;
      liveFor(records, clock.now(), 1000);
      records.get('a');
      records.get('missing');
      clock.advance(5000);
      expect(records.current).toBe(start);
    });

    it('comes back above every tick handed out before, after a restart a millisecond later', () => {
      const clock = manualClock();
      const before = new MemoryRecords(10, clock.now);
      liveFor(before, clock.now(), 60_000);
      let last = 0;
      for (let i = 0; i < 999; i++) last = before.invalidate(['a']);
      clock.advance(1);
      expect(new MemoryRecords(10, clock.now).current).toBeGreaterThan(last);
    });
  });

  describe('records', () => {
    it('answers a scope never invalidated with the floor, 0 at first, and writes no record for it', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      expect(records.get('a')).toBe(0);
      expect(records.admit(records.current, ['a', 'b'], clock.now() + 1000)).toBe(true);
      expect(records.get('a')).toBe(0);
      expect(records.size).toBe(0);
    });

    it('makes a record at the new tick for each invalidated scope while an entry lives', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 1000);
      const tick = records.invalidate(['a', 'c']);
      expect(records.get('a')).toBe(tick);
      expect(records.get('b')).toBe(0);
      expect(records.get('c')).toBe(tick);
      expect(records.size).toBe(2);
    });

    it('makes no record when no entry lives, and raises the floor to the tick instead', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      const first = records.invalidate(['a']);
      expect(records.size).toBe(0);
      expect(records.floor).toBe(first);
      liveFor(records, clock.now(), 1000);
      clock.advance(1000);
      const second = records.invalidate(['b']);
      expect(records.size).toBe(0);
      expect(records.floor).toBe(second);
      expect(records.get('b')).toBe(second);
    });

    it('keeps a record until the latest entry admitted before it ends, then raises the floor to its tick', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 1000);
      liveFor(records, clock.now(), 5000);
      liveFor(records, clock.now(), 10);
      const tick = records.invalidate(['a']);
      clock.advance(4999);
      expect(records.get('a')).toBe(tick);
      expect(records.floor).toBe(0);
      clock.advance(1);
      expect(records.get('a')).toBe(tick);
      expect(records.size).toBe(0);
      expect(records.floor).toBe(tick);
    });

    it('extends the lifetime of a record invalidated again, and never shortens it', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 1000);
      records.invalidate(['a']);
      liveFor(records, clock.now(), 3000);
      const tick = records.invalidate(['a']);
      clock.advance(2999);
      expect(records.size).toBe(1);
      expect(records.get('a')).toBe(tick);
      clock.advance(1);
      expect(records.get('a')).toBe(tick);
      expect(records.size).toBe(0);
    });

    it('clear() forgets every record and raises the floor to the clock', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 1000);
      const stamp = records.current;
      const tick = records.invalidate(['a']);
      records.clear();
      expect(records.size).toBe(0);
      expect(records.current).toBe(tick);
      expect(records.floor).toBe(tick);
      expect(records.admit(stamp, ['b'], clock.now() + 1000)).toBe(false);
      expect(records.admit(tick, ['b'], clock.now() + 1000)).toBe(true);
    });
  });

  describe('admit', () => {
    it('refuses a stamp below a record of its scopes, and admits one at or above it', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 60_000);
      const stamp = records.current;
      const tick = records.invalidate(['a']);
      expect(records.admit(stamp, ['x', 'a'], clock.now() + 1000)).toBe(false);
      expect(records.admit(stamp, ['x', 'b'], clock.now() + 1000)).toBe(true);
      expect(records.admit(tick, ['x', 'a'], clock.now() + 1000)).toBe(true);
    });

    it('refuses a stamp below a record that expired but was not dropped yet', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 100);
      const stamp = records.current;
      records.invalidate(['a']);
      clock.advance(100);
      expect(records.admit(stamp, ['a'], clock.now() + 1000)).toBe(false);
    });

    it('refuses a stamp below a record that was dropped since (the floor)', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 100);
      const stamp = records.current;
      const tick = records.invalidate(['a']);
      clock.advance(100);
      expect(records.get('a')).toBe(tick);
      expect(records.size).toBe(0);
      expect(records.admit(stamp, ['b'], clock.now() + 1000)).toBe(false);
      expect(records.admit(tick, ['b'], clock.now() + 1000)).toBe(true);
    });

    it('a refused entry does not lengthen the lifetime of later records', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10, clock.now);
      liveFor(records, clock.now(), 100);
      const stamp = records.current;
      records.invalidate(['a']);
      expect(records.admit(stamp, ['a'], clock.now() + 60_000)).toBe(false);
      records.invalidate(['b']);
      clock.advance(100);
      records.get('b');
      expect(records.size).toBe(1);
    });
  });

  describe('bounded in number', () => {
    it('holds at most maxRecords, dropping the longest-uninvalidated first and raising the floor to its tick', () => {
      const clock = manualClock();
      const records = new MemoryRecords(3, clock.now);
      liveFor(records, clock.now(), 60_000);
      const a = records.invalidate(['a']);
      records.invalidate(['b']);
      const c = records.invalidate(['c']);
      // An invalidation makes a record the youngest; a read does not.
      const a2 = records.invalidate(['a']);
      records.get('b');
      const b = records.invalidate(['b']);
      const d = records.invalidate(['d']);
      expect(records.size).toBe(3);
      expect(records.floor).toBe(c);
      expect(records.get('c')).toBe(c);
      expect(records.get('a')).toBe(a2);
      expect(records.get('b')).toBe(b);
      expect(records.get('d')).toBe(d);
      expect(a).toBeLessThan(c);
      records.invalidate(['e']);
      expect(records.floor).toBe(a2);
      expect(records.size).toBe(3);
    });

    it('counts a record dropped by expiry out of the bound', () => {
      const clock = manualClock();
      const records = new MemoryRecords(2, clock.now);
      liveFor(records, clock.now(), 10);
      const short = records.invalidate(['short']);
      clock.advance(10);
      liveFor(records, clock.now(), 60_000);
      const long = records.invalidate(['long']);
      expect(records.get('short')).toBe(short);
      const fresh = records.invalidate(['new']);
      expect(records.size).toBe(2);
      expect(records.get('long')).toBe(long);
      expect(records.get('new')).toBe(fresh);
    });

    it('evicts in O(1) per invalidation: half a million past the bound keep exactly the youngest', () => {
      const clock = manualClock();
      const records = new MemoryRecords(10_000, clock.now);
      liveFor(records, clock.now(), 60_000);
      const ticks: number[] = [];
      for (let i = 0; i < 500_000; i++) ticks.push(records.invalidate([`k${i}`]));
      expect(records.size).toBe(10_000);
      expect(records.get('k499999')).toBe(ticks[499_999]);
      expect(records.get('k490000')).toBe(ticks[490_000]);
      expect(records.floor).toBe(ticks[489_999]);
      expect(queueLength(records)).toBeLessThanOrEqual(2 * 10_000 + 1024 + 1);
    });

    it('keeps the queue bounded when the same records are invalidated over and over', () => {
      const clock = manualClock();
      const records = new MemoryRecords(1000, clock.now);
      liveFor(records, clock.now(), 60_000);
      let longest = 0;
      for (let i = 0; i < 200_000; i++) {
        records.invalidate([`k${i % 500}`]);
        longest = Math.max(longest, queueLength(records));
      }
      expect(records.size).toBe(500);
      expect(records.floor).toBe(0);
      expect(longest).toBeLessThanOrEqual(2 * 500 + 1024 + 1);
    });

    it('keeps the queue bounded under churn of new records past the bound', () => {
      const clock = manualClock();
      const records = new MemoryRecords(100, clock.now);
      liveFor(records, clock.now(), 60_000);
      let longest = 0;
      for (let i = 0; i < 200_000; i++) {
        records.invalidate([`k${i}`]);
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
        liveFor(records, clock.now(), 5);
        records.invalidate([`k${i}`]);
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
      liveFor(records, clock.now(), 60_000);
      for (let i = 0; i < 50; i++) records.invalidate([`k${i}`]);
      // Invalidate the even ones often enough to compact the queue several times.
      for (let round = 0; round < 200; round++) {
        for (let i = 0; i < 50; i += 2) records.invalidate([`k${i}`]);
      }
      const lastOdd = records.get('k49');
      for (let i = 0; i < 25; i++) records.invalidate([`new${i}`]);
      expect(records.size).toBe(50);
      expect(records.floor).toBe(lastOdd);
      for (let i = 0; i < 50; i++) {
        if (i % 2 === 0) expect(records.get(`k${i}`), `k${i}`).toBeGreaterThan(lastOdd);
        else expect(records.get(`k${i}`), `k${i}`).toBe(records.floor);
      }
      expect(records.size).toBe(50);
    });
  });
});
