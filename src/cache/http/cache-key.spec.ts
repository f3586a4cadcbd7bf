import { describe, expect, it } from 'vitest';
import type { CacheBackend } from '../engine/cache-backend.js';
import { KeySpace, Scopes, type EntryKey } from '../engine/entry-key.js';
import { InvalidationService } from '../invalidation/invalidation.service.js';
import {
  defaultUserIdResolver,
  canonicalQuery,
  encodeKeySegment,
  isValidKeyName,
  normalizeParams,
  normalizeQuery,
  parseQueryPairs,
  RequestKeyContext,
  type CacheRequest,
  type KeyBuilder,
  type UserIdResolver,
} from './cache-key.js';
import {
  apiKeySingleKeyBuilder,
  apiKeysListKeyBuilder,
  defaultKeyBuilder,
  paginatedKeyBuilder,
  usersListKeyBuilder,
  userScopedKeyBuilder,
} from './key-builders.js';

/** Every character a key segment may hold once encoded. */
const ENCODED_SEGMENT = /^(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*$/;

const TRICKY_VALUES = [
  '',
  ' ',
  'a b',
  'a:b',
  'a%3Ab',
  '%3A',
  '%3a',
  ':',
  '::',
  '*',
  '?',
  '[',
  ']',
  '[1]',
  '#',
  '&',
  '=',
  'a=b&c=d',
  '%',
  '%%',
  '%25',
  '+',
  '~',
  '-',
  '.',
  '_',
  "!'()",
  '\\',
  '^',
  '/',
  'é',
  'e\u0301',
  '日本語',
  '😀',
  'a\u0000b',
  '\n',
  '\t',
  '1',
  '01',
  '10',
  '1.0',
  '-1',
  'NaN',
  'list',
  'single',
  'x'.repeat(300),
];

async function build(builder: KeyBuilder, context: RequestKeyContext): Promise<string | undefined> {
  return await builder(context);
}

const space = new KeySpace('cache');

/** The entry a request's key lands in, with the records of its scopes and declared tags. */
async function entryOf(builder: KeyBuilder, ctx: RequestKeyContext): Promise<EntryKey> {
  const built = await build(builder, ctx);
  if (built === undefined) throw new Error('the builder declined the request');
  return space.entry(ctx.namespace, built, builder.tags?.(ctx) ?? []);
}

/** The record keys an InvalidationService call targets, as CacheBackend names them. */
async function targets(call: (service: InvalidationService) => Promise<void>): Promise<string[]> {
  const scopes: string[] = [];
  const backend = {
    invalidate: async (given: readonly string[]) => void scopes.push(...given),
    invalidateTags: async (tags: readonly string[]) =>
      void scopes.push(...tags.map((tag) => Scopes.tag(tag))),
  };
  await call(new InvalidationService(backend as unknown as CacheBackend));
  return scopes.map((scope) => space.record(scope));
}

/** Whether an invalidation targeting `records` reaches the entry. */
function reaches(records: readonly string[], entry: EntryKey): boolean {
  return records.some((record) => entry.recordKeys.includes(record));
}

interface RequestInit {
  url?: string;
  method?: string;
  params?: Record<string, unknown>;
  user?: unknown;
  routePath?: string;
  headers?: Record<string, string>;
}

function request(init: RequestInit = {}): CacheRequest {
  const url = init.url ?? '/x';
  const q = url.indexOf('?');
  return {
    method: init.method ?? 'GET',
    url,
    headers: init.headers ?? {},
    params: init.params ?? {},
    user: init.user,
    route: { path: init.routePath ?? (q === -1 ? url : url.slice(0, q)) },
  };
}

function context(
  init: RequestInit = {},
  namespace = 'ns',
  resolveUserId: UserIdResolver = defaultUserIdResolver,
): RequestKeyContext {
  return new RequestKeyContext(request(init), namespace, 'UsersController', 'find', resolveUserId);
}

describe('isValidKeyName', () => {
  it('accepts 1-64 characters of A-Z a-z 0-9 _ . -', () => {
    for (const name of ['a', 'cache', 'my-app.v2_X', 'x'.repeat(64), '0', '.', '-']) {
      expect(isValidKeyName(name), name).toBe(true);
    }
  });

  it('rejects separators, glob characters, spaces, non-ASCII and lengths outside 1-64', () => {
    for (const name of ['', 'a:b', 'a*', 'a?', 'a[b]', 'a b', 'é', 'x'.repeat(65), 'a\\b', 'a#b', 'a\n']) {
      expect(isValidKeyName(name), name).toBe(false);
    }
  });
});

describe('encodeKeySegment', () => {
  it('never outputs separators, glob characters, spaces, non-ASCII or a bare %', () => {
    for (const value of TRICKY_VALUES) {
      const encoded = encodeKeySegment(value);
      expect(encoded, JSON.stringify(value)).toMatch(ENCODED_SEGMENT);
      for (const forbidden of [
        ':',
        '*',
        '?',
        '[',
        ']',
        '#',
        '&',
        '=',
        ' ',
        '\\',
        '^',
        '+',
        '!',
        "'",
        '(',
        ')',
      ]) {
        expect(encoded, JSON.stringify(value)).not.toContain(forbidden);
      }
    }
  });

  it('is injective over a varied sample', () => {
    const outputs = new Map<string, string>();
    for (const value of TRICKY_VALUES) {
      const encoded = encodeKeySegment(value);
      expect(outputs.get(encoded), `${JSON.stringify(value)} collides`).toBeUndefined();
      outputs.set(encoded, value);
    }
    expect(outputs.size).toBe(new Set(TRICKY_VALUES).size);
  });

  it('round-trips through decodeURIComponent', () => {
    for (const value of TRICKY_VALUES) expect(decodeURIComponent(encodeKeySegment(value))).toBe(value);
  });

  it('tells "%3A" from ":" and "%25" from "%"', () => {
    expect(encodeKeySegment('%3A')).toBe('%253A');
    expect(encodeKeySegment(':')).toBe('%3A');
    expect(encodeKeySegment('%')).toBe('%25');
    expect(encodeKeySegment('%25')).toBe('%2525');
  });

  it('encodes the characters encodeURIComponent leaves alone', () => {
    expect(encodeKeySegment("!'()*")).toBe('%21%27%28%29%2A');
  });

  it('encodes numbers as their decimal text', () => {
    expect(encodeKeySegment(1)).toBe('1');
    expect(encodeKeySegment(10)).toBe('10');
    expect(encodeKeySegment(-1.5)).toBe('-1.5');
    expect(encodeKeySegment(1)).toBe(encodeKeySegment('1'));
  });

  // A user id decoded from JSON (a token's `sub`, a database field) may hold an unpaired surrogate.
  it('encodes lone surrogates without throwing, and keeps them distinct', () => {
    const outputs = new Set<string>();
    for (const value of ['\uD800', '\uDC00', 'a\uD83D', '\uDE00b', '\uFFFD']) {
      let encoded = '';
      expect(() => (encoded = encodeKeySegment(value)), JSON.stringify(value)).not.toThrow();
      expect(encoded).toMatch(ENCODED_SEGMENT);
      outputs.add(encoded);
    }
    expect(outputs.size).toBe(5);
  });
});

describe('parseQueryPairs + normalizeQuery', () => {
  const normalized = (raw: string) => normalizeQuery(parseQueryPairs(raw, true));

  it('gives an empty string for an empty query', () => {
    expect(parseQueryPairs('')).toEqual([]);
    expect(normalized('')).toBe('');
    expect(normalized('&&')).toBe('');
  });

  it('splits into decoded pairs in request order', () => {
    expect(parseQueryPairs('b=2&a=1&a=0&c')).toEqual([
      ['b', '2'],
      ['a', '1'],
      ['a', '0'],
      ['c', ''],
    ]);
    expect(parseQueryPairs('a=b=c')).toEqual([['a', 'b=c']]);
    expect(parseQueryPairs('a=1&&b=2&')).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('sorts names and keeps repeated values in request order', () => {
    expect(normalized('b=2&a=1&a=0&c')).toBe('a=1&a=0&b=2&c=');
    expect(normalized('x=3&y=1&x=1&x=2')).toBe('x=3&x=1&x=2&y=1');
    expect(normalized('x=2&x=1')).not.toBe(normalized('x=1&x=2'));
    expect(normalized('page=2&size=10')).toBe(normalized('size=10&page=2'));
  });

  it('sorts stably over many pairs', () => {
    const raw = Array.from({ length: 40 }, (_, i) => `${i % 2 === 0 ? 'b' : 'a'}=${i}`).join('&');
    const expectedA = Array.from({ length: 20 }, (_, i) => `a=${2 * i + 1}`);
    const expectedB = Array.from({ length: 20 }, (_, i) => `b=${2 * i}`);
    expect(normalized(raw)).toBe([...expectedA, ...expectedB].join('&'));
  });

  it('takes a query already in normal form as it is, and nothing else', () => {
    expect(canonicalQuery('k=abc')).toBe('k=abc');
    expect(canonicalQuery('a=1&a=0&b=2&c=')).toBe('a=1&a=0&b=2&c=');
    expect(canonicalQuery('page=2&pages=1')).toBe('page=2&pages=1');
    for (const raw of [
      '',
      'b=1&a=2',
      'pages=1&page=2',
      'a',
      'a=b=c',
      'a=1&',
      '&a=1',
      'a=1&&b=2',
      '=1',
      'a=%41',
      'a=+',
    ]) {
      expect(canonicalQuery(raw)).toBeUndefined();
    }
  });

  it('agrees with parsing and normalising on every query it accepts', () => {
    const alphabet = ['a', 'b', 'B', '0', '-', '.', '_', '~', '=', '&', '%', '+', ':', 'é', '!'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      let raw = '';
      const length = next() % 12;
      for (let i = 0; i < length; i++) raw += alphabet[next() % alphabet.length];
      const fast = canonicalQuery(raw);
      if (fast === undefined) continue;
      accepted++;
      expect(fast).toBe(normalized(raw));
    }
    expect(accepted).toBeGreaterThan(200);
  });

  it('treats ?a and ?a= alike', () => {
    expect(normalized('a')).toBe(normalized('a='));
    expect(normalized('a')).toBe('a=');
  });

  it('reads + as a space, and %2B as a plus', () => {
    expect(parseQueryPairs('q=a+b&c+d=1')).toEqual([
      ['q', 'a b'],
      ['c d', '1'],
    ]);
    expect(normalized('q=a+b')).toBe(normalized('q=a%20b'));
    expect(normalized('q=a%2Bb')).not.toBe(normalized('q=a+b'));
  });

  it('keeps malformed escapes as they are without throwing', () => {
    expect(() => parseQueryPairs('a=%zz&%E0%A4%A=1&b=%')).not.toThrow();
    expect(parseQueryPairs('a=%zz')).toEqual([['a', '%zz']]);
    expect(normalized('a=%zz')).toMatch(/^a=[A-Z0-9%]+zz$/);
  });

  it('never gives a malformed escape the key of a well-formed one (adapters decode malformed text differently)', () => {
    // Express hands the handler "%ZZA" for the first, the second decodes to "%ZZ%41" everywhere.
    expect(normalized('a=%ZZ%41')).not.toBe(normalized('a=%25ZZ%2541'));
    expect(normalized('a=%ZZ%41')).not.toBe(normalized('a=%25ZZA'));
    expect(normalized('a=%')).not.toBe(normalized('a=%25'));
    expect(normalized('k=%E0%A4%A')).not.toBe(normalized('k=%25E0%25A4%25A'));
    expect(normalized('%zz=1')).not.toBe(normalized('%25zz=1'));
    // Equal raw text still shares its key.
    expect(normalized('a=%ZZ%41&b=1')).toBe(normalized('b=1&a=%ZZ%41'));
    // What a key builder reads as the query keeps the text as the handler may see it.
    expect(parseQueryPairs('a=%ZZ%41')).toEqual([['a', '%ZZ%41']]);
  });

  it('treats an escaped and a literal character alike, as the handler sees them', () => {
    expect(normalized('a=%3A')).toBe(normalized('a=:'));
    expect(normalized('a=%253A')).not.toBe(normalized('a=%3A'));
  });

  it('cannot be forged by escaped separators', () => {
    expect(normalized('a=x%26b%3Dy')).not.toBe(normalized('a=x&b=y'));
    expect(normalized('a%3D1=2')).not.toBe(normalized('a=1%3D2'));
    expect(normalized('a=1%26a%3D2')).not.toBe(normalized('a=1&a=2'));
  });

  it('outputs only encoded names and values', () => {
    const out = normalized('ü=ö&x:y=*&%5B%5D=%23');
    for (const pair of out.split('&')) {
      const [name, value, extra] = pair.split('=');
      expect(extra).toBeUndefined();
      expect(name).toMatch(ENCODED_SEGMENT);
      expect(value).toMatch(ENCODED_SEGMENT);
    }
  });
});

describe('normalizeParams', () => {
  it('sorts and encodes path parameters', () => {
    expect(normalizeParams({})).toBe('');
    expect(normalizeParams({ id: '1', b: 'x:y' })).toBe('b=x%3Ay&id=1');
  });
});

describe('RequestKeyContext', () => {
  it('exposes the request, names and user', () => {
    const user = { id: 7 };
    const ctx = context({ user, url: '/users/7' }, 'users');
    expect(ctx.namespace).toBe('users');
    expect(ctx.className).toBe('UsersController');
    expect(ctx.handlerName).toBe('find');
    expect(ctx.user).toBe(user);
    expect(ctx.userId).toBe('7');
  });

  it('groups repeated query names into arrays in request order', () => {
    const ctx = context({ url: '/x?a=1&b=x&a=2&a=3' });
    expect(ctx.query).toEqual({ a: ['1', '2', '3'], b: 'x' });
    expect(ctx.normalizedQuery).toBe('a=1&a=2&a=3&b=x');
  });

  it('reads query names that are also Object.prototype members as plain names', () => {
    const ctx = context({ url: '/x?constructor=x&toString=y&hasOwnProperty=z' });
    expect(Object.entries(ctx.query)).toEqual([
      ['constructor', 'x'],
      ['toString', 'y'],
      ['hasOwnProperty', 'z'],
    ]);
  });

  it('keeps a __proto__ query parameter', () => {
    const ctx = context({ url: '/x?__proto__=a' });
    expect(Object.entries(ctx.query)).toEqual([['__proto__', 'a']]);
  });

  it('stringifies scalar params and drops the others', () => {
    const ctx = context({
      params: { id: 7, slug: 'a', flag: true, gone: undefined, none: null, obj: { a: 1 } },
    });
    expect(ctx.params).toEqual({ id: '7', slug: 'a', flag: 'true' });
    expect(context({ params: undefined }).params).toEqual({});
  });

  it('takes the route pattern from Express, then Fastify, then the path', () => {
    expect(context({ url: '/users/7?x=1', routePath: '/users/:id' }).routePath).toBe('/users/:id');
    const fastify = new RequestKeyContext(
      { method: 'GET', url: '/users/7?x=1', headers: {}, routeOptions: { url: '/users/:id' } },
      'ns',
      'C',
      'h',
      defaultUserIdResolver,
    );
    expect(fastify.routePath).toBe('/users/:id');
    const bare = new RequestKeyContext(
      { method: 'GET', url: '/users/7?x=1', headers: {} },
      'ns',
      'C',
      'h',
      () => 1,
    );
    expect(bare.routePath).toBe('/users/7');
  });

  it('prefers originalUrl over url', () => {
    const ctx = new RequestKeyContext(
      { method: 'GET', url: '/7?a=1', originalUrl: '/users/7?b=2', headers: {} },
      'ns',
      'C',
      'h',
      defaultUserIdResolver,
    );
    expect(ctx.normalizedQuery).toBe('b=2');
    expect(ctx.routePath).toBe('/users/7');
  });

  it('resolves the user id once, and maps empty ids to anonymous', () => {
    let calls = 0;
    const ctx = context({}, 'ns', () => {
      calls++;
      return 42;
    });
    expect(ctx.userId).toBe('42');
    expect(ctx.userId).toBe('42');
    expect(calls).toBe(1);
    expect(context({}, 'ns', () => '').userId).toBeUndefined();
    expect(context({}, 'ns', () => null).userId).toBeUndefined();
    expect(context({}, 'ns', () => undefined).userId).toBeUndefined();
    expect(context({}, 'ns', () => 0).userId).toBe('0');
  });
});

describe('defaultUserIdResolver', () => {
  it('reads request.user.id when it is a string or a number', () => {
    expect(defaultUserIdResolver(request({ user: { id: 'u1' } }))).toBe('u1');
    expect(defaultUserIdResolver(request({ user: { id: 0 } }))).toBe(0);
    expect(defaultUserIdResolver(request({ user: undefined }))).toBeUndefined();
    expect(defaultUserIdResolver(request({ user: null }))).toBeUndefined();
    expect(defaultUserIdResolver(request({ user: 'u1' }))).toBeUndefined();
    expect(defaultUserIdResolver(request({ user: { id: { nested: 1 } } }))).toBeUndefined();
    expect(defaultUserIdResolver(request({ user: { sub: 'u1' } }))).toBeUndefined();
  });
});

describe('key builders', () => {
  it('userScopedKeyBuilder is user-scoped and skips anonymous requests', async () => {
    expect(userScopedKeyBuilder.userScoped).toBe(true);
    expect(await build(userScopedKeyBuilder, context({}, 'user'))).toBeUndefined();
    expect(await build(userScopedKeyBuilder, context({ user: {} }, 'user'))).toBeUndefined();
    expect(await build(userScopedKeyBuilder, context({ user: { id: '' } }, 'user'))).toBeUndefined();
  });

  it('userScopedKeyBuilder gives ns:{id}:{Class.handler}:{route}', async () => {
    expect(await build(userScopedKeyBuilder, context({ user: { id: 42 }, url: '/me' }, 'user'))).toBe(
      'user:42:UsersController.find:%2Fme',
    );
    expect(await build(userScopedKeyBuilder, context({ user: { id: 'a:b' }, url: '/me' }, 'user'))).toBe(
      'user:a%3Ab:UsersController.find:%2Fme',
    );
  });

  it('userScopedKeyBuilder appends params and the normalised query', async () => {
    const key = await build(
      userScopedKeyBuilder,
      context({ user: { id: 42 }, url: '/me/7?b=2&a=1', routePath: '/me/:id', params: { id: '7' } }, 'user'),
    );
    expect(key).toBe('user:42:UsersController.find:%2Fme%2F%3Aid:p=id=7:q=a=1&b=2');
    const other = await build(userScopedKeyBuilder, context({ user: { id: 42 }, url: '/me?a=1' }, 'user'));
    expect(other).toBe('user:42:UsersController.find:%2Fme:q=a=1');
  });

  it('usersListKeyBuilder gives users:{X}:single for ?userId=X', async () => {
    expect(await build(usersListKeyBuilder, context({ url: '/users?userId=5' }, 'users'))).toBe(
      'users:5:single',
    );
    expect(await build(usersListKeyBuilder, context({ url: '/users?userId=5&page=2' }, 'users'))).toBe(
      'users:5:single:q=page=2',
    );
    expect(await build(usersListKeyBuilder, context({ url: '/users?userId=1%3Alist' }, 'users'))).toBe(
      'users:1%3Alist:single',
    );
  });

  it('usersListKeyBuilder applies the list defaults', async () => {
    const key = (url: string) => build(usersListKeyBuilder, context({ url }, 'users'));
    expect(await key('/users')).toBe('users:list:page:1:size:50');
    expect(await key('/users?page=1')).toBe('users:list:page:1:size:50');
    expect(await key('/users?size=50')).toBe('users:list:page:1:size:50');
    expect(await key('/users?page=1&size=50')).toBe('users:list:page:1:size:50');
    expect(await key('/users?page=')).toBe('users:list:page:1:size:50');
    expect(await key('/users?page=01')).toBe(await key('/users?page=1'));
    expect(await key('/users?page=007&size=010')).toBe('users:list:page:7:size:10');
    expect(await key('/users?size=10&page=2')).toBe('users:list:page:2:size:10');
    // A repeated page is refused by the handler: it must not share the entry of page 2.
    expect(await key('/users?page=2&page=3')).not.toBe(await key('/users?page=2'));
    expect(await key('/users?userId=5&userId=6')).not.toBe(await key('/users?userId=5'));
    // Ids are never canonicalised: to a handler that treats ids as text, 007 and 7 are different rows.
    expect(await key('/users?userId=007')).not.toBe(await key('/users?userId=7'));
  });

  it('usersListKeyBuilder never lets a non-numeric page collide with a numeric one', async () => {
    const key = (url: string) => build(usersListKeyBuilder, context({ url }, 'users'));
    const numeric = await Promise.all(['/users?page=1', '/users?page=2', '/users?page=10'].map(key));
    const odd = await Promise.all(
      ['abc', '1.0', '-1', '1e1', '~1', '%201', '1%3Asize%3A50', '１', '0x1', '%7E'].map((p) =>
        key(`/users?page=${p}`),
      ),
    );
    const all = [...numeric, ...odd];
    expect(new Set(all).size).toBe(all.length);
    for (const k of odd) expect(numeric).not.toContain(k);
  });

  it('usersListKeyBuilder keeps other query parameters in the list key', async () => {
    const key = (url: string) => build(usersListKeyBuilder, context({ url }, 'users'));
    expect(await key('/users?page=2&sort=name')).toBe('users:list:page:2:size:50:q=sort=name');
    expect(await key('/users?sort=name&page=2')).toBe(await key('/users?page=2&sort=name'));
    expect(await key('/users?page=2&sort=name')).not.toBe(await key('/users?page=2'));
  });

  it('usersListKeyBuilder keeps query parameters named like Object.prototype members apart', async () => {
    const key = (url: string) => build(usersListKeyBuilder, context({ url }, 'users'));
    expect(await key('/users?page=2&__proto__=a')).not.toBe(await key('/users?page=2&__proto__=b'));
    expect(await key('/users?page=2&__proto__=a')).not.toBe(await key('/users?page=2'));
    expect(await key('/users?page=2&toString=a')).toBe('users:list:page:2:size:50:q=toString=a');
  });

  it('usersListKeyBuilder keys are found by the users invalidations', async () => {
    const list = await entryOf(usersListKeyBuilder, context({ url: '/users' }, 'users'));
    const page = await entryOf(usersListKeyBuilder, context({ url: '/users?page=3&size=10' }, 'users'));
    const single = await entryOf(usersListKeyBuilder, context({ url: '/users?userId=5' }, 'users'));
    const usersList = await targets((s) => s.invalidateUsersList());
    const user5 = await targets((s) => s.invalidateUser(5));
    expect(usersList).toEqual([space.record(Scopes.prefix('users', ['list']))]);
    expect(user5).toEqual([space.record(Scopes.tag('user:5'))]);
    expect(reaches(usersList, list)).toBe(true);
    expect(reaches(usersList, page)).toBe(true);
    expect(reaches(usersList, single)).toBe(false);
    expect(reaches(user5, single)).toBe(true);
    expect(reaches(user5, list)).toBe(false);
    expect(reaches(await targets((s) => s.invalidateUser('5')), single)).toBe(true);
    expect(reaches(await targets((s) => s.invalidateUser(50)), single)).toBe(false);
    expect(reaches(await targets((s) => s.invalidateNamespace('users')), single)).toBe(true);
    expect(reaches(await targets((s) => s.invalidateNamespace('user')), single)).toBe(false);
  });

  it('paginatedKeyBuilder honours its options', async () => {
    const builder = paginatedKeyBuilder({ pageParam: 'p', sizeParam: 'n', defaultPage: 0, defaultSize: 20 });
    expect(await build(builder, context({ url: '/items' }, 'items'))).toBe('items:list:page:0:size:20');
    expect(await build(builder, context({ url: '/items?p=0&n=20' }, 'items'))).toBe(
      'items:list:page:0:size:20',
    );
    expect(await build(builder, context({ url: '/items?page=3' }, 'items'))).toBe(
      'items:list:page:0:size:20:q=page=3',
    );
  });

  it('apiKeysListKeyBuilder uses the userId path param before the authenticated user', async () => {
    expect(apiKeysListKeyBuilder.userScoped).toBe(true);
    expect(await build(apiKeysListKeyBuilder, context({ user: { id: 1 } }, 'apikeys'))).toBe('apikeys:1');
    expect(
      await build(apiKeysListKeyBuilder, context({ user: { id: 1 }, params: { userId: '7' } }, 'apikeys')),
    ).toBe('apikeys:7:by:1');
    expect(
      await build(apiKeysListKeyBuilder, context({ user: { id: 7 }, params: { userId: '7' } }, 'apikeys')),
    ).toBe('apikeys:7');
    expect(
      await build(apiKeysListKeyBuilder, context({ params: { userId: '7' } }, 'apikeys')),
    ).toBeUndefined();
    expect(await build(apiKeysListKeyBuilder, context({}, 'apikeys'))).toBeUndefined();
  });

  it('apiKeySingleKeyBuilder gives ns:{owner}:{keyId}', async () => {
    expect(apiKeySingleKeyBuilder.userScoped).toBe(true);
    const key = (init: RequestInit) => build(apiKeySingleKeyBuilder, context(init, 'apikey'));
    expect(await key({ user: { id: 1 }, params: { keyId: 'k1' } })).toBe('apikey:1:k1');
    expect(await key({ user: { id: 1 }, params: { userId: '7', keyId: 'k1' } })).toBe('apikey:7:k1:by:1');
    expect(await key({ user: { id: 1 } })).toBeUndefined();
    expect(await key({ params: { keyId: 'k1' } })).toBeUndefined();
    expect(await key({ user: { id: 1 }, params: { keyId: 'a:b*' } })).toBe('apikey:1:a%3Ab%2A');
    expect(await key({ user: { id: 1 }, params: { userId: '1:k1', keyId: 'x' } })).not.toBe(
      await key({ user: { id: 1 }, params: { userId: '1', keyId: 'k1:x' } }),
    );
  });

  it('defaultKeyBuilder includes the method, encoded route, params and normalised query', async () => {
    const key = await build(
      defaultKeyBuilder,
      context({ url: '/items/7?b=2&a=1', routePath: '/items/:id', params: { id: '7' } }, 'items'),
    );
    expect(key).toBe('items:GET:%2Fitems%2F%3Aid:id=7:a=1&b=2');
  });

  it('defaultKeyBuilder tells apart routes, params and queries', async () => {
    const key = (init: RequestInit) => build(defaultKeyBuilder, context(init, 'items'));
    const keys = await Promise.all([
      key({ url: '/items/7', routePath: '/items/:id', params: { id: '7' } }),
      key({ url: '/items/8', routePath: '/items/:id', params: { id: '8' } }),
      key({ url: '/items/7?x=1', routePath: '/items/:id', params: { id: '7' } }),
      key({ url: '/items/7?x=2', routePath: '/items/:id', params: { id: '7' } }),
      key({ url: '/items/7:x', routePath: '/items/:id', params: { id: '7:x' } }),
      key({ url: '/other/7', routePath: '/other/:id', params: { id: '7' } }),
      key({ url: '/items' }),
      key({ url: '/items?id=7' }),
    ]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(await key({ url: '/items?b=2&a=1' })).toBe(await key({ url: '/items?a=1&b=2' }));
  });

  it('defaultKeyBuilder gives HEAD the key of GET (HEAD is answered from the GET entry)', async () => {
    const init = { url: '/items?a=1', routePath: '/items' };
    expect(await build(defaultKeyBuilder, context({ ...init, method: 'HEAD' }, 'items'))).toBe(
      await build(defaultKeyBuilder, context(init, 'items')),
    );
  });

  it('ids holding ":" or "*" never collide with other ids in any built-in builder', async () => {
    const ids = [
      '1',
      '10',
      '1:single',
      '1:list',
      '1*',
      '*',
      '1:UsersController.find',
      'list',
      'a:b',
      'a',
      'b',
      'a%3Ab',
      ':',
    ];
    const userKeys = await Promise.all(
      ids.map((id) => build(userScopedKeyBuilder, context({ user: { id } }, 'user'))),
    );
    const singleKeys = await Promise.all(
      ids.map((id) =>
        build(usersListKeyBuilder, context({ url: `/users?userId=${encodeURIComponent(id)}` }, 'users')),
      ),
    );
    const ownKeys = await Promise.all(
      ids.map((id) => build(apiKeysListKeyBuilder, context({ user: { id } }, 'apikeys'))),
    );
    for (const keys of [userKeys, singleKeys, ownKeys]) {
      expect(new Set(keys).size).toBe(ids.length);
    }
    const listKey = await build(usersListKeyBuilder, context({ url: '/users' }, 'users'));
    expect(singleKeys).not.toContain(listKey);

    const entries = async (builder: KeyBuilder, namespace: string, init: (id: string) => RequestInit) =>
      Promise.all(ids.map((id) => entryOf(builder, context(init(id), namespace))));
    const userEntries = await entries(userScopedKeyBuilder, 'user', (id) => ({ user: { id } }));
    const singleEntries = await entries(usersListKeyBuilder, 'users', (id) => ({
      url: `/users?userId=${encodeURIComponent(id)}`,
    }));
    const ownEntries = await entries(apiKeysListKeyBuilder, 'apikeys', (id) => ({ user: { id } }));
    const keyEntries = await entries(apiKeySingleKeyBuilder, 'apikey', (id) => ({
      user: { id },
      params: { keyId: 'k1' },
    }));
    for (const [i, id] of ids.entries()) {
      const user = await targets((s) => s.invalidateUser(id));
      const apiKeys = await targets((s) => s.invalidateApiKeys(id));
      for (const [j, entry] of [...userEntries, ...singleEntries].entries()) {
        expect(reaches(user, entry), `invalidateUser(${id}) vs ${entry.key}`).toBe(j % ids.length === i);
        expect(reaches(apiKeys, entry), `invalidateApiKeys(${id}) vs ${entry.key}`).toBe(false);
      }
      for (const [j, entry] of [...ownEntries, ...keyEntries].entries()) {
        expect(reaches(apiKeys, entry), `invalidateApiKeys(${id}) vs ${entry.key}`).toBe(
          j % ids.length === i,
        );
        expect(reaches(user, entry), `invalidateUser(${id}) vs ${entry.key}`).toBe(false);
      }
    }
  });
});
