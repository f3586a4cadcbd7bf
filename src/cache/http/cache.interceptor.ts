import {
  Inject,
  Injectable,
  Logger,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, mergeMap, type Observable } from 'rxjs';
import { afterPromise } from './observables.js';
import { errorMessage } from '../cache.errors.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { accessModeOf, CacheEngine, type AccessMode, type Acquired } from '../engine/cache-engine.js';
import type { EntryKey } from '../engine/entry-key.js';
import { CacheStatsService } from '../observability/cache-stats.service.js';
import { CacheHeaders } from './cache-headers.js';
import { RequestKeyContext, type CacheRequest, type KeyContext } from './cache-key.js';
import { CACHED_METADATA } from './cached.metadata.js';
import { CachedExchange } from './cached-exchange.js';
import { parseRequestDirectives } from './request-directives.js';
import { responseAccessFor } from './response-access.js';
import { compileRoutePlan, handlesResponseItself, redirects, type RoutePlan } from './route-plan.js';
import { takeEarlyLookup, takePreset } from './early-lookup.js';
import { varyMatches } from './vary.js';

/** Resolved entry keys remembered per route (then forgotten all at once): bounded memory for µs per hit. */
const KEY_MEMO_SIZE = 1_000;

/** A request's entry key, its id in the route's memo, and whether it came from the memo. */
export interface ResolvedKey {
  readonly key: EntryKey;
  readonly id: string;
  readonly known: boolean;
}

/**
 * Route plans per application (its resolved options and stats), shared by every instance of the interceptor
 * there (the one `@Cached()` binds, the module's own for early answers): each route is compiled, and its
 * problems logged, once.
 */
const plansByApplication = new WeakMap<
  ResolvedCacheOptions,
  WeakMap<CacheStatsService, WeakMap<object, Map<object, RoutePlan | null>>>
>();

/** The plans of the application with these options and stats (its counters live in the plans). */
function plansOf(
  options: ResolvedCacheOptions,
  stats: CacheStatsService,
): WeakMap<object, Map<object, RoutePlan | null>> {
  let byStats = plansByApplication.get(options);
  if (byStats === undefined) plansByApplication.set(options, (byStats = new WeakMap()));
  let plans = byStats.get(stats);
  if (plans === undefined) byStats.set(stats, (plans = new WeakMap()));
  return plans;
}

