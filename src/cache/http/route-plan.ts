import type { EntryPolicy } from '../engine/cache-engine.js';
import type { EntryKey } from '../engine/entry-key.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { NEST_ROUTE_ARGS_METADATA } from '../cache.constants.js';
import type { CacheStatsService } from '../observability/cache-stats.service.js';
import type { KeyBuilder } from './cache-key.js';
import type { CachedOptions, TagsOf } from './cached.metadata.js';
import { defaultKeyBuilder } from './key-builders.js';
import { entryPolicy } from '../entry-options.js';
import { CacheDefinitionError } from '../cache.errors.js';
import type { ClientLifetime } from './client-lifetime.js';

const RESPONSE_PASSTHROUGH_METADATA = '__responsePassthrough__';
/** Nest's `@Redirect()` metadata (`REDIRECT_METADATA`), on the handler. */
const REDIRECT_METADATA = '__redirect__';
const RESPONSE_PARAM = '1';
const NEXT_PARAM = '2';

/** Everything about a decorated route that does not change between requests, worked out once. */
export interface RoutePlan {
  readonly namespace: string;
  readonly keyBuilder: KeyBuilder;
  /** Responses are per user: `private`, `Vary` on the credential headers. */
  readonly userScoped: boolean;
  /** What browsers and shared caches may do with the responses (`Cache-Control`). */
  readonly lifetime: ClientLifetime;
  readonly className: string;
  readonly handlerName: string;
  /** How the route's entries are stored and protected (TTL, grace, refresh-ahead, coalescing, lock). */
  readonly policy: EntryPolicy;
  /** Tags known from the route itself (`tags: [...]`): read with the entry. */
  readonly fixedTags: readonly string[];
  /** Tags computed from the result (`tags: (result, request) => [...]`), or `undefined`. */
  readonly resultTags: TagsOf | undefined;
  /** Nest answers with a redirect (`@Redirect()`): served uncached, described as a response the cache does not keep. */
  readonly redirects: boolean;
  /** Set once a problem of this route (a failing key builder) has been logged, so it is logged once. */
  warned: boolean;
  /** Entry keys already resolved for this route, by built key (and tags). */
  readonly keys: Map<string, EntryKey>;
}

/**
 * Whether Nest answers the route with a redirect (`@Redirect()`): Express writes it without `send()`, and a
 * redirect is never stored, so such a route is served uncached from the start.
 */
export function redirects(handler: object): boolean {
  return Reflect.getMetadata(REDIRECT_METADATA, handler) !== undefined;
}

/** Whether the handler writes the response itself through `@Res()` / `@Next()` without passthrough. */
export function handlesResponseItself(controller: object, handlerName: string): boolean {
  if (Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, handlerName) === true) return false;
  const args = Reflect.getMetadata(NEST_ROUTE_ARGS_METADATA, controller, handlerName) as object | undefined;
  if (args === undefined) return false;
  return Object.keys(args).some((k) => {
    const type = k.split(':')[0];
    return type === RESPONSE_PARAM || type === NEXT_PARAM;
  });
}

/**
 * The plan of a route from its `@Cached()` options and the module's.
 * @throws CacheDefinitionError when a public route gets a user-scoped key builder from the module's options.
 */
export function compileRoutePlan(
  cached: CachedOptions,
  className: string,
  handlerName: string,
  options: ResolvedCacheOptions,
  stats: CacheStatsService,
  redirecting = false,
): RoutePlan {
  const keyBuilder = cached.keyBuilder ?? options.keyBuilder ?? defaultKeyBuilder;
  const namespace = cached.namespace ?? 'default';
  const tags = cached.tags;
  const userScoped = keyBuilder.userScoped === true;
  const isPublic = cached.public === true;
  if (isPublic && userScoped) {
    throw new CacheDefinitionError(
      `@Cached() on ${className}.${handlerName}: public: true cannot be combined with a user-scoped key builder`,
    );
  }
  return {
    namespace,
    keyBuilder,
    userScoped,
    lifetime: {
      public: isPublic,
      clientMaxAge: cached.clientMaxAge ?? options.clientMaxAge,
      sharedMaxAge: cached.sharedMaxAge,
    },
    className,
    handlerName,
    policy: entryPolicy(cached, options.defaultTtl, stats.namespace(namespace)),
    fixedTags: tags === undefined || typeof tags === 'function' ? [] : [...new Set(tags)],
    resultTags: typeof tags === 'function' ? tags : undefined,
    redirects: redirecting,
    warned: false,
    keys: new Map(),
  };
}
