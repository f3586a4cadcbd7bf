export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it holds, or throws after `timeoutMs`. `pollMs` 0 polls on every turn of the event loop
 * (to time something to a fraction of a millisecond).
 */
export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  what = 'a condition',
  pollMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await (pollMs === 0 ? new Promise((resolve) => setImmediate(resolve)) : sleep(pollMs));
  }
}
