import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, ModulesContainer, Reflector } from '@nestjs/core';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { errorMessage } from '../cache.errors.js';
import { accessModeOf, CacheEngine, type Acquired } from '../engine/cache-engine.js';
import { CacheHeaders } from './cache-headers.js';
import type { CacheRequest } from './cache-key.js';
import { CacheInterceptor, type ResolvedKey } from './cache.interceptor.js';
import { leaveEarlyLookup, markPreset } from './early-lookup.js';
import {
  joinPath,
  surveyCachedRoutes,
  type ApplicationSettings,
  type SurveyedRoute,
} from './public-routes.js';
import { parseRequestDirectives } from './request-directives.js';
import { responseAccessFor, type SendFunction } from './response-access.js';
import type { RoutePlan } from './route-plan.js';
import { PROCEED, withEarlyAnswer, withPreset, type Preset, type RouteHandler } from './route-handlers.js';
import { representationOf } from './stored-compression.js';

type Next = (error?: unknown) => void;

interface ClosableResponse {
  once(event: 'close', listener: () => void): unknown;
  /** Node's `ServerResponse.headersSent`: a response is on its way. */
  readonly headersSent?: boolean;
}

/** One request on the early path, whichever the adapter. */
interface Exchange {
  readonly request: CacheRequest;
  /** The adapter's response (Express `res`, Fastify `reply`). */
  readonly res: object;
  /** The Node response, whose `close` ends an unused ticket. */
  readonly raw: ClosableResponse;
  readonly send: SendFunction;
}

/** The parts of an Express 5 router this module reads: its route layers. */
interface ExpressRouteLayer {
  route?: {
    path?: unknown;
    methods?: Record<string, boolean>;
    stack: Array<{ handle?: unknown }>;
    get(handler: unknown): unknown;
  };
}

interface FastifyRouteOptions {
  url?: string;
  method?: string | string[];
  handler?: unknown;
}

interface FastifyLikeReply {
  raw: ClosableResponse;
  send: SendFunction;
}

interface FastifyLikeInstance {
  addHook(name: 'onRoute', hook: (options: FastifyRouteOptions) => void): unknown;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
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
 * Hooks of cached `GET` routes that run before Nest's guards, attached to the routes themselves, so they run
 * only for requests the router gave that route, after every application middleware and hook:
 *
 * - HITs of public routes (`@Cached({ public: true })`) with no guard are answered from the first handler of
 *   the Express route or in front of Nest's Fastify route handler (after every Fastify hook): guards, pipes and
 *   interceptors do not run.
 *   The answer is the interceptor's own (same plan, key, headers and `304`). A miss leaves its ticket on the
 *   request for the interceptor, which computes the entry without a second lookup; anything else (`no-cache`, `no-store`, a declined key, an unreadable entry) takes the normal path.
 * - Other cached routes mark a request with credentials `private, no-store` before the guards run, so a
 *   guard's refusal is not stored downstream either: in Nest's own route handler (on both adapters the guards
 *   run inside it), wrapped, so that this costs no route layer or hook runner of its own.
 */
@Injectable()
export class EarlyAnswers implements OnModuleInit {
  private readonly logger = new Logger('Cache');
  private readonly headers: CacheHeaders;
  private routes: SurveyedRoute[] = [];

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

  /** Called right before Nest registers routes: surveys them and, on Fastify, hooks their registration. */
  register(): void {
    if (!this.engine.enabled) return;
    const adapter = this.adapter();
    if (adapter === undefined) return;
    const survey = surveyCachedRoutes(this.discovery, this.reflector, applicationSettings(this.modules));
    for (const { name, reason } of survey.refused) {
      this.logger.log(`Public route ${name} is answered after the router: ${reason}`);
    }
    this.routes = survey.routes;
    if (adapter.getType() === 'fastify') this.hookFastify(adapter.getInstance() as FastifyLikeInstance);
  }

  /** Called right after Nest registered routes: on Express, puts the hooks in front of their handlers. */
  onModuleInit(): void {
    const adapter = this.adapter();
    if (adapter?.getType() !== 'express' || this.routes.length === 0) return;
    const router = (adapter.getInstance() as { router?: { stack?: ExpressRouteLayer[] } }).router;
    for (const route of this.routes) {
      for (const path of route.routerPaths) {
        const gets = (router?.stack ?? []).filter(
          (layer) =>
            layer.route?.methods?.['get'] === true &&
            typeof layer.route.path === 'string' &&
            joinPath(layer.route.path) === path,
        );
        const target = gets.length === 1 ? gets[0]?.route : undefined;
        if (target === undefined) {
          if (route.early)
            this.logger.log(`Public route ${route.name} is answered after the router: ${path} not found`);
          continue;
        }
        if (!route.early) {
          // Only the private mark: Nest's handler runs it first (guards run inside that handler), which costs
          // no route layer of its own.
          const layer = target.stack[0];
          if (typeof layer?.handle === 'function')
            layer.handle = withPreset(layer.handle as RouteHandler, this.presetOf(route));
          continue;
        }
        target.get(
          (
            req: CacheRequest & { res?: object },
            res: object & ClosableResponse & { send: SendFunction },
            next: Next,
          ) => {
            const outcome = this.serve(route, {
              request: req,
              res,
              raw: res,
              send: (body) => res.send(body),
            });
            if (outcome === PROCEED) next();
            else if (outcome instanceof Promise) void outcome.then((later) => later === PROCEED && next());
          },
        );
        // `get()` appended the handler: it must run first.
        const added = target.stack.pop();
        if (added !== undefined) target.stack.unshift(added);
        this.logEarly(route, path);
      }
    }
  }

