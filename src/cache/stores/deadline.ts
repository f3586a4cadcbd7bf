import { CacheTimeoutError } from '../cache.errors.js';

/** An operation waiting for its deadline. */
interface Pending {
  readonly due: number;
  readonly operation: string;
  readonly reject: (error: Error) => void;
}

/**
 * The deadlines of one duration. All wait the same time, so the oldest waiting operation is due first: one
 * timer, armed for it, serves them all (a timer per operation cost a `Timeout` and two timer-list updates on
 * every Redis command). An operation leaves the set as soon as it settles, so nothing of it outlives its
 * command (a queue that kept settled operations until the next deadline held each one for the whole timeout,
 * long enough for the garbage collector to copy it to the old generation). The timer is unref'd: a deadline
 * never keeps the process alive on its own.
 */
class DeadlineQueue {
  /** Waiting operations, oldest first (a `Set` iterates in insertion order). */
  private readonly waiting = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(reject: (error: Error) => void, operation: string): Pending {
    const pending: Pending = { due: performance.now() + this.ms, operation, reject };
    this.waiting.add(pending);
    if (this.timer === undefined) this.arm(pending.due);
    return pending;
  }

  /** Whether `pending` was still waiting (it has not timed out); it no longer is. */
  settle(pending: Pending): boolean {
    return this.waiting.delete(pending);
  }

  private arm(due: number): void {
    this.timer = setTimeout(this.expire, Math.max(1, Math.ceil(due - performance.now())));
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (const pending of this.waiting) {
      if (pending.due > now) {
        this.arm(pending.due);
        return;
      }
      this.waiting.delete(pending);
      pending.reject(new CacheTimeoutError(pending.operation, this.ms));
    }
  };
}

const queues = new Map<number, DeadlineQueue>();

function queueOf(ms: number): DeadlineQueue {
  let queue = queues.get(ms);
  if (queue === undefined) {
    queue = new DeadlineQueue(ms);
    queues.set(ms, queue);
  }
  return queue;
}

/**
 * Settles like `promise`, or rejects with {@link CacheTimeoutError} after `ms`. The abandoned promise is
 * left to settle on its own; its rejection is swallowed so it can never become unhandled.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const queue = queueOf(ms);
    const pending = queue.add(reject, operation);
    promise.then(
      (value) => {
        if (queue.settle(pending)) resolve(value);
      },
      (error: unknown) => {
        if (queue.settle(pending)) reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
