import { Controller, Get, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { sql } from 'kysely';
import { CacheStatusService, type CacheBackendName } from '../cache/index.js';
import { CacheHealthIndicator } from '../cache/terminus.js';
import { DATABASE, DATABASE_INFO, type Database, type DatabaseInfo } from '../database/database.types.js';

export class HealthView {
  @ApiProperty({ enum: ['ok', 'error'] }) status!: 'ok' | 'error';
  @ApiProperty({ enum: ['up', 'down'] }) database!: 'up' | 'down';
  @ApiProperty({ enum: ['sqlite', 'postgres'] }) databaseEngine!: DatabaseInfo['dialect'];
  @ApiProperty({ enum: ['redis', 'memory', 'memory-fallback'] }) cache!: CacheBackendName;
  @ApiProperty() cacheEnabled!: boolean;
  @ApiProperty({ description: 'Terminus details of each indicator' }) details!: HealthCheckResult['details'];
}

/** Database state and the cache backend in use, through Terminus; 503 when the database does not answer. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly cacheHealth: CacheHealthIndicator,
    private readonly cache: CacheStatusService,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(DATABASE_INFO) private readonly info: DatabaseInfo,
  ) {}

  @Get()
  @ApiOkResponse({ type: HealthView })
  @ApiServiceUnavailableResponse({ type: HealthView })
  async check(): Promise<HealthView> {
    let result: HealthCheckResult;
    let healthy = true;
    try {
      result = await this.health.check([() => this.database(), () => this.cacheHealth.isHealthy('cache')]);
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      result = error.getResponse() as HealthCheckResult;
      healthy = false;
    }
    const view: HealthView = {
      status: healthy ? 'ok' : 'error',
      database: result.details['database']?.status === 'up' ? 'up' : 'down',
      databaseEngine: this.info.dialect,
      cache: this.cache.backendName,
      cacheEnabled: this.cache.enabled,
      details: result.details,
    };
    if (!healthy) throw new HttpException(view, HttpStatus.SERVICE_UNAVAILABLE);
    return view;
  }

  private async database() {
    const indicator = this.indicators.check('database');
    try {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timeout')), 2000).unref(),
      );
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
      return indicator.up({ engine: this.info.dialect });
    } catch {
      return indicator.down({ engine: this.info.dialect });
    }
  }
}
