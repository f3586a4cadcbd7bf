import { randomBytes } from 'node:crypto';

/** Settings of the sample application, validated once at startup. */
export interface AppConfig {
  port: number;
  /** `development` unless NODE_ENV says otherwise. */
  environment: string;
  jwtSecret: string;
  /** True when no JWT_SECRET was given and a random one is used (development only). */
  jwtSecretGenerated: boolean;
  /** Access token lifetime, seconds. */
  jwtTtlSeconds: number;
  databaseUrl: string;
  admin: { email: string; password: string } | undefined;
  throttle: { enabled: boolean; limit: number; ttlSeconds: number };
}

/** The HTTP platforms the sample application runs on. */
export const HTTP_ADAPTERS = ['express', 'fastify'] as const;

/** One of {@link HTTP_ADAPTERS}. */
export type HttpAdapterName = (typeof HTTP_ADAPTERS)[number];

/** Injection token of {@link AppConfig}. */
export const APP_CONFIG = 'APP:CONFIG';

/** A configuration value is invalid; the message starts with the variable's name. */
export class AppConfigError extends Error {
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'AppConfigError';
  }
}

type Env = (name: string) => string | undefined;

function text(env: Env, name: string): string | undefined {
  const value = env(name)?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new AppConfigError(name, `expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new AppConfigError(name, `expected true or false, got "${raw}"`);
}

/**
 * Reads `HTTP_ADAPTER`: `express` (the default) or `fastify`, in any case. It is read before the application
 * is created (the platform is chosen then), so it is not part of {@link AppConfig}.
 *
 * @throws {AppConfigError} naming `HTTP_ADAPTER` for any other value.
 * @example loadHttpAdapter((name) => ({ HTTP_ADAPTER: 'fastify' })[name]) // 'fastify'
 */
export function loadHttpAdapter(env: Env = (name) => process.env[name]): HttpAdapterName {
  const raw = text(env, 'HTTP_ADAPTER')?.toLowerCase();
  if (raw === undefined) return 'express';
  const adapter = HTTP_ADAPTERS.find((name) => name === raw);
  if (adapter === undefined) {
    throw new AppConfigError('HTTP_ADAPTER', `expected ${HTTP_ADAPTERS.join(' or ')}, got "${raw}"`);
  }
  return adapter;
}

/** Reads and validates the application's environment. */
export function loadAppConfig(env: Env = (name) => process.env[name]): AppConfig {
  const environment = text(env, 'NODE_ENV') ?? 'development';
  const development = environment === 'development' || environment === 'test';
  const givenSecret = text(env, 'JWT_SECRET');
  if (givenSecret === undefined && !development) {
    throw new AppConfigError('JWT_SECRET', `is required when NODE_ENV is "${environment}"`);
  }
  if (givenSecret !== undefined && givenSecret.length < 16) {
    throw new AppConfigError('JWT_SECRET', 'must be at least 16 characters long');
  }
  const databaseUrl = text(env, 'DATABASE_URL') ?? 'sqlite:./data/app.db';
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(databaseUrl)) {
    throw new AppConfigError('DATABASE_URL', 'expected sqlite:<path> or postgres://...');
  }
  const adminEmail = text(env, 'ADMIN_EMAIL');
  const adminPassword = env('ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined || adminPassword === '')) {
    throw new AppConfigError(
      adminEmail === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD',
      'ADMIN_EMAIL and ADMIN_PASSWORD go together',
    );
  }
  if (adminPassword !== undefined && adminPassword !== '' && adminPassword.length < 8) {
    throw new AppConfigError('ADMIN_PASSWORD', 'must be at least 8 characters long');
  }
  return {
    port: int(env, 'PORT', 3000, 0, 65_535),
    environment,
    jwtSecret: givenSecret ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: givenSecret === undefined,
    jwtTtlSeconds: int(env, 'JWT_TTL_SECONDS', 3600, 1, 31_536_000),
    databaseUrl,
    admin:
      adminEmail !== undefined && adminPassword !== undefined
        ? { email: adminEmail.toLowerCase(), password: adminPassword }
        : undefined,
    throttle: {
      enabled: bool(env, 'THROTTLE_ENABLED', false),
      limit: int(env, 'THROTTLE_LIMIT', 10, 1, 1_000_000),
      ttlSeconds: int(env, 'THROTTLE_TTL_SECONDS', 60, 1, 86_400),
    },
  };
}
