import type { INestApplication } from '@nestjs/common';
import { CacheStatusService, InvalidationService, type CacheModuleOptions } from '../../src/cache/index.js';
import { startApp, type AdapterName } from '../fixtures/cache-fixture.js';
import { EngineData, EngineModule, type Row } from '../fixtures/engine-fixture.js';
import type { OwnedRedis } from './redis.js';
import { waitUntil } from './wait.js';

/** The engine fixture, started on one adapter against an owned `redis-server`, once Redis serves. */
export interface EngineApp {
  app: INestApplication;
  url: string;
  data: EngineData;
  invalidation: InvalidationService;
  close(): Promise<void>;
}

/** The Redis operation deadline of the fixture: generous, so a slow test machine does not move the traffic off Redis. */
export const OPERATION_TIMEOUT_MS = 1000;

export async function startEngineApp(
  adapter: AdapterName,
  redis: OwnedRedis,
  keyPrefix: string,
  options: CacheModuleOptions = {},
): Promise<EngineApp> {
  const { app, url } = await startApp(
    EngineModule.with({
      enabled: true,
      keyPrefix,
      ...options,
      redis: {
        enabled: true,
        url: redis.url,
        operationTimeout: OPERATION_TIMEOUT_MS,
        invalidationTimeout: 2 * OPERATION_TIMEOUT_MS,
        ...options.redis,
      },
    }),
    adapter,
  );
  const status = app.get(CacheStatusService);
  await waitUntil(() => status.backendName === 'redis', 5000, 'Redis to serve');
  return {
    app,
    url,
    data: app.get(EngineData),
    invalidation: app.get(InvalidationService),
    close: () => app.close(),
  };
}

/** One GET of the fixture, with what it answered. */
export interface Answer {
  status: number;
  cache: string | null;
  row: Row;
  text: string;
}

export async function getRow(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let row: Row;
  try {
    row = JSON.parse(text) as Row;
  } catch {
    row = { id: '', resource: '', version: Number.NaN, run: Number.NaN };
  }
  return { status: res.status, cache: res.headers.get('x-cache'), row, text };
}
