/** Public API of the caching module. Everything not exported here is internal. */
export { CacheModule } from './cache.module.js';
export type { CacheModuleOptions, MemoryCacheOptions, RedisCacheOptions } from './cache-options.interface.js';
export {
  cacheOptionsFromEnv,
  resolveCacheOptions,
  CACHE_ENV_VARIABLES,
  type EnvReader,
} from './cache.config.js';
export { Cached } from './http/cached.decorator.js';
export type { CachedOptions, TagsOf } from './http/cached.metadata.js';
export { InvalidateCache } from './invalidation/invalidate-cache.decorator.js';
export type {
  InvalidateCacheOptions,
  InvalidationKey,
  InvalidationTargets,
} from './invalidation/invalidate-cache.metadata.js';
export { InvalidateCacheInterceptor } from './invalidation/invalidate-cache.interceptor.js';
export { CacheInterceptor } from './http/cache.interceptor.js';
export type { RoutePlan } from './http/route-plan.js';
export type { EntryPolicy } from './engine/cache-engine.js';
export { InvalidationService, CacheNamespaces } from './invalidation/invalidation.service.js';
export { CacheService } from './methods/cache.service.js';
export { Cacheable, CachePut, type CacheableDecorator } from './methods/cacheable.decorator.js';
export type { CacheableOptions } from './methods/cacheable.options.js';
export type {
  CacheCallOptions,
  CacheEntryOptions,
  CacheKeyInput,
  CacheSetOptions,
  ValueType,
} from './methods/cache-call.options.js';
export { ValueEncodingError } from './values/value-codec.js';
export { CacheStatusService } from './observability/cache-status.service.js';
export {
  CacheStatsService,
  type CacheStatsSnapshot,
  type NamespaceCounters,
  type MethodCounters,
  type StoreCounters,
} from './observability/cache-stats.service.js';
export type { CacheBackendName } from './stores/cache-store.interface.js';
export {
  encodeKeySegment,
  defaultUserIdResolver,
  MAX_KEY_BYTES,
  type CacheRequest,
  type KeyBuilder,
  type KeyContext,
  type UserIdResolver,
} from './http/cache-key.js';
export {
  defaultKeyBuilder,
  userScopedKeyBuilder,
  paginatedKeyBuilder,
  usersListKeyBuilder,
  apiKeysListKeyBuilder,
  apiKeySingleKeyBuilder,
  userScoped,
  userTag,
  type PaginationKeyOptions,
  type UserScopedOptions,
} from './http/key-builders.js';
export { validateNamespace, MAX_NAMESPACE_BYTES } from './http/namespace.js';
export { CacheError, CacheConfigError, CacheTimeoutError, CacheDefinitionError } from './cache.errors.js';
