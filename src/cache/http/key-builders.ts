import {
  encodeKeySegment,
  normalizeParams,
  normalizeQuery,
  type KeyBuilder,
  type KeyContext,
} from './cache-key.js';

/** Marks a builder as user-scoped: keyed per user, answered `private`, never cached for anonymous requests. */
export function userScoped(
  builder: (context: KeyContext) => string | undefined | Promise<string | undefined>,
): KeyBuilder {
  return Object.assign(
    (context: KeyContext) => (context.userId === undefined ? undefined : builder(context)),
    { userScoped: true } as const,
  );
}

function paramsAndQuery(context: KeyContext, omitQuery: readonly string[] = []): string {
  const params = normalizeParams(context.params);
  const query =
    omitQuery.length === 0
      ? context.normalizedQuery
      : normalizeQuery(
          Object.entries(context.query)
            .filter(([name]) => !omitQuery.includes(name))
            .flatMap(([name, v]) =>
              (Array.isArray(v) ? v : [v]).map((one) => [name, one] as [string, string]),
            ),
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
 * Requests without an authenticated user are not cached.
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
  /** Page used when the request has none. @default 1 */
  defaultPage?: number;
  /** Size used when the request has none. @default 50 */
  defaultSize?: number;
}

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

function pageSegment(context: KeyContext, options: PaginationKeyOptions): string {
  const pageParam = options.pageParam ?? 'page';
  const sizeParam = options.sizeParam ?? 'size';
  const page = pageNumber(context.query[pageParam], options.defaultPage ?? 1);
  const size = pageNumber(context.query[sizeParam], options.defaultSize ?? 50);
  return `page:${page}:size:${size}${paramsAndQuery(context, [pageParam, sizeParam])}`;
}

/**
 * `{namespace}:list:page:{P}:size:{S}` with defaults applied, so `?page=1` and no page share one entry.
 * Other query parameters and path params, if any, are appended.
 */
export function paginatedKeyBuilder(options: PaginationKeyOptions = {}): KeyBuilder {
  return (context) => `${context.namespace}:list:${pageSegment(context, options)}`;
}

/**
 * For a users endpoint that answers either one user (`?userId=X` → `{namespace}:{X}:single`) or a page of
 * the list (`{namespace}:list:page:{P}:size:{S}`). `invalidateUser(X)` and `invalidateUsersList()` match it
 * when the namespace is `users`.
 */
export const usersListKeyBuilder: KeyBuilder = (context) => {
  const userId = context.query['userId'];
  if (userId !== undefined) {
    const id = typeof userId === 'string' ? encodeKeySegment(userId) : invalid(userId);
    return `${context.namespace}:${id}:single${paramsAndQuery(context, ['userId'])}`;
  }
  return `${context.namespace}:list:${pageSegment(context, {})}`;
};

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
 * namespace is `apikeys`.
 */
export const apiKeysListKeyBuilder: KeyBuilder = userScoped((context) => {
  const scope = ownerAndCaller(context);
  return scope === undefined ? undefined : `${context.namespace}:${scope.owner}${scope.by}`;
});

/**
 * `{namespace}:{ownerId}:{keyId}` for the `keyId` path param (then `:by:{callerId}` when the owner is another
 * user, named by the `userId` path param). Matched by `invalidateApiKeys(ownerId)` when the namespace is
 * `apikey`.
 */
export const apiKeySingleKeyBuilder: KeyBuilder = userScoped((context) => {
  const scope = ownerAndCaller(context);
  const keyId = context.params['keyId'];
  if (scope === undefined || keyId === undefined) return undefined;
  return `${context.namespace}:${scope.owner}:${encodeKeySegment(keyId)}${scope.by}`;
});
