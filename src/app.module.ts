import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CacheModule } from './cache/index.js';
import { HealthController } from './health/health.controller.js';

/** The sample application: what `npm start` runs. */
@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true }), CacheModule.forRootAsync()],
  controllers: [HealthController],
})
export class AppModule {}
