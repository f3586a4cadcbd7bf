import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import type { CacheRequest } from '../http/cache-key.js';
import { INVALIDATE_CACHE_METADATA } from './invalidate-cache.metadata.js';
import { applyInvalidation } from './invalidation-targets.js';
import { InvalidationService } from './invalidation.service.js';

/**
 * Applies `@InvalidateCache()` on routes: once the handler's value is there (and waits for it before passing
 * it on), or before the handler with `beforeInvocation`.
 */
@Injectable()
export class InvalidateCacheInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly invalidation: InvalidationService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const options = this.reflector.getAllAndOverride(INVALIDATE_CACHE_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    // Elsewhere (GraphQL, microservices) the method's own wrapper invalidates, with the method's arguments.
    if (options === undefined || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<CacheRequest>();
    if (options.beforeInvocation === true) {
      return from(applyInvalidation(this.invalidation, options, undefined, [request])).pipe(
        mergeMap(() => next.handle()),
      );
    }
    return next.handle().pipe(
      mergeMap(async (result: unknown) => {
        await applyInvalidation(this.invalidation, options, result, [request]);
        return result;
      }),
    );
  }
}
