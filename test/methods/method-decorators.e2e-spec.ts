import { Injectable, Module } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { ApiOperation } from '@nestjs/swagger';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheModule, CacheService, Cacheable, InvalidateCache } from '../../src/cache/index.js';

/** Cached methods that other Nest packages also discover, through the metadata on the method. */
@Injectable()
class ReportsService {
  computed = 0;
  cronRuns = 0;
  events: string[] = [];

  @OnEvent('report.requested')
  @Cacheable({ expire: 60 })
  async onRequested(team: string): Promise<string> {
    this.computed++;
    this.events.push(team);
    return `report of ${team}`;
  }

  @Cacheable({ expire: 60 })
  @OnEvent('report.rebuilt')
  @InvalidateCache({ namespaces: ['ReportsService.onRequested'] })
  async onRebuilt(): Promise<void> {
    this.events.push('rebuilt');
  }

  @Cron('0 0 1 1 *', { name: 'yearly-report' })
  @Cacheable({ expire: 60 })
  yearly(): number {
    this.cronRuns++;
    return 2026;
  }

  @ApiOperation({ summary: 'the summary' })
  @Cacheable({ expire: 60 })
  async documented(): Promise<number> {
    return 1;
  }
}

@Module({
  imports: [CacheModule.forRoot({ enabled: true }), EventEmitterModule.forRoot(), ScheduleModule.forRoot()],
  providers: [ReportsService],
})
class ReportsModule {}

describe('cached methods beside @OnEvent, @Cron and swagger decorators', () => {
  let moduleRef: TestingModule;
  let reports: ReportsService;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [ReportsModule] }).compile();
    await moduleRef.init();
    reports = moduleRef.get(ReportsService);
  });
  afterAll(async () => {
    await moduleRef?.close();
  });

  it('keeps @OnEvent listeners registered on either side of the cache, and caches what they compute', async () => {
    const emitter = moduleRef.get(EventEmitter2);
    await emitter.emitAsync('report.requested', 'red');
    await emitter.emitAsync('report.requested', 'red');
    expect(reports.events).toEqual(['red']);
    expect(reports.computed).toBe(1);
    await emitter.emitAsync('report.rebuilt');
    expect(reports.events).toEqual(['red', 'rebuilt']);
    // The rebuilt event invalidated the reports (after its listener succeeded).
    await reports.onRequested('red');
    expect(reports.computed).toBe(2);
    expect(moduleRef.get(CacheService).cacheInfo(ReportsService, 'onRequested')).toMatchObject({ hits: 1 });
  });

  it('keeps @Cron jobs registered, running the cached method', () => {
    const job = moduleRef.get(SchedulerRegistry).getCronJob('yearly-report');
    expect(job).toBeDefined();
    void job.fireOnTick();
    void job.fireOnTick();
    expect(reports.cronRuns).toBe(1);
    expect(reports.yearly()).toBe(2026);
  });

  it('keeps swagger metadata on the method', () => {
    const method = Object.getOwnPropertyDescriptor(ReportsService.prototype, 'documented')?.value as object;
    expect(Reflect.getMetadata('swagger/apiOperation', method)).toMatchObject({ summary: 'the summary' });
  });
});
