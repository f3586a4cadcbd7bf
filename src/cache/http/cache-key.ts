import { encodeKeySegment } from '../engine/key-segment.js';

export { encodeKeySegment };
export { MAX_KEY_BYTES } from '../engine/entry-key.js';

/** The parts of an HTTP request that key building reads; both Express and Fastify requests fit. */
export interface CacheRequest {
  method: string;
  url: string;
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
  params?: unknown;
  user?: unknown;
  route?: { path?: unknown };
  routeOptions?: { url?: string };
}

/** Finds the authenticated user's id, or `undefined` for an anonymous request. */
export type UserIdResolver = (request: CacheRequest) => string | number | undefined | null;

/** Everything a key builder may read about the request being cached. */
export interface KeyContext {
  /** The raw adapter request (Express or Fastify). */
  readonly request: CacheRequest;
  /** Route path parameters, as the router decoded them. */
  readonly params: Readonly<Record<string, string>>;
  /** Query string parameters, decoded; a repeated name gives an array in request order. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** The query string normalised: names sorted, repeated names kept in order, every part encoded. */
  readonly normalizedQuery: string;
  /** `request.user` (the Passport convention). */
  readonly user: unknown;
  /** The authenticated user's id as a string, or `undefined` when the request is anonymous. */
  readonly userId: string | undefined;
  /** Name of the controller class. */
  readonly className: string;
  /** Name of the handler method. */
  readonly handlerName: string;
  /** Namespace of the route (`@Cached({ namespace })`). */
  readonly namespace: string;
  /** The route pattern as registered with the router, e.g. `/users/:id`. */
  readonly routePath: string;
}

/**
 * Builds the cache key of a request, relative to the module's prefix. A result that does not start with
 * `namespace:` is placed under the namespace. `undefined` means "do not cache this request".
 * Interpolate request values through {@link encodeKeySegment} so that no input can forge a separator.
 */
export interface KeyBuilder {
  (context: KeyContext): string | undefined | Promise<string | undefined>;
  /** Set on builders whose keys belong to one user: their responses are `private` and never shared. */
  readonly userScoped?: boolean;
  /**
   * Tags the request's entry carries, known from the request alone (read with the entry, in the same round
   * trip): `invalidateTags()` of any of them makes it a miss. `userScoped()` builders carry `user:{userId}`,
   * which is what `invalidateUser(userId)` reaches.
   */
  readonly tags?: (context: KeyContext) => readonly string[];
}

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether a key prefix is usable: 1-64 characters of `A-Z a-z 0-9 _ . -` (namespaces may be any string). */
export function isValidKeyName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/**
 * Starts a key's query part whose escapes are malformed. Decoding never yields an unpaired surrogate, so such
 * a part never shares a key with a well-formed one.
 */
const MALFORMED = '\uDFFF';

function decodeQueryPart(part: string, forKey: boolean): string {
  const plusDecoded = part.includes('+') ? part.replace(/\+/g, ' ') : part;
  try {
    return decodeURIComponent(plusDecoded);
  } catch {
    // Malformed escapes: adapters differ on what the handler sees (Fastify keeps the text, Express decodes the
    // well-formed escapes in it), so in a key the raw text stands for itself, apart from every decoded value.
    return forKey ? MALFORMED + part : plusDecoded;
  }
}

/**
 * Splits a raw query string into decoded name/value pairs, in order. `forKey`: a part with malformed escapes
 * is kept apart from every well-formed one (for keys; what `KeyContext.query` shows keeps the text as it is).
 */
export function parseQueryPairs(raw: string, forKey = false): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (raw === '') return pairs;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeQueryPart(eq === -1 ? part : part.slice(0, eq), forKey);
    const value = eq === -1 ? '' : decodeQueryPart(part.slice(eq + 1), forKey);
    pairs.push([name, value]);
  }
  return pairs;
}

/** Sorted by name (stable, so repeated names keep their order) and re-encoded: `a=1&a=2&b=x`. */
export function normalizeQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  if (pairs.length === 0) return '';
  const sorted =
    pairs.length === 1 ? pairs : [...pairs].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let out = '';
  for (const [name, value] of sorted) {
    out += `${out === '' ? '' : '&'}${encodeKeySegment(name)}=${encodeKeySegment(value)}`;
  }
  return out;
}

/** Whether `code` is a character that decoding and {@link encodeKeySegment} both leave as it is. */
function isPlainQueryChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

/**
 * `raw` when it is already in {@link normalizeQuery}'s form (every part `name=value` of plain characters,
 * names in non-decreasing order), else `undefined`. Most real query strings are (`?page=2`, `?k=abc`), and
 * then neither parsing nor encoding is needed.
 */
