import { Injectable } from '@nestjs/common';
import { CacheBackend } from '../engine/cache-backend.js';
import type { CacheBackendName } from '../stores/cache-store.interface.js';

/** Read-only view of the cache's state, for health checks and diagnostics. */
@Injectable()
export class CacheStatusService {
  constructor(private readonly backend: CacheBackend) {}

  /** Whether caching is enabled at all. */
  get enabled(): boolean {
    return this.backend.enabled;
  }

  /** The store answering right now: `redis`, `memory` (Redis not enabled) or `memory-fallback` (Redis down). */
  get backendName(): CacheBackendName {
    return this.backend.backend;
  }

  /** The Redis circuit breaker: `open` while requests are kept away from Redis. */
  get breaker(): 'open' | 'closed' {
    return this.backend.breakerState;
  }

  /** Whether Redis is configured but requests are being served from memory. */
  get fallbackActive(): boolean {
    return this.backend.backend === 'memory-fallback';
  }
}
