import { Observable, type Subscriber, type Subscription } from 'rxjs';

/**
 * What `then(value)` emits once `promise` resolves, as one Observable: `from(promise).pipe(mergeMap(then))`
 * without the operator machinery (this is on every request that waits for Redis). An error of the promise or of
 * `then` reaches the subscriber; unsubscribing before the promise settles means `then` never runs.
 */
export function afterPromise<T>(
  promise: Promise<T>,
  then: (value: T) => Observable<unknown>,
): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let inner: Subscription | undefined;
    let left = false;
    promise.then(
      (value) => {
        if (left) return;
        try {
          inner = then(value).subscribe(subscriber);
        } catch (error) {
          subscriber.error(error);
        }
      },
      (error: unknown) => {
        if (!left) subscriber.error(error);
      },
    );
    return () => {
      left = true;
      inner?.unsubscribe();
    };
  });
}

/**
 * How {@link observed} reports the source's notifications; `finalize` runs once, when the subscription ends.
 * Functions, not methods: they are called without `this`.
 */
export interface Observation {
  readonly next: (value: unknown) => void;
  readonly error: (error: unknown) => void;
  readonly finalize: () => void;
}

/** Runs `notify`; when it throws, the error goes to `subscriber` instead. Whether it returned normally. */
function told(subscriber: Subscriber<unknown>, notify: (value: unknown) => void, value: unknown): boolean {
  try {
    notify(value);
    return true;
  } catch (error) {
    subscriber.error(error);
    return false;
  }
}

/**
 * `source`, with `observer` told of its values, its error and its end before its subscriber: `tap` without
 * the operator machinery (on every miss). A callback that throws errors the stream instead.
 */
export function observed(source: Observable<unknown>, observer: Observation): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    const subscription = source.subscribe({
      next: (value) => {
        if (told(subscriber, observer.next, value)) subscriber.next(value);
      },
      error: (error: unknown) => {
        if (told(subscriber, observer.error, error)) subscriber.error(error);
      },
      complete: () => subscriber.complete(),
    });
    return () => {
      subscription.unsubscribe();
      observer.finalize();
    };
  });
}
