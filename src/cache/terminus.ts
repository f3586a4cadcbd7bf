/** Second entry point (`nest-http-cache/terminus`): the Terminus health indicator, kept apart so Terminus stays optional. */
export {
  CacheHealthIndicator,
  type CacheHealthOptions,
  type CacheHealthDetails,
} from './observability/cache-health.indicator.js';
