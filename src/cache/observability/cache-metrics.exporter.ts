import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ResolvedCacheOptions } from '../cache-options.interface.js';
import { RESOLVED_CACHE_OPTIONS } from '../cache.constants.js';
import { CacheConfigError } from '../cache.errors.js';
import { CacheStatsService, type MethodCounters } from './cache-stats.service.js';
import { CacheStatusService } from './cache-status.service.js';

/** The part of `prom-client` this exporter uses (loaded only when metrics are enabled). */
interface PromClient {
  Registry: new () => { metrics(): Promise<string>; contentType: string };
  Gauge: new (config: {
    name: string;
    help: string;
    labelNames?: string[];
    registers: unknown[];
    collect?: (this: {
      set(labels: Record<string, string>, value: number): void;
      set(value: number): void;
    }) => void;
  }) => unknown;
  Counter: new (config: {
    name: string;
    help: string;
    labelNames?: string[];
    registers: unknown[];
    collect?: (this: {
      reset(): void;
      inc(labels: Record<string, string>, value: number): void;
      inc(value: number): void;
    }) => void;
  }) => unknown;
}

/**
 * `CACHE_METRICS=prometheus`: serves the cache's counters on `GET /metrics` in the Prometheus text format, from
 * a registry of its own (an application's default registry is left alone). Counters are read at scrape time,
 * so the request path pays nothing for them.
 */
@Injectable()
export class CacheMetricsExporter implements OnModuleInit {
  private readonly logger = new Logger('Cache');

  constructor(
    @Inject(RESOLVED_CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    private readonly stats: CacheStatsService,
    private readonly status: CacheStatusService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.options.metrics !== 'prometheus' || !this.options.enabled) return;
    const adapter = this.adapterHost.httpAdapter as { get?: unknown } | undefined;
    if (adapter === undefined || typeof adapter.get !== 'function') return;
    let prom: PromClient;
    try {
      prom = (await import('prom-client')) as unknown as PromClient;
    } catch {
      throw new CacheConfigError(
        'CACHE_METRICS',
        'prometheus needs the prom-client package (npm install prom-client)',
      );
    }
    const registry = new prom.Registry();
    const stats = this.stats;
    const status = this.status;
    // `_total` series are counters (their type says so to Prometheus): set at scrape time to the module's count.
    const perNamespace = (name: string, help: string, field: 'hits' | 'misses' | 'stale' | 'coalesced') =>
      new prom.Counter({
        name,
        help,
        labelNames: ['namespace'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [namespace, counters] of Object.entries(stats.snapshot().namespaces)) {
            this.inc({ namespace }, Math.max(0, counters[field]));
          }
        },
      });
    perNamespace('http_cache_hits_total', 'Responses served from the cache', 'hits');
    perNamespace('http_cache_misses_total', 'Responses computed by the handler', 'misses');
    perNamespace('http_cache_stale_total', 'Stale entries served within grace', 'stale');
    perNamespace('http_cache_coalesced_total', 'Requests that waited for a coalesced leader', 'coalesced');
    const perMethod = (name: string, help: string, field: keyof MethodCounters) =>
      new prom.Counter({
        name,
        help,
        labelNames: ['method'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [method, counters] of Object.entries(stats.snapshot().methods)) {
            this.inc({ method }, Math.max(0, counters[field]));
          }
        },
      });
    perMethod('method_cache_hits_total', 'Cached method calls answered from the cache', 'hits');
    perMethod('method_cache_misses_total', 'Cached method calls that ran the method', 'misses');
    perMethod('method_cache_stale_total', 'Stale values returned within grace', 'stale');
    perMethod('method_cache_coalesced_total', 'Calls that waited for a coalesced leader', 'coalesced');
    perMethod(
      'method_cache_bypasses_total',
      'Calls served uncached (condition, unkeyable arguments)',
      'bypasses',
    );
    perMethod('method_cache_errors_total', 'Results that could not be stored', 'errors');
    new prom.Gauge({
      name: 'method_cache_in_flight',
      help: 'Computations running now',
      labelNames: ['method'],
      registers: [registry],
      collect() {
        for (const [method, counters] of Object.entries(stats.snapshot().methods)) {
          this.set({ method }, counters.inFlight);
        }
      },
    });
    const total = (name: string, help: string, read: () => number) =>
      new prom.Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(Math.max(0, read()));
        },
      });
    total(
      'http_cache_store_errors_total',
      'Failed store operations (answered as misses)',
      () => stats.store.errors,
    );
    total(
      'http_cache_store_timeouts_total',
      'Store operations abandoned at their deadline',
      () => stats.store.timeouts,
    );
    const single = (name: string, help: string, read: () => number) =>
      new prom.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    single('http_cache_breaker_open', '1 while the Redis circuit breaker is open', () =>
      status.breaker === 'open' ? 1 : 0,
    );
    single('http_cache_fallback_active', '1 while Redis is configured but memory serves', () =>
      status.fallbackActive ? 1 : 0,
    );
    const http = adapter as unknown as {
      get(path: string, handler: (req: unknown, res: unknown) => void): void;
      setHeader(res: unknown, name: string, value: string): void;
      reply(res: unknown, body: unknown, status?: number): void;
    };
    http.get('/metrics', (_req, res) => {
      void registry.metrics().then((body) => {
        http.setHeader(res, 'content-type', registry.contentType);
        http.reply(res, body, 200);
      });
    });
    this.logger.log('Prometheus metrics served on GET /metrics');
  }
}
