import { isVaryRecord, type VaryRecord } from '../http/vary.js';
/** One cached response, exactly as it was sent. Plain data only: safe to serialize and share. */
export interface StoredResponse {
  /** HTTP status of the response that was stored (2xx). */
  readonly status: number;
  /** `Content-Type` header, or `undefined` when the response had none. */
  readonly contentType: string | undefined;
  /** The body as sent; `undefined` for a response sent without a body. */
  readonly body: string | undefined;
  /** `base64` when the body was binary and `body` holds its base64 text. */
  readonly encoding?: 'base64';
  /**
   * `gzip` when the body is stored compressed (`body` then holds the base64 of the gzip bytes); `etag` is the
   * identity body's tag either way.
   */
  readonly contentEncoding?: 'gzip';
  /** Strong entity tag of the body, quoted. */
  readonly etag: string;
  /** Epoch milliseconds until which the entry is fresh. */
  readonly expiresAt: number;
  /** Epoch milliseconds until which a stale entry may still be served (grace); `expiresAt` without grace. */
  readonly staleUntil: number;
  /**
   * The invalidation clock's tick read before the value was computed: the entry is valid while every record it
   * depends on exists and holds a tick no later than this one (docs/storage-model.md).
   */
  readonly tick: number;
  /** How long the handler took, in milliseconds (for early refresh). */
  readonly computeMs: number;
  /** Tags computed from the result (`@Cached({ tags })`), checked after the entry is read. */
  readonly tags?: readonly string[];
  /**
   * The request headers the response's own `Vary` named, with the values of the request it was made for: the
   * entry answers only requests whose values match (RFC 9111 4.1).
   */
  readonly vary?: VaryRecord;
  /**
   * The body's bytes, kept by in-process stores so that a hit sends them as they are (no encoding per hit).
   * Never serialized: Redis holds `body` only.
   */
  readonly bodyBytes?: Buffer;
}

/** Backend names, as reported to health checks. */
export type CacheBackendName = 'redis' | 'memory' | 'memory-fallback';

/**
 * An entry store without invalidation metadata (the memory LRU). Reads answer synchronously so that the hit
 * path allocates no promise. Entries are never deleted by invalidation (see docs/storage-model.md): they expire.
 */
export interface CacheStore {
  get(key: string): StoredResponse | undefined | Promise<StoredResponse | undefined>;
  set(key: string, value: StoredResponse, ttlMs: number): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * Whether `value` has the shape of a {@link StoredResponse}; anything else read from a store is a miss. Store
 * contents are untrusted: an own `__proto__` key (JSON.parse keeps it, and Object.assign would make it the
 * prototype of a copy) and a tick that is not a safe integer (`1e400` would outrank every invalidation) are
 * refused.
 */
export function isStoredResponse(value: unknown): value is StoredResponse {
  if (
    value === null ||
    typeof value !== 'object' ||
    Object.prototype.hasOwnProperty.call(value, '__proto__')
  ) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return (
    typeof v['status'] === 'number' &&
    typeof v['etag'] === 'string' &&
    typeof v['expiresAt'] === 'number' &&
    typeof v['staleUntil'] === 'number' &&
    Number.isSafeInteger(v['tick']) &&
    typeof v['computeMs'] === 'number' &&
    (v['body'] === undefined || typeof v['body'] === 'string') &&
    (v['contentType'] === undefined || typeof v['contentType'] === 'string') &&
    (v['encoding'] === undefined || v['encoding'] === 'base64') &&
    (v['contentEncoding'] === undefined || (v['contentEncoding'] === 'gzip' && v['encoding'] === 'base64')) &&
    (v['tags'] === undefined ||
      (Array.isArray(v['tags']) && v['tags'].every((t) => typeof t === 'string'))) &&
    (v['vary'] === undefined || isVaryRecord(v['vary']))
  );
}
