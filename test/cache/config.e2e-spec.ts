import { Controller, Get, Module, type LoggerService } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cached, CacheModule, CacheStatusService } from '../../src/cache/index.js';
import { freePort } from '../helpers/redis.js';

@Controller()
class PingController {
  private runs = 0;
  @Get('ping')
  @Cached({ namespace: 'ping' })
  ping() {
    return { runs: ++this.runs };
  }
}

/** Collects every log line, to check what is (and is not) logged. */
class CollectingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.lines.push([message, ...rest].map(String).join(' '));
  }
  error(message: unknown, ...rest: unknown[]) {
    this.log(message, ...rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.log(message, ...rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.log(message, ...rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.log(message, ...rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.log(message, ...rest);
  }
}

const ENV_NAMES = [
  'CACHE_ENABLED',
  'CACHE_STATUS_HEADER',
  'CACHE_DEFAULT_TTL',
  'REDIS_ENABLED',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
];

async function boot(imports: unknown[], logger: LoggerService | false = false) {
  @Module({ imports: imports as never[], controllers: [PingController] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

describe('CacheModule configuration', () => {
  const clear = () => {
    for (const name of ENV_NAMES) delete process.env[name];
  };
  beforeEach(clear);
  afterEach(clear);

  it('forRootAsync() reads the environment without ConfigModule', async () => {
    process.env['CACHE_ENABLED'] = 'true';
    process.env['CACHE_STATUS_HEADER'] = 'X-My-Cache';
    const { app, url } = await boot([CacheModule.forRootAsync()]);
    await fetch(`${url}/ping`);
    const res = await fetch(`${url}/ping`);
    expect(res.headers.get('x-my-cache')).toBe('HIT');
    expect(res.headers.get('x-cache')).toBeNull();
    await app.close();
  });

  it("forRootAsync() reads the application's ConfigService when there is one", async () => {
    const { app, url } = await boot([
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        load: [() => ({ CACHE_ENABLED: 'true', CACHE_STATUS_HEADER: 'X-From-Config' })],
      }),
      CacheModule.forRootAsync(),
    ]);
    await fetch(`${url}/ping`);
    expect((await fetch(`${url}/ping`)).headers.get('x-from-config')).toBe('HIT');
    await app.close();
  });

  it('is off by default', async () => {
    const { app, url } = await boot([CacheModule.forRootAsync()]);
    expect((await fetch(`${url}/ping`)).headers.get('x-cache')).toBeNull();
    expect(app.get(CacheStatusService).enabled).toBe(false);
    await app.close();
  });

  it('takes explicit options through forRootAsync({ useFactory }) and forRoot()', async () => {
    for (const module of [
      CacheModule.forRootAsync({ useFactory: () => ({ enabled: true }) }),
      CacheModule.forRoot({ enabled: true }),
    ]) {
      const { app, url } = await boot([module]);
      await fetch(`${url}/ping`);
      expect((await fetch(`${url}/ping`)).headers.get('x-cache')).toBe('HIT');
      await app.close();
    }
  });

  it('fails startup with a message naming the variable and the value', async () => {
    process.env['CACHE_DEFAULT_TTL'] = 'abc';
    await expect(boot([CacheModule.forRootAsync()])).rejects.toThrow(
      'CACHE_DEFAULT_TTL: expected a positive integer, got "abc"',
    );
    process.env['CACHE_DEFAULT_TTL'] = '60';
    process.env['CACHE_ENABLED'] = 'sometimes';
    await expect(boot([CacheModule.forRootAsync()])).rejects.toThrow(
      'CACHE_ENABLED: expected true or false, got "sometimes"',
    );
  });

  it('never logs the Redis password, and warns once when there is none', async () => {
    const port = await freePort();
    process.env['CACHE_ENABLED'] = 'true';
    process.env['REDIS_ENABLED'] = 'true';
    process.env['REDIS_HOST'] = '127.0.0.1';
    process.env['REDIS_PORT'] = String(port);
    process.env['REDIS_PASSWORD'] = 'p@ss:w0rd/s3cr3t%';
    const withPassword = new CollectingLogger();
    const first = await boot([CacheModule.forRootAsync()], withPassword);
    await fetch(`${first.url}/ping`);
    await new Promise((r) => setTimeout(r, 300));
    await first.app.close();
    const text = withPassword.lines.join('\n');
    expect(text).toContain('unreachable');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain(encodeURIComponent('p@ss:w0rd/s3cr3t%'));
    expect(text).not.toContain('without a password');

    delete process.env['REDIS_PASSWORD'];
    const noPassword = new CollectingLogger();
    const second = await boot([CacheModule.forRootAsync()], noPassword);
    await second.app.close();
    expect(noPassword.lines.filter((l) => l.includes('without a password'))).toHaveLength(1);
  });
});
