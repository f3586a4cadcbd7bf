import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { CacheModule, InvalidationService } from '../../src/cache/index.js';

@Injectable()
class UsesInvalidation {
  constructor(readonly invalidation: InvalidationService) {}
}

describe('decorator metadata', () => {
  it('is emitted, so constructor injection by type works', async () => {
    expect(Reflect.getMetadata('design:paramtypes', UsesInvalidation)).toEqual([InvalidationService]);
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ enabled: true })],
      providers: [UsesInvalidation],
    }).compile();
    expect(moduleRef.get(UsesInvalidation).invalidation).toBeInstanceOf(InvalidationService);
    await moduleRef.close();
  });
});
