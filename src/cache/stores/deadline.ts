import { CacheTimeoutError } from '../cache.errors.js';

/** An operation waiting for its deadline: `reject` is cleared once it settled (or timed out). */
interface Pending {
  readonly due: number;
  readonly operation: string;
  reject: ((error: Error) => void) | undefined;
}

/**
 * The deadlines of one duration. Operations end in the order they start or close to it, and all wait the same
 * time, so their deadlines are in order: one timer, armed for the oldest unsettled one, serves them all (a
 * timer per operation cost a `Timeout` and two timer-list updates on every Redis command). The timer is
 * unref'd: a deadline never keeps the process alive on its own.
 */
class DeadlineQueue {
  private items: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(reject: (error: Error) => void, operation: string): Pending {
    const pending: Pending = { due: performance.now() + this.ms, operation, reject };
    this.items.push(pending);
    if (this.timer === undefined) this.arm(pending.due);
    return pending;
  }

  private arm(due: number): void {
    this.timer = setTimeout(this.expire, Math.max(1, Math.ceil(due - performance.now())));
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const items = this.items;
    let head = this.head;
    for (; head < items.length; head++) {
      const pending = items[head] as Pending;
      const reject = pending.reject;
      if (reject === undefined) continue;
      if (pending.due > now) break;
      pending.reject = undefined;
      reject(new CacheTimeoutError(pending.operation, this.ms));
    }
    if (head === items.length) {
      this.items = [];
      this.head = 0;
      return;
    }
    if (head >= 1024) {
      this.items = items.slice(head);
      head = 0;
    }
    this.head = head;
    this.arm((this.items[head] as Pending).due);
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
    const pending = queueOf(ms).add(reject, operation);
    promise.then(
      (value) => {
        pending.reject = undefined;
        resolve(value);
      },
      (error: unknown) => {
        pending.reject = undefined;
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