export function canonicalQuery(raw: string): string | undefined {
  let partStart = 0;
  let eq = -1;
  let previousStart = -1;
  let previousEnd = -1;
  for (let i = 0; i <= raw.length; i++) {
    const code = i === raw.length ? 0x26 : raw.charCodeAt(i);
    if (code === 0x26) {
      // `&`: the part [partStart, i) must be `name=value`, its name not below the previous one.
      if (eq === -1 || eq === partStart) return undefined;
      if (previousStart !== -1 && compareRanges(raw, previousStart, previousEnd, partStart, eq) > 0)
        return undefined;
      previousStart = partStart;
      previousEnd = eq;
      partStart = i + 1;
      eq = -1;
    } else if (code === 0x3d) {
      if (eq !== -1) return undefined;
      eq = i;
    } else if (!isPlainQueryChar(code)) {
      return undefined;
    }
  }
  return raw;
}

/** Compares `text[aStart, aEnd)` with `text[bStart, bEnd)` as strings compare. */
function compareRanges(text: string, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const difference = text.charCodeAt(aStart + i) - text.charCodeAt(bStart + i);
    if (difference !== 0) return difference;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/** Path parameters as `name=value&...`, sorted by name and encoded. */
export function normalizeParams(params: Readonly<Record<string, string>>): string {
  const names = Object.keys(params);
  if (names.length === 0) return '';
  return normalizeQuery(names.map((name) => [name, String(params[name])] as [string, string]));
}

function toParams(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = String(v);
  }
  return out;
}

/** {@link KeyContext} whose derived fields are computed on first read only. */
export class RequestKeyContext implements KeyContext {
  private queryPairsCache?: Array<[string, string]>;
  private queryCache?: Record<string, string | string[]>;
  private normalizedQueryCache?: string;
  private paramsCache?: Record<string, string>;
  private userIdCache?: { value: string | undefined };

  constructor(
    readonly request: CacheRequest,
    readonly namespace: string,
    readonly className: string,
    readonly handlerName: string,
    private readonly resolveUserId: UserIdResolver,
  ) {}

  get user(): unknown {
    return this.request.user;
  }

  get userId(): string | undefined {
    if (this.userIdCache === undefined) {
      const id = this.resolveUserId(this.request);
      this.userIdCache = { value: id === undefined || id === null || id === '' ? undefined : String(id) };
    }
    return this.userIdCache.value;
  }

  get params(): Record<string, string> {
    return (this.paramsCache ??= toParams(this.request.params));
  }

  get routePath(): string {
    const routePath = this.request.route?.path ?? this.request.routeOptions?.url;
    return typeof routePath === 'string' ? routePath : this.pathname();
  }

  get query(): Record<string, string | string[]> {
    if (this.queryCache === undefined) {
      // No prototype: names like `constructor` or `__proto__` are ordinary query parameters here.
      const query = Object.create(null) as Record<string, string | string[]>;
      for (const [name, value] of this.queryPairs()) {
        const existing = Object.hasOwn(query, name) ? query[name] : undefined;
        query[name] =
          existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
      }
      this.queryCache = query;
    }
    return this.queryCache;
  }

  get normalizedQuery(): string {
    if (this.normalizedQueryCache === undefined) {
      const url = this.rawUrl();
      const q = url.indexOf('?');
      this.normalizedQueryCache =
        q === -1 ? '' : (canonicalQuery(url.slice(q + 1)) ?? normalizeQuery(this.keyQueryPairs()));
    }
    return this.normalizedQueryCache;
  }

  /** The query's pairs as keys see them ({@link parseQueryPairs} `forKey`). */
  keyQueryPairs(): Array<[string, string]> {
    const url = this.rawUrl();
    const q = url.indexOf('?');
    return q === -1 ? [] : parseQueryPairs(url.slice(q + 1), true);
  }

  private rawUrl(): string {
    return this.request.originalUrl ?? this.request.url;
  }

  private pathname(): string {
    const url = this.rawUrl();
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  }

  private queryPairs(): Array<[string, string]> {
    if (this.queryPairsCache === undefined) {
      const url = this.rawUrl();
      const q = url.indexOf('?');
      this.queryPairsCache = q === -1 ? [] : parseQueryPairs(url.slice(q + 1));
    }
    return this.queryPairsCache;
  }
}

/** The authenticated user's id under the Passport convention: `request.user.id`. */
export const defaultUserIdResolver: UserIdResolver = (request) => {
  const user = request.user;
  if (user === null || typeof user !== 'object') return undefined;
  const id = (user as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
};
