import { ValidationPipe, type ArgumentMetadata, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/**
 * Validation of bodies and queries through their DTOs. Path params are left as the raw strings for their own
 * pipes (`ParseIdPipe`), which refuse non-canonical ids such as `007` that a blanket conversion would hide.
 */
class AppValidationPipe extends ValidationPipe {
  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    return metadata.type === 'param' ? value : super.transformPrimitive(value, metadata);
  }
}

/** What main.ts applies to the application; tests apply the same. */
export function setupApp(app: INestApplication): void {
  app.useGlobalPipes(
    new AppValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
    }),
  );
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Users and API keys')
      .setDescription('Sample application of the caching module')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}
