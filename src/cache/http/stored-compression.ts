import { gunzipSync, gzipSync } from 'node:zlib';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { acceptsGzip } from './accept-encoding.js';
import type { CacheRequest } from './cache-key.js';
import { strongEtag } from './etag.js';

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
  if (threshold === undefined || contentType === undefined) return undefined;
  // UTF-8 takes at most three bytes per UTF-16 unit: a text this short is below the threshold, uncounted.
  if (typeof body === 'string' && body.length * 3 < threshold) return undefined;
  if (!COMPRESSIBLE.test(contentType)) return undefined;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (length < threshold || length > MAX_COMPRESSED_INPUT_BYTES) return undefined;
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

/** Largest body a stored gzip entry may inflate to; anything larger is treated as unreadable. */
const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

/** Largest body compressed on a miss: beyond it the event loop would block too long; it is stored as sent. */
export const MAX_COMPRESSED_INPUT_BYTES = 16 * 1024 * 1024;

/** The body a request gets from an entry, its tag, and how it is encoded. */
export interface Representation {
  readonly body: string | Buffer | undefined;
  readonly etag: string;
  /** The body is the stored gzip bytes (`Content-Encoding: gzip`). */
  readonly gzip: boolean;
  /** The entry has several representations (it is stored compressed): `Vary: Accept-Encoding`. */
  readonly varies: boolean;
}

/** The stored bytes of an entry (gzip bytes for a compressed one). */
function storedBytes(entry: StoredResponse): Buffer | string | undefined {
  return (
    entry.bodyBytes ?? (entry.encoding === 'base64' ? Buffer.from(entry.body ?? '', 'base64') : entry.body)
  );
}

/**
 * What `request` gets from `entry`: a compressed entry's gzip bytes as they are when the request accepts gzip,
 * else its decompressed body; any other entry's body. `undefined` when a compressed entry cannot be read (not
 * gzip, corrupt, or too large once inflated): the caller serves the request as if there were no entry.
 */
export function representationOf(entry: StoredResponse, request: CacheRequest): Representation | undefined {
  if (entry.contentEncoding !== 'gzip') {
    return { body: storedBytes(entry), etag: entry.etag, gzip: false, varies: false };
  }
  const stored = storedBytes(entry);
  if (!Buffer.isBuffer(stored) || stored.length < 18 || stored[0] !== 0x1f || stored[1] !== 0x8b)
    return undefined;
  if (acceptsGzip(request.headers['accept-encoding'])) {
    return { body: stored, etag: gzipTag(entry.etag), gzip: true, varies: true };
  }
  const body = recentlyInflated(entry.etag) ?? inflate(entry.etag, stored);
  return body === undefined ? undefined : { body, etag: entry.etag, gzip: false, varies: true };
}

/** Bytes of identity bodies kept inflated, for clients that do not accept gzip (most-recently used first). */
const INFLATED_BUDGET_BYTES = 32 * 1024 * 1024;

/**
 * Identity bodies of compressed entries, by their strong `ETag` (a hash of those very bytes, so the memo is
 * content-addressed and safe to share between entries, keys and applications), least recently used evicted
 * first once {@link INFLATED_BUDGET_BYTES} is exceeded: a hot entry asked for without gzip is inflated once,
 * not on every hit.
 */
const inflatedBodies = new Map<string, Buffer>();
let inflatedBytes = 0;

function recentlyInflated(etag: string): Buffer | undefined {
  const body = inflatedBodies.get(etag);
  if (body !== undefined) {
    inflatedBodies.delete(etag);
    inflatedBodies.set(etag, body);
  }
  return body;
}

/** The identity body of gzip bytes, checked against its tag (so a corrupt entry is never served or kept). */
function inflate(etag: string, stored: Buffer): Buffer | undefined {
  let body: Buffer;
  try {
    body = gunzipSync(stored, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    return undefined;
  }
  if (strongEtag(body) !== etag) return undefined;
  if (body.length > INFLATED_BUDGET_BYTES / 4) return body;
  inflatedBodies.set(etag, body);
  inflatedBytes += body.length;
  for (const [oldest, bytes] of inflatedBodies) {
    if (inflatedBytes <= INFLATED_BUDGET_BYTES) break;
    inflatedBodies.delete(oldest);
    inflatedBytes -= bytes.length;
  }
  return body;
}

/** What `request` gets from an entry just stored compressed, from the bytes the miss still holds. */
export function freshRepresentation(
  etag: string,
  identity: string | Buffer,
  compressed: Buffer,
  request: CacheRequest,
): Representation {
  return acceptsGzip(request.headers['accept-encoding'])
    ? { body: compressed, etag: gzipTag(etag), gzip: true, varies: true }
    : { body: identity, etag, gzip: false, varies: true };
}
