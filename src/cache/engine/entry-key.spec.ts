import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { KeySpace, MAX_KEY_BYTES, MAX_SCOPE_DEPTH, restOf, Scopes } from './entry-key.js';
import { encodeKeySegment } from './key-segment.js';

const bytes = (key: string) => Buffer.byteLength(key);
const sha = (text: string) => createHash('sha256').update(text).digest('base64url');

/** A hashed key: the base, `#`, then the 43 base64url characters of a SHA-256. */
const HASHED = /#[A-Za-z0-9_-]{43}$/;

describe('restOf', () => {
  it('drops the leading `namespace:` of a built key', () => {
    expect(restOf('users', 'users:1:single')).toBe('1:single');
    expect(restOf('users', 'users:list:page:1')).toBe('list:page:1');
    expect(restOf('a*', 'a*:x')).toBe('x');
    expect(restOf('user:evil', 'user:evil:x')).toBe('x');
  });

  it('keeps a key that does not start with `namespace:` whole', () => {
    expect(restOf('users', 'list:page:1')).toBe('list:page:1');
    expect(restOf('users', 'usersX:1')).toBe('usersX:1');
    expect(restOf('user', 'users:1')).toBe('users:1');
    expect(restOf('a', 'a*:x')).toBe('a*:x');
  });

  it('gives `_` when nothing is left', () => {
    expect(restOf('users', 'users')).toBe('_');
    expect(restOf('users', 'users:')).toBe('_');
    expect(restOf('users', '')).toBe('_');
  });
});

describe('Scopes', () => {
  it('names every entry, a namespace, a key prefix and a tag', () => {
    expect(Scopes.all).toBe('*');
    expect(Scopes.namespace('users')).toBe('n:users');
    expect(Scopes.prefix('users', ['list'])).toBe('p:users:list');
    expect(Scopes.prefix('apikey', ['5', '12'])).toBe('p:apikey:5:12');
    expect(Scopes.tag('user:7')).toBe('t:user%3A7');
  });

  it('treats a prefix without segments as the namespace', () => {
    expect(Scopes.prefix('items', [])).toBe(Scopes.namespace('items'));
  });

  it(`matches at most ${MAX_SCOPE_DEPTH} segments: deeper prefixes widen to their first three`, () => {
    expect(MAX_SCOPE_DEPTH).toBe(3);
    expect(Scopes.prefix('users', ['list', 'page', '1', 'size', '50'])).toBe('p:users:list:page:1');
  });

  it('encodes namespaces and tags, so no character of theirs reads as a separator or a pattern', () => {
    expect(Scopes.namespace('a*')).toBe('n:a%2A');
    expect(Scopes.namespace('user:evil')).toBe('n:user%3Aevil');
    expect(Scopes.prefix('user:evil', ['x'])).toBe('p:user%3Aevil:x');
    expect(Scopes.namespace('日本')).toBe(`n:${encodeKeySegment('日本')}`);
    expect(Scopes.tag('*')).toBe('t:%2A');
    expect(Scopes.tag('a b')).toBe('t:a%20b');
  });
});

