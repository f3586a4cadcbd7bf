import { describe, expect, it } from 'vitest';
import { parseRequestDirectives, responseForbidsStore } from './request-directives.js';

type Headers = Record<string, string | string[] | undefined>;

const directives = (headers: Headers) => {
  const { noCache, noStore } = parseRequestDirectives(headers);
  return { noCache, noStore };
};

const NONE = { noCache: false, noStore: false };
const NO_CACHE = { noCache: true, noStore: false };
const NO_STORE = { noCache: false, noStore: true };

describe('parseRequestDirectives', () => {
  it('asks nothing of the cache without Cache-Control or Pragma', () => {
    expect(directives({})).toEqual(NONE);
    expect(directives({ 'cache-control': undefined, pragma: undefined, accept: '*/*' })).toEqual(NONE);
  });

  it('reads no-cache, no-store and both', () => {
    expect(directives({ 'cache-control': 'no-cache' })).toEqual(NO_CACHE);
    expect(directives({ 'cache-control': 'no-store' })).toEqual(NO_STORE);
    expect(directives({ 'cache-control': 'no-cache, no-store' })).toEqual({ noCache: true, noStore: true });
    expect(directives({ 'cache-control': 'no-store,no-cache' })).toEqual({ noCache: true, noStore: true });
  });

  it('is case-insensitive and tolerates whitespace', () => {
    expect(directives({ 'cache-control': 'No-Cache' })).toEqual(NO_CACHE);
    expect(directives({ 'cache-control': '  NO-STORE  ' })).toEqual(NO_STORE);
    expect(directives({ 'cache-control': 'public ,  no-cache ' })).toEqual(NO_CACHE);
    expect(directives({ 'cache-control': 'MAX-AGE=0, NO-CACHE' })).toEqual(NO_CACHE);
  });

  it('treats max-age=0 (a browser revalidation) and other ages as nothing: only no-cache refreshes', () => {
    expect(directives({ 'cache-control': 'max-age=0' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-age="0"' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-age=60' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-age=abc' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-age' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-stale=0' })).toEqual(NONE);
    expect(directives({ 'cache-control': 's-maxage=0' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'max-age=0, no-cache' })).toEqual(NO_CACHE);
  });

  it('ignores unknown directives and near-miss names', () => {
    expect(directives({ 'cache-control': 'only-if-cached, no-transform' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'x-no-cache, no-cachex, no-store-please' })).toEqual(NONE);
    expect(directives({ 'cache-control': 'private, public' })).toEqual(NONE);
    expect(directives({ 'cache-control': '' })).toEqual(NONE);
    expect(directives({ 'cache-control': ',,' })).toEqual(NONE);
  });

  it('reads header lists given as arrays', () => {
    expect(directives({ 'cache-control': ['max-age=10', 'no-store'] })).toEqual(NO_STORE);
    expect(directives({ 'cache-control': ['public', 'No-Cache'] })).toEqual(NO_CACHE);
    expect(directives({ 'cache-control': [] })).toEqual(NONE);
  });

  it('reads Pragma: no-cache as no-cache', () => {
    expect(directives({ pragma: 'no-cache' })).toEqual(NO_CACHE);
    expect(directives({ pragma: 'No-Cache' })).toEqual(NO_CACHE);
    expect(directives({ pragma: 'foo, no-cache' })).toEqual(NO_CACHE);
    expect(directives({ pragma: ['foo', 'no-cache'] })).toEqual(NO_CACHE);
    expect(directives({ pragma: 'foo' })).toEqual(NONE);
    expect(directives({ pragma: 'no-cachex' })).toEqual(NONE);
  });

  it('combines Pragma with Cache-Control', () => {
    expect(directives({ 'cache-control': 'no-store', pragma: 'no-cache' })).toEqual({
      noCache: true,
      noStore: true,
    });
    expect(directives({ 'cache-control': 'max-age=60', pragma: 'no-cache' })).toEqual(NO_CACHE);
    expect(directives({ 'cache-control': 'no-cache', pragma: 'foo' })).toEqual(NO_CACHE);
  });

  it('returns results that callers cannot alter', () => {
    const none = parseRequestDirectives({});
    expect(Object.isFrozen(none)).toBe(true);
    expect(parseRequestDirectives({ 'cache-control': 'max-age=60' })).toEqual(none);
  });
});

describe('responseForbidsStore', () => {
  it('forbids storing no-store responses, shared or not', () => {
    expect(responseForbidsStore('no-store', false)).toBe(true);
    expect(responseForbidsStore('no-store', true)).toBe(true);
    expect(responseForbidsStore('max-age=0, No-Store', false)).toBe(true);
    expect(responseForbidsStore('public,NO-STORE', true)).toBe(true);
  });

  it('forbids storing private responses under a shared key only', () => {
    expect(responseForbidsStore('private', true)).toBe(true);
    expect(responseForbidsStore('private', false)).toBe(false);
    expect(responseForbidsStore('PRIVATE, max-age=60', true)).toBe(true);
    expect(responseForbidsStore('private="Set-Cookie"', true)).toBe(true);
    expect(responseForbidsStore(' private ', true)).toBe(true);
  });

  it('allows everything else', () => {
    expect(responseForbidsStore('', true)).toBe(false);
    expect(responseForbidsStore('public, max-age=60', true)).toBe(false);
    expect(responseForbidsStore('no-cache', true)).toBe(false);
    expect(responseForbidsStore('max-age=0', true)).toBe(false);
    expect(responseForbidsStore('privateish, no-storex', true)).toBe(false);
  });
});
