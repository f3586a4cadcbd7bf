import {
  BadRequestException,
  Logger,
  ValidationPipe,
  type ArgumentMetadata,
  type INestApplication,
} from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createRequire } from 'node:module';

/**
 * Validation of bodies and queries through their DTOs. Path params are left as the raw strings for their own
 * pipes (`ParseIdPipe`), which refuse non-canonical ids such as `007` that a blanket conversion would hide.
 */
class AppValidationPipe extends ValidationPipe {
  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    return metadata.type === 'param' ? value : super.transformPrimitive(value, metadata);
  }
}

/**
 * A JSON body read as Express's parser reads it: an empty body is `{}`, the top level is an object or an
 * array, and a syntax error is a 400 with the parser's message.
 */
function parseJsonBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  const start = text.trimStart();
  if (start === '') return {};
  if (!start.startsWith('{') && !start.startsWith('[')) {
    throw new BadRequestException('A JSON body must be an object or an array');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BadRequestException(error instanceof Error ? error.message : 'Invalid JSON');
  }
}

/**
 * Fastify bodies as Express's: JSON through {@link parseJsonBody} (Fastify refuses an empty body sent as
 * `application/json`, which clients send on bodiless `POST`s), and the body of any type without a parser
 * (`text/plain`, XML) left unread, so the route answers as it does to no body instead of `415`.
 */
function alignFastifyBodies(app: NestFastifyApplication): void {
  app.useBodyParser('application/json', {}, async (_request: unknown, body: Buffer) => parseJsonBody(body));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
}

/** Whether a package can be loaded from here (an optional one the application may run without). */
function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The OpenAPI document at `/docs-json` and `/docs-yaml`, and Swagger UI at `/docs`. On Fastify the UI's assets
 * are served by `@fastify/static`; without it the documents are still served and the UI is left out.
 */
function setupDocs(app: INestApplication, fastify: boolean): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Users and API keys')
      .setDescription('Sample application of the caching module')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'api-key')
      .build(),
  );
  const ui = !fastify || installed('@fastify/static');
  if (!ui) {
    new Logger('Docs').warn(
      'Swagger UI on Fastify needs @fastify/static: only the documents are served, at /docs-json and /docs-yaml',
    );
  }
  SwaggerModule.setup('docs', app, document, { ui });
}

/**
 * What `createApp` (main.ts) applies to the application, on Express or Fastify; tests apply the same. The
 * platforms' own differences are settled here and in `createApp`, so that the application answers alike.
 */
export function setupApp(app: INestApplication): void {
  const fastify = app.getHttpAdapter().getType() === 'fastify';
  if (fastify) alignFastifyBodies(app as NestFastifyApplication);
  app.useGlobalPipes(
    new AppValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
    }),
  );
  app.enableShutdownHooks();
  setupDocs(app, fastify);
}
