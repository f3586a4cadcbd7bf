import { describe, expect, it } from 'vitest';
import { cacheOptionsFromEnv, resolveCacheOptions } from './cache.config.js';
import { CacheConfigError } from './cache.errors.js';
import { defaultUserIdResolver } from './http/cache-key.js';
import type { CacheModuleOptions } from './cache-options.interface.js';

type Env = Record<string, unknown>;

function fromEnv(env: Env): CacheModuleOptions {
  return cacheOptionsFromEnv((name) => env[name]);
}

function resolveEnv(env: Env) {
  return resolveCacheOptions(fromEnv(env));
}

/** Runs `fn` and returns the `CacheConfigError` it throws; fails the test on anything else. */
function configError(fn: () => unknown): CacheConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CacheConfigError) return error;
    throw error;
  }
  throw new Error('expected a CacheConfigError, nothing was thrown');
}

const SPECIAL_PASSWORD = 'p@ss:w/rd%#? é';

describe('cacheOptionsFromEnv + resolveCacheOptions: defaults', () => {
  const expectDefaults = (resolved: ReturnType<typeof resolveCacheOptions>) => {
    expect(resolved.enabled).toBe(false);
    expect(resolved.defaultTtl).toBe(300);
    expect(resolved.clientMaxAge).toBe(0);
    expect(resolved.compressAbove).toBe(4096);
    expect(resolved.keyPrefix).toBe('cache');
    expect(resolved.statusHeader).toBe('X-Cache');
    expect(resolved.redis.enabled).toBe(false);
    expect(resolved.redis.url).toBe('redis://localhost:6379/0');
    expect(resolved.redis.safeUrl).toBe('redis://localhost:6379/0');
    expect(resolved.redis.hasPassword).toBe(false);
    expect(resolved.redis.operationTimeout).toBe(150);
    expect(resolved.redis.connectTimeout).toBe(2000);
    expect(resolved.memory).toEqual({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
    expect(resolved.authHeaders).toEqual(['Authorization', 'X-API-Key']);
    expect(resolved.userId).toBe(defaultUserIdResolver);
    expect(resolved.keyBuilder).toBeUndefined();
  };

  it('applies every default to an empty environment', () => {
    expectDefaults(resolveEnv({}));
  });

  it('applies every default without options', () => {
    expectDefaults(resolveCacheOptions());
    expectDefaults(resolveCacheOptions({}));
  });

  it('treats empty and blank variables as unset', () => {
    const blank: Env = {};
    for (const name of [
      'CACHE_ENABLED',
      'CACHE_DEFAULT_TTL',
      'CACHE_CLIENT_MAX_AGE',
      'CACHE_KEY_PREFIX',
      'CACHE_STATUS_HEADER',
      'CACHE_MEMORY_MAX_ENTRIES',
      'CACHE_MEMORY_MAX_BYTES',
      'REDIS_ENABLED',
      'REDIS_URL',
      'REDIS_HOST',
      'REDIS_PORT',
      'REDIS_PASSWORD',
      'REDIS_DB',
      'REDIS_OPERATION_TIMEOUT_MS',
      'REDIS_CONNECT_TIMEOUT_MS',
    ]) {
      blank[name] = name.startsWith('CACHE') ? '' : '   ';
    }
    blank['REDIS_PASSWORD'] = '';
    expectDefaults(resolveEnv(blank));
  });

  it('treats null variables as unset', () => {
    expectDefaults(resolveEnv({ CACHE_ENABLED: null, CACHE_DEFAULT_TTL: null, REDIS_PASSWORD: null }));
  });

  it('does not return a shared authHeaders array', () => {
    const first = resolveCacheOptions();
    first.authHeaders.push('X-Other');
    expect(resolveCacheOptions().authHeaders).toEqual(['Authorization', 'X-API-Key']);
  });
});

describe('cacheOptionsFromEnv: valid values', () => {
  it('maps every variable to its option', () => {
    const options = fromEnv({
      CACHE_ENABLED: 'true',
      CACHE_DEFAULT_TTL: '60',
      CACHE_KEY_PREFIX: 'my-app.v2_x',
      CACHE_STATUS_HEADER: 'X-My-Cache',
      CACHE_MEMORY_MAX_ENTRIES: '500',
      CACHE_MEMORY_MAX_BYTES: '1024',
      REDIS_ENABLED: 'yes',
      REDIS_HOST: 'cache.internal',
      REDIS_PORT: '6380',
      REDIS_PASSWORD: 'pw',
      REDIS_DB: '3',
      REDIS_OPERATION_TIMEOUT_MS: '250',
      REDIS_CONNECT_TIMEOUT_MS: '5000',
      REDIS_INVALIDATION_TIMEOUT_MS: '700',
      CACHE_FALLBACK_TTL: '7',
      CACHE_L1_ENABLED: 'yes',
      CACHE_L1_MAX_ENTRIES: '50',
      CACHE_L1_MAX_BYTES: '4096',
    });
    expect(options).toEqual({
      enabled: true,
      defaultTtl: 60,
      keyPrefix: 'my-app.v2_x',
      statusHeader: 'X-My-Cache',
      memory: { maxEntries: 500, maxBytes: 1024 },
      l1: { enabled: true, maxEntries: 50, maxBytes: 4096 },
      redis: {
        enabled: true,
        url: undefined,
        host: 'cache.internal',
        port: 6380,
        password: 'pw',
        db: 3,
        operationTimeout: 250,
        connectTimeout: 5000,
        invalidationTimeout: 700,
        fallbackTtl: 7,
      },
    });
  });

  it('resolves the mapped variables into the connection URL', () => {
    const resolved = resolveEnv({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6380', REDIS_DB: '3' });
    expect(resolved.redis.url).toBe('redis://cache.internal:6380/3');
  });

  it('trims surrounding whitespace of non-password values', () => {
    const options = fromEnv({ CACHE_DEFAULT_TTL: ' 42 ', CACHE_ENABLED: ' on ', CACHE_KEY_PREFIX: ' app ' });
    expect(options.defaultTtl).toBe(42);
    expect(options.enabled).toBe(true);
    expect(options.keyPrefix).toBe('app');
  });

  it('keeps the password exactly as given, spaces included', () => {
    expect(fromEnv({ REDIS_PASSWORD: ' pw ' }).redis?.password).toBe(' pw ');
  });

  it('accepts non-string values from a ConfigService', () => {
    const options = fromEnv({
      CACHE_ENABLED: true,
      CACHE_DEFAULT_TTL: 60,
      REDIS_PORT: 6380,
      REDIS_ENABLED: false,
    });
    expect(options.enabled).toBe(true);
    expect(options.defaultTtl).toBe(60);
    expect(options.redis?.port).toBe(6380);
    expect(options.redis?.enabled).toBe(false);
  });

  it('accepts the bounds of each integer', () => {
    expect(fromEnv({ CACHE_DEFAULT_TTL: '1' }).defaultTtl).toBe(1);
    expect(fromEnv({ CACHE_DEFAULT_TTL: '31536000' }).defaultTtl).toBe(31_536_000);
    expect(fromEnv({ CACHE_COMPRESS_ABOVE: '2048' }).compressAbove).toBe(2048);
    expect(fromEnv({ CACHE_COMPRESS_ABOVE: 'off' }).compressAbove).toBe(false);
    expect(fromEnv({ CACHE_COMPRESS_ABOVE: 'FALSE' }).compressAbove).toBe(false);
    expect(resolveCacheOptions(fromEnv({ CACHE_COMPRESS_ABOVE: 'off' })).compressAbove).toBeUndefined();
    expect(resolveCacheOptions({ compressAbove: 1 }).compressAbove).toBe(1);
    expect(fromEnv({ CACHE_CLIENT_MAX_AGE: '0' }).clientMaxAge).toBe(0);
    expect(fromEnv({ CACHE_CLIENT_MAX_AGE: '31536000' }).clientMaxAge).toBe(31_536_000);
    expect(resolveCacheOptions(fromEnv({ CACHE_CLIENT_MAX_AGE: '60' })).clientMaxAge).toBe(60);
    expect(fromEnv({ REDIS_PORT: '1' }).redis?.port).toBe(1);
    expect(fromEnv({ REDIS_PORT: '65535' }).redis?.port).toBe(65_535);
    expect(fromEnv({ REDIS_DB: '0' }).redis?.db).toBe(0);
    expect(fromEnv({ CACHE_MEMORY_MAX_BYTES: '1024' }).memory?.maxBytes).toBe(1024);
    expect(fromEnv({ CACHE_MEMORY_MAX_ENTRIES: '1' }).memory?.maxEntries).toBe(1);
  });

  const TRUE_WORDS = ['true', 'TRUE', 'True', '1', 'yes', 'YES', 'Yes', 'on', 'ON', 'oN'];
  const FALSE_WORDS = ['false', 'FALSE', 'False', '0', 'no', 'NO', 'No', 'off', 'OFF', 'oFf'];

  for (const name of ['CACHE_ENABLED', 'REDIS_ENABLED'] as const) {
    it(`accepts true/false/1/0/yes/no/on/off in any case for ${name}`, () => {
      const read = (value: string) => {
        const options = fromEnv({ [name]: value });
        return name === 'CACHE_ENABLED' ? options.enabled : options.redis?.enabled;
      };
      for (const word of TRUE_WORDS) expect(read(word), word).toBe(true);
      for (const word of FALSE_WORDS) expect(read(word), word).toBe(false);
    });
  }
});

describe('cacheOptionsFromEnv: invalid values', () => {
  const INVALID: Record<string, string[]> = {
    CACHE_ENABLED: ['maybe', 'tru', '2', 'y', 'enabled', 'true!'],
    REDIS_ENABLED: ['maybe', 'nope', '-1', 'onn'],
    CACHE_DEFAULT_TTL: [
      'abc',
      '0',
      '-5',
      '1.5',
      '1e3',
      '+5',
      '0x10',
      '31536001',
      '5s',
      '99999999999999999999',
    ],
    CACHE_CLIENT_MAX_AGE: ['-1', '1.5', '60s', 'forever', '31536001'],
    CACHE_COMPRESS_ABOVE: ['0', '-1', '4kb', 'big', '1.5'],
    CACHE_MEMORY_MAX_ENTRIES: ['0', '-1', 'many', '2.5', '10k'],
    CACHE_MEMORY_MAX_BYTES: ['1023', '0', '-1024', '1kb', '64MB'],
    REDIS_PORT: ['99999', '65536', '0', '-1', 'http', '6379.5', '6379a'],
    REDIS_DB: ['-1', 'one', '1.5', '1000001'],
    REDIS_OPERATION_TIMEOUT_MS: ['0', '60001', 'fast', '-3'],
    REDIS_CONNECT_TIMEOUT_MS: ['0', '600001', 'slow', '1.1'],
    CACHE_KEY_PREFIX: ['a:b', 'a b', 'a*', 'a?', 'a[b]', 'é', 'x'.repeat(65), 'a/b', 'a{b}'],
    CACHE_STATUS_HEADER: ['X Cache', 'X:Cache', 'X-Cachë', 'X(Cache)', 'X/Cache', 'X"Cache', 'X,Cache'],
  };

  for (const [name, values] of Object.entries(INVALID)) {
    for (const value of values) {
      it(`rejects ${name}=${JSON.stringify(value)} naming the variable and the value`, () => {
        const error = configError(() => fromEnv({ [name]: value }));
        expect(error.code).toBe('E_CACHE_CONFIG');
        expect(error.variable).toBe(name);
        expect(error.message.startsWith(`${name}: `)).toBe(true);
        expect(error.message).toContain(`"${value}"`);
      });
    }
  }

  it('rejects a value that is not a string, number or boolean', () => {
    for (const value of [{}, ['1'], () => '1']) {
      const error = configError(() => fromEnv({ CACHE_DEFAULT_TTL: value }));
      expect(error.variable).toBe('CACHE_DEFAULT_TTL');
      expect(error.message.startsWith('CACHE_DEFAULT_TTL: ')).toBe(true);
    }
  });

  it('words the TTL error as documented', () => {
    expect(configError(() => fromEnv({ CACHE_DEFAULT_TTL: 'abc' })).message).toBe(
      'CACHE_DEFAULT_TTL: expected a positive integer, got "abc"',
    );
  });

  it('names the limit an integer is over', () => {
    expect(configError(() => fromEnv({ CACHE_DEFAULT_TTL: '31536001' })).message).toBe(
      'CACHE_DEFAULT_TTL: expected a positive integer up to 31536000, got "31536001"',
    );
    expect(configError(() => fromEnv({ REDIS_OPERATION_TIMEOUT_MS: '60001' })).message).toBe(
      'REDIS_OPERATION_TIMEOUT_MS: expected a positive integer (ms) up to 60000, got "60001"',
    );
  });

  it('reports the trimmed value', () => {
    expect(configError(() => fromEnv({ CACHE_ENABLED: '  maybe ' })).message).toContain('"maybe"');
  });

  for (const value of [
    'not a url',
    'localhost:6379',
    'http://host:6379',
    'redis://',
    'redis://host/abc',
    'redis:host',
  ]) {
    it(`rejects REDIS_URL=${JSON.stringify(value)} naming the variable`, () => {
      const error = configError(() => fromEnv({ REDIS_URL: value }));
      expect(error.variable).toBe('REDIS_URL');
      expect(error.message.startsWith('REDIS_URL: ')).toBe(true);
    });
  }

  it('accepts redis:// and rediss:// URLs', () => {
    expect(resolveEnv({ REDIS_URL: 'redis://cache.internal:6379/2' }).redis.url).toBe(
      'redis://cache.internal:6379/2',
    );
    expect(resolveEnv({ REDIS_URL: 'rediss://cache.internal:6380' }).redis.url).toBe(
      'rediss://cache.internal:6380',
    );
  });

  // An unusable host must not silently become "localhost".
  for (const host of ['redis host', 'cache.internal:6380', 'host/path', 'a@b']) {
    it(`rejects REDIS_HOST=${JSON.stringify(host)} instead of falling back to localhost`, () => {
      const error = configError(() => resolveEnv({ REDIS_HOST: host }));
      expect(error.message.startsWith('REDIS_HOST: ')).toBe(true);
      expect(error.message).toContain(`"${host}"`);
    });
  }
});

describe('Redis URL and password', () => {
  it('URL-encodes a password with special characters and keeps it out of safeUrl', () => {
    const resolved = resolveEnv({ REDIS_PASSWORD: SPECIAL_PASSWORD });
    const url = new URL(resolved.redis.url);
    expect(decodeURIComponent(url.password)).toBe(SPECIAL_PASSWORD);
    expect(url.hostname).toBe('localhost');
    expect(url.port).toBe('6379');
    expect(url.pathname).toBe('/0');
    expect(resolved.redis.hasPassword).toBe(true);
    const safe = resolved.redis.safeUrl;
    expect(new URL(safe).password).toBe('***');
    expect(safe).not.toContain(SPECIAL_PASSWORD);
    expect(safe).not.toContain(encodeURIComponent(SPECIAL_PASSWORD));
    expect(safe).not.toContain(url.password);
    expect(new URL(safe).host).toBe('localhost:6379');
  });

  it('injects REDIS_PASSWORD into a REDIS_URL that has none', () => {
    const resolved = resolveEnv({
      REDIS_URL: 'redis://cache.internal:6380/2',
      REDIS_PASSWORD: SPECIAL_PASSWORD,
    });
    const url = new URL(resolved.redis.url);
    expect(decodeURIComponent(url.password)).toBe(SPECIAL_PASSWORD);
    expect(url.host).toBe('cache.internal:6380');
    expect(url.pathname).toBe('/2');
    expect(resolved.redis.hasPassword).toBe(true);
    expect(resolved.redis.safeUrl).not.toContain(encodeURIComponent(SPECIAL_PASSWORD));
    expect(resolved.redis.safeUrl).not.toContain(SPECIAL_PASSWORD);
  });

  it('keeps the password of a REDIS_URL over REDIS_PASSWORD', () => {
    const resolved = resolveEnv({
      REDIS_URL: 'redis://:from-url@cache.internal:6379',
      REDIS_PASSWORD: 'from-env',
    });
    expect(new URL(resolved.redis.url).password).toBe('from-url');
    expect(resolved.redis.url).not.toContain('from-env');
  });

  it('lets REDIS_URL win over REDIS_HOST, REDIS_PORT and REDIS_DB', () => {
    const resolved = resolveEnv({
      REDIS_URL: 'redis://from-url:7000/4',
      REDIS_HOST: 'from-host',
      REDIS_PORT: '7001',
      REDIS_DB: '5',
    });
    expect(resolved.redis.url).toBe('redis://from-url:7000/4');
  });

  it('masks the password of a REDIS_URL, keeping the user name', () => {
    const resolved = resolveEnv({ REDIS_URL: 'redis://alice:s3cret@cache.internal:6379/1' });
    expect(resolved.redis.hasPassword).toBe(true);
    expect(resolved.redis.url).toBe('redis://alice:s3cret@cache.internal:6379/1');
    expect(resolved.redis.safeUrl).toBe('redis://alice:***@cache.internal:6379/1');
  });

  it('masks a percent-encoded password of a REDIS_URL', () => {
    const resolved = resolveEnv({ REDIS_URL: 'redis://:p%40ss%3Aw@cache.internal:6379' });
    expect(decodeURIComponent(new URL(resolved.redis.url).password)).toBe('p@ss:w');
    expect(resolved.redis.safeUrl).not.toContain('p%40ss');
    expect(resolved.redis.safeUrl).not.toContain('p@ss');
  });

  it('sets hasPassword only when there is a password', () => {
    expect(resolveEnv({}).redis.hasPassword).toBe(false);
    expect(resolveEnv({ REDIS_URL: 'redis://cache.internal:6379' }).redis.hasPassword).toBe(false);
    expect(resolveEnv({ REDIS_URL: 'redis://alice@cache.internal:6379' }).redis.hasPassword).toBe(false);
    expect(resolveEnv({ REDIS_URL: 'redis://:pw@cache.internal:6379' }).redis.hasPassword).toBe(true);
    expect(resolveEnv({ REDIS_PASSWORD: 'pw' }).redis.hasPassword).toBe(true);
    expect(resolveEnv({ REDIS_PASSWORD: '' }).redis.hasPassword).toBe(false);
  });

  it('does not claim a password for an empty password option next to a URL', () => {
    const resolved = resolveCacheOptions({ redis: { url: 'redis://cache.internal:6379', password: '' } });
    expect(new URL(resolved.redis.url).password).toBe('');
    expect(resolved.redis.hasPassword).toBe(false);
  });

  it('brackets an IPv6 host', () => {
    expect(resolveEnv({ REDIS_HOST: '::1' }).redis.url).toBe('redis://[::1]:6379/0');
    expect(resolveEnv({ REDIS_HOST: '[::1]', REDIS_PORT: '6380' }).redis.url).toBe('redis://[::1]:6380/0');
  });

  const BAD_URLS_WITH_SECRET = [
    'redis://:s3cret@',
    'redis://:s3cret@host:99999999',
    'http://:s3cret@host:6379',
    'redis://:s3cret@host:6379/abc',
    'redis://:s3cret@host:6379/0/1',
    'redis://user:s3cret@:6379',
    's3cret',
  ];

  for (const raw of BAD_URLS_WITH_SECRET) {
    it(`never puts the password of ${JSON.stringify(raw)} in an error message`, () => {
      const fromEnvError = configError(() => fromEnv({ REDIS_URL: raw }));
      expect(fromEnvError.message.startsWith('REDIS_URL: ')).toBe(true);
      expect(fromEnvError.message).not.toContain('s3cret');
      const fromOptionsError = configError(() => resolveCacheOptions({ redis: { url: raw } }));
      expect(fromOptionsError.message.startsWith('redis.url: ')).toBe(true);
      expect(fromOptionsError.message).not.toContain('s3cret');
    });
  }

  // A password holding an unencoded "/" ends the authority early: what follows it is parsed as the path.
  it('does not echo the tail of an unencoded password that the URL parser took for the path', () => {
    const error = configError(() => fromEnv({ REDIS_URL: 'redis://default:123/s3cret@cache.internal:6379' }));
    expect(error.message.startsWith('REDIS_URL: ')).toBe(true);
    expect(error.message).not.toContain('s3cret');
  });

  it('never puts REDIS_PASSWORD in an error message about another variable', () => {
    const error = configError(() => resolveEnv({ REDIS_PASSWORD: SPECIAL_PASSWORD, REDIS_PORT: '99999' }));
    expect(error.message).not.toContain(SPECIAL_PASSWORD);
    expect(error.message).not.toContain(encodeURIComponent(SPECIAL_PASSWORD));
  });
});

describe('resolveCacheOptions: explicit options', () => {
  it('keeps valid explicit values', () => {
    const keyBuilder = () => 'k';
    const userId = () => 'u';
    const resolved = resolveCacheOptions({
      enabled: true,
      defaultTtl: 10,
      keyPrefix: 'app',
      statusHeader: 'X-App-Cache',
      redis: { enabled: true, host: 'h', port: 7000, db: 2, operationTimeout: 5, connectTimeout: 6 },
      memory: { maxEntries: 3, maxBytes: 4096 },
      authHeaders: ['X-Token'],
      userId,
      keyBuilder,
    });
    expect(resolved).toMatchObject({
      enabled: true,
      defaultTtl: 10,
      keyPrefix: 'app',
      statusHeader: 'X-App-Cache',
      redis: { enabled: true, url: 'redis://h:7000/2', operationTimeout: 5, connectTimeout: 6 },
      memory: { maxEntries: 3, maxBytes: 4096 },
      authHeaders: ['X-Token'],
    });
    expect(resolved.userId).toBe(userId);
    expect(resolved.keyBuilder).toBe(keyBuilder);
  });

  const INVALID: Array<[string, CacheModuleOptions]> = [
    ['defaultTtl', { defaultTtl: 0 }],
    ['defaultTtl', { defaultTtl: -1 }],
    ['defaultTtl', { defaultTtl: 1.5 }],
    ['defaultTtl', { defaultTtl: Number.NaN }],
    ['clientMaxAge', { clientMaxAge: -1 }],
    ['compressAbove', { compressAbove: 0 }],
    ['compressAbove', { compressAbove: 10.5 }],
    ['clientMaxAge', { clientMaxAge: 2.5 }],
    ['keyPrefix', { keyPrefix: 'a:b' }],
    ['keyPrefix', { keyPrefix: '' }],
    ['statusHeader', { statusHeader: 'X Cache' }],
    ['redis.port', { redis: { port: 0 } }],
    ['redis.port', { redis: { port: 70_000 } }],
    ['redis.db', { redis: { db: -1 } }],
    ['redis.host', { redis: { host: 'redis host' } }],
    ['redis.url', { redis: { url: 'http://host' } }],
    ['redis.operationTimeout', { redis: { operationTimeout: 0 } }],
    ['redis.connectTimeout', { redis: { connectTimeout: -1 } }],
    ['memory.maxEntries', { memory: { maxEntries: 0 } }],
    ['memory.maxBytes', { memory: { maxBytes: 0.5 } }],
  ];

  for (const [option, options] of INVALID) {
    it(`rejects ${JSON.stringify(options)} naming ${option}`, () => {
      const error = configError(() => resolveCacheOptions(options));
      expect(error.variable).toBe(option);
      expect(error.message.startsWith(`${option}: `)).toBe(true);
    });
  }
});

describe('REDIS_URL with an unencoded "#" or "?"', () => {
  it('is refused without echoing the URL, since part of a password would be in it', () => {
    for (const url of ['redis://:p@ss#w0rdTail@redis.internal:6379', 'redis://:pa?ss@redis.internal:6379']) {
      let message = '';
      try {
        cacheOptionsFromEnv((name) => (name === 'REDIS_URL' ? url : undefined));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^REDIS_URL: /);
      expect(message).not.toMatch(/w0rd|Tail|pa\?ss/);
    }
  });

  it('logs only scheme, user, host, port and database', () => {
    const resolved = resolveCacheOptions({ redis: { url: 'redis://user:s3cret@cache.internal:6380/2' } });
    expect(resolved.redis.safeUrl).toBe('redis://user:***@cache.internal:6380/2');
  });
});
