import { Global, Logger, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_CONFIG, loadAppConfig } from './app-config.js';

/** Provides the validated {@link AppConfig} everywhere. */
@Global()
@Module({
  providers: [
    {
      provide: APP_CONFIG,
      useFactory: (config: ConfigService) => {
        const appConfig = loadAppConfig((name) => config.get<string>(name));
        if (appConfig.jwtSecretGenerated) {
          new Logger('Config').warn(
            'JWT_SECRET is not set: using a random secret (tokens die with the process)',
          );
        }
        return appConfig;
      },
      inject: [ConfigService],
    },
  ],
  exports: [APP_CONFIG],
})
export class AppConfigModule {}
