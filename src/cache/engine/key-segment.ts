const EXTRA_RESERVED = /[!'()*]/g;
/** Text that encodes to itself: what `encodeURIComponent` leaves alone, but for `!'()*`. */
const UNRESERVED = /^[A-Za-z0-9_.~-]*$/;

/**
 * Encodes one value for use inside a key: the result never contains `:`, `*`, `?`, `[`, `]`, `#`, `&`, `=`,
 * spaces or non-ASCII characters, and distinct inputs give distinct outputs.
 */
export function encodeKeySegment(value: string | number): string {
  const text = typeof value === 'string' ? value : String(value);
  if (UNRESERVED.test(text)) return text;
  let encoded: string;
  try {
    encoded = encodeURIComponent(text);
  } catch {
    encoded = encodeWithLoneSurrogates(text);
  }
  return encoded.replace(EXTRA_RESERVED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `encodeURIComponent` for text holding unpaired UTF-16 surrogates, which it refuses: each lone surrogate
 * becomes its WTF-8 bytes, so results stay distinct.
 */
function encodeWithLoneSurrogates(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const isHigh = unit >= 0xd800 && unit <= 0xdbff;
    const isLow = unit >= 0xdc00 && unit <= 0xdfff;
    const next = text.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (isHigh || isLow) {
      // WTF-8 bytes of the code unit: valid UTF-8 never holds them, so no real character encodes the same.
      for (const byte of [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)]) {
        out += `%${byte.toString(16).toUpperCase()}`;
      }
    } else {
      out += encodeURIComponent(text[i] ?? '');
    }
  }
  return out;
}
