import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cached, CacheModule, InvalidationService, resolveCacheOptions, userScopedKeyBuilder } from '../../src/cache/index.js';
import { FixtureModule, HeaderAuthGuard, startApp } from '../fixtures/cache-fixture.js';

@Controller()
class MeController {
  @Get('whoami')
  @Cached({ namespace: 'user', keyBuilder: userScopedKeyBuilder })
  me(@Req() req: { user: { id: string } }) {
    return { id: req.user.id, secret: `private data of ${req.user.id}` };
  }
}
@Module({
  imports: [CacheModule.forRoot({ enabled: true })],
  controllers: [MeController],
  providers: [{ provide: APP_GUARD, useClass: HeaderAuthGuard }],
})
class MeModule {}

describe('canonical ids', () => {
  let app: INestApplication;
  let url: string;
  afterAll(async () => app?.close());
  it('L1: string user ids "007" and "7" share one user-scoped entry', async () => {
    ({ app, url } = await startApp(MeModule, 'express'));
    await fetch(`${url}/whoami`, { headers: { 'x-user': '7' } });
    const other = await fetch(`${url}/whoami`, { headers: { 'x-user': '007' } });
    const body = await other.text();
    console.log('[L1] user "007" got', other.headers.get('x-cache'), body);
    expect(body).toContain('private data of 007');
  });
});

describe('invalidation with string ids', () => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await startApp(FixtureModule.with({ enabled: true, keyPrefix: 'zz-l2' }), 'express'));
  });
  afterAll(async () => app.close());
  it('L2: invalidateUser("007") / invalidateScope("apikey", 5, "012") miss canonical keys', async () => {
    const inv = app.get(InvalidationService);
    await fetch(`${url}/users?userId=007`);
    await inv.invalidateUser('007');
    const a = await fetch(`${url}/users?userId=007`);
    await fetch(`${url}/keys/012`, { headers: { 'x-user': '5' } });
    await inv.invalidateScope('apikey', 5, '012');
    const b = await fetch(`${url}/keys/012`, { headers: { 'x-user': '5' } });
    console.log('[L2] after invalidateUser("007"):', a.headers.get('x-cache'), '; after invalidateScope(apikey,5,"012"):', b.headers.get('x-cache'));
    expect(a.headers.get('x-cache')).toBe('MISS');
    expect(b.headers.get('x-cache')).toBe('MISS');
  });
});

describe('M: password fragments in safeUrl', () => {
  it('logs what follows an unencoded # in REDIS_URL', () => {
    const r = resolveCacheOptions({ redis: { enabled: true, url: 'redis://:p4ss#w0rdTail@redis.internal:6379' } });
    console.log('[M] safeUrl =', r.redis.safeUrl);
    expect(r.redis.safeUrl).not.toContain('w0rdTail');
  });
});
