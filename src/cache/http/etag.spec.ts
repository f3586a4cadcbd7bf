import { describe, expect, it } from 'vitest';
import { ifNoneMatchHits, strongEtag } from './etag.js';

describe('strongEtag', () => {
  it('is a quoted strong tag, never weak', () => {
    for (const body of ['', 'hello', '{"a":1}', Buffer.from([0, 1, 2, 255]), undefined]) {
      const etag = strongEtag(body);
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(etag.startsWith('W/')).toBe(false);
    }
  });

  it('is stable for equal content', () => {
    expect(strongEtag('hello')).toBe(strongEtag('hello'));
    expect(strongEtag('{"id":1}')).toBe(strongEtag(`{"id":${1}}`));
    // A known value: the hash of the bytes, so it is the same in every process and after a restart.
    expect(strongEtag('')).toBe('"2jmj7l5rSw0yVb_vlWAYkK_YBwk"');
  });

  it('is equal for a string and a Buffer of the same UTF-8 bytes', () => {
    for (const text of ['', 'hello', 'héllo wörld', '日本語 😀', '{"a":[1,2,3]}']) {
      expect(strongEtag(Buffer.from(text, 'utf8')), text).toBe(strongEtag(text));
    }
  });

  it('treats a missing body as an empty one', () => {
    expect(strongEtag(undefined)).toBe(strongEtag(''));
    expect(strongEtag(undefined)).toBe(strongEtag(Buffer.alloc(0)));
  });

  it('differs for different content', () => {
    const bodies = ['a', 'b', 'A', 'a ', ' a', 'héllo', 'hello', '{"a":1}', '{"a":2}', ''];
    const tags = new Set(bodies.map((body) => strongEtag(body)));
    expect(tags.size).toBe(bodies.length);
    expect(strongEtag(Buffer.from('héllo', 'latin1'))).not.toBe(strongEtag('héllo'));
  });
});

describe('ifNoneMatchHits', () => {
  const etag = strongEtag('body');
  const other = strongEtag('other');

  it('misses without the header', () => {
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
    expect(ifNoneMatchHits('', etag)).toBe(false);
    expect(ifNoneMatchHits([], etag)).toBe(false);
  });

  it('hits the exact tag and misses another', () => {
    expect(ifNoneMatchHits(etag, etag)).toBe(true);
    expect(ifNoneMatchHits(other, etag)).toBe(false);
    expect(ifNoneMatchHits(etag.slice(1, -1), etag)).toBe(false);
    expect(ifNoneMatchHits('"x"', '"xy"')).toBe(false);
    expect(ifNoneMatchHits('"xy"', '"x"')).toBe(false);
  });

  it('finds the tag in a list, with or without spaces', () => {
    expect(ifNoneMatchHits(`${other}, ${etag}`, etag)).toBe(true);
    expect(ifNoneMatchHits(`${etag},${other}`, etag)).toBe(true);
    expect(ifNoneMatchHits(`  ${other} ,   ${etag}  `, etag)).toBe(true);
    expect(ifNoneMatchHits(`${other}, "nope"`, etag)).toBe(false);
  });

  it('compares weakly: W/ prefixes on either side are ignored', () => {
    expect(ifNoneMatchHits(`W/${etag}`, etag)).toBe(true);
    expect(ifNoneMatchHits(etag, `W/${etag}`)).toBe(true);
    expect(ifNoneMatchHits(`W/${etag}`, `W/${etag}`)).toBe(true);
    expect(ifNoneMatchHits(`${other}, W/${etag}`, etag)).toBe(true);
    expect(ifNoneMatchHits(`W/${other}`, etag)).toBe(false);
  });

  it('hits on * alone', () => {
    expect(ifNoneMatchHits('*', etag)).toBe(true);
    expect(ifNoneMatchHits(' * ', etag)).toBe(true);
    expect(ifNoneMatchHits(['*'], etag)).toBe(true);
  });

  it('reads a header given as an array of lines', () => {
    expect(ifNoneMatchHits([other, etag], etag)).toBe(true);
    expect(ifNoneMatchHits([`${other}, W/${etag}`], etag)).toBe(true);
    expect(ifNoneMatchHits([other], etag)).toBe(false);
    expect(ifNoneMatchHits([other, '"nope"'], etag)).toBe(false);
  });
});
