import { CacheDefinitionError } from '../cache.errors.js';
import {
  encodeKeySegment,
  normalizeParams,
  normalizeQuery,
  RequestKeyContext,
  type KeyBuilder,
  type KeyContext,
} from './cache-key.js';

/**
 * The tag of everything cached for one user: `user:{id}`. `userScoped()` builders declare it on their
 * entries, and `InvalidationService.invalidateUser(id)` invalidates exactly this tag. The id is taken
 * literally (the store encodes tags), so `7` and `'7'` are one user and `'007'` another.
 *
 * @example userTag(42) // 'user:42'
 */
export function userTag(id: string | number): string {
  return `user:${String(id)}`;
}

/** Options of {@link userScoped}. */
export interface UserScopedOptions {
  /**
   * Whether the entries carry the user's tag, {@link userTag}`(userId)`, which `invalidateUser(userId)`
   * reaches. Turn it off for entries that belong to a user but must survive a write to the user's profile
   * (API keys: they are reached through their own key prefix, by `invalidateApiKeys()` or
   * `invalidateScope()`). The entries stay `private` either way.
   * @default true
   */
  readonly tagged?: boolean;
}

/**
 * Marks a builder as user-scoped: keyed per user, answered `private`, never cached for anonymous requests.
 * The entries carry the tag `user:{userId}` (see {@link userTag}), plus the tags the builder itself declares,
 * unless `tagged` is `false`.
 *
 * @example
 * ```ts
 * const ordersKeyBuilder = userScoped((ctx) => `${ctx.namespace}:${encodeKeySegment(ctx.userId ?? '')}:orders`);
 * const tokensKeyBuilder = userScoped(tokensKey, { tagged: false }); // a profile write keeps these
 * ```
 */
export function userScoped(builder: KeyBuilder, options: UserScopedOptions = {}): KeyBuilder {
  const own = builder.tags;
  const build = (context: KeyContext) => (context.userId === undefined ? undefined : builder(context));
  if (options.tagged === false) {
    return Object.assign(build, own === undefined ? { userScoped: true } : { userScoped: true, tags: own });
  }
  const tags = (context: KeyContext): readonly string[] => {
    const declared = own === undefined ? [] : own(context);
    return context.userId === undefined ? declared : [userTag(context.userId), ...declared];
  };
  return Object.assign(build, { userScoped: true, tags });
}

function paramsAndQuery(context: KeyContext, omitQuery: readonly string[] = []): string {
  const params = normalizeParams(context.params);
  const query =
    omitQuery.length === 0
      ? context.normalizedQuery
      : normalizeQuery(
          (context instanceof RequestKeyContext
            ? context.keyQueryPairs()
            : Object.entries(context.query).flatMap(([name, v]) =>
                (Array.isArray(v) ? v : [v]).map((one) => [name, one] as [string, string]),
              )
          ).filter(([name]) => !omitQuery.includes(name)),
        );
  return `${params === '' ? '' : `:p=${params}`}${query === '' ? '' : `:q=${query}`}`;
}

/**
 * The default key: `namespace:GET:<route>:<params>:<query>` with the route pattern, the path parameters and
 * the normalised query string, each encoded.
 */
export const defaultKeyBuilder: KeyBuilder = (context) =>
  `${context.namespace}:GET:${encodedRoute(context.routePath)}:${normalizeParams(context.params)}:${context.normalizedQuery}`;

/** Route patterns are few and fixed: each is encoded once (a request path used as fallback is not kept). */
const encodedRoutes = new Map<string, string>();
function encodedRoute(routePath: string): string {
  let encoded = encodedRoutes.get(routePath);
  if (encoded === undefined) {
    encoded = encodeKeySegment(routePath);
    if (encodedRoutes.size < 10_000) encodedRoutes.set(routePath, encoded);
  }
  return encoded;
}

/**
 * `{namespace}:{userId}:{Controller.handler}:{route}` (plus path params and query when the request has any).
 * Requests without an authenticated user are not cached. Entries carry the tag `user:{userId}`, so
 * `invalidateUser(userId)` reaches them.
 */
export const userScopedKeyBuilder: KeyBuilder = userScoped(
  (context) =>
    `${context.namespace}:${encodeKeySegment(context.userId ?? '')}:${encodeKeySegment(`${context.className}.${context.handlerName}`)}:${encodeKeySegment(context.routePath)}${paramsAndQuery(context)}`,
);

