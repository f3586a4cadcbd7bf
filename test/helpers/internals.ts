// Internal pieces that tests inspect; applications never import these.
export { CacheBackend } from '../../src/cache/engine/cache-backend.js';
export { MemoryStore } from '../../src/cache/stores/memory.store.js';
export { RedisStore } from '../../src/cache/stores/redis.store.js';
export { InvalidationService, CacheStatusService } from '../../src/cache/index.js';
