import { describe, expect, expectTypeOf, it } from 'vitest';
import { CacheDefinitionError } from '../cache.errors.js';
import {
  defaultUserIdResolver,
  RequestKeyContext,
  type CacheRequest,
  type KeyBuilder,
  type KeyContext,
} from './cache-key.js';
import {
  apiKeySingleKeyBuilder,
  apiKeysListKeyBuilder,
  paginatedKeyBuilder,
  userScoped,
  userScopedKeyBuilder,
  usersListKeyBuilder,
  userTag,
  type PaginationKeyOptions,
} from './key-builders.js';

interface RequestInit {
  url?: string;
  params?: Record<string, string>;
  user?: unknown;
  routePath?: string;
}

function context(init: RequestInit = {}, namespace = 'ns'): RequestKeyContext {
  const url = init.url ?? '/x';
  const q = url.indexOf('?');
  const request: CacheRequest = {
    method: 'GET',
    url,
    headers: {},
    params: init.params ?? {},
    user: init.user,
    route: { path: init.routePath ?? (q === -1 ? url : url.slice(0, q)) },
  };
  return new RequestKeyContext(request, namespace, 'UsersController', 'find', defaultUserIdResolver);
}

async function key(builder: KeyBuilder, ctx: KeyContext): Promise<string | undefined> {
  return await builder(ctx);
}

function tags(builder: KeyBuilder, ctx: KeyContext): readonly string[] {
  return builder.tags?.(ctx) ?? [];
}

describe('userTag', () => {
  it('is user:{id}, the same for a number and its text', () => {
    expect(userTag(42)).toBe('user:42');
    expect(userTag('42')).toBe('user:42');
    expect(userTag(0)).toBe('user:0');
    expect(userTag('007')).toBe('user:007');
    expect(userTag('a:b')).toBe('user:a:b');
  });
});

describe('userScoped', () => {
  const inner: KeyBuilder = (ctx) => `${ctx.namespace}:${ctx.userId ?? 'nobody'}:x`;

  it('marks the builder user-scoped and skips anonymous requests', async () => {
    const builder = userScoped(inner);
    expect(builder.userScoped).toBe(true);
    expect(await key(builder, context({ user: { id: 7 } }))).toBe('ns:7:x');
    expect(await key(builder, context())).toBeUndefined();
  });

  it('declares the user tag, and none for an anonymous request', () => {
    const builder = userScoped(inner);
    expect(tags(builder, context({ user: { id: 7 } }))).toEqual(['user:7']);
    expect(tags(builder, context({ user: { id: 'a:b' } }))).toEqual([userTag('a:b')]);
    expect(tags(builder, context())).toEqual([]);
  });

  it('keeps the tags the wrapped builder declares, after the user tag', () => {
    const tagged = Object.assign((ctx: KeyContext) => inner(ctx), {
      tags: (ctx: KeyContext) => [`team:${ctx.params['team'] ?? '-'}`],
    });
    const builder = userScoped(tagged);
    expect(tags(builder, context({ user: { id: 7 }, params: { team: 'red' } }))).toEqual([
      'user:7',
      'team:red',
    ]);
    expect(tags(userScoped(tagged, { tagged: false }), context({ user: { id: 7 } }))).toEqual(['team:-']);
  });

  it('declares no user tag with { tagged: false } and stays user-scoped', async () => {
    const builder = userScoped(inner, { tagged: false });
    expect(builder.userScoped).toBe(true);
    expect(builder.tags).toBeUndefined();
    expect(await key(builder, context({ user: { id: 7 } }))).toBe('ns:7:x');
    expect(await key(builder, context())).toBeUndefined();
  });

  it('wraps async builders', async () => {
    const builder = userScoped(async (ctx) => `${ctx.namespace}:async`);
    expect(await key(builder, context({ user: { id: 1 } }))).toBe('ns:async');
  });
});

describe('declared tags of the built-in builders', () => {
  it('userScopedKeyBuilder carries user:{id} and keeps its key', async () => {
    const ctx = context({ user: { id: 42 }, url: '/me' }, 'user');
    expect(tags(userScopedKeyBuilder, ctx)).toEqual(['user:42']);
    expect(await key(userScopedKeyBuilder, ctx)).toBe('user:42:UsersController.find:%2Fme');
  });

  it('usersListKeyBuilder carries user:{X} for ?userId=X only', async () => {
    const single = context({ url: '/users?userId=5' }, 'users');
    expect(tags(usersListKeyBuilder, single)).toEqual(['user:5']);
    expect(await key(usersListKeyBuilder, single)).toBe('users:5:single');
    expect(tags(usersListKeyBuilder, context({ url: '/users?userId=a%3Ab' }, 'users'))).toEqual(['user:a:b']);

    const list = context({ url: '/users?page=2' }, 'users');
    expect(tags(usersListKeyBuilder, list)).toEqual([]);
    expect(await key(usersListKeyBuilder, list)).toBe('users:list:page:2:size:50');
    expect(tags(usersListKeyBuilder, context({ url: '/users' }, 'users'))).toEqual([]);
  });

  it('usersListKeyBuilder names no user for an empty or repeated userId', () => {
    expect(tags(usersListKeyBuilder, context({ url: '/users?userId=' }, 'users'))).toEqual([]);
    expect(tags(usersListKeyBuilder, context({ url: '/users?userId=5&userId=6' }, 'users'))).toEqual([]);
  });

  it('usersListKeyBuilder is not user-scoped (the list is shared)', () => {
    expect(usersListKeyBuilder.userScoped).toBeUndefined();
  });

  it('the API-key builders are private but never carry a user tag', async () => {
    const own = context({ user: { id: 1 }, params: { keyId: 'k1' } }, 'apikey');
    const other = context({ user: { id: 1 }, params: { userId: '7', keyId: 'k1' } }, 'apikeys');
    for (const builder of [apiKeysListKeyBuilder, apiKeySingleKeyBuilder]) {
      expect(builder.userScoped).toBe(true);
      for (const ctx of [own, other]) {
        expect(tags(builder, ctx).filter((tag) => tag.startsWith('user:'))).toEqual([]);
      }
    }
    expect(await key(apiKeySingleKeyBuilder, own)).toBe('apikey:1:k1');
    expect(await key(apiKeysListKeyBuilder, other)).toBe('apikeys:7:by:1');
  });
});

