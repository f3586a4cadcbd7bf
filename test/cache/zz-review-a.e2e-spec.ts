import {
  Controller, Get, Header, Injectable, Module, Param, Res, ForbiddenException, Req, UseInterceptors,
  type DynamicModule, type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Cached, CacheInterceptor, CacheModule, apiKeysListKeyBuilder, userScopedKeyBuilder,
} from '../../src/cache/index.js';
import { ADAPTERS, HeaderAuthGuard, startApp } from '../fixtures/cache-fixture.js';

function raw(url: string, method: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(url, { method, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

abstract class BaseMe {
  abstract readonly area: string;
  @Get('me')
  @Cached({ namespace: 'user', keyBuilder: userScopedKeyBuilder })
  me() {
    return { area: this.area };
  }
}
@Controller('admin')
class AdminMe extends BaseMe {
  readonly area = 'admin';
}
@Controller('public')
class PublicMe extends BaseMe {
  readonly area = 'public';
}

@Controller('rv')
class ReviewController {
  runs = 0;
  @Get('nostore')
  @Cached({ namespace: 'rvnostore' })
  @Header('Cache-Control', 'no-store')
  noStore() {
    return { secret: ++this.runs };
  }

  @Get('cookie')
  @Cached({ namespace: 'rvcookie' })
  cookie(@Res({ passthrough: true }) res: { header?: unknown; setHeader?: unknown }) {
    const set = (res.header ?? res.setHeader) as (this: unknown, n: string, v: string) => void;
    set.call(res, 'set-cookie', 'session=abc');
    return { run: ++this.runs };
  }

  @Get('private')
  @Cached({ namespace: 'rvprivate' })
  @Header('Cache-Control', 'private')
  priv() {
    return { run: ++this.runs };
  }

  @Get('plain/:kind')
  plainValue(@Param('kind') kind: string): unknown {
    return ({ null: null, false: false, zero: 0, empty: '' } as Record<string, unknown>)[kind];
  }

  @Get('cached/:kind')
  @Cached({ namespace: 'rvvalues' })
  cachedValue(@Param('kind') kind: string): unknown {
    return ({ null: null, false: false, zero: 0, empty: '' } as Record<string, unknown>)[kind];
  }

  // Authorisation in the handler: only the owner may read their keys.
  @Get('users/:userId/keys')
  @Cached({ namespace: 'apikeys', keyBuilder: apiKeysListKeyBuilder })
  keys(@Param('userId') userId: string, @Req() req: { user?: { id: string } }) {
    if (req.user?.id !== userId) throw new ForbiddenException();
    return { owner: userId, keys: [`secret-key-of-${userId}`] };
  }

  @Get('total')
  @Cached({ namespace: 'rvtotal' })
  total(@Res({ passthrough: true }) res: { header?: unknown; setHeader?: unknown }) {
    const set = (res.header ?? res.setHeader) as (this: unknown, n: string, v: string) => void;
    set.call(res, 'x-total-count', '42');
    return [1, 2];
  }
}

@Controller('dbl')
@Cached({ namespace: 'dbl' })
class DoubleController {
  @Get('b')
  @Cached({ namespace: 'dblb' })
  b() {
    return { ok: 1 };
  }
}

@Module({})
class ReviewModule {
  static with(): DynamicModule {
    return {
      module: ReviewModule,
      imports: [CacheModule.forRoot({ enabled: true, keyPrefix: 'zz-review' })],
      controllers: [AdminMe, PublicMe, ReviewController, DoubleController],
      providers: [{ provide: APP_GUARD, useClass: HeaderAuthGuard }],
    };
  }
}

describe.each(ADAPTERS)('review on %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await startApp(ReviewModule.with(), adapter));
  });
  afterAll(async () => app.close());

  it('A: inherited handler on two controllers shares a user-scoped key', async () => {
    const admin = await (await fetch(`${url}/admin/me`, { headers: { 'x-user': '1' } })).json();
    const pub = await fetch(`${url}/public/me`, { headers: { 'x-user': '1' } });
    console.log(`[${adapter}] A admin=`, admin, 'public=', await pub.clone().json(), pub.headers.get('x-cache'));
    expect(await pub.json()).toEqual({ area: 'public' });
  });

  it('B: HEAD / request no-store rewrite a handler Cache-Control no-store|private and add max-age to Set-Cookie responses', async () => {
    const out: Record<string, unknown> = {};
    for (const [path, method, hdrs] of [
      ['nostore', 'GET', {}],
      ['nostore', 'HEAD', {}],
      ['nostore', 'GET', { 'cache-control': 'no-store' }],
      ['cookie', 'GET', {}],
      ['cookie', 'HEAD', {}],
      ['cookie', 'GET', { 'cache-control': 'no-store' }],
      ['private', 'GET', {}],
      ['private', 'HEAD', {}],
    ] as const) {
      const r = await raw(`${url}/rv/${path}`, method, hdrs);
      out[`${method} ${path} ${JSON.stringify(hdrs)}`] = {
        cc: r.headers['cache-control'],
        cookie: r.headers['set-cookie'],
        etag: r.headers['etag'] !== undefined,
      };
    }
    console.log(`[${adapter}] B`, JSON.stringify(out, null, 1));
    const bad = await raw(`${url}/rv/nostore`, 'HEAD');
    expect(bad.headers['cache-control']).toBe('no-store');
  });

  it('C: null/false/0/"" — uncached vs cached bodies and content types', async () => {
    const rows: string[] = [];
    let differs = false;
    for (const kind of ['null', 'false', 'zero', 'empty']) {
      const p = await raw(`${url}/rv/plain/${kind}`, 'GET');
      const m = await raw(`${url}/rv/cached/${kind}`, 'GET');
      const h = await raw(`${url}/rv/cached/${kind}`, 'GET');
      rows.push(
        `${kind}: plain=${JSON.stringify(p.body)} ${p.headers['content-type']} | miss=${JSON.stringify(m.body)} ${m.headers['content-type']} | hit=${JSON.stringify(h.body)} ${h.headers['content-type']}`,
      );
      if (p.body !== h.body || p.headers['content-type'] !== h.headers['content-type']) differs = true;
    }
    console.log(`[${adapter}] C\n` + rows.join('\n'));
    expect(differs).toBe(false);
  });

  it('D: handler-level authorisation bypassed on HIT with apiKeysListKeyBuilder', async () => {
    const owner = await fetch(`${url}/rv/users/5/keys`, { headers: { 'x-user': '5' } });
    expect(owner.status).toBe(200);
    const other = await fetch(`${url}/rv/users/5/keys`, { headers: { 'x-user': '6' } });
    console.log(`[${adapter}] D other user status=`, other.status, other.headers.get('x-cache'), await other.clone().text());
    expect(other.status).toBe(403);
  });

  it('E: dynamic headers set through passthrough are lost on HIT', async () => {
    const m = await fetch(`${url}/rv/total`);
    const h = await fetch(`${url}/rv/total`);
    console.log(`[${adapter}] E miss x-total-count=`, m.headers.get('x-total-count'), 'hit=', h.headers.get('x-total-count'), h.headers.get('x-cache'));
    expect(h.headers.get('x-total-count')).toBe('42');
  });

  it('F: class + method @Cached runs the interceptor twice per request', async () => {
    const spy = vi.spyOn(CacheInterceptor.prototype, 'intercept');
    await fetch(`${url}/dbl/b?x=${adapter}`);
    console.log(`[${adapter}] F intercept calls on one MISS:`, spy.mock.calls.length);
    const n = spy.mock.calls.length;
    spy.mockRestore();
    expect(n).toBe(1);
  });
});

describe('I: disabled module compiled but never initialised', () => {
  @Controller('pr')
  class PrunedController {
    @Get()
    @Cached({ namespace: 'pr' })
    get() {
      return { ok: true };
    }
  }
  @Module({ imports: [CacheModule.forRoot({ enabled: false })], controllers: [PrunedController] })
  class DisabledM {}
  @Module({ imports: [CacheModule.forRoot({ enabled: true })], controllers: [PrunedController] })
  class EnabledM {}

  it('leaves the interceptor unbound for a later enabled app in the same process', async () => {
    const ref = await Test.createTestingModule({ imports: [DisabledM] }).compile();
    // no init/close: e.g. a unit test that only resolves a provider
    void ref;
    const { app, url } = await startApp(EnabledM, 'express');
    await fetch(`${url}/pr`);
    const h = await fetch(`${url}/pr`);
    console.log('[I] x-cache on enabled app after compile():', h.headers.get('x-cache'));
    await app.close();
    expect(h.headers.get('x-cache')).toBe('HIT');
  });
});
