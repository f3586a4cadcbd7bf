import { CacheConfigError } from './cache.errors.js';
import { defaultUserIdResolver, isValidKeyName } from './http/cache-key.js';
import type { CacheModuleOptions, ResolvedCacheOptions } from './cache-options.interface.js';

/** Reads one variable; `ConfigService` and `process.env` both fit. */
export type EnvReader = (name: string) => unknown;

/** The environment variables {@link cacheOptionsFromEnv} reads, with their defaults. */
export const CACHE_ENV_VARIABLES = [
  'CACHE_ENABLED',
  'CACHE_DEFAULT_TTL',
  'CACHE_CLIENT_MAX_AGE',
  'CACHE_COMPRESS_ABOVE',
  'CACHE_KEY_PREFIX',
  'CACHE_STATUS_HEADER',
  'CACHE_MEMORY_MAX_ENTRIES',
  'CACHE_MEMORY_MAX_BYTES',
  'REDIS_ENABLED',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'REDIS_DB',
  'REDIS_OPERATION_TIMEOUT_MS',
  'REDIS_CONNECT_TIMEOUT_MS',
  'REDIS_INVALIDATION_TIMEOUT_MS',
  'CACHE_FALLBACK_TTL',
  'CACHE_L1_ENABLED',
  'CACHE_L1_MAX_ENTRIES',
  'CACHE_L1_MAX_BYTES',
  'CACHE_METRICS',
] as const;

const DEFAULTS = {
  enabled: false,
  defaultTtl: 300,
  clientMaxAge: 0,
  compressAbove: 4096,
  keyPrefix: 'cache',
  statusHeader: 'X-Cache',
  redisHost: 'localhost',
  redisPort: 6379,
  redisDb: 0,
  operationTimeout: 150,
  connectTimeout: 2000,
  invalidationTimeout: 1000,
  fallbackTtl: 10,
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  authHeaders: ['Authorization', 'X-API-Key'],
} as const;

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function text(read: EnvReader, name: string): string | undefined {
  const value = read(name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new CacheConfigError(name, `expected a string, got ${typeof value}`);
  }
  const s = String(value).trim();
  return s === '' ? undefined : s;
}

function bool(read: EnvReader, name: string): boolean | undefined {
  const s = text(read, name);
  if (s === undefined) return undefined;
  const lower = s.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  throw new CacheConfigError(name, `expected true or false, got "${s}"`);
}

function integer(read: EnvReader, name: string, min: number, max: number, what: string): number | undefined {
  const s = text(read, name);
  if (s === undefined) return undefined;
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    // An integer out of range is told the range it missed.
    const range = Number.isSafeInteger(n) && n >= min ? ` up to ${max}` : '';
    throw new CacheConfigError(name, `expected ${what}${range}, got "${s}"`);
  }
  return n;
}

/**
 * Builds module options from environment variables (names are part of the public contract).
 * @throws CacheConfigError naming the variable and its bad value (never a password).
 */
