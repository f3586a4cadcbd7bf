import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { sql } from 'kysely';
import { CacheStatusService, type CacheBackendName } from '../cache/index.js';
import { DATABASE, DATABASE_INFO, type Database, type DatabaseInfo } from '../database/database.types.js';

export class HealthView {
  @ApiProperty({ enum: ['ok', 'error'] }) status!: 'ok' | 'error';
  @ApiProperty({ enum: ['up', 'down'] }) database!: 'up' | 'down';
  @ApiProperty({ enum: ['sqlite', 'postgres'] }) databaseEngine!: DatabaseInfo['dialect'];
  @ApiProperty({ enum: ['redis', 'memory', 'memory-fallback'] }) cache!: CacheBackendName;
  @ApiProperty() cacheEnabled!: boolean;
}

/** Database state and the cache backend in use; 503 when the database does not answer. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(DATABASE_INFO) private readonly info: DatabaseInfo,
    private readonly cache: CacheStatusService,
  ) {}

  @Get()
  @ApiOkResponse({ type: HealthView })
  async health(): Promise<HealthView> {
    const databaseUp = await this.ping();
    const view: HealthView = {
      status: databaseUp ? 'ok' : 'error',
      database: databaseUp ? 'up' : 'down',
      databaseEngine: this.info.dialect,
      cache: this.cache.backendName,
      cacheEnabled: this.cache.enabled,
    };
    if (!databaseUp) throw new ServiceUnavailableException(view);
    return view;
  }

  private async ping(): Promise<boolean> {
    try {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timeout')), 2000).unref(),
      );
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
      return true;
    } catch {
      return false;
    }
  }
}
