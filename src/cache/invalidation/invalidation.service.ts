import { Injectable } from '@nestjs/common';
import { CacheBackend } from '../engine/cache-backend.js';
import { encodeKeySegment, prefixScope } from '../http/cache-key.js';

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

/**
 * Makes cached responses misses when the data behind them changes. Each call gives the targeted scopes a new
 * generation: O(1) whatever the number of entries (no scan, no key listing), and an entry whose handler was
 * still running when the call was made is stored already stale. Every method resolves once memory and Redis
 * know (so a GET issued afterwards is a miss), never rejects, and does nothing when caching is disabled. Ids
 * are encoded exactly as the key builders encode them: `invalidateUser(1)` never touches user 10.
 */
@Injectable()
export class InvalidationService {
  constructor(private readonly backend: CacheBackend) {}

  /**
   * Every entry that belongs to the user: in any namespace, the entries whose first key segment after the
   * namespace is the user's id (user-scoped routes, `users:{id}:single`, the user's API keys).
   */
  invalidateUser(userId: string | number): Promise<void> {
    return this.backend.invalidate([`own:${encodeKeySegment(userId)}`]);
  }

  /** Every page of the users list (`usersListKeyBuilder`, namespace `users`). */
  invalidateUsersList(): Promise<void> {
    return this.backend.invalidate([prefixScope(CacheNamespaces.users, ['list'])]);
  }

  /** The user's API key lists and every single-key entry of that user. */
  invalidateApiKeys(userId: string | number): Promise<void> {
    const owner = encodeKeySegment(userId);
    return this.backend.invalidate([
      prefixScope(CacheNamespaces.apiKeys, [owner]),
      prefixScope(CacheNamespaces.apiKey, [owner]),
    ]);
  }

  /**
   * The entries of `namespace` whose key continues with exactly these segments, each encoded as the key
   * builders encode them: `invalidateScope('apikey', 5, 12)` covers `apikey:5:12` and `apikey:5:12:…`, never
   * `apikey:5:120`. Up to three segments are matched exactly; deeper ones widen to their first three.
   */
  invalidateScope(namespace: string, ...segments: Array<string | number>): Promise<void> {
    return this.backend.invalidate([
      prefixScope(
        namespace,
        segments.map((s) => encodeKeySegment(s)),
      ),
    ]);
  }

  /** Every entry of one namespace. */
  invalidateNamespace(namespace: string): Promise<void> {
    return this.backend.invalidate([`ns:${namespace}`]);
  }

  /**
   * Every entry whose response carried one of these tags (`@Cached({ tags })`): one call reaches every list
   * page that shows an entity, in O(number of tags).
   */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.backend.invalidateTags(tags);
  }

  /** Every entry this module wrote (only keys under its prefix: generations are per prefix). */
  invalidateAll(): Promise<void> {
    return this.backend.invalidate(['*']);
  }
}
