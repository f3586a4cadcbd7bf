import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';
import { ifNoneMatchHits } from './etag.js';
import type { CacheRequest } from './cache-key.js';
import type { ResponseAccess, SendFunction } from './response-access.js';
import type { RoutePlan } from './route-plan.js';
import { acceptsCompression } from './accept-encoding.js';
import type { Representation } from './stored-compression.js';
import { cacheControlOf } from './client-lifetime.js';

const IDENTITY = { gzip: false, varies: false } as const;
const PRIVATE_NO_STORE = 'private, no-store';

/** The cache's response headers: status, validators, lifetime, `Vary`; and `304` answers. */
export class CacheHeaders {
  private readonly authHeaders: readonly string[];
  private readonly varyNames: readonly string[];
  private readonly varyWithCookie: readonly string[];
  private readonly statusHeader: string;

  /** Smallest body stored compressed (`undefined`: never). */
  readonly compressAbove: number | undefined;

  constructor(options: ResolvedCacheOptions) {
    this.compressAbove = options.compressAbove;
    this.authHeaders = options.authHeaders.map((h) => h.toLowerCase());
    this.varyNames = options.authHeaders;
    this.varyWithCookie = options.authHeaders.some((h) => h.toLowerCase() === 'cookie')
      ? options.authHeaders
      : [...options.authHeaders, 'Cookie'];
    this.statusHeader = options.statusHeader;
  }

  /** Only the status header (`X-Cache: MISS` on responses the cache does not describe). */
  status(access: ResponseAccess, res: object, label: 'HIT' | 'MISS' | 'STALE'): void {
    access.setHeader(res, this.statusHeader, label);
  }

  /**
   * Status, `ETag`, `Cache-Control` (see {@link cacheControlOf}) and `Vary`: the credential headers on
   * user-scoped routes, and `Accept-Encoding` when application compression may encode the response, whose
   * `ETag` is then weak for requests that accept a compressed coding (RFC 9110 8.8.3: a gzip body must not
   * carry the identity body's strong tag). `304` answers carry exactly the same headers.
   */
  describe(
    access: ResponseAccess,
    res: object,
    plan: RoutePlan,
    request: CacheRequest,
    label: 'HIT' | 'MISS' | 'STALE',
    etag: string,
    expiresAt: number,
    coding: Pick<Representation, 'gzip' | 'varies'> = IDENTITY,
  ): void {
    access.setHeader(res, this.statusHeader, label);
    let tag = etag;
    if (coding.gzip) {
      access.setHeader(res, 'content-encoding', 'gzip');
      this.addVary(access, res, access.varyAcceptEncoding);
    } else {
      const compressed = access.compressed(res);
      if (compressed || coding.varies) this.addVary(access, res, access.varyAcceptEncoding);
      if (compressed && !etag.startsWith('W/') && acceptsCompression(request.headers['accept-encoding'])) {
        tag = `W/${etag}`;
      }
    }
    access.setHeader(res, 'etag', tag);
    // Rounded down: no cache downstream may keep a response past the server-side entry, not even by a second.
    const remaining = Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
    const lifetime = plan.lifetime;
    const isPrivate = plan.userScoped || (!lifetime.public && this.carriesCredentials(request));
    access.setHeader(res, 'cache-control', cacheControlOf(lifetime, isPrivate, remaining));
    // Per user, or answered to credentials: a client that switches credentials must not reuse it (a browser
    // keeps cookies out of its cache key: a session cookie is named too, so a new login never reuses it).
    if (isPrivate) {
      this.addVary(
        access,
        res,
        request.headers['cookie'] === undefined ? this.varyNames : this.varyWithCookie,
      );
    }
  }

  /**
   * For a response of a cached route that the cache does not describe (an error, a redirect, a response the
   * handler wrote or one it may not store): `no-store` unless the application set a `Cache-Control` itself,
   * `private, no-store` when it answers a request with credentials (or a user-scoped route). The cache keeps
   * none of these, so no cache downstream may either: a stored `404` outlives the write that creates the
   * resource, and one user's error must never reach another (shared caches do not treat `X-API-Key` as a
   * credential).
   */
  forbidStore(access: ResponseAccess, res: object, plan: RoutePlan, request: CacheRequest): void {
    if (access.header(res, 'cache-control') !== undefined) return;
    const isPrivate = plan.userScoped || this.carriesCredentials(request);
    access.setHeader(res, 'cache-control', isPrivate ? PRIVATE_NO_STORE : 'no-store');
  }

  /**
   * Before the guards run: a request with credentials (or on a user-scoped route) gets `private, no-store` at
   * once, so a response the cache never sees (a guard's `401`/`403`) is not stored downstream either. Returns
   * whether it did; {@link clearPreset} takes it back once the interceptor takes the request on (a request it
   * declines keeps it).
   */
  presetPrivate(access: ResponseAccess, res: object, plan: RoutePlan, request: CacheRequest): boolean {
    if (plan.lifetime.public || !(plan.userScoped || this.carriesCredentials(request))) return false;
    access.setHeader(res, 'cache-control', PRIVATE_NO_STORE);
    return true;
  }

  /** Removes the header {@link presetPrivate} set, unless something replaced it since. */
  clearPreset(access: ResponseAccess, res: object): void {
    if (access.header(res, 'cache-control') === PRIVATE_NO_STORE) access.removeHeader(res, 'cache-control');
  }

  /**
   * Answers with a stored entry in the representation the request gets ({@link representationOf}): its
   * status, type and body, described, or `304` when `If-None-Match` names that representation's tag.
   */
  answer(
    access: ResponseAccess,
    res: object,
    plan: RoutePlan,
    request: CacheRequest,
    entry: StoredResponse,
    label: 'HIT' | 'MISS' | 'STALE',
    send: SendFunction,
    representation: Representation,
  ): unknown {
    access.setStatus(res, entry.status);
    if (entry.contentType === undefined) access.removeHeader(res, 'content-type');
    else access.setHeader(res, 'content-type', entry.contentType);
    const { etag } = representation;
    this.describe(access, res, plan, request, label, etag, entry.expiresAt, representation);
    // The handler, which may have set its `Vary` itself, does not run for a stored answer.
    if (entry.vary !== undefined) this.addVary(access, res, Object.keys(entry.vary));
    if (ifNoneMatchHits(request.headers['if-none-match'], etag)) {
      return this.notModified(access, res, send);
    }
    return send(representation.body);
  }

  /** Answers `304 Not Modified` with no body. */
  notModified(access: ResponseAccess, res: object, send: SendFunction): unknown {
    access.setStatus(res, 304);
    access.removeHeader(res, 'content-type');
    access.removeHeader(res, 'content-length');
    // Representation metadata: a 304 carries only what guides the update of a stored response (RFC 9110 15.4.5).
    access.removeHeader(res, 'content-encoding');
    return send(undefined);
  }

  private carriesCredentials(request: CacheRequest): boolean {
    const headers = request.headers;
    for (const name of this.authHeaders) if (headers[name] !== undefined) return true;
    return headers['cookie'] !== undefined;
  }

  private addVary(access: ResponseAccess, res: object, names: readonly string[]): void {
    const existing = access.header(res, 'vary');
    if (existing === undefined) {
      access.setHeader(res, 'vary', names.join(', '));
      return;
    }
    const present = new Set(existing.split(',').map((v) => v.trim().toLowerCase()));
    if (present.has('*')) return;
    const missing = names.filter((n) => !present.has(n.toLowerCase()));
    if (missing.length > 0) access.setHeader(res, 'vary', [existing, ...missing].join(', '));
  }
}
