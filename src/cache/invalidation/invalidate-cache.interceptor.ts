import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { mergeMap, type Observable } from 'rxjs';
import type { CacheRequest } from '../http/cache-key.js';
import { INVALIDATE_CACHE_METADATA, type InvalidationTargets } from './invalidate-cache.metadata.js';
import { InvalidationService } from './invalidation.service.js';

function resolve(
  targets: readonly string[] | InvalidationTargets | undefined,
  result: unknown,
  request: CacheRequest,
): readonly string[] {
  if (targets === undefined) return [];
  return typeof targets === 'function' ? targets(result, request) : targets;
}

/** Applies `@InvalidateCache()` once the handler's value is there, and waits for it before passing it on. */
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
    if (options === undefined) return next.handle();
    const request = context.switchToHttp().getRequest<CacheRequest>();
    return next.handle().pipe(
      mergeMap(async (result: unknown) => {
        const work: Array<Promise<void>> = [];
        for (const namespace of options.namespaces ?? [])
          work.push(this.invalidation.invalidateNamespace(namespace));
        const tags = resolve(options.tags, result, request);
        if (tags.length > 0) work.push(this.invalidation.invalidateTags(tags));
        for (const key of resolve(options.keys, result, request)) {
          const [namespace = '', ...segments] = key.split(':');
          work.push(this.invalidation.invalidateScope(namespace, ...segments));
        }
        await Promise.all(work);
        return result;
      }),
    );
  }
}
