import { describe, expect, it } from 'vitest';
import { loadAppConfig, loadHttpAdapter } from './app-config.js';

const load = (env: Record<string, string>) => loadAppConfig((name) => env[name]);

describe('loadAppConfig', () => {
  it('has working defaults for development', () => {
    const config = load({});
    expect(config).toMatchObject({
      port: 3000,
      environment: 'development',
      jwtSecretGenerated: true,
      databaseUrl: 'sqlite:./data/app.db',
      admin: undefined,
      throttle: { enabled: false, limit: 10, ttlSeconds: 60 },
    });
    expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(load({}).jwtSecret).not.toBe(config.jwtSecret);
  });

  it('requires JWT_SECRET outside development, and a long enough one anywhere', () => {
    expect(() => load({ NODE_ENV: 'production' })).toThrow(/^JWT_SECRET: is required/);
    expect(() => load({ JWT_SECRET: 'short' })).toThrow(/^JWT_SECRET: must be at least 16/);
    expect(load({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwtSecretGenerated).toBe(false);
  });

  it('names the variable of every invalid value', () => {
    expect(() => load({ PORT: 'abc' })).toThrow(/^PORT: .*"abc"/);
    expect(() => load({ PORT: '70000' })).toThrow(/^PORT: /);
    expect(() => load({ DATABASE_URL: 'mysql://x' })).toThrow(/^DATABASE_URL: /);
    expect(() => load({ THROTTLE_ENABLED: 'maybe' })).toThrow(/^THROTTLE_ENABLED: .*"maybe"/);
    expect(() => load({ THROTTLE_LIMIT: '0' })).toThrow(/^THROTTLE_LIMIT: /);
    expect(() => load({ ADMIN_EMAIL: 'a@b.c' })).toThrow(/^ADMIN_PASSWORD: /);
    expect(() => load({ ADMIN_PASSWORD: 'long-enough' })).toThrow(/^ADMIN_EMAIL: /);
    expect(() => load({ ADMIN_EMAIL: 'a@b.c', ADMIN_PASSWORD: 'short' })).toThrow(/^ADMIN_PASSWORD: /);
  });

  it('reads the admin account, lower-casing the email', () => {
    expect(load({ ADMIN_EMAIL: 'Admin@Example.com', ADMIN_PASSWORD: 'password-1' }).admin).toEqual({
      email: 'admin@example.com',
      password: 'password-1',
    });
  });
});

describe('loadHttpAdapter', () => {
  const adapter = (env: Record<string, string>) => loadHttpAdapter((name) => env[name]);

  it('is express unless HTTP_ADAPTER says fastify', () => {
    expect(adapter({})).toBe('express');
    expect(adapter({ HTTP_ADAPTER: '' })).toBe('express');
    expect(adapter({ HTTP_ADAPTER: 'express' })).toBe('express');
    expect(adapter({ HTTP_ADAPTER: 'fastify' })).toBe('fastify');
    expect(adapter({ HTTP_ADAPTER: ' Fastify ' })).toBe('fastify');
  });

  it('names the variable of an invalid value', () => {
    expect(() => adapter({ HTTP_ADAPTER: 'koa' })).toThrow(
      /^HTTP_ADAPTER: expected express or fastify, got "koa"$/,
    );
  });
});
