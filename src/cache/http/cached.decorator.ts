import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { CacheDefinitionError } from '../cache.errors.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { CACHED_METADATA, type CachedOptions } from './cached.metadata.js';
import { validateNamespace } from './namespace.js';

/** `ClassName.method` for a method decorator, `ClassName` for a class decorator (static methods included). */
function routeName(target: object, propertyKey: string | symbol | undefined): string {
  const owner: unknown = typeof target === 'function' ? target : target.constructor;
  const className = typeof owner === 'function' && owner.name !== '' ? owner.name : '(anonymous class)';
  return propertyKey === undefined ? className : `${className}.${String(propertyKey)}`;
}

/** A rejected option value as a message shows it. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return value === null ? 'null' : typeof value;
}

/** Throws a {@link CacheDefinitionError} naming the route when an option is invalid. */
function validate(options: CachedOptions, route: string): void {
  const where = `@Cached() on ${route}`;
  if (options.namespace !== undefined) validateNamespace(options.namespace, where);
  if (options.expire !== undefined && (!Number.isSafeInteger(options.expire) || options.expire < 1)) {
    throw new CacheDefinitionError(
      `${where}: expire must be a positive integer (seconds), got ${shown(options.expire)}`,
    );
  }
  if (options.grace !== undefined && (!Number.isSafeInteger(options.grace) || options.grace < 0)) {
    throw new CacheDefinitionError(
      `${where}: grace must be a non-negative integer (seconds), got ${shown(options.grace)}`,
    );
  }
  const refresh: unknown = options.refreshAhead;
  if (
    refresh !== undefined &&
    typeof refresh !== 'boolean' &&
    !(typeof refresh === 'number' && refresh > 0 && Number.isFinite(refresh))
  ) {
    throw new CacheDefinitionError(
      `${where}: refreshAhead must be true, false or a positive number, got ${shown(refresh)}`,
    );
  }
  if (options.keyBuilder !== undefined && typeof options.keyBuilder !== 'function') {
    throw new CacheDefinitionError(
      `${where}: keyBuilder must be a function (context) => string | undefined, got ${typeof options.keyBuilder}`,
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
