import { describe, expect, it } from 'vitest';
import {
  defaultUserIdResolver,
  encodeKeySegment,
  isValidKeyName,
  MAX_KEY_BYTES,
  normalizeParams,
  normalizeQuery,
  parseQueryPairs,
  RequestKeyContext,
  prefixScope,
  resolveStoreKey,
  scopesOf,
  toStoreKey,
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
  const normalized = (raw: string) => normalizeQuery(parseQueryPairs(raw));

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
    expect(normalized('a=%zz')).toBe('a=%25zz');
    expect(normalized('a=%')).toBe('a=%25');
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

describe('toStoreKey', () => {
  const bytes = (key: string) => Buffer.byteLength(key);

  it('places a short key under prefix and namespace unchanged', () => {
    expect(toStoreKey('cache', 'users', 'users:1:single')).toBe('cache:users:1:single');
    expect(toStoreKey('cache', 'users', 'list:page:1')).toBe('cache:users:list:page:1');
    expect(toStoreKey('cache', 'users', 'usersX:1')).toBe('cache:users:usersX:1');
    expect(toStoreKey('cache', 'users', 'users')).toBe('cache:users:_');
    expect(toStoreKey('cache', 'users', 'users:')).toBe('cache:users:_');
  });

  it('keeps a key of exactly MAX_KEY_BYTES and hashes one byte more', () => {
    const base = 'cache:users:1:';
    const exact = `users:1:${'x'.repeat(MAX_KEY_BYTES - base.length)}`;
    expect(toStoreKey('cache', 'users', exact)).toBe(`${base}${'x'.repeat(MAX_KEY_BYTES - base.length)}`);
    const over = `${exact}x`;
    const hashed = toStoreKey('cache', 'users', over);
    expect(hashed).not.toBe(`cache:users:${over.slice('users:'.length)}`);
    expect(hashed.startsWith('cache:users:1:#')).toBe(true);
  });

  it('keeps long keys within MAX_KEY_BYTES, with prefix, namespace and first segment', () => {
    const key = toStoreKey('cache', 'users', `users:42:${'x'.repeat(1000)}`);
    expect(bytes(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(key.startsWith('cache:users:42:#')).toBe(true);
  });

  it('counts bytes, not characters, for multibyte keys', () => {
    for (const tail of ['é'.repeat(150), '日'.repeat(100), '😀'.repeat(70), `a${'é'.repeat(130)}`]) {
      const built = `users:7:${tail}`;
      const key = toStoreKey('cache', 'users', built);
      expect(bytes(key), tail.slice(0, 3)).toBeLessThanOrEqual(MAX_KEY_BYTES);
      expect(key.startsWith('cache:users:7:')).toBe(true);
    }
  });

  it('keeps a multibyte first segment when it fits', () => {
    const key = toStoreKey('cache', 'users', `users:é:${'x'.repeat(400)}`);
    expect(key.startsWith('cache:users:é:#')).toBe(true);
    expect(bytes(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
  });

  it('hashes the whole rest when the first segment alone is too long', () => {
    const key = toStoreKey('cache', 'users', `users:${'h'.repeat(300)}:tail`);
    expect(key.startsWith('cache:users:#')).toBe(true);
    expect(bytes(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    const single = toStoreKey('cache', 'users', `users:${'s'.repeat(300)}`);
    expect(single.startsWith('cache:users:#')).toBe(true);
    expect(bytes(single)).toBeLessThanOrEqual(MAX_KEY_BYTES);
  });

  it('stays within MAX_KEY_BYTES with the longest prefix and namespace', () => {
    const prefix = 'p'.repeat(64);
    const namespace = 'n'.repeat(64);
    for (const built of [
      `${namespace}:${'h'.repeat(70)}:${'x'.repeat(300)}`,
      `${'é'.repeat(300)}`,
      `a:${'😀'.repeat(80)}`,
    ]) {
      const key = toStoreKey(prefix, namespace, built);
      expect(bytes(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
      expect(key.startsWith(`${prefix}:${namespace}:`)).toBe(true);
    }
  });

  it('gives different keys to different long inputs, and the same key to the same input', () => {
    const long = 'x'.repeat(400);
    const inputs = [
      `users:1:${long}a`,
      `users:1:${long}b`,
      `users:1:a${long}`,
      `users:1:${long}`,
      `users:1:${long}:`,
      `users:2:${long}a`,
      `users:${'é'.repeat(200)}`,
      `users:${'é'.repeat(201)}`,
    ];
    const keys = inputs.map((built) => toStoreKey('cache', 'users', built));
    expect(new Set(keys).size).toBe(inputs.length);
    expect(inputs.map((built) => toStoreKey('cache', 'users', built))).toEqual(keys);
  });

  it('marks hashed tails with #, which no encoded segment contains', () => {
    const hashed = toStoreKey('cache', 'users', `users:1:${'x'.repeat(400)}`);
    const tail = hashed.slice('cache:users:1:'.length);
    expect(tail.startsWith('#')).toBe(true);
    for (const value of TRICKY_VALUES) expect(encodeKeySegment(value)).not.toContain('#');
  });
});

describe('invalidation scopes', () => {
  it('gives every entry the global, namespace, owner and prefix scopes of its key', () => {
    expect(scopesOf('apikey', '5:12')).toEqual([
      '*',
      'ns:apikey',
      'own:5',
      'pre:apikey:5',
      'pre:apikey:5:12',
    ]);
    expect(scopesOf('users', 'list:page:1:size:50')).toEqual([
      '*',
      'ns:users',
      'own:list',
      'pre:users:list',
      'pre:users:list:page',
      'pre:users:list:page:1',
    ]);
    expect(scopesOf('x', '_')).toEqual(['*', 'ns:x', 'pre:x:_']);
  });

  it('targets exact prefixes: 5 never covers 50, and deep scopes widen to three segments', () => {
    const of5 = scopesOf('apikey', '50:1');
    expect(of5).not.toContain(prefixScope('apikey', ['5']));
    expect(scopesOf('apikey', '5:1')).toContain(prefixScope('apikey', ['5']));
    expect(scopesOf('users', 'list:page:1:size:50')).toContain(
      prefixScope('users', ['list', 'page', '1', 'size']),
    );
    expect(prefixScope('items', [])).toBe('ns:items');
  });

  it('derives scopes from the key before hashing, so long keys stay invalidatable', () => {
    const long = 'x'.repeat(400);
    const { key, scopes } = resolveStoreKey('p', 'users', `users:7:${long}`);
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(scopes).toContain('own:7');
    expect(scopes).toContain('pre:users:7');
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
    const list = resolveStoreKey(
      'cache',
      'users',
      (await build(usersListKeyBuilder, context({ url: '/users' }, 'users'))) ?? '',
    ).scopes;
    const single = resolveStoreKey(
      'cache',
      'users',
      (await build(usersListKeyBuilder, context({ url: '/users?userId=5' }, 'users'))) ?? '',
    ).scopes;
    expect(list).toContain(prefixScope('users', ['list']));
    expect(single).not.toContain(prefixScope('users', ['list']));
    expect(single).toContain(`own:${encodeKeySegment(5)}`);
    expect(list).not.toContain(`own:${encodeKeySegment(5)}`);
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

    for (const [i, id] of ids.entries()) {
      const owner = `own:${encodeKeySegment(id)}`;
      for (const [j, built] of [...userKeys, ...singleKeys, ...ownKeys].entries()) {
        const namespace = built?.slice(0, built.indexOf(':')) ?? '';
        const { scopes } = resolveStoreKey('cache', namespace, built ?? '');
        expect(scopes.includes(owner), `owner ${id} vs ${built}`).toBe(j % ids.length === i);
      }
    }
  });
});