export function cacheOptionsFromEnv(read: EnvReader = (name) => process.env[name]): CacheModuleOptions {
  const redisUrl = text(read, 'REDIS_URL');
  if (redisUrl !== undefined) parseRedisUrl(redisUrl, 'REDIS_URL');
  const statusHeader = text(read, 'CACHE_STATUS_HEADER');
  if (statusHeader !== undefined && !HEADER_TOKEN.test(statusHeader)) {
    throw new CacheConfigError('CACHE_STATUS_HEADER', `expected an HTTP header name, got "${statusHeader}"`);
  }
  const keyPrefix = text(read, 'CACHE_KEY_PREFIX');
  if (keyPrefix !== undefined && !isValidKeyName(keyPrefix)) {
    throw new CacheConfigError(
      'CACHE_KEY_PREFIX',
      `expected 1-64 characters of A-Z a-z 0-9 _ . -, got "${keyPrefix}"`,
    );
  }
  const host = text(read, 'REDIS_HOST');
  if (host !== undefined && !isValidHost(host)) {
    throw new CacheConfigError('REDIS_HOST', `expected a host name or IP address, got "${host}"`);
  }
  const clusterNodes = text(read, 'REDIS_CLUSTER_NODES')
    ?.split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  for (const node of clusterNodes ?? []) {
    if (!isHostPort(node)) {
      throw new CacheConfigError('REDIS_CLUSTER_NODES', `expected comma-separated host:port, got "${node}"`);
    }
  }
  const metrics = text(read, 'CACHE_METRICS')?.toLowerCase();
  if (metrics !== undefined && metrics !== 'prometheus' && metrics !== 'off') {
    throw new CacheConfigError('CACHE_METRICS', `expected prometheus or off, got "${metrics}"`);
  }
  const password = read('REDIS_PASSWORD');
  return {
    enabled: bool(read, 'CACHE_ENABLED'),
    defaultTtl: integer(read, 'CACHE_DEFAULT_TTL', 1, 31_536_000, 'a positive integer'),
    clientMaxAge: integer(read, 'CACHE_CLIENT_MAX_AGE', 0, 31_536_000, 'a non-negative integer (seconds)'),
    ...compressAboveFromEnv(read),
    keyPrefix,
    statusHeader,
    ...(metrics === 'prometheus' ? { metrics } : {}),
    l1: {
      enabled: bool(read, 'CACHE_L1_ENABLED'),
      maxEntries: integer(read, 'CACHE_L1_MAX_ENTRIES', 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
      maxBytes: integer(
        read,
        'CACHE_L1_MAX_BYTES',
        1024,
        Number.MAX_SAFE_INTEGER,
        'an integer of at least 1024',
      ),
    },
    memory: {
      maxEntries: integer(read, 'CACHE_MEMORY_MAX_ENTRIES', 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
      maxBytes: integer(
        read,
        'CACHE_MEMORY_MAX_BYTES',
        1024,
        Number.MAX_SAFE_INTEGER,
        'an integer of at least 1024',
      ),
    },
    redis: {
      enabled: bool(read, 'REDIS_ENABLED'),
      url: redisUrl,
      clusterNodes,
      host,
      port: integer(read, 'REDIS_PORT', 1, 65_535, 'a port number (1-65535)'),
      // Passwords are taken as they are: leading or trailing spaces may be part of them.
      password: typeof password === 'string' && password !== '' ? password : undefined,
      db: integer(read, 'REDIS_DB', 0, 1_000_000, 'a non-negative integer'),
      operationTimeout: integer(read, 'REDIS_OPERATION_TIMEOUT_MS', 1, 60_000, 'a positive integer (ms)'),
      connectTimeout: integer(read, 'REDIS_CONNECT_TIMEOUT_MS', 1, 600_000, 'a positive integer (ms)'),
      invalidationTimeout: integer(
        read,
        'REDIS_INVALIDATION_TIMEOUT_MS',
        1,
        600_000,
        'a positive integer (ms)',
      ),
      fallbackTtl: integer(read, 'CACHE_FALLBACK_TTL', 1, 86_400, 'a positive integer (seconds)'),
    },
  };
}

interface ParsedRedisUrl {
  url: URL;
  hasPassword: boolean;
}

function parseRedisUrl(raw: string, variable: string): ParsedRedisUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The raw value may hold a password: only its shape is reported.
    throw new CacheConfigError(
      variable,
      'expected a URL like redis://host:6379/0, got a value that is not a URL',
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new CacheConfigError(
      variable,
      `expected a redis:// or rediss:// URL, got protocol "${url.protocol}"`,
    );
  }
  if (url.hostname === '') throw new CacheConfigError(variable, 'expected a URL with a host name');
  if (url.hash !== '' || url.search !== '') {
    // Most likely an unencoded "#" or "?" in the password, which then ends up elsewhere in the URL.
    throw new CacheConfigError(
      variable,
      'has a "#" or "?" outside the password encoding: percent-encode special characters in the password, or use REDIS_PASSWORD',
    );
  }
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) {
    // The path is not repeated: a password with an unencoded "/" would end up in it.
    throw new CacheConfigError(variable, 'expected a database number as the URL path (redis://host:6379/0)');
  }
  return { url, hasPassword: url.password !== '' };
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^\[?[0-9A-Fa-f:.]+\]?$/;

/** A DNS name, an IPv4 address, or an IPv6 address (bracketed or not). */
function isValidHost(host: string): boolean {
  if (HOST_NAME.test(host)) return true;
  return host.includes(':') && IPV6.test(host) && host.startsWith('[') === host.endsWith(']');
}

/** The URL as it may be logged: scheme, user, host, port and database only, any password as `***`. */
function isHostPort(node: string): boolean {
  const colon = node.lastIndexOf(':');
  if (colon <= 0) return false;
  const port = Number(node.slice(colon + 1));
  return isValidHost(node.slice(0, colon)) && Number.isInteger(port) && port >= 1 && port <= 65_535;
}

function maskPassword(url: URL): string {
  const user =
    url.username === '' && url.password === '' ? '' : `${url.username}${url.password === '' ? '' : ':***'}@`;
  return `${url.protocol}//${user}${url.host}${url.pathname}`;
}

/** `CACHE_COMPRESS_ABOVE`: a size in bytes, or `off` / `false` (not `0`, which would read as "always"). */
function compressAboveFromEnv(read: EnvReader): Pick<CacheModuleOptions, 'compressAbove'> {
  const value = text(read, 'CACHE_COMPRESS_ABOVE');
  if (value === undefined) return {};
  if (FALSE_WORDS.has(value.toLowerCase()) && value !== '0') return { compressAbove: false };
  return {
    compressAbove: integer(
      read,
      'CACHE_COMPRESS_ABOVE',
      1,
      Number.MAX_SAFE_INTEGER,
      'a size in bytes (at least 1) or off',
    ),
  };
}

function positiveInt(value: number | undefined, fallback: number, option: string, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new CacheConfigError(option, `expected an integer of at least ${min}, got ${String(value)}`);
  }
  return value;
}

