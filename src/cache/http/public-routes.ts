import { RequestMethod, type Type } from '@nestjs/common';
import type { DiscoveryService, Reflector } from '@nestjs/core';
import { CACHED_METADATA } from './cached.metadata.js';
import { handlesResponseItself } from './route-plan.js';

/** Nest's metadata keys read here (route paths, methods, guards, hosts, versions, module paths, headers). */
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const GUARDS_METADATA = '__guards__';
const HOST_METADATA = 'host';
const VERSION_METADATA = '__version__';
const MODULE_PATH_METADATA = '__module_path__';
const HEADERS_METADATA = '__headers__';

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

/** A cached `GET` route whose router paths this module knows for sure. */
export interface SurveyedRoute {
  readonly controller: Type;
  readonly handler: object;
  /** `Controller.method`, for logs. */
  readonly name: string;
  /** Its paths as the router matches them (global prefix included). */
  readonly routerPaths: readonly string[];
  /** Declared `public: true` and free of guards: its HITs may be answered before the guards would run. */
  readonly early: boolean;
}

/** The cached `GET` routes, and the public ones that cannot be answered early with the reason. */
export interface RouteSurvey {
  readonly routes: SurveyedRoute[];
  readonly refused: Array<{ readonly name: string; readonly reason: string }>;
}

type Method = (...args: unknown[]) => unknown;

function asList(value: unknown): string[] {
  if (value === undefined) return ['/'];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `/a` + `b/` → `/a/b`: one leading slash, no trailing or doubled ones. */
export function joinPath(...parts: string[]): string {
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

function mountedThroughRouterModule(host: unknown): boolean {
  const metatype = (host as { metatype?: unknown } | undefined)?.metatype;
  if (typeof metatype !== 'function') return false;
  return Reflect.getMetadataKeys(metatype).some((key) => String(key).startsWith(MODULE_PATH_METADATA));
}

/**
 * Why the paths of a cached route cannot be known for sure (then nothing is registered for it), or
 * `undefined`.
 */
function unknownPaths(
  controller: Type,
  handler: object,
  host: unknown,
  paths: string[],
  settings: ApplicationSettings | undefined,
): string | undefined {
  if (settings === undefined) return 'the application settings (guards, prefix) are not readable';
  if (settings.getVersioning() !== undefined) return 'the application uses versioning';
  if ((settings.getGlobalPrefixOptions().exclude ?? []).length > 0) return 'the global prefix has exclusions';
  if (mountedThroughRouterModule(host)) return 'its module is mounted with a path (RouterModule)';
  if (Reflect.getMetadata(HOST_METADATA, controller) !== undefined)
    return 'its controller is bound to a host';
  if (Reflect.getMetadata(VERSION_METADATA, controller) !== undefined) return 'its controller is versioned';
  if (Reflect.getMetadata(VERSION_METADATA, handler) !== undefined) return 'it is versioned';
  const odd = paths.find((path) => !isPlainPath(path));
  if (odd !== undefined) return `its path ${odd} has wildcards or patterns`;
  return undefined;
}

/** Why a public route with known paths is not answered before the guards, or `undefined`. */
function notEarly(
  controller: Type,
  handler: object,
  methodName: string,
  settings: ApplicationSettings,
): string | undefined {
  if (settings.getGlobalGuards().length > 0 || settings.getGlobalRequestGuards().length > 0) {
    return 'a global guard is bound';
  }
  if (hasGuards(controller) || hasGuards(handler)) return 'a guard is bound to it';
  if (handlesResponseItself(controller, methodName)) return 'it writes its response through @Res()';
  const headers = Reflect.getMetadata(HEADERS_METADATA, handler) as unknown[] | undefined;
  if (headers !== undefined && headers.length > 0) return 'it sets headers with @Header()';
  return undefined;
}

/**
 * Finds the cached `GET` routes whose router paths are certain (plain paths, no versioning, host binding or
 * module path), and which of the public ones may be answered before the guards: those with no guard anywhere
 * (global, controller or method: an early answer must never skip one). A path two routes share is left out
 * for both, so a hook is never attached to the wrong route.
 */
export function surveyCachedRoutes(
  discovery: DiscoveryService,
  reflector: Reflector,
  settings: ApplicationSettings | undefined,
): RouteSurvey {
  const survey: RouteSurvey = { routes: [], refused: [] };
  const prefix = settings?.getGlobalPrefix() ?? '';
  const owners = new Map<string, number>();
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | null | undefined;
    if (typeof controller !== 'function') continue;
    const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller));
    for (const [methodName, handler] of methodsOf(controller.prototype as object)) {
      // Only GET routes: another method sharing a path with a cached GET route leaves the path its own.
      if (Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.GET) continue;
      if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const methodPaths = asList(Reflect.getMetadata(PATH_METADATA, handler));
      const paths = controllerPaths.flatMap((c) => methodPaths.map((m) => joinPath(prefix, c, m)));
      for (const path of paths) owners.set(path, (owners.get(path) ?? 0) + 1);
      const cached = reflector.getAllAndOverride(CACHED_METADATA, [handler, controller]);
      if (cached === undefined) continue;
      const name = `${controller.name}.${methodName}`;
      const isPublic = cached.public === true;
      const unknown = unknownPaths(controller, handler, wrapper.host, paths, settings);
      if (unknown !== undefined || settings === undefined) {
        if (isPublic) survey.refused.push({ name, reason: unknown ?? 'unknown paths' });
        continue;
      }
      const reason = isPublic ? notEarly(controller, handler, methodName, settings) : 'not public';
      if (isPublic && reason !== undefined) survey.refused.push({ name, reason });
      survey.routes.push({ controller, handler, name, routerPaths: paths, early: reason === undefined });
    }
  }
  // A path two GET routes declare (two controllers, or a route and a copy) belongs to neither for sure.
  const shared = new Set([...owners].filter(([, count]) => count > 1).map(([path]) => path));
  return {
    refused: [
      ...survey.refused,
      ...survey.routes
        .filter((route) => route.early && route.routerPaths.some((path) => shared.has(path)))
        .map((route) => ({ name: route.name, reason: 'another GET route declares the same path' })),
    ],
    routes: survey.routes.filter((route) => !route.routerPaths.some((path) => shared.has(path))),
  };
}
