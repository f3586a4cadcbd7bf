import { RequestMethod, type Type } from '@nestjs/common';
import type { DiscoveryService, Reflector } from '@nestjs/core';
import { CACHED_METADATA } from './cached.metadata.js';
import { handlesResponseItself } from './route-plan.js';

/** Nest's metadata keys read here (route paths, methods, guards, hosts, versions). */
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const GUARDS_METADATA = '__guards__';
const HOST_METADATA = 'host';
const VERSION_METADATA = '__version__';

/** Literal segments and `:name` parameters only: a pattern both routers and this module read the same way. */
const PLAIN_PATH = /^[A-Za-z0-9_.~\-/:]*$/;
const PARAM_SEGMENT = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** What the survey needs to know about the application (Nest's `ApplicationConfig`). */
export interface ApplicationSettings {
  getGlobalPrefix(): string;
  getGlobalPrefixOptions(): { exclude?: unknown[] };
  getGlobalGuards(): unknown[];
  getGlobalRequestGuards(): unknown[];
  getVersioning(): unknown;
}

/** A public `GET` route that may be answered before the router. */
export interface EarlyRoute {
  readonly controller: Type;
  readonly handler: object;
  /** `Controller.method`, for logs. */
  readonly name: string;
  /** Its paths as the application declared them (what module middleware is registered with). */
  readonly paths: readonly string[];
  /** Its paths as the router matches them (global prefix included). */
  readonly routerPaths: readonly string[];
}

/** The public routes, answered early or not, with the reason; and every cached `GET` route with a plain path. */
export interface PublicRouteSurvey {
  readonly early: EarlyRoute[];
  readonly refused: Array<{ readonly name: string; readonly reason: string }>;
  /** Every `@Cached` `GET` route whose paths this module can match (public or not, guarded or not). */
  readonly cached: EarlyRoute[];
}

function asList(value: unknown): string[] {
  if (value === undefined) return ['/'];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `/a` + `b/` → `/a/b`: one leading slash, no trailing or doubled ones. */
function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment !== '')
    .join('/');
  return `/${joined}`;
}

function isPlainPath(path: string): boolean {
  if (!PLAIN_PATH.test(path)) return false;
  return path.split('/').every((segment) => !segment.includes(':') || PARAM_SEGMENT.test(segment));
}

type Method = (...args: unknown[]) => unknown;

function methodsOf(proto: object): Array<[string, Method]> {
  const found = new Map<string, Method>();
  for (
    let p: object | null = proto;
    p !== null && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || found.has(name)) continue;
      const value = Object.getOwnPropertyDescriptor(p, name)?.value as unknown;
      if (typeof value === 'function') found.set(name, value as Method);
    }
  }
  return [...found];
}

function hasGuards(target: object): boolean {
  const guards = Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined;
  return guards !== undefined && guards.length > 0;
}

/** Why a public route cannot be answered before the router, or `undefined` when it can. */
function refusal(
  controller: Type,
  handler: object,
  name: string,
  paths: string[],
  settings: ApplicationSettings | undefined,
): string | undefined {
  if (settings === undefined) return 'the application settings (guards, prefix) are not readable';
  if (settings.getGlobalGuards().length > 0 || settings.getGlobalRequestGuards().length > 0) {
    return 'a global guard is bound';
  }
  if (hasGuards(controller) || hasGuards(handler)) return 'a guard is bound to it';
  if (settings.getVersioning() !== undefined) return 'the application uses versioning';
  if ((settings.getGlobalPrefixOptions().exclude ?? []).length > 0) return 'the global prefix has exclusions';
  if (Reflect.getMetadata(HOST_METADATA, controller) !== undefined)
    return 'its controller is bound to a host';
  if (Reflect.getMetadata(VERSION_METADATA, controller) !== undefined) return 'its controller is versioned';
  if (Reflect.getMetadata(VERSION_METADATA, handler) !== undefined) return 'it is versioned';
  if (handlesResponseItself(controller, name)) return 'it writes its response through @Res()';
  const odd = paths.find((path) => !isPlainPath(path));
  if (odd !== undefined) return `its path ${odd} has wildcards or patterns`;
  return undefined;
}

/**
 * Finds the `GET` routes declared `@Cached({ public: true })` and tells which may be answered before the
 * router: those with no guard anywhere (global, controller or method: an early answer must never skip one),
 * a plain path, and no versioning or host binding.
 */
export function surveyPublicRoutes(
  discovery: DiscoveryService,
  reflector: Reflector,
  settings: ApplicationSettings | undefined,
): PublicRouteSurvey {
  const survey: PublicRouteSurvey = { early: [], refused: [], cached: [] };
  const prefix = settings?.getGlobalPrefix() ?? '';
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | null | undefined;
    if (typeof controller !== 'function') continue;
    const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller));
    for (const [method, handler] of methodsOf(controller.prototype as object)) {
      if (Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.GET) continue;
      if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const cached = reflector.getAllAndOverride(CACHED_METADATA, [handler, controller]);
      if (cached === undefined) continue;
      const name = `${controller.name}.${method}`;
      const methodPaths = asList(Reflect.getMetadata(PATH_METADATA, handler));
      const paths = controllerPaths.flatMap((c) => methodPaths.map((m) => joinPath(c, m)));
      const route = { controller, handler, name, paths, routerPaths: paths.map((p) => joinPath(prefix, p)) };
      const matchable =
        settings !== undefined &&
        settings.getVersioning() === undefined &&
        (settings.getGlobalPrefixOptions().exclude ?? []).length === 0 &&
        Reflect.getMetadata(HOST_METADATA, controller) === undefined &&
        Reflect.getMetadata(VERSION_METADATA, controller) === undefined &&
        Reflect.getMetadata(VERSION_METADATA, handler) === undefined &&
        paths.every(isPlainPath);
      if (matchable) survey.cached.push(route);
      if (cached.public !== true) continue;
      const reason = refusal(controller, handler, method, paths, settings);
      if (reason !== undefined) survey.refused.push({ name, reason });
      else survey.early.push(route);
    }
  }
  return survey;
}