  private adapter(): { getType(): string; getInstance(): unknown } | undefined {
    return this.adapterHost.httpAdapter as { getType(): string; getInstance(): unknown } | undefined;
  }

  private hookFastify(instance: FastifyLikeInstance): void {
    const byPath = new Map<string, SurveyedRoute>();
    for (const route of this.routes) for (const path of route.routerPaths) byPath.set(path, route);
    instance.addHook('onRoute', (options) => {
      const methods = Array.isArray(options.method) ? options.method : [options.method];
      if (!methods.every((method) => method === 'GET' || method === 'HEAD')) return;
      const route = options.url === undefined ? undefined : byPath.get(joinPath(options.url));
      if (route === undefined) return;
      const handler = options.handler;
      if (typeof handler !== 'function') return;
      if (!route.early) {
        // Only the private mark: Nest's route handler runs it first (guards run inside that handler), which
        // costs no hook of its own (a route-level hook costs Fastify's hook runner on every request).
        options.handler = withPreset(handler as RouteHandler, this.presetOf(route));
        return;
      }
      // In front of Nest's handler: after every Fastify hook of the application (onRequest, preParsing,
      // preValidation, preHandler: authentication, rate limits, CORS, compression), before guards, pipes and
      // interceptors, which only a route without guards may skip.
      options.handler = withEarlyAnswer(handler as RouteHandler, (request, res) => {
        const reply = res as FastifyLikeReply;
        return this.serve(route, { request, res, raw: reply.raw, send: (body) => reply.send(body) });
      });
      if (methods.includes('GET')) this.logEarly(route, options.url ?? '');
    });
  }

  private logEarly(route: SurveyedRoute, path: string): void {
    if (route.early) this.logger.log(`Public route ${route.name} (${path}) is answered before the router`);
  }

  /**
   * Before the guards run: marks credentialed requests of a cached route private (see `presetPrivate`), and
   * arms a send hook for what the cache never sees (a guard's `401`, `403` or `404`): an error response gets
   * `no-store` (`private, no-store` with credentials) unless it has a `Cache-Control`. The interceptor puts
   * its own hook in place of that one when it takes the request. The route's plan is looked up on its first
   * request, then kept.
   */
  private presetOf(route: SurveyedRoute): Preset {
    let plan: RoutePlan | undefined | null = null;
    return (request, res) => {
      if (plan === null) plan = this.interceptor.planOf(route.controller, route.handler);
      const known = plan;
      if (known === undefined) return;
      const access = responseAccessFor(res);
      if (this.headers.presetPrivate(access, res, known, request)) markPreset(request);
      access.onSend(res, (payload, send) => {
        if (access.status(res) >= 400) this.headers.forbidStore(access, res, known, request);
        return send(payload);
      });
    };
  }

  /** Answers a HIT (what `send()` returned), or {@link PROCEED}; later when the key or the lookup is. */
  private serve(route: SurveyedRoute, exchange: Exchange): unknown {
    const directives = parseRequestDirectives(exchange.request.headers);
    if (directives.noCache || directives.noStore) return PROCEED;
    const plan = this.interceptor.planOf(route.controller, route.handler);
    if (plan === undefined) return PROCEED;
    const key = this.interceptor.keyOf(plan, exchange.request);
    if (isPromise(key)) {
      return key.then(
        (resolved) => this.lookUp(plan, resolved, exchange),
        () => PROCEED,
      );
    }
    return this.lookUp(plan, key, exchange);
  }

  private lookUp(plan: RoutePlan, resolved: ResolvedKey | undefined, exchange: Exchange): unknown {
    if (resolved === undefined) return PROCEED;
    const mode = accessModeOf(true, exchange.request.method === 'GET');
    const acquired = this.interceptor.acquire(plan, resolved, mode, exchange.request);
    if (isPromise(acquired)) {
      return acquired.then(
        (found) => this.settle(plan, resolved, found, exchange),
        () => PROCEED,
      );
    }
    return this.settle(plan, resolved, acquired, exchange);
  }

  private settle(plan: RoutePlan, resolved: ResolvedKey, acquired: Acquired, exchange: Exchange): unknown {
    const { request, res } = exchange;
    try {
      if (acquired.kind === 'compute') {
        leaveEarlyLookup(request, exchange.raw, { plan, key: resolved.key, acquired });
        return PROCEED;
      }
      const representation = representationOf(acquired.entry, request);
      // An entry that cannot be read (a corrupt compressed body): the normal path serves the request.
      if (representation === undefined) return PROCEED;
      return this.headers.answer(
        responseAccessFor(res),
        res,
        plan,
        request,
        acquired.entry,
        acquired.label,
        exchange.send,
        representation,
      );
    } catch (error) {
      // A cache failure never fails the request: the normal path answers it (unless a response went out).
      this.logger.warn(
        `Early answer of ${plan.className}.${plan.handlerName} failed: ${errorMessage(error)}`,
      );
      return exchange.raw.headersSent === true ? undefined : PROCEED;
    }
  }
}
