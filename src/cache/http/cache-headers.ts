import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import type { CacheRequest } from './cache-key.js';
import type { ResponseAccess, SendFunction } from './response-access.js';
import type { RoutePlan } from './route-plan.js';

/** The cache's response headers: status, validators, lifetime, `Vary`; and `304` answers. */
export class CacheHeaders {
  private readonly authHeaders: readonly string[];
  private readonly varyNames: readonly string[];
  private readonly statusHeader: string;

  constructor(options: ResolvedCacheOptions) {
    this.authHeaders = options.authHeaders.map((h) => h.toLowerCase());
    this.varyNames = options.authHeaders;
    this.statusHeader = options.statusHeader;
  }

  /** Only the status header (`X-Cache: MISS` on responses the cache does not describe). */
  status(access: ResponseAccess, res: object, label: 'HIT' | 'MISS' | 'STALE'): void {
    access.setHeader(res, this.statusHeader, label);
  }

  /** Status, `ETag`, `Cache-Control` and (user-scoped routes) `Vary`. */
  describe(
    access: ResponseAccess,
    res: object,
    plan: RoutePlan,
    request: CacheRequest,
    label: 'HIT' | 'MISS' | 'STALE',
    etag: string,
    expiresAt: number,
  ): void {
    access.setHeader(res, this.statusHeader, label);
    access.setHeader(res, 'etag', etag);
    const maxAge = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
    const isPrivate = plan.userScoped || this.carriesCredentials(request);
    access.setHeader(res, 'cache-control', isPrivate ? `private, max-age=${maxAge}` : `max-age=${maxAge}`);
    if (plan.userScoped) this.addVary(access, res);
  }

  /**
   * For a response of a cached route that the cache does not describe (an error, a redirect, a response the
   * handler wrote): when it answers a request with credentials (or a user-scoped route), `private, no-store`
   * unless the application set a `Cache-Control` itself, so that no shared cache downstream (a CDN, a reverse
   * proxy) stores one user's error for another (shared caches do not treat `X-API-Key` as a credential).
   */
  keepPrivate(access: ResponseAccess, res: object, plan: RoutePlan, request: CacheRequest): void {
    if (!plan.userScoped && !this.carriesCredentials(request)) return;
    if (access.header(res, 'cache-control') !== undefined) return;
    access.setHeader(res, 'cache-control', 'private, no-store');
  }

  /** Answers `304 Not Modified` with no body. */
  notModified(access: ResponseAccess, res: object, send: SendFunction): unknown {
    access.setStatus(res, 304);
    access.removeHeader(res, 'content-type');
    access.removeHeader(res, 'content-length');
    return send(undefined);
  }

  private carriesCredentials(request: CacheRequest): boolean {
    const headers = request.headers;
    for (const name of this.authHeaders) if (headers[name] !== undefined) return true;
    return headers['cookie'] !== undefined;
  }

  private addVary(access: ResponseAccess, res: object): void {
    const existing = access.header(res, 'vary');
    const names = this.varyNames;
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
