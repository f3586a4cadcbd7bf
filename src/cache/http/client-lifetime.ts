/** What a route lets caches downstream (browsers, reverse proxies, CDNs) do with its responses. */
export interface ClientLifetime {
  /** Declared identical for every caller: `public`, also for requests that carry credentials. */
  readonly public: boolean;
  /** Seconds a client may reuse a response without asking; `0` means revalidate every time (`no-cache`). */
  readonly clientMaxAge: number;
  /** Seconds a shared cache may (`s-maxage`), on public routes; `undefined` leaves them to `max-age`. */
  readonly sharedMaxAge: number | undefined;
}

const PRIVATE_REVALIDATE = 'private, no-cache';
const SHARED_REVALIDATE = 'no-cache';
const PUBLIC_REVALIDATE = 'public, no-cache';
/**
 * Shared caches that serve stale responses while they revalidate (Varnish's default grace of 10 s) would
 * otherwise keep serving a response after the server invalidated it and after its lifetime ended.
 */
const NO_STALE = ', stale-while-revalidate=0';

/**
 * The `Cache-Control` of a response the cache describes. Lifetimes are capped at the entry's remaining
 * seconds, so no cache downstream keeps a response longer than the server would; no `Age` is ever sent
 * beside them (a decremented `max-age` with an `Age` would count the time twice).
 *
 * @param isPrivate the response is per user (a user-scoped route, or credentials on a route not declared public)
 * @param remaining whole seconds the entry has left, rounded down (0 for a stale one)
 */
export function cacheControlOf(lifetime: ClientLifetime, isPrivate: boolean, remaining: number): string {
  const { clientMaxAge, sharedMaxAge } = lifetime;
  if (lifetime.public) {
    if (clientMaxAge === 0 && sharedMaxAge === undefined) return PUBLIC_REVALIDATE;
    const client = `public, max-age=${Math.min(clientMaxAge, remaining)}`;
    const shared = sharedMaxAge === undefined ? '' : `, s-maxage=${Math.min(sharedMaxAge, remaining)}`;
    return `${client}${shared}${NO_STALE}`;
  }
  if (clientMaxAge === 0) return isPrivate ? PRIVATE_REVALIDATE : SHARED_REVALIDATE;
  const maxAge = Math.min(clientMaxAge, remaining);
  return isPrivate ? `private, max-age=${maxAge}` : `max-age=${maxAge}${NO_STALE}`;
}
