import 'reflect-metadata';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { CacheDefinitionError } from '../cache.errors.js';
import type { KeyBuilder } from './cache-key.js';
import { CacheInterceptor } from './cache.interceptor.js';
import { Cached } from './cached.decorator.js';
import { CACHED_METADATA, type CachedOptions } from './cached.metadata.js';
import { paginatedKeyBuilder, userScopedKeyBuilder } from './key-builders.js';
import { MAX_NAMESPACE_BYTES, validateNamespace } from './namespace.js';

const reflector = new Reflector();

/** Applies `@Cached(options)` to a fresh `ProductsController.list` and returns what it threw, if anything. */
function onMethod(options: CachedOptions): unknown {
  class ProductsController {
    list(): string {
      return 'ok';
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(ProductsController.prototype, 'list');
  try {
    Cached(options)(ProductsController.prototype, 'list', descriptor ?? {});
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Applies `@Cached(options)` to a fresh `ProductsController` class and returns what it threw, if anything. */
function onClass(options: CachedOptions): unknown {
  class ProductsController {}
  try {
    Cached(options)(ProductsController);
    return undefined;
  } catch (error) {
    return error;
  }
}

const VALID_NAMESPACES = [
  'a',
  'products',
  'products:123',
  'a*',
  'a?',
  '[a]',
  '%',
  '%3A',
  'with space',
  ' ',
  'user:evil',
  '日本語',
  '😀',
  'x'.repeat(MAX_NAMESPACE_BYTES),
  'é'.repeat(MAX_NAMESPACE_BYTES / 2),
  '😀'.repeat(MAX_NAMESPACE_BYTES / 4),
];

const INVALID_NAMESPACES: unknown[] = [
  '',
  'x'.repeat(MAX_NAMESPACE_BYTES + 1),
  `${'é'.repeat(MAX_NAMESPACE_BYTES / 2)}x`,
  '😀'.repeat(MAX_NAMESPACE_BYTES / 4 + 1),
  '日'.repeat(43),
  5,
  null,
  {},
  ['a'],
  true,
];

describe('validateNamespace', () => {
  it('returns any non-empty string of at most 128 UTF-8 bytes unchanged', () => {
    for (const namespace of VALID_NAMESPACES) {
      expect(validateNamespace(namespace, 'here'), namespace).toBe(namespace);
    }
  });

  it('refuses empty, over-long and non-string namespaces, naming the caller', () => {
    for (const namespace of INVALID_NAMESPACES) {
      expect(() => validateNamespace(namespace, 'invalidateNamespace()'), String(namespace)).toThrow(
        CacheDefinitionError,
      );
    }
    expect(() => validateNamespace('', 'invalidateNamespace()')).toThrow(
      'invalidateNamespace(): namespace must not be empty',
    );
    expect(() => validateNamespace(5, 'invalidateNamespace()')).toThrow(
      'invalidateNamespace(): namespace must be a string, got number',
    );
    expect(() => validateNamespace(null, 'x')).toThrow('x: namespace must be a string, got null');
    expect(() => validateNamespace('é'.repeat(65), 'x')).toThrow(
      /at most 128 bytes \(UTF-8\), got 130 bytes/,
    );
  });

  it('counts a lone surrogate as the 3 bytes it is stored as', () => {
    expect(validateNamespace('\uD800'.repeat(42), 'x')).toHaveLength(42);
    expect(() => validateNamespace('\uD800'.repeat(43), 'x')).toThrow(/got 129 bytes/);
  });

  it('throws errors with the stable code', () => {
    let thrown: unknown;
    try {
      validateNamespace('', 'x');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CacheDefinitionError);
    expect((thrown as CacheDefinitionError).code).toBe('E_CACHE_DEFINITION');
  });
});

describe('@Cached() validation', () => {
  it('accepts every valid namespace, on a method and on a class', () => {
    for (const namespace of VALID_NAMESPACES) {
      expect(onMethod({ namespace }), namespace).toBeUndefined();
      expect(onClass({ namespace }), namespace).toBeUndefined();
    }
  });

  it('refuses an invalid namespace, naming ClassName.method', () => {
    for (const namespace of INVALID_NAMESPACES) {
      const error = onMethod({ namespace } as CachedOptions);
      expect(error, String(namespace)).toBeInstanceOf(CacheDefinitionError);
      expect((error as Error).message, String(namespace)).toMatch(
        /^@Cached\(\) on ProductsController\.list: namespace /,
      );
    }
  });

  it('refuses an invalid namespace on a class, naming the class', () => {
    const error = onClass({ namespace: '' });
    expect(error).toBeInstanceOf(CacheDefinitionError);
    expect((error as Error).message).toBe('@Cached() on ProductsController: namespace must not be empty');
  });

  it('names the route when applied with decorator syntax, when the class is defined', () => {
    expect(() => {
      class UsersController {
        @Cached({ namespace: 'x'.repeat(129) })
        me(): string {
          return 'me';
        }
      }
      return UsersController;
    }).toThrow(/^@Cached\(\) on UsersController\.me: namespace must be at most 128 bytes/);
  });

  it('names a static method after its class', () => {
    class Reports {
      static daily(): string {
        return 'daily';
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Reports, 'daily') ?? {};
    expect(() => Cached({ expire: 0 })(Reports, 'daily', descriptor)).toThrow(
      '@Cached() on Reports.daily: expire must be a positive integer (seconds), got 0',
    );
  });

  it('names the route in the expire, grace, refreshAhead and keyBuilder errors', () => {
    const cases: Array<[CachedOptions, string]> = [
      [{ expire: 0 }, 'expire must be a positive integer (seconds), got 0'],
      [{ expire: 1.5 }, 'expire must be a positive integer (seconds), got 1.5'],
      [{ grace: -1 }, 'grace must be a non-negative integer (seconds), got -1'],
      [{ refreshAhead: 0 }, 'refreshAhead must be true, false or a positive number, got 0'],
      [{ refreshAhead: Number.POSITIVE_INFINITY }, 'refreshAhead must be true, false or a positive number'],
      [{ refreshAhead: 'yes' } as unknown as CachedOptions, 'refreshAhead must be true, false or a positive'],
      [{ keyBuilder: 'users' } as unknown as CachedOptions, 'keyBuilder must be a function'],
    ];
    for (const [options, message] of cases) {
      const method = onMethod(options);
      expect(method, message).toBeInstanceOf(CacheDefinitionError);
      expect((method as Error).message).toContain(`@Cached() on ProductsController.list: ${message}`);
      expect((onClass(options) as Error).message).toContain(`@Cached() on ProductsController: ${message}`);
    }
  });

  it('accepts valid expire, grace and refreshAhead values', () => {
    for (const options of [
      {},
      { expire: 1, grace: 0 },
      { expire: 3600, grace: 30, refreshAhead: true },
      { refreshAhead: false },
      { refreshAhead: 0.5 },
    ]) {
      expect(onMethod(options)).toBeUndefined();
    }
  });
});

describe('@Cached() metadata', () => {
  it('stores the options and binds the cache interceptor, on a method and on a class', () => {
    @Cached({ namespace: 'products:123' })
    class ProductsController {
      @Cached({ namespace: 'user', keyBuilder: userScopedKeyBuilder })
      me(): string {
        return 'me';
      }
    }
    const me = Object.getOwnPropertyDescriptor(ProductsController.prototype, 'me')?.value as () => string;
    expect(reflector.get(CACHED_METADATA, me)).toEqual({
      namespace: 'user',
      keyBuilder: userScopedKeyBuilder,
    });
    expect(reflector.get(CACHED_METADATA, ProductsController)).toEqual({ namespace: 'products:123' });
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, me)).toEqual([CacheInterceptor]);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, ProductsController)).toEqual([CacheInterceptor]);
  });

  // Type-level as well: this file is type-checked under strict by `npm run typecheck`.
  it('takes paginatedKeyBuilder as it is and paginatedKeyBuilder(options)', () => {
    class ProductsController {
      @Cached({ namespace: 'products', keyBuilder: paginatedKeyBuilder })
      list(): string {
        return 'list';
      }

      @Cached({ namespace: 'products', keyBuilder: paginatedKeyBuilder({ defaultSize: 20 }) })
      small(): string {
        return 'small';
      }

      @Cached({ keyBuilder: paginatedKeyBuilder() })
      plain(): string {
        return 'plain';
      }
    }
    const handler = (name: 'list' | 'small' | 'plain') =>
      Object.getOwnPropertyDescriptor(ProductsController.prototype, name)?.value as () => string;
    const builderOf = (name: 'list' | 'small' | 'plain'): KeyBuilder | undefined =>
      reflector.get(CACHED_METADATA, handler(name)).keyBuilder;
    expect(builderOf('list')).toBe(paginatedKeyBuilder);
    expect(typeof builderOf('small')).toBe('function');
    expect(builderOf('small')).not.toBe(paginatedKeyBuilder);
    expect(typeof builderOf('plain')).toBe('function');
  });
});
