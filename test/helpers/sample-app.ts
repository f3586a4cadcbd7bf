import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.factory.js';
import type { HttpAdapterName } from '../../src/config/app-config.js';
import { createTestDatabase } from './postgres.js';
import { spawnRedis, type OwnedRedis } from './redis.js';

export type DatabaseKind = 'sqlite' | 'postgres';
export type CacheKind = 'memory' | 'redis';
export type { HttpAdapterName };

/** Both HTTP platforms, for `describe.each`. */
export const ADAPTERS: readonly HttpAdapterName[] = ['express', 'fastify'];

/** Options of {@link startSampleApp}. */
export interface SampleAppOptions {
  /** The HTTP platform. @default the environment's choice, as main.ts reads it, else `express` */
  adapter?: HttpAdapterName;
}

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-1' };

export interface SampleApp {
  app: INestApplication;
  adapter: HttpAdapterName;
  url: string;
  databaseUrl: string;
  redis: OwnedRedis | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the sample application in this process on a free port, created as main.ts creates it (`createApp`,
 * on Express or Fastify), with its own database (a temporary SQLite file, or a fresh PostgreSQL database)
 * and, for the Redis backend, its own redis-server.
 */
export async function startSampleApp(
  database: DatabaseKind,
  cache: CacheKind,
  env: Record<string, string> = {},
  options: SampleAppOptions = {},
): Promise<SampleApp> {
  const cleanups: Array<() => Promise<void> | void> = [];
  let databaseUrl: string;
  if (database === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sample-app-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    databaseUrl = `sqlite:${join(dir, 'app.db')}`;
  } else {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    databaseUrl = db.url;
  }
  let redis: OwnedRedis | undefined;
  if (cache === 'redis') {
    redis = await spawnRedis();
    const owned = redis;
    cleanups.push(() => owned.stop());
  }
  const settings: Record<string, string> = {
    NODE_ENV: 'test',
    JWT_SECRET: 'test-secret-0123456789abcdef',
    DATABASE_URL: databaseUrl,
    CACHE_ENABLED: 'true',
    REDIS_ENABLED: cache === 'redis' ? 'true' : 'false',
    REDIS_URL: redis?.url ?? '',
    CACHE_KEY_PREFIX: `app-${process.pid}`,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    THROTTLE_ENABLED: 'false',
    ...env,
  };
  // The app reads its environment while it is created; what is set for it is put back afterwards, so nothing
  // leaks into later tests of the same worker.
  const previous = Object.fromEntries(Object.keys(settings).map((name) => [name, process.env[name]]));
  Object.assign(process.env, settings);
  let app: INestApplication;
  try {
    app = await createApp({ adapter: options.adapter, logger: ['error', 'warn'], abortOnError: false });
  } finally {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return {
    app,
    adapter: app.getHttpAdapter().getType() === 'fastify' ? 'fastify' : 'express',
    url: `http://127.0.0.1:${port}`,
    databaseUrl,
    redis,
    async stop() {
      await app.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

/** A small HTTP client for the sample app's API. */
export class Api {
  constructor(readonly url: string) {}

  async call(
    method: string,
    path: string,
    options: { token?: string; apiKey?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body, text, headers: res.headers };
  }

  async register(
    email: string,
    password = 'password-123',
    firstName = 'First',
    lastName = 'Last',
  ): Promise<string> {
    const res = await this.call('POST', '/register', { body: { email, password, firstName, lastName } });
    if (res.status !== 201) throw new Error(`register ${email}: ${res.status} ${res.text}`);
    return (res.body as { accessToken: string }).accessToken;
  }

  async login(email: string, password: string): Promise<string> {
    const res = await this.call('POST', '/login', { body: { email, password } });
    if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${res.text}`);
    return (res.body as { accessToken: string }).accessToken;
  }

  /** The user id inside an access token (its `sub`). */
  static idOf(token: string): number {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      sub: number;
    };
    return payload.sub;
  }
}
