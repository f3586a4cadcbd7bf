import { Inject, Injectable, Logger, RequestMethod, type MiddlewareConsumer } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, ModulesContainer, Reflector } from '@nestjs/core';
import { CacheEngine, type Acquired } from '../engine/cache-engine.js';
import { CacheInterceptor, type ResolvedKey } from './cache.interceptor.js';
import type { CacheRequest } from './cache-key.js';
import { CacheHeaders } from './cache-headers.js';
import { leaveEarlyLookup, markPreset } from './early-lookup.js';
import { parseRequestDirectives } from './request-directives.js';
import { responseAccessFor, type SendFunction } from './response-access.js';
import type { RoutePlan } from './route-plan.js';
import { surveyPublicRoutes, type ApplicationSettings, type EarlyRoute } from './public-routes.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';

type Next = (error?: unknown) => void;

/** One request on the early path, whichever the adapter. */
interface Exchange {
  readonly request: CacheRequest;
  /** The adapter's response (Express `res`, Fastify `reply`). */
  readonly res: object;
  /** The Node response, whose `close` ends an unused ticket. */
  readonly raw: ClosableResponse;
  readonly send: SendFunction;
  readonly next: Next;
}

interface ClosableResponse {
  once(event: 'close', listener: () => void): unknown;
}

interface ExpressLikeResponse extends ClosableResponse {
  send: SendFunction;
}

interface FastifyLikeRequest extends CacheRequest {
  routeOptions?: { url?: string; method?: string | string[] };
}

interface FastifyLikeReply {
  raw: ClosableResponse;
  send: SendFunction;
}

interface FastifyLikeInstance {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyLikeRequest, reply: FastifyLikeReply, done: Next) => void,
  ): unknown;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** The route a Fastify request was routed to, among `byPath` (by its path pattern). */
function routeOf(byPath: Map<string, EarlyRoute>, request: FastifyLikeRequest): EarlyRoute | undefined {
  const url = request.routeOptions?.url;
  if (url === undefined) return undefined;
  return byPath.get(url.length > 1 && url.endsWith('/') ? url.slice(0, -1) : url);
}

/** Nest's `ApplicationConfig`, reached through the container that every module holds. */
function applicationSettings(modules: ModulesContainer): ApplicationSettings | undefined {
  for (const module of modules.values()) {
    const config = (module as unknown as { container?: { applicationConfig?: unknown } }).container
      ?.applicationConfig;
    const candidate = config as Partial<ApplicationSettings> | undefined;
    if (
      typeof candidate?.getGlobalGuards === 'function' &&
      typeof candidate.getGlobalRequestGuards === 'function' &&
      typeof candidate.getGlobalPrefix === 'function' &&
      typeof candidate.getGlobalPrefixOptions === 'function' &&
      typeof candidate.getVersioning === 'function'
    ) {
      return candidate as ApplicationSettings;
    }
    return undefined;
  }
  return undefined;
}

/**
 * Answers HITs of public routes (`@Cached({ public: true })`) before Nest's router: from an Express route
 * middleware or a Fastify `onRequest` hook registered by the module, so guards, pipes and interceptors do not
 * run for them (routes with any guard are never answered here). The answer is the interceptor's own (same
 * plan, key, headers and `304`). A miss leaves its ticket on the request for the interceptor, which computes
 * the entry without a second lookup; anything else (other methods, `no-cache`, `no-store`, a declined key)
 * takes the normal path untouched.
 */
@Injectable()
export class EarlyAnswers {
  private readonly logger = new Logger('Cache');
  private readonly headers: CacheHeaders;

  constructor(
    private readonly interceptor: CacheInterceptor,
    private readonly engine: CacheEngine,
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
    @Inject(RESOLVED_CACHE_OPTIONS) options: ResolvedCacheOptions,
  ) {
    this.headers = new CacheHeaders(options);
  }

  /** Registers the early path of every eligible public route; logs which are served early and why not. */
  register(consumer: MiddlewareConsumer): void {
    if (!this.engine.enabled) return;
    const adapter = this.adapterHost.httpAdapter as { getType(): string; getInstance(): unknown } | undefined;
    if (adapter === undefined) return;
    const survey = surveyPublicRoutes(this.discovery, this.reflector, applicationSettings(this.modules));
    for (const { name, reason } of survey.refused) {
      this.logger.log(`Public route ${name} is answered after the router: ${reason}`);
    }
    const type = adapter.getType();
    if (type === 'express') {
      this.presetExpress(consumer, survey.cached);
      this.registerExpress(consumer, survey.early);
    } else if (type === 'fastify') {
      const instance = adapter.getInstance() as FastifyLikeInstance;
      this.presetFastify(instance, survey.cached);
      this.registerFastify(instance, survey.early);
    } else {
      return;
    }
    for (const route of survey.early) {
      this.logger.log(
        `Public route ${route.name} (${route.routerPaths.join(', ')}) is answered before the router`,
      );
    }
  }

