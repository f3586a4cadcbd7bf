import { describe, expect, it } from 'vitest';
import { encodeKeySegment } from './key-segment.js';

/** The encoding spelled out: percent-encoding, `!'()*` included. */
function reference(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

describe('encodeKeySegment', () => {
  it('returns text made only of unreserved characters as it is, and encodes everything else', () => {
    for (const text of ['', 'abc', 'A-Z_0.9~', 'users', '12345']) expect(encodeKeySegment(text)).toBe(text);
    expect(encodeKeySegment(42)).toBe('42');
    expect(encodeKeySegment(-1.5)).toBe('-1.5');
    for (const text of ["a'b", 'a*', '(x)', 'a!', 'a:b', 'a b', 'é', '%', '?', '[a]', 'a/b']) {
      expect(encodeKeySegment(text), text).toBe(reference(text));
      expect(encodeKeySegment(text), text).toContain('%');
    }
  });

  it('matches the spelled-out encoding on random text', () => {
    const alphabet = "aZ09_.~-!'()*: %?[]#&=/\\é😀\u0000";
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      let text = '';
      const length = Math.floor(random() * 8);
      for (let j = 0; j < length; j++) text += [...alphabet][Math.floor(random() * [...alphabet].length)];
      expect(encodeKeySegment(text), JSON.stringify(text)).toBe(reference(text));
    }
  });
});