/** Marks a request this interceptor already handles, when `@Cached()` binds it twice (class and method). */
const INTERCEPTED = Symbol('HTTP_CACHE:INTERCEPTED');

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function described(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Serves `@Cached()` routes through the cache engine; only HTTP lives here (directives, keys from requests,
 * headers, byte capture). Extension points: override {@link isRequestCacheable} or {@link planFor} in a
 * subclass and bind it with `@UseInterceptors()`.
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Cache');
  /** Per controller class, then per handler: a handler inherited by two controllers has two plans. */
  private readonly plans: WeakMap<object, Map<object, RoutePlan | null>>;
  private readonly headers: CacheHeaders;

  constructor(
    private readonly reflector: Reflector,
    private readonly engine: CacheEngine,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    private readonly stats: CacheStatsService,
  ) {
    this.headers = new CacheHeaders(options);
    this.plans = plansOf(options, stats);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.engine.enabled || context.getType() !== 'http') return next.handle();
    const plan = this.planFor(context);
    if (plan === undefined) return next.handle();
    const request = context.switchToHttp().getRequest<CacheRequest & { [INTERCEPTED]?: true }>();
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || request[INTERCEPTED] === true) return next.handle();
    const early = takeEarlyLookup(request, plan);
    if (!this.isRequestCacheable(context, request)) {
      early?.acquired.ticket.abandon();
      return next.handle();
    }
    if (plan.redirects) {
      early?.acquired.ticket.abandon();
      return this.redirect(context, next, plan, request);
    }
    request[INTERCEPTED] = true;
    if (early !== undefined) {
      // Looked up before the router (a public route's miss): compute with the ticket taken there.
      return this.exchange(context, next, plan, request, early.key, method === 'GET').run(early.acquired);
    }
    const keyContext = this.keyContextOf(plan, request);
    let built: unknown;
    try {
      built = plan.keyBuilder(keyContext);
    } catch (error) {
      return this.uncached(next, plan, error);
    }
    if (isPromise(built)) {
      // The handler runs at most once: a failing key builder serves the request uncached, and an error of the
      // handler itself propagates untouched.
      return from(
        built.then(
          (key: unknown) => ({ key, failed: false as const }),
          (error: unknown) => ({ error, failed: true as const }),
        ),
      ).pipe(
        mergeMap((outcome) =>
          outcome.failed
            ? this.uncached(next, plan, outcome.error)
            : this.withKey(context, next, plan, request, keyContext, outcome.key),
        ),
      );
    }
    return this.withKey(context, next, plan, request, keyContext, built);
  }

  /** A redirect: never stored, so described now as a response the cache does not keep (before Nest writes it). */
  private redirect(
    context: ExecutionContext,
    next: CallHandler,
    plan: RoutePlan,
    request: CacheRequest,
  ): Observable<unknown> {
    const res = context.switchToHttp().getResponse<object>();
    const access = responseAccessFor(res);
    if (takePreset(request)) this.headers.clearPreset(access, res);
    this.headers.status(access, res, 'MISS');
    this.headers.forbidStore(access, res, plan, request);
    return next.handle();
  }

  /** Hook: return false to serve a request uncached (no header, no read, no write). */
  protected isRequestCacheable(_context: ExecutionContext, _request: CacheRequest): boolean {
    return true;
  }

  /** The route's plan, or `undefined` when the route is not cacheable. Computed once per handler. */
  protected planFor(context: ExecutionContext): RoutePlan | undefined {
    return this.planOf(context.getClass(), context.getHandler());
  }

  /**
   * The plan of a handler of a controller class, compiled once and shared by every path that serves it (the
   * interceptor, and public routes answered before the router).
   */
  planOf(controller: Type, handler: object): RoutePlan | undefined {
    let byHandler = this.plans.get(controller);
    if (byHandler === undefined) {
      byHandler = new Map();
      this.plans.set(controller, byHandler);
    }
    let plan = byHandler.get(handler);
    if (plan === undefined) {
      plan = this.compilePlan(controller, handler as (...args: unknown[]) => unknown) ?? null;
      byHandler.set(handler, plan);
    }
    return plan ?? undefined;
  }

  private compilePlan(controller: Type, handler: (...args: unknown[]) => unknown): RoutePlan | undefined {
    const cached = this.reflector.getAllAndOverride(CACHED_METADATA, [handler, controller]);
    if (cached === undefined) return undefined;
    if (handlesResponseItself(controller, handler.name)) {
      this.logger.warn(
        `${controller.name}.${handler.name} writes its response through @Res(); it is served uncached (use @Res({ passthrough: true }))`,
      );
      return undefined;
    }
    try {
      return compileRoutePlan(
        cached,
        controller.name,
        handler.name,
        this.options,
        this.stats,
        redirects(handler),
      );
    } catch (error) {
      this.logger.error(`${errorMessage(error)}; the route is served uncached`);
      return undefined;
    }
  }

  /**
   * The entry key of a request on a route (its key builder's, with the route's tags), `undefined` when the
   * builder declines or fails (the interceptor then logs it once and serves the request uncached).
   */
  keyOf(plan: RoutePlan, request: CacheRequest): ResolvedKey | undefined | Promise<ResolvedKey | undefined> {
    const keyContext = this.keyContextOf(plan, request);
    let built: unknown;
    try {
      built = plan.keyBuilder(keyContext);
    } catch {
      return undefined;
    }
    if (isPromise(built)) {
      return built.then(
        (key) => this.resolveKey(plan, key, keyContext),
        () => undefined,
      );
    }
    return this.resolveKey(plan, built, keyContext);
  }

  /**
   * Looks the request's entry up (or takes the ticket to compute it), remembering the keys of hits. An entry
   * made for a request whose headers named by its `Vary` differ is computed again, and stored in its place.
   */
  acquire(
    plan: RoutePlan,
    resolved: ResolvedKey,
    mode: AccessMode,
    request: CacheRequest,
  ): Acquired | Promise<Acquired> {
    const acquired = this.engine.acquire(resolved.key, plan.policy, mode);
    if (isPromise(acquired)) {
      return acquired.then((found) => this.matched(plan, resolved, mode, request, found));
    }
    return this.matched(plan, resolved, mode, request, acquired);
  }

  private matched(
    plan: RoutePlan,
    resolved: ResolvedKey,
    mode: AccessMode,
    request: CacheRequest,
    acquired: Acquired,
  ): Acquired | Promise<Acquired> {
    // The entry found (or the stale one to answer with if computing fails) must have been made for these headers.
    const found = acquired.kind === 'hit' ? acquired.entry : acquired.ticket.stale;
    const vary = found?.vary;
    if (vary === undefined || varyMatches(vary, request.headers)) {
      return acquired.kind === 'hit' ? this.remember(plan, resolved, acquired) : acquired;
    }
    // Computed again, without that entry; the lookup's outcome is undone in the counters (the next one counts).
    const counters = plan.policy.counters;
    if (acquired.kind === 'compute') {
      acquired.ticket.abandon();
      counters.misses--;
    } else if (acquired.label === 'HIT') counters.hits--;
    else counters.stale--;
    return this.engine.acquire(resolved.key, plan.policy, accessModeOf(false, mode.write));
  }

  /** The entry key of what a key builder returned, `undefined` when that is no string or cannot be a key. */
  private resolveKey(plan: RoutePlan, key: unknown, keyContext: KeyContext): ResolvedKey | undefined {
    if (typeof key !== 'string') return undefined;
    try {
      return this.entryKeyOf(plan, key, keyContext);
    } catch {
      return undefined;
    }
  }

  private keyContextOf(plan: RoutePlan, request: CacheRequest): RequestKeyContext {
    return new RequestKeyContext(
      request,
      plan.namespace,
      plan.className,
      plan.handlerName,
      this.options.userId,
    );
  }

  /** Serves the request uncached; the route's first failure is logged (not every request's). */
  private uncached(next: CallHandler, plan: RoutePlan, error: unknown): Observable<unknown> {
    if (!plan.warned) {
      plan.warned = true;
      this.logger.warn(
        `Key builder of ${plan.className}.${plan.handlerName} failed (${errorMessage(error)}); such requests are served uncached (logged once per route)`,
      );
    }
    return next.handle();
  }

  private withKey(
    context: ExecutionContext,
    next: CallHandler,
    plan: RoutePlan,
    request: CacheRequest,
    keyContext: KeyContext,
    built: unknown,
  ): Observable<unknown> {
    if (built === undefined) return next.handle();
    if (typeof built !== 'string') {
      return this.uncached(next, plan, new TypeError(`returned ${described(built)}, not a string`));
    }
    let resolved: ResolvedKey;
    try {
      resolved = this.entryKeyOf(plan, built, keyContext);
    } catch (error) {
      return this.uncached(next, plan, error);
    }
    const key = resolved.key;
    const directives = parseRequestDirectives(request.headers);
    // no-store: neither read nor write. no-cache: no read, but a fresh write. HEAD: never a write.
    const mode = accessModeOf(
      !directives.noStore && !directives.noCache,
      !directives.noStore && request.method === 'GET',
    );
    const exchange = this.exchange(context, next, plan, request, key, mode.write);
    const acquired = this.acquire(plan, resolved, mode, request);
    if (isPromise(acquired)) return afterPromise(acquired, (found) => exchange.run(found));
    return exchange.run(acquired);
  }

  private exchange(
    context: ExecutionContext,
    next: CallHandler,
    plan: RoutePlan,
    request: CacheRequest,
    key: EntryKey,
    write: boolean,
  ): CachedExchange {
    const res = context.switchToHttp().getResponse<object>();
    const access = responseAccessFor(res);
    // Taken on: the private mark set before the guards gives way to what the cache describes.
    if (takePreset(request)) this.headers.clearPreset(access, res);
    return new CachedExchange(next, plan, request, res, access, this.headers, key.key, write);
  }

  /**
   * Keeps the entry key of a hit for the next request of that key (popular keys repeat; a key seen once, as on
   * a miss-heavy route, is not kept, so misses leave nothing behind here).
   */
  private remember(plan: RoutePlan, resolved: ResolvedKey, acquired: Acquired): Acquired {
    if (!resolved.known) {
      if (plan.keys.size >= KEY_MEMO_SIZE) plan.keys.clear();
      plan.keys.set(resolved.id, resolved.key);
    }
    return acquired;
  }

  /** The entry key of a built key, with the route's and the builder's tags, and its id in the route's memo. */
  private entryKeyOf(plan: RoutePlan, built: string, keyContext: KeyContext): ResolvedKey {
    const declared = plan.keyBuilder.tags?.(keyContext);
    const tags =
      declared === undefined || declared.length === 0
        ? plan.fixedTags
        : plan.fixedTags.length === 0
          ? declared
          : [...plan.fixedTags, ...declared];
    // Per route (so one namespace): a built key, plus its tags when it has any (JSON keeps them apart).
    const id = tags.length === 0 ? built : `${built}\n${JSON.stringify(tags)}`;
    // An empty memo (a route whose keys never hit twice) is not asked: hashing a new key costs as much as a miss.
    const known = plan.keys.size === 0 ? undefined : plan.keys.get(id);
    if (known !== undefined) return { key: known, id, known: true };
    return { key: this.engine.backend.keys.entry(plan.namespace, built, tags), id, known: false };
  }
}
