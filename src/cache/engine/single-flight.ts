interface Flight<T> {
  readonly promise: Promise<T | undefined>;
  settle(value: T | undefined): void;
}

/**
 * Coalesces concurrent work on one key inside this process: the first caller leads, the others wait for the
 * leader's result. A leader that neither succeeds nor fails within `timeoutMs` releases its followers with
 * `undefined` (they then do the work themselves) and is forgotten, so later callers never queue behind it.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** The result of the flight running for `key`, or `undefined` when none runs (the caller may lead). */
  join(key: string): Promise<T | undefined> | undefined {
    return this.flights.get(key)?.promise;
  }

  /** Number of flights in progress. */
  get size(): number {
    return this.flights.size;
  }

  /**
   * Starts a flight for `key` and returns the function that ends it, with the value followers receive
   * (`undefined`: followers do the work themselves). Ending it twice is harmless.
   */
  lead(key: string, timeoutMs: number): (value: T | undefined) => void {
    let resolve!: (value: T | undefined) => void;
    const promise = new Promise<T | undefined>((r) => (resolve = r));
    let done = false;
    const settle = (value: T | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (this.flights.get(key) === flight) this.flights.delete(key);
      resolve(value);
    };
    const flight: Flight<T> = { promise, settle };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    timer.unref();
    this.flights.set(key, flight);
    return settle;
  }
}
