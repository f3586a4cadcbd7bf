import type { INestApplication, LoggerService } from '@nestjs/common';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheStatusService } from '../helpers/internals.js';
import { canSpawnRedis, skipWithoutRedis, spawnRedis, type OwnedRedis } from '../helpers/redis.js';
import { FixtureModule, startApp } from '../fixtures/cache-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const skip = skipWithoutRedis('Redis authentication e2e', canSpawnRedis());
const PASSWORD = 'p@ss:w/rd%#?&= é';

class Lines implements LoggerService {
  readonly all: string[] = [];
  log(message: unknown) {
    this.all.push(String(message));
  }
  error(message: unknown) {
    this.log(message);
  }
  warn(message: unknown) {
    this.log(message);
  }
}

describe.skipIf(skip)('Redis with a password', () => {
  let redis: OwnedRedis;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    redis = await spawnRedis(['--requirepass', PASSWORD]);
  });
  afterAll(async () => {
    await app?.close();
    await redis.stop();
  });

  it('connects with a password full of special characters given as host/port/password', async () => {
    const started = await startApp(
      FixtureModule.with({
        enabled: true,
        keyPrefix: 'auth-ok',
        redis: { enabled: true, host: '127.0.0.1', port: redis.port, password: PASSWORD },
      }),
      'express',
    );
    app = started.app;
    await waitUntil(() => started.app.get(CacheStatusService).backendName === 'redis', 5000);
    await fetch(`${started.url}/items/a`);
    expect((await fetch(`${started.url}/items/a`)).headers.get('x-cache')).toBe('HIT');
    expect(redis.cli('-a', PASSWORD, '--no-auth-warning', '--scan', '--pattern', 'auth-ok:*')).not.toBe('');
    await started.app.close();
    app = undefined;
  });

  it('serves from memory on a wrong password, and never logs either password', async () => {
    const lines = new Lines();
    const { NestFactory } = await import('@nestjs/core');
    const wrong = 'wr0ng-s3cret!';
    const instance = await NestFactory.create(
      FixtureModule.with({
        enabled: true,
        keyPrefix: 'auth-bad',
        redis: { enabled: true, url: `redis://:${encodeURIComponent(wrong)}@127.0.0.1:${redis.port}` },
      }),
      { logger: lines },
    );
    await instance.listen(0, '127.0.0.1');
    app = instance;
    const { port } = (instance.getHttpServer() as Server).address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 500));
    expect(instance.get(CacheStatusService).backendName).toBe('memory-fallback');
    const first = await fetch(`${url}/items/b`);
    expect(first.status).toBe(200);
    expect((await fetch(`${url}/items/b`)).headers.get('x-cache')).toBe('HIT');
    const text = lines.all.join('\n');
    expect(text).toMatch(/unreachable/);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(PASSWORD);
    expect(lines.all.filter((l) => l.includes('unreachable'))).toHaveLength(1);
  });
});
