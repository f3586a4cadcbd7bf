/** Consecutive failures (errors or missed deadlines) that open the breaker. */
const THRESHOLD = 3;
/** First pause before probing an open breaker; doubles on every failed probe, up to the maximum. */
const BASE_OPEN_MS = 250;
const MAX_OPEN_MS = 10_000;

/**
 * Keeps requests away from a failing Redis. Opens after {@link THRESHOLD} consecutive failures (or when told
 * to); only a background probe closes it again, backing off from 250 ms to 10 s, so requests never wait for
 * Redis to come back. Starts open: the owner closes it once Redis has answered (at start-up, or a probe).
 */
export class CircuitBreaker {
  private isOpen = true;
  private failures = 0;
  private openMs = BASE_OPEN_MS;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private stopped = false;

  /**
   * @param probe resolves when Redis answers and may serve again; rejects otherwise.
   * @param changed told when the breaker opens (with the last error) or closes.
   */
  constructor(
    private readonly probe: () => Promise<void>,
    private readonly changed: (open: boolean, cause?: unknown) => void,
  ) {}

  /** Whether requests must stay away from Redis. */
  get open(): boolean {
    return this.isOpen;
  }

  /** A successful operation: the failure streak ends. */
  succeeded(): void {
    this.failures = 0;
  }

  /** A failed operation; the streak's {@link THRESHOLD}th opens the breaker. */
  failed(error: unknown): void {
    this.failures++;
    if (this.failures >= THRESHOLD && !this.isOpen) this.trip(error);
  }

  /** Opens at once (Redis reported an error, or an invalidation could not reach it). */
  trip(cause?: unknown): void {
    const wasOpen = this.isOpen;
    this.isOpen = true;
    this.failures = 0;
    this.schedule();
    if (!wasOpen) this.changed(true, cause);
  }

  /** Marks the breaker open without announcing it (the connection is down; its own events are logged). */
  hold(): void {
    this.isOpen = true;
    this.schedule();
  }

  /** Probes now (or joins the probe already running); resolves when it is done, whatever its outcome. */
  tryClose(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async runProbe(): Promise<void> {
    try {
      await this.probe();
      const wasOpen = this.isOpen;
      this.isOpen = false;
      this.failures = 0;
      this.openMs = BASE_OPEN_MS;
      if (wasOpen) this.changed(false);
    } catch {
      this.isOpen = true;
      this.schedule();
    }
  }

  /** Stops probing for good (shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    const delay = this.openMs;
    this.openMs = Math.min(this.openMs * 2, MAX_OPEN_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryClose();
    }, delay).unref();
  }
}
