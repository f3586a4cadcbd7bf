/**
 * `@nestjs/terminus` integration, a separate entry point (`nest-http-cache/terminus`) so that applications
 * without Terminus never load it.
 */
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { CacheStatusService } from './cache-status.service.js';
import type { CacheBackendName } from '../stores/cache-store.interface.js';

/** Options of {@link CacheHealthIndicator.isHealthy}. */
export interface CacheHealthOptions {
  /** Report `down` while Redis is configured but unreachable (memory fallback). @default false */
  requireRedis?: boolean;
}

/** What the indicator reports besides its status. */
export interface CacheHealthDetails {
  [key: string]: unknown;
  enabled: boolean;
  backend: CacheBackendName;
  breaker: 'open' | 'closed';
}

/**
 * Terminus health indicator of the cache. Up while the cache serves, which it does from memory while Redis is
 * away (the application keeps answering), unless `requireRedis` is set. Provide it in a module that imports
 * `TerminusModule`.
 *
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.cache.isHealthy('cache')]); }
 * ```
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly status: CacheStatusService,
  ) {}

  isHealthy<const Key extends string = 'cache'>(
    key: Key = 'cache' as Key,
    options: CacheHealthOptions = {},
  ): HealthIndicatorResult<Key> {
    const indicator = this.indicators.check(key);
    const details: CacheHealthDetails = {
      enabled: this.status.enabled,
      backend: this.status.backendName,
      breaker: this.status.breaker,
    };
    if (options.requireRedis === true && details.backend === 'memory-fallback')
      return indicator.down(details);
    return indicator.up(details);
  }
}
