import {
  Inject,
  Injectable,
  Logger,
  StreamableFile,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, mergeMap, of, tap, type Observable } from 'rxjs';
import { CacheBackend, type Lookup } from '../engine/cache-backend.js';
import { errorMessage } from '../cache.errors.js';
import { CacheStatsService, type NamespaceCounters } from '../observability/cache-stats.service.js';
import {
  RequestKeyContext,
  resolveStoreKey,
  type CacheRequest,
  type KeyBuilder,
  type StoreKey,
} from './cache-key.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { NEST_ROUTE_ARGS_METADATA, RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CACHED_METADATA, type CachedOptions, type TagsOf } from './cached.metadata.js';
import { ifNoneMatchHits, strongEtag } from './etag.js';
import {
  parseRequestDirectives,
  responseForbidsStore,
  type RequestDirectives,
} from './request-directives.js';
import { responseAccessFor, type ResponseAccess, type SendFunction } from './response-access.js';
import { defaultKeyBuilder } from './key-builders.js';
import { SingleFlight } from '../engine/single-flight.js';
import type { StoredResponse } from '../stores/cache-store.interface.js';

const RESPONSE_PASSTHROUGH_METADATA = '__responsePassthrough__';
const RESPONSE_PARAM = '1';
const NEXT_PARAM = '2';

/** Everything about a decorated route that does not change between requests, worked out once. */
export interface RoutePlan {
  readonly namespace: string;
  readonly ttlSeconds: number;
  readonly keyBuilder: KeyBuilder;
  readonly userScoped: boolean;
  readonly className: string;
  readonly handlerName: string;
  /** Seconds a stale entry may still be served. */
  readonly graceSeconds: number;
  /** XFetch beta, or 0 for no early refresh. */
  readonly refreshBeta: number;
  readonly coalesce: boolean;
  readonly lock: boolean;
  /** Tags of a response, or `undefined` for an untagged route. */
  readonly tags: TagsOf | undefined;
  /** The namespace's counters (shared by every route of the namespace). */
  readonly counters: NamespaceCounters;
}

/** One cacheable request on its way through the interceptor. */
interface Exchange {
  readonly next: CallHandler;
  readonly plan: RoutePlan;
  readonly request: CacheRequest;
  readonly res: object;
  readonly access: ResponseAccess;
  readonly directives: RequestDirectives;
  readonly key: string;
  readonly scopes: string[];
  readonly started: number;
  /** The tag clock's tick from the lookup (tagged routes). */
  tagTick?: number | undefined;
}

/** Per-request state of a miss, shared between the handler's completion and the send hook. */
interface MissState {
  /** The handler's value arrived (a send before that is the handler writing the response itself). */
  handlerDone: boolean;
  /** The handler answered a stream, which is never captured. */
  streamed: boolean;
  /** The stamp to write with, or `undefined` when the response must not be written (HEAD, no-store). */
  stamp: string | undefined;
  /** The tag clock's tick before the handler ran (tagged routes). */
  tagTick: number | undefined;
  /** The handler's value, for computing tags. */
  value: unknown;
  /** Ends this request's flight (coalesced followers receive the entry, or run the handler themselves). */
  settle: (entry: StoredResponse | undefined, written?: Promise<void>) => void;
}

const NO_FLIGHT = (): void => undefined;
/** Resolved store keys remembered (then forgotten all at once): bounded memory for a few µs per hit. */
const STORE_KEY_MEMO_SIZE = 10_000;
/** Pause between looks for the entry of another instance that holds the lock. */
const LOCK_POLL_MS = 25;

/** XFetch: refresh early with a probability that grows as expiry nears and with the handler's cost. */
function refreshesEarly(entry: StoredResponse, now: number, beta: number): boolean {
  return now - Math.max(entry.computeMs, 1) * beta * Math.log(Math.random()) >= entry.expiresAt;
}

function toTagsOf(tags: CachedOptions['tags']): TagsOf | undefined {
  if (tags === undefined) return undefined;
  if (typeof tags === 'function') return tags;
  const fixed = [...tags];
  return () => fixed;
}