/** Options of {@link paginatedKeyBuilder}. */
export interface PaginationKeyOptions {
  /** Query parameter holding the page number. @default 'page' */
  pageParam?: string;
  /** Query parameter holding the page size. @default 'size' */
  sizeParam?: string;
  /** Page used when the request has none (a non-negative integer). @default 1 */
  defaultPage?: number;
  /** Size used when the request has none (a non-negative integer). @default 50 */
  defaultSize?: number;
}

/** {@link PaginationKeyOptions} with every default applied. */
type Pagination = Readonly<Required<PaginationKeyOptions>>;

const DEFAULT_PAGINATION: Pagination = Object.freeze({
  pageParam: 'page',
  sizeParam: 'size',
  defaultPage: 1,
  defaultSize: 50,
});

/** Marks a value no handler accepts (text where a number is due, a repeated parameter) and keeps it whole. */
function invalid(raw: string | string[]): string {
  return `~${encodeKeySegment(Array.isArray(raw) ? JSON.stringify(raw) : raw)}`;
}

/**
 * A non-negative integer in canonical form (`007` → `7`). Anything else is marked with `~`, so it never shares
 * the key of a valid value: the handler refuses it and nothing is stored under it.
 */
function pageNumber(raw: string | string[] | undefined, fallback: number): string {
  if (raw === undefined || raw === '') return String(fallback);
  return typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? String(Number(raw)) : invalid(raw);
}

function pageSegment(context: KeyContext, options: Pagination): string {
  const { pageParam, sizeParam } = options;
  const page = pageNumber(context.query[pageParam], options.defaultPage);
  const size = pageNumber(context.query[sizeParam], options.defaultSize);
  return `page:${page}:size:${size}${paramsAndQuery(context, [pageParam, sizeParam])}`;
}

function paginatedKey(context: KeyContext, options: Pagination): string {
  return `${context.namespace}:list:${pageSegment(context, options)}`;
}

/** Whether `paginatedKeyBuilder` was handed a request (used as a builder) rather than its options. */
function isKeyContext(value: object): value is KeyContext {
  return 'request' in value && 'namespace' in value;
}

const PAGINATION_OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULT_PAGINATION));

