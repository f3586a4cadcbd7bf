import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, listenOnAllInterfaces } from './app.factory.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const { port } = app.get<AppConfig>(APP_CONFIG);
  await listenOnAllInterfaces(app, port);
  Logger.log(`Listening on http://localhost:${port} (API documentation at /docs)`, 'Bootstrap');
}

void bootstrap();