describe('KeySpace', () => {
  const space = new KeySpace('cache');

  it('names the clock, entries, locks and records under the prefix', () => {
    expect(space.prefix).toBe('cache');
    expect(space.clockKey).toBe('cache:@clock');
    const key = space.entry('users', 'users:1:single');
    expect(key.key).toBe('cache:@e:users:1:single');
    expect(key.lockKey).toBe('cache:@l:users:1:single');
    expect(space.record(Scopes.all)).toBe('cache:@s:*');
    expect(space.record(Scopes.namespace('users'))).toBe('cache:@s:n:users');
  });

  it('gives an entry the records of everything, its namespace and its key prefixes', () => {
    expect(space.entry('users', 'users:1:single').recordKeys).toEqual([
      'cache:@s:*',
      'cache:@s:n:users',
      'cache:@s:p:users:1',
      'cache:@s:p:users:1:single',
    ]);
    expect(space.entry('apikeys', 'apikeys:5').recordKeys).toEqual([
      'cache:@s:*',
      'cache:@s:n:apikeys',
      'cache:@s:p:apikeys:5',
    ]);
  });

  it(`stops the prefixes at depth ${MAX_SCOPE_DEPTH}`, () => {
    const key = space.entry('users', 'users:list:page:1:size:50');
    expect(key.key).toBe('cache:@e:users:list:page:1:size:50');
    expect(key.recordKeys).toEqual([
      'cache:@s:*',
      'cache:@s:n:users',
      'cache:@s:p:users:list',
      'cache:@s:p:users:list:page',
      'cache:@s:p:users:list:page:1',
    ]);
    // What invalidateScope('users', 'list', 'page', '1', 'size') targets is among them.
    expect(key.recordKeys).toContain(space.record(Scopes.prefix('users', ['list', 'page', '1', 'size'])));
  });

  it('gives the keys of one route the same prefix records, whatever it remembered before', () => {
    const busy = new KeySpace('cache');
    // Past the bounds of what a space remembers (10,000 key heads, 10,000 namespaces), then back to the first.
    for (let i = 0; i < 12_000; i++) busy.entry(`ns${i % 11_000}`, `GET:%2Fitems%2F${i}:p=:q=`);
    for (const built of ['GET:%2Fitems%2F1:p=:q=', 'GET:%2Fitems%2F1:p=', 'GET', 'GET:a:b:c:d', 'a::b']) {
      for (const kind of ['response', 'value'] as const) {
        expect(busy.entry('ns1', built, [], kind).recordKeys).toEqual(
          new KeySpace('cache').entry('ns1', built, [], kind).recordKeys,
        );
      }
    }
    const first = busy.entry('users', 'users:GET:%2Fusers::k=1').recordKeys;
    const second = busy.entry('users', 'users:GET:%2Fusers::k=2').recordKeys;
    expect(second).toEqual(first);
    expect(first).toEqual([
      'cache:@s:*',
      'cache:@s:n:users',
      'cache:@s:p:users:GET',
      'cache:@s:p:users:GET:%2Fusers',
      'cache:@s:p:users:GET:%2Fusers:',
    ]);
  });

  it('places a key built without its namespace, or holding nothing else, under the namespace', () => {
    expect(space.entry('users', 'list:page:1').key).toBe('cache:@e:users:list:page:1');
    expect(space.entry('users', 'usersX:1').key).toBe('cache:@e:users:usersX:1');
    const bare = space.entry('users', 'users');
    expect(bare.key).toBe('cache:@e:users:_');
    expect(bare.recordKeys).toEqual(['cache:@s:*', 'cache:@s:n:users', 'cache:@s:p:users:_']);
    expect(space.entry('users', 'users:').key).toBe(bare.key);
  });

  it('reads the entry, the clock and the records, in that order', () => {
    const key = space.entry('users', 'users:5:single', ['user:5']);
    expect(key.readKeys).toEqual([key.key, space.clockKey, ...key.recordKeys]);
  });

  it('targets exact prefixes: 5 never covers 50', () => {
    const five = space.record(Scopes.prefix('apikey', ['5']));
    expect(space.entry('apikey', 'apikey:5:1').recordKeys).toContain(five);
    expect(space.entry('apikey', 'apikey:50:1').recordKeys).not.toContain(five);
    expect(space.entry('apikey', 'apikey:5').recordKeys).toContain(five);
  });

  it('keeps prefixes apart', () => {
    const a = new KeySpace('a').entry('ns', 'ns:x');
    const b = new KeySpace('b').entry('ns', 'ns:x');
    for (const name of [...a.readKeys, a.lockKey]) expect(name.startsWith('a:@')).toBe(true);
    for (const name of [...b.readKeys, b.lockKey]) expect(name.startsWith('b:@')).toBe(true);
  });

  describe('namespaces, taken literally and encoded injectively', () => {
    it('tells the namespace `user:evil` from the namespace `user` with the segment `evil`', () => {
      const evil = space.entry('user:evil', 'user:evil:x');
      const user = space.entry('user', 'user:evil:x');
      expect(evil.key).toBe('cache:@e:user%3Aevil:x');
      expect(user.key).toBe('cache:@e:user:evil:x');
      expect(evil.recordKeys).not.toContain(space.record(Scopes.namespace('user')));
      expect(evil.recordKeys).not.toContain(space.record(Scopes.prefix('user', ['evil'])));
      expect(user.recordKeys).not.toContain(space.record(Scopes.namespace('user:evil')));
      expect(evil.recordKeys).toContain(space.record(Scopes.namespace('user:evil')));
      expect(user.recordKeys).toContain(space.record(Scopes.prefix('user', ['evil'])));
    });

    it('tells `a*` from `a`: a glob character widens nothing', () => {
      const star = space.entry('a*', 'a*:1');
      const plain = space.entry('a', 'a:1');
      expect(star.key).toBe('cache:@e:a%2A:1');
      expect(star.key).not.toBe(plain.key);
      expect(star.recordKeys).not.toContain(space.record(Scopes.namespace('a')));
      expect(plain.recordKeys).not.toContain(space.record(Scopes.namespace('a*')));
      expect(plain.recordKeys).toContain(space.record(Scopes.namespace('a')));
    });

    it('gives distinct namespaces distinct keys and records, unicode and 128-byte names included', () => {
      const namespaces = [
        'users',
        'user',
        'user:evil',
        'user%3Aevil',
        'a',
        'a*',
        'a?',
        'a[1]',
        'a b',
        '*',
        ':',
        '日本',
        'e\u0301',
        'é',
        '😀',
        '\uD800',
        '\uDC00',
        'n'.repeat(128),
        'n'.repeat(127),
        'é'.repeat(64),
        '日'.repeat(42),
        '😀'.repeat(32),
      ];
      for (const ns of namespaces.slice(-5)) expect(bytes(ns)).toBeGreaterThanOrEqual(126);
      const entries = new Set<string>();
      const records = new Set<string>();
      for (const ns of namespaces) {
        const key = space.entry(ns, `${ns}:x`);
        entries.add(key.key);
        records.add(space.record(Scopes.namespace(ns)));
        expect(key.recordKeys).toContain(space.record(Scopes.namespace(ns)));
        for (const name of [...key.readKeys, key.lockKey]) {
          expect(bytes(name), ns).toBeLessThanOrEqual(MAX_KEY_BYTES);
          if (name === space.record(Scopes.all)) continue;
          // Nothing raw: no glob character, no space, no non-ASCII.
          expect(name, ns).toMatch(/^cache:@[A-Za-z0-9_.~%:#-]+$/);
        }
        expect(key.key.startsWith(`cache:@e:${encodeKeySegment(ns)}:`) || HASHED.test(key.key)).toBe(true);
      }
      expect(entries.size).toBe(namespaces.length);
      expect(records.size).toBe(namespaces.length);
    });

    it('keeps every name of a 128-byte namespace within MAX_KEY_BYTES, with its scopes', () => {
      const ns = 'é'.repeat(64);
      const key = space.entry(ns, `${ns}:7:${'x'.repeat(300)}`);
      expect(key.key).toMatch(HASHED);
      for (const name of [...key.readKeys, key.lockKey])
        expect(bytes(name)).toBeLessThanOrEqual(MAX_KEY_BYTES);
      expect(key.recordKeys).toContain(space.record(Scopes.namespace(ns)));
      expect(key.recordKeys).toContain(space.record(Scopes.prefix(ns, ['7'])));
    });
  });

  describe('long keys', () => {
    const base = 'cache:@e:users:';

    it(`keeps a key of exactly ${MAX_KEY_BYTES} bytes and hashes one of a byte more`, () => {
      const fill = 'x'.repeat(MAX_KEY_BYTES - base.length);
      const exact = space.entry('users', `users:${fill}`);
      expect(exact.key).toBe(`${base}${fill}`);
      expect(bytes(exact.key)).toBe(MAX_KEY_BYTES);
      const over = space.entry('users', `users:${fill}x`);
      expect(over.key).toBe(`cache:@e:#${sha(`users:${fill}x`)}`);
      expect(bytes(over.key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    });

    it('counts bytes, not characters', () => {
      // 130 characters, 260 bytes: with the base, past the bound in bytes only.
      const rest = 'é'.repeat(130);
      const key = space.entry('users', `users:${rest}`);
      expect(base.length + rest.length).toBeLessThan(MAX_KEY_BYTES);
      expect(bytes(base + rest)).toBeGreaterThan(MAX_KEY_BYTES);
      expect(key.key).toBe(`cache:@e:#${sha(`users:${rest}`)}`);
      for (const tail of ['日'.repeat(81), '😀'.repeat(61), `a${'é'.repeat(121)}`]) {
        expect(bytes(`${base}${tail}`)).toBeGreaterThan(MAX_KEY_BYTES);
        expect(space.entry('users', `users:${tail}`).key).toMatch(HASHED);
      }
      // Multibyte but within the bound: kept as it is.
      const fits = 'é'.repeat(Math.floor((MAX_KEY_BYTES - base.length) / 2));
      expect(space.entry('users', `users:${fits}`).key).toBe(`${base}${fits}`);
    });

    it('hashes record keys past the bound too', () => {
      const tag = 't'.repeat(MAX_KEY_BYTES);
      const record = space.record(Scopes.tag(tag));
      expect(record).toBe(`cache:@s:#${sha(Scopes.tag(tag))}`);
      const short = 'x'.repeat(MAX_KEY_BYTES - 'cache:@s:t:'.length);
      expect(space.record(Scopes.tag(short))).toBe(`cache:@s:t:${short}`);
    });

    it('computes scopes before hashing, so a long key stays invalidatable', () => {
      const key = space.entry('users', `users:7:${'x'.repeat(400)}`, ['user:7']);
      expect(key.key).toMatch(HASHED);
      expect(key.lockKey).toMatch(HASHED);
      expect(key.lockKey).not.toBe(key.key);
      expect(key.recordKeys).toEqual([
        'cache:@s:*',
        'cache:@s:n:users',
        'cache:@s:p:users:7',
        `cache:@s:#${sha(`p:users:7:${'x'.repeat(400)}`)}`,
        'cache:@s:t:user%3A7',
      ]);
    });

    it('stays within the bound with a 64-character prefix', () => {
      const long = new KeySpace('p'.repeat(64));
      const key = long.entry('n'.repeat(128), `${'h'.repeat(70)}:${'x'.repeat(300)}`, ['t'.repeat(500)]);
      for (const name of [...key.readKeys, key.lockKey]) {
        expect(bytes(name)).toBeLessThanOrEqual(MAX_KEY_BYTES);
        expect(name.startsWith(`${'p'.repeat(64)}:@`)).toBe(true);
      }
    });

    it('gives different long keys different names, and the same key the same name', () => {
      const long = 'x'.repeat(400);
      const built = [
        `users:1:${long}a`,
        `users:1:${long}b`,
        `users:1:a${long}`,
        `users:1:${long}`,
        `users:1:${long}:`,
        `users:2:${long}a`,
        `users:${'é'.repeat(200)}`,
        `users:${'é'.repeat(201)}`,
      ];
      const keys = built.map((b) => space.entry('users', b).key);
      expect(new Set(keys).size).toBe(built.length);
      expect(built.map((b) => space.entry('users', b).key)).toEqual(keys);
      // The same long key in another namespace is another entry.
      expect(space.entry('users2', `users:1:${long}a`).key).not.toBe(keys[0]);
    });

    it('never makes a hashed name equal a literal one: `#` occurs in no encoded part', () => {
      for (const value of [':', '*', '#', '%23', 'a#b', '日本', '']) {
        expect(encodeKeySegment(value)).not.toContain('#');
      }
      const hashed = space.entry('users', `users:${'x'.repeat(400)}`).key;
      const hash = hashed.slice('cache:@e:'.length);
      expect(hash.startsWith('#')).toBe(true);
      // A builder may return `#` itself, but after the encoded namespace: never at the hashed position.
      expect(space.entry('users', hash).key).toBe(`cache:@e:users:${hash}`);
    });
  });

  describe('tags', () => {
    it('adds one record per tag, after the key scopes, deduplicated', () => {
      const key = space.entry('users', 'users:list', ['a', 'user:7', 'a', 'user:7', 'b']);
      expect(key.recordKeys).toEqual([
        'cache:@s:*',
        'cache:@s:n:users',
        'cache:@s:p:users:list',
        'cache:@s:t:a',
        'cache:@s:t:user%3A7',
        'cache:@s:t:b',
      ]);
      expect(key.readKeys).toHaveLength(2 + key.recordKeys.length);
    });

    it('gives tags and key prefixes different records even when their text is alike', () => {
      const key = space.entry('users', 'users:7', ['n:users', 'p:users:7', '*']);
      expect(new Set(key.recordKeys).size).toBe(key.recordKeys.length);
      expect(key.recordKeys).toHaveLength(6);
    });

    it('tagRecords gives the record of each tag, in order, as entry() does', () => {
      const tags = ['user:7', 'b', 'user:7'];
      expect(space.tagRecords(tags)).toEqual(['cache:@s:t:user%3A7', 'cache:@s:t:b', 'cache:@s:t:user%3A7']);
      expect(space.tagRecords([])).toEqual([]);
      for (const record of space.tagRecords(tags)) {
        expect(space.entry('x', 'x:1', tags).recordKeys).toContain(record);
      }
    });

    it('tagRecords memoizes: a repeated tag is encoded once', () => {
      const fresh = new KeySpace('memo');
      const record = vi.spyOn(fresh, 'record');
      expect(fresh.tagRecords(['a', 'b'])).toEqual(['memo:@s:t:a', 'memo:@s:t:b']);
      expect(fresh.tagRecords(['a', 'b', 'a'])).toEqual(['memo:@s:t:a', 'memo:@s:t:b', 'memo:@s:t:a']);
      expect(record).toHaveBeenCalledTimes(2);
    });

    it('tagRecords stays right past the size of its memo', () => {
      const fresh = new KeySpace('memo');
      const tags = Array.from({ length: 25_000 }, (_, i) => `tag-${i}`);
      expect(tags.map((tag) => fresh.tagRecords([tag])[0])).toEqual(tags.map((tag) => `memo:@s:t:${tag}`));
      expect(fresh.tagRecords(['tag-0', 'tag-24999'])).toEqual(['memo:@s:t:tag-0', 'memo:@s:t:tag-24999']);
    });
  });
});