describe('paginatedKeyBuilder', () => {
  it('is a key builder as it is: page 1, size 50 by default', async () => {
    const builder: KeyBuilder = paginatedKeyBuilder;
    expect(await key(builder, context({ url: '/items' }, 'items'))).toBe('items:list:page:1:size:50');
    expect(await key(builder, context({ url: '/items?page=1&size=50' }, 'items'))).toBe(
      'items:list:page:1:size:50',
    );
    expect(await key(builder, context({ url: '/items?size=10&page=007&q=x' }, 'items'))).toBe(
      'items:list:page:7:size:10:q=q=x',
    );
    expect(builder.userScoped).toBeUndefined();
    expect(builder.tags).toBeUndefined();
  });

  it('gives, used directly, the keys of paginatedKeyBuilder() and paginatedKeyBuilder({})', async () => {
    for (const url of [
      '/items',
      '/items?page=3',
      '/items?size=5&sort=name',
      '/items?page=x',
      '/items?page=1&page=2',
    ]) {
      const ctx = context({ url }, 'items');
      const direct = await key(paginatedKeyBuilder, ctx);
      expect(await key(paginatedKeyBuilder(), ctx), url).toBe(direct);
      expect(await key(paginatedKeyBuilder({}), ctx), url).toBe(direct);
    }
  });

  it('tells a context from options for any KeyContext, not only RequestKeyContext', () => {
    const plain: KeyContext = {
      request: { method: 'GET', url: '/items?page=4', headers: {} },
      params: {},
      query: { page: '4' },
      normalizedQuery: 'page=4',
      user: undefined,
      userId: undefined,
      className: 'C',
      handlerName: 'h',
      namespace: 'items',
      routePath: '/items',
    };
    expect(paginatedKeyBuilder(plain)).toBe('items:list:page:4:size:50');
  });

  it('called with options, returns a customised builder', async () => {
    const builder = paginatedKeyBuilder({ pageParam: 'p', sizeParam: 'n', defaultPage: 0, defaultSize: 20 });
    expect(typeof builder).toBe('function');
    expect(await key(builder, context({ url: '/items' }, 'items'))).toBe('items:list:page:0:size:20');
    expect(await key(builder, context({ url: '/items?p=2&n=5&page=9' }, 'items'))).toBe(
      'items:list:page:2:size:5:q=page=9',
    );
    expect(await key(paginatedKeyBuilder({ defaultSize: 20 }), context({ url: '/items' }, 'items'))).toBe(
      'items:list:page:1:size:20',
    );
  });

  it('takes undefined options as their defaults', async () => {
    const builder = paginatedKeyBuilder({ pageParam: undefined, defaultSize: undefined });
    expect(await key(builder, context({ url: '/items?page=2' }, 'items'))).toBe('items:list:page:2:size:50');
  });

  it('refuses invalid options with a CacheDefinitionError', () => {
    const bad: unknown[] = [
      { pageSize: 20 },
      { pageParam: '' },
      { sizeParam: 5 },
      { pageParam: 'p', sizeParam: 'p' },
      { defaultPage: -1 },
      { defaultSize: 1.5 },
      { defaultSize: '20' },
      { defaultPage: Number.NaN },
      null,
      'page',
      [],
    ];
    for (const options of bad) {
      expect(() => paginatedKeyBuilder(options as PaginationKeyOptions), JSON.stringify(options)).toThrow(
        CacheDefinitionError,
      );
    }
    expect(() => paginatedKeyBuilder({ pageSize: 20 } as PaginationKeyOptions)).toThrow(
      /paginatedKeyBuilder\(\): unknown option "pageSize"/,
    );
  });

  it('types: a builder used directly, a factory called with options', () => {
    expectTypeOf(paginatedKeyBuilder).toExtend<KeyBuilder>();
    expectTypeOf(paginatedKeyBuilder(context())).toEqualTypeOf<string>();
    expectTypeOf(paginatedKeyBuilder()).toEqualTypeOf<KeyBuilder>();
    expectTypeOf(paginatedKeyBuilder({ defaultSize: 20 })).toEqualTypeOf<KeyBuilder>();
    // @ts-expect-error an unknown option
    expect(() => paginatedKeyBuilder({ pageSize: 20 })).toThrow(CacheDefinitionError);
    // @ts-expect-error a size given as text
    expect(() => paginatedKeyBuilder({ defaultSize: '20' })).toThrow(CacheDefinitionError);
  });
});
