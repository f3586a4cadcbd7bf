import { Inject, Injectable } from '@nestjs/common';
import { CacheBackend } from './cache-backend.js';
import {
  encodeKeySegment,
  namespaceSelector,
  ownerSelector,
  prefixSelector,
  restPrefixSelector,
  segmentsSelector,
  type KeySelector,
} from './cache-key.js';
import type { ResolvedCacheOptions } from './cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from './cache.constants.js';

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
 * Removes cached responses when the data behind them changes. Every method resolves once the entries are gone
 * from memory and from Redis (so a GET issued afterwards is a miss), never rejects, and does nothing when
 * caching is disabled. Ids are encoded exactly as the key builders encode them: `invalidateUser(1)` never
 * touches user 10, and no id can widen an invalidation into a pattern.
 */
@Injectable()
export class InvalidationService {
  constructor(
    private readonly backend: CacheBackend,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
  ) {}

  /**
   * Every entry that belongs to the user: in any namespace, the entries whose first key segment after the
   * namespace is the user's id (user-scoped routes, `users:{id}:single`, the user's API keys).
   */
  invalidateUser(userId: string | number): Promise<void> {
    return this.run([ownerSelector(this.options.keyPrefix, encodeKeySegment(userId))]);
  }

  /** Every page of the users list (`usersListKeyBuilder`, namespace `users`). */
  invalidateUsersList(): Promise<void> {
    return this.run([restPrefixSelector(this.options.keyPrefix, CacheNamespaces.users, 'list:')]);
  }

  /** The user's API key list and every single-key entry of that user. */
  invalidateApiKeys(userId: string | number): Promise<void> {
    const owner = encodeKeySegment(userId);
    return this.run([
      ownerSelector(this.options.keyPrefix, owner, CacheNamespaces.apiKeys),
      ownerSelector(this.options.keyPrefix, owner, CacheNamespaces.apiKey),
    ]);
  }

  /**
   * The entries of `namespace` whose key continues with exactly these segments, each encoded as the key
   * builders encode them: `invalidateScope('apikey', 5, 12)` removes `apikey:5:12` (and `apikey:5:12:…`),
   * `invalidateScope('apikeys', 5)` removes the key list of user 5 and nothing of user 50.
   */
  invalidateScope(namespace: string, ...segments: Array<string | number>): Promise<void> {
    if (segments.length === 0) return this.invalidateNamespace(namespace);
    return this.run([
      segmentsSelector(
        this.options.keyPrefix,
        namespace,
        segments.map((s) => encodeKeySegment(s)),
      ),
    ]);
  }

  /** Every entry of one namespace. */
  invalidateNamespace(namespace: string): Promise<void> {
    return this.run([namespaceSelector(this.options.keyPrefix, namespace)]);
  }

  /** Every entry this module wrote (only keys under its prefix). */
  invalidateAll(): Promise<void> {
    return this.run([prefixSelector(this.options.keyPrefix)]);
  }

  private run(selectors: KeySelector[]): Promise<void> {
    return this.backend.invalidate(selectors);
  }
}