function resolveRedisUrl(options: CacheModuleOptions): ParsedRedisUrl {
  const redis = options.redis ?? {};
  if (redis.url !== undefined) {
    const parsed = parseRedisUrl(redis.url, 'redis.url');
    if (!parsed.hasPassword && redis.password !== undefined && redis.password !== '') {
      parsed.url.password = encodeURIComponent(redis.password);
      parsed.hasPassword = true;
    }
    return parsed;
  }
  const host = redis.host ?? DEFAULTS.redisHost;
  if (!isValidHost(host))
    throw new CacheConfigError('redis.host', `expected a host name or IP address, got "${host}"`);
  const port = positiveInt(redis.port, DEFAULTS.redisPort, 'redis.port');
  if (port > 65_535)
    throw new CacheConfigError('redis.port', `expected a port number (1-65535), got ${port}`);
  const db = positiveInt(redis.db, DEFAULTS.redisDb, 'redis.db', 0);
  const url = new URL('redis://localhost');
  url.hostname = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  url.port = String(port);
  url.pathname = `/${db}`;
  if (redis.password !== undefined && redis.password !== '')
    url.password = encodeURIComponent(redis.password);
  return { url, hasPassword: url.password !== '' };
}

function resolveClusterNodes(nodes: string[] | undefined): string[] | undefined {
  if (nodes === undefined || nodes.length === 0) return undefined;
  for (const node of nodes) {
    if (!isHostPort(node))
      throw new CacheConfigError('redis.clusterNodes', `expected host:port, got "${node}"`);
  }
  return [...nodes];
}

/**
 * Applies defaults and checks every option once; the rest of the module reads only the result.
 * @throws CacheConfigError naming the option at fault.
 */
export function resolveCacheOptions(options: CacheModuleOptions = {}): ResolvedCacheOptions {
  const keyPrefix = options.keyPrefix ?? DEFAULTS.keyPrefix;
  if (!isValidKeyName(keyPrefix)) {
    throw new CacheConfigError(
      'keyPrefix',
      `expected 1-64 characters of A-Z a-z 0-9 _ . -, got "${keyPrefix}"`,
    );
  }
  const statusHeader = options.statusHeader ?? DEFAULTS.statusHeader;
  if (!HEADER_TOKEN.test(statusHeader)) {
    throw new CacheConfigError('statusHeader', `expected an HTTP header name, got "${statusHeader}"`);
  }
  const redis = options.redis ?? {};
  const redisEnabled = redis.enabled ?? false;
  const { url, hasPassword } = resolveRedisUrl(options);
  return {
    enabled: options.enabled ?? DEFAULTS.enabled,
    defaultTtl: positiveInt(options.defaultTtl, DEFAULTS.defaultTtl, 'defaultTtl'),
    clientMaxAge: positiveInt(options.clientMaxAge, DEFAULTS.clientMaxAge, 'clientMaxAge', 0),
    compressAbove:
      options.compressAbove === false
        ? undefined
        : positiveInt(options.compressAbove, DEFAULTS.compressAbove, 'compressAbove'),
    keyPrefix,
    statusHeader,
    redis: {
      enabled: redisEnabled,
      url: url.toString(),
      // In cluster mode the URL only lends its credentials and scheme: the nodes are what to name.
      safeUrl: redis.clusterNodes?.length ? `cluster ${redis.clusterNodes.join(',')}` : maskPassword(url),
      hasPassword,
      operationTimeout: positiveInt(
        redis.operationTimeout,
        DEFAULTS.operationTimeout,
        'redis.operationTimeout',
      ),
      connectTimeout: positiveInt(redis.connectTimeout, DEFAULTS.connectTimeout, 'redis.connectTimeout'),
      invalidationTimeout: positiveInt(
        redis.invalidationTimeout,
        DEFAULTS.invalidationTimeout,
        'redis.invalidationTimeout',
      ),
      fallbackTtl: positiveInt(redis.fallbackTtl, DEFAULTS.fallbackTtl, 'redis.fallbackTtl'),
      clusterNodes: resolveClusterNodes(redis.clusterNodes),
    },
    memory: {
      maxEntries: positiveInt(options.memory?.maxEntries, DEFAULTS.maxEntries, 'memory.maxEntries'),
      maxBytes: positiveInt(options.memory?.maxBytes, DEFAULTS.maxBytes, 'memory.maxBytes'),
    },
    authHeaders: options.authHeaders ?? [...DEFAULTS.authHeaders],
    userId: options.userId ?? defaultUserIdResolver,
    keyBuilder: options.keyBuilder,
    metrics: options.metrics,
    l1: {
      enabled: options.l1?.enabled ?? false,
      maxEntries: positiveInt(options.l1?.maxEntries, 1000, 'l1.maxEntries'),
      maxBytes: positiveInt(options.l1?.maxBytes, 16 * 1024 * 1024, 'l1.maxBytes'),
    },
    stampede: {
      coalesceTimeout: positiveInt(options.stampede?.coalesceTimeout, 5000, 'stampede.coalesceTimeout'),
      lockTtl: positiveInt(options.stampede?.lockTtl, 5000, 'stampede.lockTtl'),
    },
  };
}
