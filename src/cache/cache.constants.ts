/**
 * Internal injection tokens and metadata keys. Not re-exported by the public entry point; namespaced so they
 * never clash with `@nestjs/cache-manager` or an application's own tokens.
 */

/** The options as the application passed them (`forRoot` / `forRootAsync`). */
export const CACHE_MODULE_OPTIONS = 'HTTP_CACHE:MODULE_OPTIONS';

/** The options with defaults applied and validated ({@link ResolvedCacheOptions}). */
export const RESOLVED_CACHE_OPTIONS = 'HTTP_CACHE:RESOLVED_OPTIONS';

/** Nest's metadata key for interceptors bound with `@UseInterceptors()`. */
export const NEST_INTERCEPTORS_METADATA = '__interceptors__';

/** Nest's metadata key for route handler parameter decorators (`@Res()`, `@Next()`, ...). */
export const NEST_ROUTE_ARGS_METADATA = '__routeArguments__';
