import { BadRequestException, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import express from 'express';
import type { FastifyError, FastifyReply } from 'fastify';
import { networkInterfaces } from 'node:os';
// Importing the module runs `ConfigModule.forRoot()`, which loads `.env` into `process.env`: the platform is
// read from the environment after that.
import { AppModule } from './app.module.js';
import { setupApp } from './app.setup.js';
import { loadHttpAdapter, type HttpAdapterName } from './config/app-config.js';

/** Options of {@link createApp}. */
export interface CreateAppOptions extends Pick<NestApplicationOptions, 'logger' | 'abortOnError'> {
  /**
   * The HTTP platform.
   * @default the environment's choice ({@link loadHttpAdapter}), else `express`
   */
  adapter?: HttpAdapterName;
}

/** Largest request body, in bytes: Express's JSON and form parsers' default (`100kb`), applied to Fastify. */
const BODY_LIMIT = 100 * 1024;

/**
 * Express routing as Fastify's: `/users/me/` and `/USERS/me` are not `/users/me` (one URL per resource, as
 * one spelling per id). No `X-Powered-By`, and no weak `ETag` on every response, which Fastify never sends:
 * validators come from the cache alone.
 */
function expressAdapter(): ExpressAdapter {
  const instance = express();
  instance.enable('strict routing');
  instance.enable('case sensitive routing');
  instance.disable('x-powered-by');
  instance.disable('etag');
  return new ExpressAdapter(instance);
}

/**
 * Fastify limits as Express's: the same body limit, path parameters of any length (Fastify answers 404 past
 * 100 characters, before a pipe could answer 400), and a URL that cannot be decoded answered in Nest's
 * error shape rather than Fastify's.
 */
function fastifyAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 16_384 },
    frameworkErrors: (error: FastifyError, _request: unknown, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      const body =
        status === 400
          ? new BadRequestException(error.message).getResponse()
          : { statusCode: status, message: error.message };
      void reply.code(status).send(body);
    },
  });
}

/**
 * Creates the sample application on Express or Fastify and applies {@link setupApp}; what main.ts starts and
 * what the tests start. Not listening yet.
 *
 * @throws {AppConfigError} when the environment names no known platform.
 * @example
 * ```ts
 * const app = await createApp({ adapter: 'fastify' });
 * await listenOnAllInterfaces(app, 3000);
 * ```
 */
export async function createApp(options: CreateAppOptions = {}): Promise<INestApplication> {
  const { adapter = loadHttpAdapter(), ...nestOptions } = options;
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(AppModule, fastifyAdapter(), nestOptions)
      : await NestFactory.create(AppModule, expressAdapter(), nestOptions);
  setupApp(app);
  return app;
}

/**
 * Listens on every interface, as Node does when no host is given (`::` where the machine has IPv6, which also
 * accepts IPv4, else `0.0.0.0`). Express does that by itself; Fastify would listen on `localhost` only.
 */
export async function listenOnAllInterfaces(app: INestApplication, port: number): Promise<void> {
  if (app.getHttpAdapter().getType() !== 'fastify') {
    await app.listen(port);
    return;
  }
  const ipv6 = Object.values(networkInterfaces()).some((addresses) =>
    addresses?.some((address) => address.family === 'IPv6'),
  );
  await app.listen(port, ipv6 ? '::' : '0.0.0.0');
}
