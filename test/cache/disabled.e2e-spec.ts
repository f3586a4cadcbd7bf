import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CacheInterceptor } from '../../src/cache/index.js';
import { InvalidationService } from '../helpers/internals.js';
import { ADAPTERS, FixtureModule, Runs, startApp } from '../fixtures/cache-fixture.js';

describe.each(ADAPTERS)('caching disabled on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let decoy: Server;
  let connections = 0;

  beforeAll(async () => {
    // A listener where Redis would be: any connection attempt is counted.
    decoy = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
    const port = (decoy.address() as { port: number }).port;
    ({ app, url } = await startApp(
      FixtureModule.with({ enabled: false, redis: { enabled: true, url: `redis://127.0.0.1:${port}` } }),
      adapter,
    ));
  });
  afterAll(async () => {
    await app.close();
    await new Promise((resolve) => decoy.close(resolve));
  });

  it('runs the handler every time, with no cache headers and without the interceptor', async () => {
    const intercept = vi.spyOn(CacheInterceptor.prototype, 'intercept');
    for (let i = 1; i <= 3; i++) {
      const res = await fetch(`${url}/items/d`);
      expect(res.headers.get('x-cache')).toBeNull();
      expect(res.headers.get('cache-control')).toBeNull();
      expect(((await res.json()) as { run: number }).run).toBe(i);
    }
    expect(app.get(Runs).of('item:d')).toBe(3);
    expect(intercept).not.toHaveBeenCalled();
    intercept.mockRestore();
  });

  it('never connects to Redis', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(connections).toBe(0);
  });

  it('makes invalidation a silent no-op', async () => {
    const invalidation = app.get(InvalidationService);
    await expect(invalidation.invalidateUser(1)).resolves.toBeUndefined();
    await expect(invalidation.invalidateUsersList()).resolves.toBeUndefined();
    await expect(invalidation.invalidateApiKeys(1)).resolves.toBeUndefined();
    await expect(invalidation.invalidateNamespace('items')).resolves.toBeUndefined();
    await expect(invalidation.invalidateAll()).resolves.toBeUndefined();
  });
});

describe('a disabled module compiled without an HTTP application', () => {
  it('leaves the routes of a later enabled application cached', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [FixtureModule.with({ enabled: false })],
    }).compile();
    const enabled = await startApp(FixtureModule.with({ enabled: true }), 'fastify');
    await fetch(`${enabled.url}/items/compiled`);
    expect((await fetch(`${enabled.url}/items/compiled`)).headers.get('x-cache')).toBe('HIT');
    await enabled.app.close();
    await moduleRef.close();
  });
});

describe('a disabled and an enabled application in one process', () => {
  let disabled: { app: INestApplication; url: string };
  let enabled: { app: INestApplication; url: string };

  beforeAll(async () => {
    disabled = await startApp(FixtureModule.with({ enabled: false }), 'express');
    enabled = await startApp(FixtureModule.with({ enabled: true }), 'express');
  });
  afterAll(async () => {
    await disabled.app.close();
    await enabled.app.close();
  });

  it('each follows its own setting', async () => {
    await fetch(`${enabled.url}/items/both`);
    expect((await fetch(`${enabled.url}/items/both`)).headers.get('x-cache')).toBe('HIT');
    await fetch(`${disabled.url}/items/both`);
    expect((await fetch(`${disabled.url}/items/both`)).headers.get('x-cache')).toBeNull();
  });
});
