// Load generator for the fault-injection suite, run in a worker thread (its own event loop): keeps
// `concurrency` requests in flight for `durationMs`, each bounded by a client deadline, and reports every
// request back. Plain JavaScript so that the worker needs no transform.
import { parentPort, workerData } from 'node:worker_threads';

const { baseUrl, paths, concurrency, durationMs, deadlineMs } = workerData;
const results = [];
const stopAt = Date.now() + durationMs;
let next = 0;

async function one() {
  const path = paths[next++ % paths.length];
  const start = performance.timeOrigin + performance.now();
  const t0 = performance.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(deadlineMs) });
    const text = await res.text();
    let version = null;
    try {
      version = JSON.parse(text).version ?? null;
    } catch {
      // not JSON: counted by status
    }
    results.push({
      start,
      ms: performance.now() - t0,
      status: res.status,
      cache: res.headers.get('x-cache'),
      version,
      path,
    });
  } catch (error) {
    const hung = error?.name === 'TimeoutError' || error?.name === 'AbortError';
    results.push({
      start,
      ms: performance.now() - t0,
      status: hung ? -1 : 0,
      cache: null,
      version: null,
      path,
    });
  }
}

async function lane() {
  while (Date.now() < stopAt) await one();
}

await Promise.all(Array.from({ length: concurrency }, lane));
parentPort.postMessage(results);
