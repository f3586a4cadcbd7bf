import { Injectable } from '@nestjs/common';
import { CacheDefinitionError } from '../cache.errors.js';
import { CacheBackend } from '../engine/cache-backend.js';
import { Scopes } from '../engine/entry-key.js';
import { encodeKeySegment } from '../engine/key-segment.js';
import { userTag } from '../http/key-builders.js';
import { validateNamespace } from '../http/namespace.js';

/** Namespaces the built-in key builders and the invalidation shortcuts agree on. */
export const CacheNamespaces = {
  /** Per-user responses, e.g. `GET /users/me` with `userScopedKeyBuilder`. */
  user: 'user',
  /** The users list and single users (`usersListKeyBuilder`). */
  users: 'users',
  /** A user's list of API keys (`apiKeysListKeyBuilder`). */
  apiKeys: 'apikeys',
  /** One API key (`apiKeySingleKeyBuilder`). */
  apiKey: 'apikey',
} as const;

function described(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** Whether `value` can name a user or a key segment: a non-empty string or a finite number. */
function isSegment(value: unknown): value is string | number {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));
}

/** Runs `invalidate`, or rejects with a {@link CacheDefinitionError} when its arguments are not valid. */
function checked(
  method: string,
  problem: string | undefined,
  invalidate: () => Promise<void>,
): Promise<void> {
  if (problem !== undefined) return Promise.reject(new CacheDefinitionError(`${method}: ${problem}`));
  try {
    return invalidate();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new CacheDefinitionError(String(error)));
  }
}

/**
 * Makes cached entries misses when the data behind them changes. Each method reaches exactly what its name
 * says, through scopes the entries declared (docs/storage-model.md), never by matching key text: O(1) per
 * scope whatever the number of entries (no scan, no key listing), and an entry whose value was still being
 * computed when the call was made is never stored as valid. Every method resolves once memory and Redis know
 * (so a read issued afterwards is a miss) and never rejects for a failing store (that is logged); a call with
 * invalid arguments (an empty namespace, an id that is not a string or number) rejects with a
 * `CacheDefinitionError` naming the method, and invalidates nothing. It does nothing when caching is disabled. Ids are
 * compared as text, encoded exactly as the key builders encode them: `invalidateUser(1)` never touches user 10.
 */
@Injectable()
export class InvalidationService {
  constructor(private readonly backend: CacheBackend) {}

  /**
   * The entries that belong to the user: those tagged `user:{id}` (`userScoped()` key builders such as
   * `userScopedKeyBuilder`, and `users:{id}:single` of `usersListKeyBuilder`). Not the user's API-key entries:
   * see {@link invalidateApiKeys}.
   */
  invalidateUser(userId: string | number): Promise<void> {
    return checked('invalidateUser()', this.idProblem(userId), () =>
      this.backend.invalidateTags([userTag(userId)]),
    );
  }

  /** Every page of the users list (`usersListKeyBuilder`: `users:list:…`). */
  invalidateUsersList(): Promise<void> {
    return this.backend.invalidate([Scopes.prefix(CacheNamespaces.users, ['list'])]);
  }

  /** The user's API key lists (`apikeys:{id}…`) and every single-key entry of that user (`apikey:{id}:…`). */
  invalidateApiKeys(userId: string | number): Promise<void> {
    return checked('invalidateApiKeys()', this.idProblem(userId), () => {
      const owner = encodeKeySegment(userId);
      return this.backend.invalidate([
        Scopes.prefix(CacheNamespaces.apiKeys, [owner]),
        Scopes.prefix(CacheNamespaces.apiKey, [owner]),
      ]);
    });
  }

  /**
   * The entries of `namespace` whose key continues with exactly these segments, each encoded as the key
   * builders encode them: `invalidateScope('apikey', 5, 12)` covers `apikey:5:12` and `apikey:5:12:…`, never
   * `apikey:5:120`. Up to three segments are matched exactly; deeper ones widen to their first three. No
   * segment: the whole namespace.
   */
  invalidateScope(namespace: string, ...segments: Array<string | number>): Promise<void> {
    const bad = segments.findIndex((segment) => typeof segment !== 'string' && !isSegment(segment));
    const problem =
      bad === -1 ? undefined : `every segment must be a string or a number, got ${described(segments[bad])}`;
    return checked('invalidateScope()', problem, () => {
      validateNamespace(namespace, 'invalidateScope()');
      return this.backend.invalidate([
        Scopes.prefix(
          namespace,
          segments.map((s) => encodeKeySegment(s)),
        ),
      ]);
    });
  }

  /** Every entry of one namespace, taken literally (`'a*'` is the namespace `a*`, nothing else). */
  invalidateNamespace(namespace: string): Promise<void> {
    return checked('invalidateNamespace()', undefined, () => {
      validateNamespace(namespace, 'invalidateNamespace()');
      return this.backend.invalidate([Scopes.namespace(namespace)]);
    });
  }

  /**
   * Every entry that carries one of these tags (`@Cached({ tags })`, or a key builder's declared tags): one call
   * reaches every list page that shows an entity, in O(number of tags).
   */
  invalidateTags(tags: readonly string[] | string): Promise<void> {
    const list: unknown = typeof tags === 'string' ? [tags] : tags;
    const problem = Array.isArray(list)
      ? undefined
      : `tags must be an array of strings (or one string), got ${described(list)}`;
    return checked('invalidateTags()', problem, () =>
      this.backend.invalidateTags(
        (list as unknown[]).filter((tag): tag is string => typeof tag === 'string' && tag !== ''),
      ),
    );
  }

  private idProblem(id: unknown): string | undefined {
    return isSegment(id)
      ? undefined
      : `the user id must be a non-empty string or a number, got ${described(id)}`;
  }

  /** Every entry this module wrote (only under its prefix). */
  invalidateAll(): Promise<void> {
    return this.backend.invalidate([Scopes.all]);
  }
}
