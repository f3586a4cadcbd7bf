import { gunzipSync, gzipSync } from 'node:zlib';
import type { StoredResponse } from '../stores/cache-store.interface.js';

/** Types worth compressing: text, JSON, XML, JavaScript, SVG (images and archives are compressed already). */
const COMPRESSIBLE =
  /^\s*(?:text\/|application\/(?:json|javascript|ecmascript|xml|x-ndjson|[a-z0-9.!#$&^_-]*\+(?:json|xml))|image\/svg\+xml)/i;

/** zlib's default level: what the compression plugins produce, at a fraction of the higher levels' cost. */
const GZIP_LEVEL = 6;

/** A compressed body is kept only when it saves at least a tenth of the bytes. */
const WORTHWHILE = 0.9;

/**
 * The gzip bytes to store for a response body, or `undefined` when it stays as it is: smaller than
 * `threshold`, a type that does not compress, or bytes that do not shrink.
 */
export function compressForStorage(
  body: string | Buffer,
  contentType: string | undefined,
  threshold: number | undefined,
): Buffer | undefined {
  if (threshold === undefined || contentType === undefined || !COMPRESSIBLE.test(contentType))
    return undefined;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (length < threshold) return undefined;
  const compressed = gzipSync(body, { level: GZIP_LEVEL });
  return compressed.length < length * WORTHWHILE ? compressed : undefined;
}

/**
 * The entity tag of an entry's gzip representation: its own (RFC 9110 8.8.3), derived from the identity
 * body's, so every process names the same bytes alike.
 */
export function gzipTag(etag: string): string {
  return `${etag.slice(0, -1)}.gz"`;
}

/** The stored bytes of an entry (gzip bytes for a compressed one). */
export function storedBytes(entry: StoredResponse): Buffer | string | undefined {
  return (
    entry.bodyBytes ?? (entry.encoding === 'base64' ? Buffer.from(entry.body ?? '', 'base64') : entry.body)
  );
}

/** The identity body of a compressed entry. */
export function decompressed(entry: StoredResponse): Buffer {
  const stored = storedBytes(entry);
  return gunzipSync(typeof stored === 'string' ? Buffer.from(stored, 'base64') : (stored ?? Buffer.alloc(0)));
}
