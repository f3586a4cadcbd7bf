import type { INestApplication } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import { InvalidationService } from '../helpers/internals.js';
import { Behaviour } from '../fixtures/stampede-fixture.js';
import { sleep } from '../helpers/wait.js';

/** One request as the load worker saw it. */
interface Sample {
  start: number;
  ms: number;
  /** HTTP status; -1 hung past the client deadline; 0 connection error. */
  status: number;
  cache: string | null;
  version: number | null;
  path: string;
}

/** The figures a fault scenario is judged by. */
export interface LoadReport {
  fault: string;
  sent: number;
  non2xx: number;
  hung: number;
  maxMs: number;
  p50Ms: number;
  p99Ms: number;
  handlerRuns: number;
  hits: number;
  staleReads: number;
  invalidations: number;
}

export interface ScenarioOptions {
  fault: string;
  app: INestApplication;
  url: string;
  durationMs?: number;
  concurrency?: number;
  /** Client deadline of every request: past it a request counts as hung. */
  deadlineMs?: number;
  /** Injects the fault; runs alongside the load, from its start. */
  inject?: () => Promise<void>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Puts the app under concurrent load from a worker thread while a writer changes the data (version + 1, then
 * an awaited invalidation) every 150 ms and `inject` plays the fault. A stale read is a response whose version
 * is older than one whose invalidation had returned before the request started.
 */
export async function runScenario(options: ScenarioOptions): Promise<LoadReport> {
  const { app, url } = options;
  const behaviour = app.get(Behaviour);
  const invalidation = app.get(InvalidationService);
  const durationMs = options.durationMs ?? 3000;
  for (let i = 0; i < 20; i++) behaviour.delayMs.set(`k${i}`, 5);
  const runsBefore = [...behaviour.runs.values()].reduce((a, b) => a + b, 0);

  const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), {
    workerData: {
      baseUrl: url,
      paths: Array.from({ length: 20 }, (_, i) => `/s/item/k${i}`),
      concurrency: options.concurrency ?? 8,
      durationMs,
      deadlineMs: options.deadlineMs ?? 2000,
    },
  });
  const samples = new Promise<Sample[]>((resolve, reject) => {
    worker.once('message', (results: Sample[]) => resolve(results));
    worker.once('error', reject);
  });

  const commits: Array<{ version: number; at: number }> = [];
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await sleep(150);
      behaviour.version++;
      const version = behaviour.version;
      await invalidation.invalidateNamespace('st');
      commits.push({ version, at: performance.timeOrigin + performance.now() });
    }
  })();
  const fault = options.inject?.();

  const results = await samples;
  writing = false;
  await writer;
  await fault;
  await worker.terminate();

  let staleReads = 0;
  for (const sample of results) {
    if (sample.version === null) continue;
    let committed = 1;
    for (const commit of commits)
      if (commit.at < sample.start && commit.version > committed) committed = commit.version;
    if (sample.version < committed) {
      staleReads++;
      if (process.env['RESILIENCE_DEBUG'] !== undefined) {
        const near = commits
          .filter((c) => Math.abs(c.at - sample.start) < 400)
          .map((c) => `${c.version}@${(c.at - sample.start).toFixed(2)}`);
        console.log(
          `STALE ${options.fault}: got v${sample.version} (${sample.cache}, ${sample.ms.toFixed(1)} ms) started after v${committed}; commits near start: ${near.join(' ')}`,
        );
      }
    }
  }
  const latencies = results
    .filter((r) => r.status >= 0)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const runsAfter = [...behaviour.runs.values()].reduce((a, b) => a + b, 0);
  return {
    fault: options.fault,
    sent: results.length,
    non2xx: results.filter((r) => r.status < 200 || r.status >= 300).length,
    hung: results.filter((r) => r.status === -1).length,
    maxMs: Math.round(latencies[latencies.length - 1] ?? 0),
    p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
    handlerRuns: runsAfter - runsBefore,
    hits: results.filter((r) => r.cache === 'HIT').length,
    staleReads,
    invalidations: commits.length,
  };
}
