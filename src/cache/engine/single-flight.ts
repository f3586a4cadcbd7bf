/** Flights in progress past which the ones older than the timeout are swept. */
const SWEEP_AT = 10_000;

interface Flight<T> {
  /** Identifies the flight beside its key (a stamp: a caller with another one never joins it). */
  readonly tag: string | number;
  readonly started: number;
  /** Created when the first follower joins: a flight nobody waits for costs no promise and no timer. */
  promise: Promise<T | undefined> | undefined;
  resolve: ((value: T | undefined) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

/**
 * Coalesces concurrent work on one key inside this process: the first caller leads, the others wait for the
 * leader's result. A leader that neither succeeds nor fails within `timeoutMs` releases its followers with
 * `undefined` (they then do the work themselves) and is forgotten, so later callers never queue behind it.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();
  private sweepAt = SWEEP_AT;

  /**
   * The result of the flight running for `key` with this `tag`, or `undefined` when none runs (the caller may
   * lead).
   */
  join(key: string, tag: string | number = ''): Promise<T | undefined> | undefined {
    const flight = this.flights.get(key);
    if (flight === undefined || flight.done || flight.tag !== tag) return undefined;
    if (flight.promise === undefined) {
      flight.promise = new Promise<T | undefined>((resolve) => (flight.resolve = resolve));
      const left = Math.max(0, this.timeoutMs - (Date.now() - flight.started));
      flight.timer = setTimeout(() => this.end(key, flight, undefined), left);
      flight.timer.unref();
    }
    return flight.promise;
  }

  /** Number of flights in progress. */
  get size(): number {
    return this.flights.size;
  }

  constructor(private readonly timeoutMs: number) {}

  /**
   * Starts a flight for `key` (replacing one with another tag) and returns the function that ends it, with the
   * value followers receive (`undefined`: followers do the work themselves). Ending it twice is harmless.
   */
  lead(key: string, tag: string | number = ''): (value: T | undefined) => void {
    if (this.flights.size >= this.sweepAt) this.sweep();
    const flight: Flight<T> = {
      tag,
      started: Date.now(),
      promise: undefined,
      resolve: undefined,
      timer: undefined,
      done: false,
    };
    this.flights.set(key, flight);
    return (value) => this.end(key, flight, value);
  }

  /**
   * Ends the flights older than the timeout. A leader is normally ended by its caller, but one whose response
   * never reached the capture (a redirect, a handler that ended the response itself) would otherwise stay.
   */
  private sweep(): void {
    const before = Date.now() - this.timeoutMs;
    for (const [key, flight] of this.flights) if (flight.started < before) this.end(key, flight, undefined);
    this.sweepAt = Math.max(SWEEP_AT, this.flights.size * 2);
  }

  private end(key: string, flight: Flight<T>, value: T | undefined): void {
    if (flight.done) return;
    flight.done = true;
    clearTimeout(flight.timer);
    if (this.flights.get(key) === flight) this.flights.delete(key);
    flight.resolve?.(value);
  }
}