/** Checks the options of `paginatedKeyBuilder(options)` and applies the defaults. */
function resolvePagination(options: unknown): Pagination {
  if (options === undefined) return DEFAULT_PAGINATION;
  const where = 'paginatedKeyBuilder()';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new CacheDefinitionError(
      `${where}: expected an options object or a KeyContext, got ${options === null ? 'null' : typeof options}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!PAGINATION_OPTION_NAMES.has(name)) {
      throw new CacheDefinitionError(
        `${where}: unknown option "${name}" (expected ${[...PAGINATION_OPTION_NAMES].join(', ')})`,
      );
    }
  }
  const given = options as PaginationKeyOptions;
  const resolved = {
    pageParam: given.pageParam ?? DEFAULT_PAGINATION.pageParam,
    sizeParam: given.sizeParam ?? DEFAULT_PAGINATION.sizeParam,
    defaultPage: given.defaultPage ?? DEFAULT_PAGINATION.defaultPage,
    defaultSize: given.defaultSize ?? DEFAULT_PAGINATION.defaultSize,
  };
  for (const name of ['pageParam', 'sizeParam'] as const) {
    const value: unknown = resolved[name];
    if (typeof value !== 'string' || value === '') {
      throw new CacheDefinitionError(`${where}: ${name} must be a non-empty string, got ${String(value)}`);
    }
  }
  if (resolved.pageParam === resolved.sizeParam) {
    throw new CacheDefinitionError(
      `${where}: pageParam and sizeParam must differ, both are "${resolved.pageParam}"`,
    );
  }
  for (const name of ['defaultPage', 'defaultSize'] as const) {
    const value: unknown = resolved[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new CacheDefinitionError(
        `${where}: ${name} must be a non-negative integer, got ${String(value)}`,
      );
    }
  }
  return Object.freeze(resolved);
}

/**
 * Used as a key builder: `{namespace}:list:page:{P}:size:{S}` from `?page` and `?size`, with page 1 and size 50
 * when the request has none, so `?page=1` and no page share one entry. Other query parameters and path params,
 * if any, are appended.
 *
 * @example
 * ```ts
 * @Cached({ namespace: 'products', keyBuilder: paginatedKeyBuilder })
 * ```
 */
export function paginatedKeyBuilder(context: KeyContext): string;
/**
 * Called with options: a key builder like {@link paginatedKeyBuilder} itself, reading other parameter names
 * or applying other defaults.
 *
 * @throws {CacheDefinitionError} on an unknown option, an empty or shared parameter name, or a default that is
 * not a non-negative integer.
 * @example
 * ```ts
 * @Cached({ namespace: 'products', keyBuilder: paginatedKeyBuilder({ sizeParam: 'limit', defaultSize: 20 }) })
 * ```
 */
export function paginatedKeyBuilder(options?: PaginationKeyOptions): KeyBuilder;
export function paginatedKeyBuilder(arg?: KeyContext | PaginationKeyOptions): string | KeyBuilder {
  if (typeof arg === 'object' && arg !== null && isKeyContext(arg)) {
    return paginatedKey(arg, DEFAULT_PAGINATION);
  }
  const options = resolvePagination(arg);
  return (context: KeyContext) => paginatedKey(context, options);
}

/**
 * For a users endpoint that answers either one user (`?userId=X` → `{namespace}:{X}:single`) or a page of
 * the list (`{namespace}:list:page:{P}:size:{S}`). The single-user form carries the tag `user:{X}`, so
 * `invalidateUser(X)` reaches it; list pages carry no user tag (`invalidateUsersList()` reaches them by their
 * `list` prefix when the namespace is `users`).
 */
export const usersListKeyBuilder: KeyBuilder = Object.assign(
  (context: KeyContext) => {
    const userId = context.query['userId'];
    if (userId !== undefined) {
      const id = typeof userId === 'string' ? encodeKeySegment(userId) : invalid(userId);
      return `${context.namespace}:${id}:single${paramsAndQuery(context, ['userId'])}`;
    }
    return paginatedKey(context, DEFAULT_PAGINATION);
  },
  {
    tags: (context: KeyContext): readonly string[] => {
      const userId = context.query['userId'];
      return typeof userId === 'string' && userId !== '' ? [userTag(userId)] : [];
    },
  },
);

/**
 * The owner whose keys a request reads (the `userId` path param, else the caller), and the caller when that is
 * someone else: an entry written for one caller is then never answered to another, even when the route checks
 * access inside its handler rather than in a guard.
 */
function ownerAndCaller(context: KeyContext): { owner: string; by: string } | undefined {
  const caller = context.userId;
  if (caller === undefined) return undefined;
  const owner = context.params['userId'] ?? caller;
  return { owner: encodeKeySegment(owner), by: owner === caller ? '' : `:by:${encodeKeySegment(caller)}` };
}

/**
 * `{namespace}:{ownerId}`: the API keys of the authenticated user, or of the user named by the `userId` path
 * param (then `{namespace}:{ownerId}:by:{callerId}`). Matched by `invalidateApiKeys(ownerId)` when the
 * namespace is `apikeys`. Private, but without the user's tag: `invalidateUser()` (a profile write) never
 * reaches it.
 */
export const apiKeysListKeyBuilder: KeyBuilder = userScoped(
  (context) => {
    const scope = ownerAndCaller(context);
    return scope === undefined ? undefined : `${context.namespace}:${scope.owner}${scope.by}`;
  },
  { tagged: false },
);

/**
 * `{namespace}:{ownerId}:{keyId}` for the `keyId` path param (then `:by:{callerId}` when the owner is another
 * user, named by the `userId` path param). Matched by `invalidateApiKeys(ownerId)` when the namespace is
 * `apikey`. Private, but without the user's tag: `invalidateUser()` (a profile write) never reaches it.
 */
export const apiKeySingleKeyBuilder: KeyBuilder = userScoped(
  (context) => {
    const scope = ownerAndCaller(context);
    const keyId = context.params['keyId'];
    if (scope === undefined || keyId === undefined) return undefined;
    return `${context.namespace}:${scope.owner}:${encodeKeySegment(keyId)}${scope.by}`;
  },
  { tagged: false },
);
