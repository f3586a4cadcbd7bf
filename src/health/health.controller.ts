import { Controller, Get } from '@nestjs/common';
import { CacheStatusService, type CacheBackendName } from '../cache/index.js';

/** Liveness and the cache backend in use. */
@Controller('health')
export class HealthController {
  constructor(private readonly cache: CacheStatusService) {}

  @Get()
  health(): { status: 'ok'; cache: { enabled: boolean; backend: CacheBackendName } } {
    return { status: 'ok', cache: { enabled: this.cache.enabled, backend: this.cache.backendName } };
  }
}