  /** Marks credentialed requests of cached routes private before the guards run (see `presetPrivate`). */
  private preset(route: EarlyRoute, request: CacheRequest, res: object): void {
    const plan = this.interceptor.planOf(route.controller, route.handler);
    if (plan !== undefined && this.headers.presetPrivate(responseAccessFor(res), res, plan, request)) {
      markPreset(request);
    }
  }

  private presetExpress(consumer: MiddlewareConsumer, routes: EarlyRoute[]): void {
    for (const route of routes) {
      if (this.interceptor.planOf(route.controller, route.handler)?.lifetime.public !== false) continue;
      const middleware = (req: CacheRequest, res: object, next: Next): void => {
        this.preset(route, req, res);
        next();
      };
      consumer
        .apply(middleware)
        .forRoutes(...route.paths.map((path) => ({ path, method: RequestMethod.GET })));
    }
  }

  private presetFastify(instance: FastifyLikeInstance, routes: EarlyRoute[]): void {
    const byPath = new Map<string, EarlyRoute>();
    for (const route of routes) {
      if (this.interceptor.planOf(route.controller, route.handler)?.lifetime.public !== false) continue;
      for (const path of route.routerPaths) byPath.set(path, route);
    }
    if (byPath.size === 0) return;
    instance.addHook('onRequest', (request, reply, done) => {
      const route = routeOf(byPath, request);
      if (route !== undefined) this.preset(route, request, reply);
      done();
    });
  }

  private registerExpress(consumer: MiddlewareConsumer, routes: EarlyRoute[]): void {
    for (const route of routes) {
      const middleware = (req: CacheRequest, res: ExpressLikeResponse, next: Next): void => {
        this.serve(route, { request: req, res, raw: res, send: (body) => res.send(body), next });
      };
      consumer
        .apply(middleware)
        .forRoutes(...route.paths.map((path) => ({ path, method: RequestMethod.GET })));
    }
  }

  private registerFastify(instance: FastifyLikeInstance, routes: EarlyRoute[]): void {
    if (routes.length === 0) return;
    const byPath = new Map<string, EarlyRoute>();
    for (const route of routes) for (const path of route.routerPaths) byPath.set(path, route);
    instance.addHook('onRequest', (request, reply, done) => {
      const route = routeOf(byPath, request);
      if (route === undefined) return done();
      this.serve(route, {
        request,
        res: reply,
        raw: reply.raw,
        send: (body) => reply.send(body),
        next: done,
      });
    });
  }

  private serve(route: EarlyRoute, exchange: Exchange): void {
    const { request, next } = exchange;
    const method = request.method;
    if (method !== 'GET' && method !== 'HEAD') return next();
    const directives = parseRequestDirectives(request.headers);
    if (directives.noCache || directives.noStore) return next();
    const plan = this.interceptor.planOf(route.controller, route.handler);
    if (plan === undefined) return next();
    const key = this.interceptor.keyOf(plan, request);
    if (isPromise(key)) {
      key.then(
        (resolved) => this.lookUp(plan, resolved, exchange),
        () => next(),
      );
      return;
    }
    this.lookUp(plan, key, exchange);
  }

  private lookUp(plan: RoutePlan, resolved: ResolvedKey | undefined, exchange: Exchange): void {
    if (resolved === undefined) return exchange.next();
    const mode = { read: true, write: exchange.request.method === 'GET' };
    const acquired = this.interceptor.acquire(plan, resolved, mode);
    if (isPromise(acquired)) {
      acquired.then(
        (found) => this.settle(plan, resolved, found, exchange),
        () => exchange.next(),
      );
      return;
    }
    this.settle(plan, resolved, acquired, exchange);
  }

  private settle(plan: RoutePlan, resolved: ResolvedKey, acquired: Acquired, exchange: Exchange): void {
    const { request, res } = exchange;
    if (acquired.kind === 'hit') {
      const access = responseAccessFor(res);
      this.headers.answer(access, res, plan, request, acquired.entry, acquired.label, exchange.send);
      return;
    }
    leaveEarlyLookup(request, exchange.raw, { plan, key: resolved.key, acquired });
    exchange.next();
  }
}
