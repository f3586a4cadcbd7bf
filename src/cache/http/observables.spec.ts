import { lastValueFrom, Observable, of, Subject, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { afterPromise, observed } from './observables.js';

describe('afterPromise', () => {
  it('emits what the Observable made from the resolved value emits, then completes', async () => {
    await expect(lastValueFrom(afterPromise(Promise.resolve(2), (n) => of(n * 10)))).resolves.toBe(20);
  });

  it('passes on an error of the promise, of the function and of its Observable', async () => {
    await expect(lastValueFrom(afterPromise(Promise.reject(new Error('read')), () => of(1)))).rejects.toThrow(
      'read',
    );
    const throwing = afterPromise(Promise.resolve(1), () => {
      throw new Error('made');
    });
    await expect(lastValueFrom(throwing)).rejects.toThrow('made');
    await expect(
      lastValueFrom(afterPromise(Promise.resolve(1), () => throwError(() => new Error('inner')))),
    ).rejects.toThrow('inner');
  });

  it('never runs the function after an early unsubscribe, and unsubscribes the inner Observable', async () => {
    let ran = false;
    let resolve!: (n: number) => void;
    const subscription = afterPromise(new Promise<number>((r) => (resolve = r)), () => {
      ran = true;
      return of(1);
    }).subscribe();
    subscription.unsubscribe();
    resolve(1);
    await Promise.resolve();
    expect(ran).toBe(false);
    let torn = false;
    const inner = new Observable<number>(() => () => (torn = true));
    const second = afterPromise(Promise.resolve(1), () => inner).subscribe();
    await Promise.resolve();
    await Promise.resolve();
    second.unsubscribe();
    expect(torn).toBe(true);
  });
});

describe('observed', () => {
  it('tells the observer of each value before the subscriber, and finalizes once at the end', async () => {
    const events: string[] = [];
    const source = new Subject<number>();
    const done = lastValueFrom(
      observed(source, {
        next: (v) => events.push(`observer ${String(v)}`),
        error: () => events.push('observer error'),
        finalize: () => events.push('finalize'),
      }),
    ).then((v) => events.push(`result ${v as number}`));
    source.next(1);
    source.next(2);
    source.complete();
    await done;
    expect(events).toEqual(['observer 1', 'observer 2', 'finalize', 'result 2']);
  });

  it('tells the observer of an error, finalizes, and passes the error on', async () => {
    const events: string[] = [];
    const run = observed(
      throwError(() => new Error('handler')),
      {
        next: () => events.push('next'),
        error: () => events.push('observer error'),
        finalize: () => events.push('finalize'),
      },
    );
    await expect(lastValueFrom(run)).rejects.toThrow('handler');
    expect(events).toEqual(['observer error', 'finalize']);
  });

  it('turns an observer that throws into an error of the stream (never an unhandled one)', async () => {
    const run = observed(of(1), {
      next: () => {
        throw new Error('observer failed');
      },
      error: () => undefined,
      finalize: () => undefined,
    });
    await expect(lastValueFrom(run)).rejects.toThrow('observer failed');
  });

  it('finalizes when unsubscribed early', () => {
    let finalized = 0;
    const subscription = observed(new Subject<number>(), {
      next: () => undefined,
      error: () => undefined,
      finalize: () => finalized++,
    }).subscribe();
    subscription.unsubscribe();
    subscription.unsubscribe();
    expect(finalized).toBe(1);
  });
});
