import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { CacheDefinitionError } from '../cache.errors.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHED_METADATA, type CachedOptions } from './cached.metadata.js';
import { shown, validateEntryOptions } from '../entry-options.js';

/** `ClassName.method` for a method decorator, `ClassName` for a class decorator (static methods included). */
function routeName(target: object, propertyKey: string | symbol | undefined): string {
  const owner: unknown = typeof target === 'function' ? target : target.constructor;
  const className = typeof owner === 'function' && owner.name !== '' ? owner.name : '(anonymous class)';
  return propertyKey === undefined ? className : `${className}.${String(propertyKey)}`;
}

/** Throws a {@link CacheDefinitionError} naming the route when an option is invalid. */
function validate(options: CachedOptions, route: string): void {
  const where = `@Cached() on ${route}`;
  validateEntryOptions(options, where);
  if (options.keyBuilder !== undefined && typeof options.keyBuilder !== 'function') {
    throw new CacheDefinitionError(
      `${where}: keyBuilder must be a function (context) => string | undefined, got ${typeof options.keyBuilder}`,
    );
  }
  if (options.public !== undefined && typeof options.public !== 'boolean') {
    throw new CacheDefinitionError(`${where}: public must be true or false, got ${shown(options.public)}`);
  }
  for (const name of ['clientMaxAge', 'sharedMaxAge'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new CacheDefinitionError(
        `${where}: ${name} must be a non-negative integer (seconds), got ${shown(value)}`,
      );
    }
  }
  if (options.sharedMaxAge !== undefined && options.public !== true) {
    throw new CacheDefinitionError(
      `${where}: sharedMaxAge applies only to routes declared public: true (shared caches must not store others)`,
    );
  }
  if (options.public === true && options.keyBuilder?.userScoped === true) {
    throw new CacheDefinitionError(
      `${where}: public: true cannot be combined with a user-scoped key builder (its responses differ per user)`,
    );
  }
}

/**
 * Caches the responses of a GET route (or of every route of a controller). On its own it is enough: it binds
 * the cache interceptor. Does nothing (and costs nothing) when caching is disabled.
 *
 * Options are checked where the decorator is applied, when the class is defined: an invalid one throws a
 * `CacheDefinitionError` whose message names the route (`@Cached() on UsersController.me: ...`, or the class
 * name alone on a controller).
 *
 * @example
 * ```ts
 * @Get('me')
 * @Cached({ namespace: 'user', expire: 60, keyBuilder: userScopedKeyBuilder })
 * me(@Req() req) { ... }
 *
 * @Get()
 * @Cached({ namespace: 'products', keyBuilder: paginatedKeyBuilder })
 * list(@Query() query: PageQuery) { ... }
 * ```
 */
export function Cached(options: CachedOptions = {}): MethodDecorator & ClassDecorator {
  const decorate = applyDecorators(CACHED_METADATA(options), UseInterceptors(CacheInterceptor));
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor): void => {
    validate(options, routeName(target, propertyKey));
    decorate(target, propertyKey, descriptor);
  };
}
