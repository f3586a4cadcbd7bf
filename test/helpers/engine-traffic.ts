import type { EngineData } from '../fixtures/engine-fixture.js';
import { getRow } from './engine-app.js';
import { sleep } from './wait.js';

import { seededRandom } from './seeded-random.js';

export { seededRandom };

export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** A cached GET and the resource it shows. */
export interface Target {
  path: string;
  headers?: Record<string, string>;
  resource: string;
}

/** A change of the data: these resources get a new version, then this invalidation is made. */
export interface Change {
  name: string;
  resources: readonly string[];
  invalidate(): Promise<void>;
}

/** A read that started after an invalidation had returned and still showed older data. */
export interface StaleRead {
  path: string;
  cache: string | null;
  shown: number;
  required: number;
}

export interface TrafficResult {
  reads: number;
  hits: number;
  misses: number;
  changes: number;
  stale: StaleRead[];
  errors: string[];
}

export interface TrafficOptions {
  url: string;
  data: EngineData;
  targets: readonly Target[];
  /** The next change to make. */
  nextChange(random: () => number): Change;
  durationMs: number;
  /** Concurrent readers. */
  readers: number;
  seed: number;
  /** Run in a loop beside the traffic (deleting metadata, say), `chaosPauseMs` apart. */
  chaos?: (random: () => number) => Promise<void>;
  chaosPauseMs?: number;
}

/**
 * Readers GET random targets while one writer changes data and invalidates, one change at a time. For every
 * resource the writer records the version of its latest change once that change's invalidation has returned;
 * a read records that version when it starts, and must show data at least as new. Anything older is a stale
 * read: an entry the invalidation should have reached was served.
 */
export async function runTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const random = seededRandom(options.seed);
  const required = new Map<string, number>();
  const result: TrafficResult = { reads: 0, hits: 0, misses: 0, changes: 0, stale: [], errors: [] };
  const deadline = Date.now() + options.durationMs;

  const reader = async () => {
    while (Date.now() < deadline) {
      const target = pick(random, options.targets);
      const floor = required.get(target.resource) ?? 0;
      try {
        const answer = await getRow(options.url, target.path, target.headers);
        result.reads++;
        if (answer.cache === 'HIT') result.hits++;
        else result.misses++;
        if (answer.status !== 200 || answer.row.resource !== target.resource) {
          result.errors.push(`${target.path}: ${answer.status} ${answer.text.slice(0, 200)}`);
        } else if (!(answer.row.version >= floor)) {
          result.stale.push({
            path: target.path,
            cache: answer.cache,
            shown: answer.row.version,
            required: floor,
          });
        }
      } catch (error) {
        result.errors.push(`${target.path}: ${String(error)}`);
      }
    }
  };

  const writer = async () => {
    while (Date.now() < deadline) {
      const change = options.nextChange(random);
      const version = options.data.bump(change.resources);
      await change.invalidate();
      for (const resource of change.resources) {
        required.set(resource, Math.max(required.get(resource) ?? 0, version));
      }
      result.changes++;
      await sleep(2 + Math.floor(random() * 20));
    }
  };

  const chaos = async () => {
    if (options.chaos === undefined) return;
    while (Date.now() < deadline) {
      await options.chaos(random);
      await sleep(options.chaosPauseMs ?? 5);
    }
  };

  await Promise.all([...Array.from({ length: options.readers }, reader), writer(), chaos()]);
  return result;
}
