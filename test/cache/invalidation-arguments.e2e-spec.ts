import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheDefinitionError,
  CacheModule,
  CacheService,
  InvalidationService,
} from '../../src/cache/index.js';

describe('InvalidationService with invalid arguments', () => {
  let moduleRef: TestingModule;
  let invalidation: InvalidationService;
  let cache: CacheService;

  beforeAll(async () => {
    @Module({ imports: [CacheModule.forRoot({ enabled: true })] })
    class Scenario {}
    moduleRef = await Test.createTestingModule({ imports: [Scenario] }).compile();
    await moduleRef.init();
    invalidation = moduleRef.get(InvalidationService);
    cache = moduleRef.get(CacheService);
  });
  afterAll(async () => moduleRef.close());

  const bad: Array<[string, (s: InvalidationService) => Promise<void>]> = [
    ['invalidateNamespace()', (s) => s.invalidateNamespace('')],
    ['invalidateNamespace()', (s) => s.invalidateNamespace(undefined as never)],
    ['invalidateScope()', (s) => s.invalidateScope('', 'x')],
    ['invalidateScope()', (s) => s.invalidateScope('ok', {} as never)],
    ['invalidateScope()', (s) => s.invalidateScope('ok', 'a', undefined as never)],
    ['invalidateTags()', (s) => s.invalidateTags(undefined as never)],
    ['invalidateTags()', (s) => s.invalidateTags({} as never)],
    ['invalidateUser()', (s) => s.invalidateUser(undefined as never)],
    ['invalidateUser()', (s) => s.invalidateUser('')],
    ['invalidateApiKeys()', (s) => s.invalidateApiKeys(Number.NaN)],
  ];

  it.each(bad.map(([method, call], i) => ({ method, call, i })))(
    '$method (case $i) rejects with an error naming it, never throws, and invalidates nothing',
    async ({ method, call }) => {
      await cache.set('kept', 'value', { namespace: 'ok', tags: ['t'] });
      let outcome: Promise<void> | undefined;
      expect(() => (outcome = call(invalidation))).not.toThrow();
      await expect(outcome).rejects.toBeInstanceOf(CacheDefinitionError);
      await expect(call(invalidation)).rejects.toThrow(method);
      expect(await cache.get('kept', { namespace: 'ok' })).toBe('value');
    },
  );

  it('takes one tag given as a string', async () => {
    await cache.set('tagged', 'value', { namespace: 'ok', tags: ['user:1'] });
    await invalidation.invalidateTags('user:1');
    expect(await cache.get('tagged', { namespace: 'ok' })).toBeUndefined();
  });
});