function elapsed(started: number): string {
  return (performance.now() - started).toFixed(2);
}

/** Marks a request this interceptor already handles, when `@Cached()` binds it twice (class and method). */
const INTERCEPTED = Symbol('HTTP_CACHE:INTERCEPTED');

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function isStreamResult(value: unknown): boolean {
  return (
    value instanceof StreamableFile ||
    (typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function')
  );
}

/** Whether the handler writes the response itself through `@Res()` / `@Next()` without passthrough. */
function handlesResponseItself(controller: object, handlerName: string): boolean {
  if (Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, controller, handlerName) === true) return false;
  const args = Reflect.getMetadata(NEST_ROUTE_ARGS_METADATA, controller, handlerName) as object | undefined;
  if (args === undefined) return false;
  return Object.keys(args).some((k) => {
    const type = k.split(':')[0];
    return type === RESPONSE_PARAM || type === NEXT_PARAM;
  });
}

/**
 * Serves `@Cached()` routes from the cache. Extension points: override {@link isRequestCacheable} or
 * {@link planFor} in a subclass and bind it with `@UseInterceptors()`.
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Cache');
  /** Per controller class, then per handler: a handler inherited by two controllers has two plans. */
  private readonly plans = new WeakMap<object, Map<object, RoutePlan | null>>();
  private readonly authHeaders: readonly string[];
  private readonly statusHeader: string;
  private readonly debug: boolean;
  private readonly storeKeys = new Map<string, StoreKey>();
  /** Lookups in flight, per key (see {@link sharedLookup}). */
  private readonly lookups = new Map<string, Promise<Lookup>>();
  /** In-process coalescing of concurrent misses, per full key. */
  private readonly flights = new SingleFlight<StoredResponse>();

  constructor(
    private readonly reflector: Reflector,
    private readonly backend: CacheBackend,
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    private readonly stats: CacheStatsService,
  ) {
    this.authHeaders = options.authHeaders.map((h) => h.toLowerCase());
    this.statusHeader = options.statusHeader;
    this.debug = Logger.isLevelEnabled('debug');
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.backend.enabled || context.getType() !== 'http') return next.handle();
    const plan = this.planFor(context);
    if (plan === undefined) return next.handle();
    const request = context.switchToHttp().getRequest<CacheRequest & { [INTERCEPTED]?: true }>();
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || request[INTERCEPTED] === true) return next.handle();
    if (!this.isRequestCacheable(context, request)) return next.handle();
    request[INTERCEPTED] = true;
    const directives = parseRequestDirectives(request.headers);
    const keyContext = new RequestKeyContext(
      request,
      plan.namespace,
      plan.className,
      plan.handlerName,
      this.options.userId,
    );
    let built: string | undefined | Promise<string | undefined>;
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
          (key) => ({ key, failed: false as const }),
          (error: unknown) => ({ error, failed: true as const }),
        ),
      ).pipe(
        mergeMap((outcome) =>
          outcome.failed
            ? this.uncached(next, plan, outcome.error)
            : this.withKey(context, next, plan, request, directives, outcome.key),
        ),
      );
    }
    return this.withKey(context, next, plan, request, directives, built);
  }

  private uncached(next: CallHandler, plan: RoutePlan, error: unknown): Observable<unknown> {
    this.logger.warn(
      `Key builder of ${plan.className}.${plan.handlerName} failed (${errorMessage(error)}); served uncached`,
    );
    return next.handle();
  }

  /** Hook: return false to serve a request uncached (no header, no read, no write). */
  protected isRequestCacheable(_context: ExecutionContext, _request: CacheRequest): boolean {
    return true;
  }

  /** The route's plan, or `undefined` when the route is not cacheable. Computed once per handler. */
  protected planFor(context: ExecutionContext): RoutePlan | undefined {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.plans.get(controller);
    if (byHandler === undefined) {
      byHandler = new Map();
      this.plans.set(controller, byHandler);
    }
    let plan = byHandler.get(handler);
    if (plan === undefined) {
      plan = this.compilePlan(context) ?? null;
      byHandler.set(handler, plan);
    }
    return plan ?? undefined;
  }

  private compilePlan(context: ExecutionContext): RoutePlan | undefined {
    const controller = context.getClass();
    const handler = context.getHandler();
    const cached = this.reflector.getAllAndOverride(CACHED_METADATA, [handler, controller]);
    if (cached === undefined) return undefined;
    if (handlesResponseItself(controller, handler.name)) {
      this.logger.warn(
        `${controller.name}.${handler.name} writes its response through @Res(); it is served uncached (use @Res({ passthrough: true }))`,
      );
      return undefined;
    }
    const keyBuilder = cached.keyBuilder ?? this.options.keyBuilder ?? defaultKeyBuilder;
    const refresh = cached.refreshAhead ?? false;
    return {
      namespace: cached.namespace ?? 'default',
      ttlSeconds: cached.expire ?? this.options.defaultTtl,
      keyBuilder,
      userScoped: keyBuilder.userScoped === true,
      className: controller.name,
      handlerName: handler.name,
      graceSeconds: cached.grace ?? 0,
      refreshBeta: refresh === true ? 1 : refresh === false ? 0 : refresh,
      coalesce: cached.coalesce ?? true,
      lock: cached.lock ?? false,
      tags: toTagsOf(cached.tags),
      counters: this.stats.namespace(cached.namespace ?? 'default'),
    };
  }

  private withKey(
    context: ExecutionContext,
    next: CallHandler,
    plan: RoutePlan,
    request: CacheRequest,
    directives: RequestDirectives,
    built: string | undefined,
  ): Observable<unknown> {
    if (built === undefined) return next.handle();
    if (typeof built !== 'string')
      return this.uncached(next, plan, new TypeError(`returned ${typeof built}`));
    const { key, scopes } = this.storeKeyOf(plan.namespace, built);
    const res = context.switchToHttp().getResponse<object>();
    const exchange: Exchange = {
      next,
      plan,
      request,
      res,
      access: responseAccessFor(res),
      directives,
      key,
      scopes,
      started: performance.now(),
    };
    // no-store: neither read nor write. no-cache: no read, but a fresh write (which needs the current stamp).
    if (directives.noStore) return this.miss(exchange, undefined, undefined, NO_FLIGHT);
    const lookup =
      directives.noCache || !plan.coalesce
        ? this.backend.read(key, scopes, !directives.noCache, plan.tags !== undefined)
        : this.sharedLookup(key, scopes, plan.tags !== undefined);
    if (isPromise(lookup)) return from(lookup).pipe(mergeMap((found) => this.decide(exchange, found)));
    return this.decide(exchange, lookup);
  }

  /**
   * Concurrent lookups of one key share one read: the requests then decide in arrival order, so the first
   * miss leads and the others follow it (with an asynchronous store, each would otherwise see no flight yet).
   */
  private sharedLookup(key: string, scopes: readonly string[], tagged: boolean): Lookup | Promise<Lookup> {
    const pending = this.lookups.get(key);
    if (pending !== undefined) return pending;
    const lookup = this.backend.read(key, scopes, true, tagged);
    if (!isPromise(lookup)) return lookup;
    this.lookups.set(key, lookup);
    // read() never rejects.
    void lookup.then(() => this.lookups.delete(key));
    return lookup;
  }

  /** Where a built key is stored and its scopes; the same object for the same key (popular keys repeat). */
  private storeKeyOf(namespace: string, built: string): StoreKey {
    const id = `${namespace}\n${built}`;
    let resolved = this.storeKeys.get(id);
    if (resolved === undefined) {
      resolved = resolveStoreKey(this.options.keyPrefix, namespace, built);
      if (this.storeKeys.size >= STORE_KEY_MEMO_SIZE) this.storeKeys.clear();
      this.storeKeys.set(id, resolved);
    }
    return resolved;
  }

  /** Hit, stale, coalesced or miss, from what the lookup found. */
  private decide(exchange: Exchange, lookup: Lookup): Observable<unknown> {
    const { plan, key } = exchange;
    const entry = lookup.entry;
    const writable = exchange.request.method === 'GET' ? lookup.stamp : undefined;
    exchange.tagTick = lookup.tagTick;
    // Flights are per key and generation: a request that arrives after an invalidation never joins (or
    // receives the result of) a handler run that started before it.
    const flightKey = lookup.stamp === undefined ? undefined : `${key}|${lookup.stamp}`;
    if (entry !== undefined) {
      const now = Date.now();
      const fresh = entry.expiresAt > now;
      if (fresh && !(plan.refreshBeta > 0 && refreshesEarly(entry, now, plan.refreshBeta))) {
        return this.hit(exchange, entry, 'HIT');
      }
      // Stale (within grace) or due for an early refresh: one request refreshes, the others keep the entry.
      if (writable === undefined || flightKey === undefined || this.flights.join(flightKey) !== undefined) {
        return this.hit(exchange, entry, fresh ? 'HIT' : 'STALE');
      }
      return this.miss(
        exchange,
        writable,
        entry,
        this.flights.lead(flightKey, this.options.stampede.coalesceTimeout),
      );
    }
    if (!plan.coalesce || exchange.directives.noCache || flightKey === undefined) {
      return this.miss(exchange, writable, undefined, NO_FLIGHT);
    }
    const running = this.flights.join(flightKey);
    if (running !== undefined) {
      // A follower: the leader's entry, or (leader failed or too slow) a run of its own.
      plan.counters.coalesced++;
      return from(running).pipe(
        mergeMap((led) =>
          led !== undefined
            ? this.hit(exchange, led, 'HIT')
            : this.miss(exchange, writable, undefined, NO_FLIGHT),
        ),
      );
    }
    if (writable === undefined) return this.miss(exchange, undefined, undefined, NO_FLIGHT);
    const settle = this.flights.lead(flightKey, this.options.stampede.coalesceTimeout);
    if (!plan.lock) return this.miss(exchange, writable, undefined, settle);
    return from(this.lockOrWait(exchange, writable)).pipe(
      mergeMap((outcome) => {
        if (outcome.entry !== undefined) {
          settle(outcome.entry);
          return this.hit(exchange, outcome.entry, 'HIT');
        }
        const token = outcome.token;
        const release =
          token === undefined
            ? settle
            : (stored: StoredResponse | undefined, written?: Promise<void>) => {
                settle(stored);
                // Released once the entry is in Redis: an instance that then finds the lock free finds the
                // entry too, instead of computing it again.
                void (written ?? Promise.resolve()).then(() => this.backend.unlock(exchange.key, token));
              };
        return this.miss(exchange, writable, undefined, release);
      }),
    );
  }

  /**
   * Cross-process coalescing: take the Redis lock and run the handler, or wait for the holder's entry. Gives up
   * waiting after `lockTtl` (a crashed holder's lock has expired by then) and runs the handler.
   */
  private async lockOrWait(
    exchange: Exchange,
    stamp: string,
  ): Promise<{ entry?: StoredResponse; token?: string }> {
    const ttl = this.options.stampede.lockTtl;
    const deadline = Date.now() + ttl;
    const stored = async () => {
      const found = await this.backend.read(exchange.key, exchange.scopes);
      return found.entry !== undefined && found.stamp === stamp ? found.entry : undefined;
    };
    for (let attempt = 0; ; attempt++) {
      const token = await this.backend.tryLock(exchange.key, ttl);
      if (token === undefined || (token !== null && attempt === 0)) return { token };
      if (token !== null) {
        // Taken after waiting: the previous holder may have stored the entry just before it let go.
        const entry = await stored();
        if (entry === undefined) return { token };
        await this.backend.unlock(exchange.key, token);
        return { entry };
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      const entry = await stored();
      if (entry !== undefined) return { entry };
      if (Date.now() >= deadline) return {};
    }
  }

  private hit(exchange: Exchange, entry: StoredResponse, label: 'HIT' | 'STALE'): Observable<unknown> {
    const { access, res, plan, request } = exchange;
    if (label === 'HIT') plan.counters.hits++;
    else plan.counters.stale++;
    access.onSend(res, (payload, send) => {
      // An interceptor or filter outside this one failed: its error response goes out, not the entry.
      if (access.status(res) >= 400) return send(payload);
      // Whatever the interceptors in front of this one made of the value, the stored bytes are what is sent.
      access.setStatus(res, entry.status);
      if (entry.contentType === undefined) access.removeHeader(res, 'content-type');
      else access.setHeader(res, 'content-type', entry.contentType);
      this.setCacheHeaders(access, res, plan, request, label, entry.etag, entry.expiresAt);
      if (ifNoneMatchHits(request.headers['if-none-match'], entry.etag)) {
        return this.notModified(access, res, send);
      }
      return send(
        entry.bodyBytes ??
          (entry.encoding === 'base64' ? Buffer.from(entry.body ?? '', 'base64') : entry.body),
      );
    });
    if (this.debug) this.logger.debug(`${label} ${exchange.key} (${elapsed(exchange.started)} ms)`);
    return of(entry.body ?? null);
  }

  /**
   * Runs the handler. Its response is captured at send time and written with `stamp` (if any); `stale`, when
   * given, is answered instead if the handler fails; `settle` hands the result to coalesced followers.
   */
  private miss(
    exchange: Exchange,
    stamp: string | undefined,
    stale: StoredResponse | undefined,
    settle: (entry: StoredResponse | undefined, written?: Promise<void>) => void,
  ): Observable<unknown> {
    const { access, res, key } = exchange;
    exchange.plan.counters.misses++;
    const state: MissState = {
      handlerDone: false,
      streamed: false,
      stamp,
      settle,
      tagTick: exchange.tagTick,
      value: undefined,
    };
    access.onSend(res, (payload, send) => {
      try {
        return this.sendMiss(exchange, send, payload, state);
      } catch (error) {
        // Capturing failed (for example a payload JSON cannot represent): send it the adapter's way, uncached.
        this.logger.warn(`Could not cache ${key}: ${errorMessage(error)}`);
        settle(undefined);
        return send(payload);
      }
    });
    if (this.debug) this.logger.debug(`MISS ${key} (${elapsed(exchange.started)} ms)`);
    const handled = exchange.next.handle().pipe(
      tap({
        next: (value) => {
          state.handlerDone = true;
          state.value = value;
          if (isStreamResult(value)) state.streamed = true;
        },
        error: () => settle(undefined),
        finalize: () => {
          // Sent without reaching the capture (a stream, or a response the handler wrote): release followers.
          queueMicrotask(() => {
            if (!state.handlerDone || state.streamed) settle(undefined);
          });
        },
      }),
    );
    if (stale === undefined) return handled;
    return handled.pipe(
      catchError((error: unknown) => {
        this.logger.warn(`Refresh of ${key} failed (${errorMessage(error)}); serving the stale entry`);
        return this.hit(exchange, stale, 'STALE');
      }),
    );
  }

  private sendMiss(exchange: Exchange, send: SendFunction, payload: unknown, state: MissState): unknown {
    const { access, res, plan, request, key } = exchange;
    access.setHeader(res, this.statusHeader, 'MISS');
    const status = access.status(res);
    // Error responses (exception filters also send through here) and responses the handler wrote are skipped.
    if (!state.handlerDone || state.streamed || status < 200 || status >= 300) {
      state.settle(undefined);
      return send(payload);
    }
    const body = access.serialize(res, payload);
    if (body === undefined) {
      state.settle(undefined);
      return send(payload);
    }
    const bytes = body.binary ?? body.text;
    // A response that may not be stored gets no validators or lifetime from the cache, whatever the request.
    if (!this.responseMayBeStored(access, res, plan)) {
      state.settle(undefined);
      return send(bytes);
    }
    const now = Date.now();
    const ttlMs = plan.ttlSeconds * 1000;
    const tags = this.tagsOf(plan, state, request);
    // A tagged entry needs its tags and the tag clock's tick from before the handler, or it is not written.
    const writable =
      state.stamp !== undefined &&
      (plan.tags === undefined || (tags !== undefined && state.tagTick !== undefined));
    const entry: StoredResponse = {
      status,
      contentType: access.header(res, 'content-type'),
      body: body.binary !== undefined ? body.binary.toString('base64') : body.text,
      ...(body.binary !== undefined ? { encoding: 'base64' as const } : {}),
      etag: strongEtag(bytes),
      expiresAt: now + ttlMs,
      staleUntil: now + ttlMs + plan.graceSeconds * 1000,
      stamp: state.stamp ?? '',
      computeMs: Math.round(performance.now() - exchange.started),
      ...(tags !== undefined && state.tagTick !== undefined ? { tags, tagTick: state.tagTick } : {}),
    };
    const written = writable ? this.backend.write(key, entry, ttlMs + plan.graceSeconds * 1000) : undefined;
    state.settle(writable ? entry : undefined, written);
    // HEAD and no-store requests still describe the representation a GET would store.
    this.setCacheHeaders(access, res, plan, request, 'MISS', entry.etag, entry.expiresAt);
    if (ifNoneMatchHits(request.headers['if-none-match'], entry.etag))
      return this.notModified(access, res, send);
    return send(bytes);
  }

  /** The response's tags, deduplicated; `undefined` when the route has none or computing them failed. */
  private tagsOf(plan: RoutePlan, state: MissState, request: CacheRequest): string[] | undefined {
    if (plan.tags === undefined) return undefined;
    try {
      const tags = plan.tags(state.value, request);
      return [...new Set(tags.filter((tag): tag is string => typeof tag === 'string' && tag !== ''))];
    } catch (error) {
      this.logger.warn(
        `Tags of ${plan.className}.${plan.handlerName} failed (${errorMessage(error)}); not cached`,
      );
      return undefined;
    }
  }

  private responseMayBeStored(access: ResponseAccess, res: object, plan: RoutePlan): boolean {
    if (access.header(res, 'set-cookie') !== undefined) return false;
    const cacheControl = access.header(res, 'cache-control');
    return cacheControl === undefined || !responseForbidsStore(cacheControl, !plan.userScoped);
  }

  private setCacheHeaders(
    access: ResponseAccess,
    res: object,
    plan: RoutePlan,
    request: CacheRequest,
    status: 'HIT' | 'MISS' | 'STALE',
    etag: string,
    expiresAt: number,
  ): void {
    access.setHeader(res, this.statusHeader, status);
    access.setHeader(res, 'etag', etag);
    const maxAge = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
    const isPrivate = plan.userScoped || this.carriesCredentials(request);
    access.setHeader(res, 'cache-control', isPrivate ? `private, max-age=${maxAge}` : `max-age=${maxAge}`);
    if (plan.userScoped) this.addVary(access, res);
  }

  private carriesCredentials(request: CacheRequest): boolean {
    const headers = request.headers;
    for (const name of this.authHeaders) if (headers[name] !== undefined) return true;
    return headers['cookie'] !== undefined;
  }

  private addVary(access: ResponseAccess, res: object): void {
    const existing = access.header(res, 'vary');
    const names = this.options.authHeaders;
    if (existing === undefined) {
      access.setHeader(res, 'vary', names.join(', '));
      return;
    }
    const present = new Set(existing.split(',').map((v) => v.trim().toLowerCase()));
    if (present.has('*')) return;
    const missing = names.filter((n) => !present.has(n.toLowerCase()));
    if (missing.length > 0) access.setHeader(res, 'vary', [existing, ...missing].join(', '));
  }

  private notModified(access: ResponseAccess, res: object, send: SendFunction): unknown {
    access.setStatus(res, 304);
    access.removeHeader(res, 'content-type');
    access.removeHeader(res, 'content-length');
    return send(undefined);
  }
}
