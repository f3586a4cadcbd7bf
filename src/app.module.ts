import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { ApiKeysController } from './api-keys/api-keys.controller.js';
import { ApiKeysService } from './api-keys/api-keys.service.js';
import { AuthController } from './auth/auth.controller.js';
import { AuthGuard } from './auth/auth.guard.js';
import { AuthService } from './auth/auth.service.js';
import { RolesGuard } from './auth/roles.guard.js';
import { CacheModule } from './cache/index.js';
import { CacheHealthIndicator } from './cache/terminus.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { AppConfigModule } from './config/app-config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthController } from './health/health.controller.js';
import { PublicProfileController } from './users/public-profile.controller.js';
import { UsersController } from './users/users.controller.js';
import { UsersService } from './users/users.service.js';
import { UserStatsService } from './users/user-stats.service.js';

/** The sample application: users and API keys on a real database, cached through the library. */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    AppConfigModule,
    CacheModule.forRootAsync(),
    DatabaseModule,
    TerminusModule.forRoot({ logger: false }),
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: config.jwtSecret,
        signOptions: { expiresIn: config.jwtTtlSeconds },
      }),
    }),
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        throttlers: [{ ttl: config.throttle.ttlSeconds * 1000, limit: config.throttle.limit }],
        skipIf: () => !config.throttle.enabled,
      }),
    }),
  ],
  // The API-keys routes (/users/keys/...) are registered before /users/:id.
  controllers: [
    AuthController,
    ApiKeysController,
    UsersController,
    PublicProfileController,
    HealthController,
  ],
  providers: [
    UsersService,
    UserStatsService,
    ApiKeysService,
    AuthService,
    AuthGuard,
    RolesGuard,
    CacheHealthIndicator,
  ],
})
export class AppModule {}
