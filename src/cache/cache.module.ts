import { Module, type DynamicModule, type NestModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DiscoveryModule } from '@nestjs/core';
import { CacheBackend } from './engine/cache-backend.js';
import { CacheEngine } from './engine/cache-engine.js';
import { cacheOptionsFromEnv, resolveCacheOptions } from './cache.config.js';
import { CACHE_MODULE_OPTIONS, RESOLVED_CACHE_OPTIONS } from './cache.constants.js';
import { CacheInterceptor } from './http/cache.interceptor.js';
import {
  CACHE_ASYNC_OPTIONS_TYPE,
  CACHE_OPTIONS_TYPE,
  ConfigurableCacheModule,
} from './cache.module-definition.js';
import type { CacheModuleOptions } from './cache-options.interface.js';
import { CacheRoutePruner } from './http/cache-route-pruner.js';
import { EarlyAnswers } from './http/early-answers.js';
import { CacheStatusService } from './observability/cache-status.service.js';
import { CacheStatsService } from './observability/cache-stats.service.js';
import { CacheMetricsExporter } from './observability/cache-metrics.exporter.js';
import { InvalidateCacheInterceptor } from './invalidation/invalidate-cache.interceptor.js';
import { InvalidationService } from './invalidation/invalidation.service.js';
import { CacheService } from './methods/cache.service.js';
import { MethodCacheExplorer } from './methods/method-cache.explorer.js';
import { MethodCacheInvoker } from './methods/method-invoker.js';
import { ValueCache } from './methods/value-cache.js';

/** Reads the cache's environment variables through the application's `ConfigService`, or `process.env`. */
function optionsFromConfig(config: ConfigService | undefined): CacheModuleOptions {
  const service = config ?? new ConfigService();
  return cacheOptionsFromEnv((name) => service.get<unknown>(name));
}

/**
 * Response caching for controllers, and caching of provider methods (`@Cacheable`) and of any value
 * (`CacheService`). Global: import it once in the root module.
 *
 * @example
 * ```ts
 * @Module({ imports: [CacheModule.forRootAsync()] }) // reads CACHE_ENABLED, REDIS_* ... from the environment
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: RESOLVED_CACHE_OPTIONS,
      useFactory: (options: CacheModuleOptions) => resolveCacheOptions(options),
      inject: [CACHE_MODULE_OPTIONS],
    },
    CacheBackend,
    CacheEngine,
    CacheInterceptor,
    InvalidateCacheInterceptor,
    CacheRoutePruner,
    EarlyAnswers,
    CacheStatusService,
    CacheStatsService,
    CacheMetricsExporter,
    InvalidationService,
    ValueCache,
    MethodCacheInvoker,
    MethodCacheExplorer,
    CacheService,
  ],
  exports: [
    CacheStatsService,
    RESOLVED_CACHE_OPTIONS,
    CacheBackend,
    CacheEngine,
    CacheInterceptor,
    InvalidateCacheInterceptor,
    CacheStatusService,
    InvalidationService,
    CacheService,
  ],
})
export class CacheModule extends ConfigurableCacheModule implements NestModule {
  constructor(
    private readonly pruner: CacheRoutePruner,
    private readonly early: EarlyAnswers,
  ) {
    super();
  }

  /**
   * Called by Nest right before it registers routes: unbinds the interceptor when caching is disabled (see
   * {@link CacheRoutePruner}) and surveys the cached routes for their hooks before the guards (see
   * {@link EarlyAnswers}).
   */
  configure(): void {
    this.pruner.unbindForRouteRegistration();
    this.early.register();
  }

  /** Explicit options; the environment is not read. */
  static override forRoot(options: typeof CACHE_OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  /**
   * Without arguments: options from the environment through `ConfigService` (the application's, when it
   * provides one globally, else one over `process.env`). With `{ imports, inject, useFactory }`: yours.
   * Invalid values fail startup with an error naming the variable.
   */
  static override forRootAsync(options: typeof CACHE_ASYNC_OPTIONS_TYPE = {}): DynamicModule {
    const fromEnv =
      options.useFactory === undefined && options.useClass === undefined && options.useExisting === undefined;
    return super.forRootAsync(
      fromEnv
        ? {
            ...options,
            inject: [{ token: ConfigService, optional: true }],
            useFactory: (config?: ConfigService) => optionsFromConfig(config),
          }
        : options,
    );
  }
}
