// The benchmark application: one process per (adapter, mode). Plain JavaScript over the built library
// (`npm run build`), decorators applied by hand. Env: ADAPTER (express|fastify), MODE, PORT, REDIS_URL.
// Stops on SIGTERM or SIGINT through app.close() and process.exit (which writes a --cpu-prof profile).
//   floor routes are undecorated; cached routes use, per MODE:
//   ours-memory | ours-redis | ours-l1 | ours-disabled  this library
//   ours-redis-plain                                     this library on Redis, compressAbove: false
//   peer-memory | peer-redis                             @nestjs/cache-manager's CacheInterceptor
//   ours-memory-gz | ours-memory-gz-plain | peer-memory-gz
//                                                        memory, with the adapter's compression plugin
//                                                        (compression / @fastify/compress); -plain is
//                                                        compressAbove: false
//   /public is @Cached({ public: true }) in the modes of this library (answered before the router on a HIT:
//   no guard anywhere), the peer's interceptor in the peer modes.
// The ready message carries the module's start-up log lines (context `Cache`: which routes are early).
import 'reflect-metadata';
import { Controller, Get, Module, Param, Query, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { CacheInterceptor as PeerInterceptor, CacheModule as PeerCacheModule } from '@nestjs/cache-manager';
import KeyvRedis from '@keyv/redis';
import fastifyCompress from '@fastify/compress';
import compression from 'compression';
import { Cached, CacheModule } from '../dist/cache/index.js';

const {
  ADAPTER = 'fastify',
  MODE = 'ours-memory',
  PORT = '0',
  REDIS_URL = 'redis://127.0.0.1:6379',
} = process.env;

function payload(bytes) {
  const items = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const item = { id: i, name: `item number ${i}`, tags: ['alpha', 'beta'], active: i % 2 === 0 };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return { items };
}
const SMALL = payload(1024);
const BIG = payload(100 * 1024);
const coldRuns = new Map();
let missRuns = 0;

class BenchController {
  floor() {
    return SMALL;
  }
  hit() {
    return SMALL;
  }
  publicHit() {
    return SMALL;
  }
  big() {
    return BIG;
  }
  miss(k) {
    missRuns++;
    return { k, items: SMALL.items.slice(0, 3) };
  }
  async cold(id) {
    coldRuns.set(id, (coldRuns.get(id) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 50));
    return { id, items: SMALL.items.slice(0, 3) };
  }
  runs(id) {
    return { runs: coldRuns.get(id) ?? 0 };
  }
  missRunsSoFar() {
    return { runs: missRuns };
  }
}

const proto = BenchController.prototype;
const route = (name, path, ...decorators) => {
  const descriptor = Object.getOwnPropertyDescriptor(proto, name);
  for (const decorate of [Get(path), ...decorators]) decorate(proto, name, descriptor);
};
const peer = MODE.startsWith('peer');
const cached = (namespace) => (peer ? UseInterceptors(PeerInterceptor) : Cached({ namespace, expire: 600 }));
route('floor', 'floor');
route('hit', 'hit', cached('hit'));
route(
  'publicHit',
  'public',
  peer ? UseInterceptors(PeerInterceptor) : Cached({ namespace: 'public', public: true, expire: 600 }),
);
route('big', 'big', cached('big'));
route('miss', 'miss', cached('miss'));
Query('k')(proto, 'miss', 0);
route('cold', 'cold/:id', cached('cold'));
Param('id')(proto, 'cold', 0);
route('runs', 'runs/:id');
Param('id')(proto, 'runs', 0);
route('missRunsSoFar', 'miss-runs');
Reflect.defineMetadata('design:paramtypes', [String], proto, 'miss');
Reflect.defineMetadata('design:paramtypes', [String], proto, 'cold');
Reflect.defineMetadata('design:paramtypes', [String], proto, 'runs');
Controller()(BenchController);

function cacheImport() {
  switch (MODE) {
    case 'peer-memory':
    case 'peer-memory-gz':
      return PeerCacheModule.register({ ttl: 600_000 });
    case 'peer-redis':
      return PeerCacheModule.register({ ttl: 600_000, stores: [new KeyvRedis(REDIS_URL)] });
    case 'ours-memory':
    case 'ours-memory-gz':
      return CacheModule.forRoot({ enabled: true, memory: { maxEntries: 200_000 } });
    case 'ours-memory-gz-plain':
      return CacheModule.forRoot({ enabled: true, memory: { maxEntries: 200_000 }, compressAbove: false });
    case 'ours-redis':
      return CacheModule.forRoot({
        enabled: true,
        keyPrefix: 'bench',
        redis: { enabled: true, url: REDIS_URL },
      });
    case 'ours-redis-plain':
      return CacheModule.forRoot({
        enabled: true,
        keyPrefix: 'bench-plain',
        compressAbove: false,
        redis: { enabled: true, url: REDIS_URL },
      });
    case 'ours-l1':
      return CacheModule.forRoot({
        enabled: true,
        keyPrefix: 'bench-l1',
        redis: { enabled: true, url: REDIS_URL },
        l1: { enabled: true, maxEntries: 200_000, maxBytes: 256 * 1024 * 1024 },
      });
    case 'ours-disabled':
      return CacheModule.forRoot({ enabled: false });
    default:
      throw new Error(`unknown MODE ${MODE}`);
  }
}

class BenchModule {}
Module({ imports: [cacheImport()], controllers: [BenchController] })(BenchModule);

// Errors go to stderr; the cache module's start-up lines are kept for the runner; the rest is dropped.
const cacheLog = [];
const logger = {
  log: (message, context) => {
    if (context === 'Cache') cacheLog.push(String(message));
  },
  error: (...args) => console.error(...args),
  warn: () => {},
  debug: () => {},
  verbose: () => {},
};
const app = await NestFactory.create(
  BenchModule,
  ADAPTER === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
  { logger },
);
if (MODE.endsWith('-gz') || MODE.endsWith('-gz-plain')) {
  // As applications register them: before the routes.
  if (ADAPTER === 'express') app.use(compression());
  else await app.register(fastifyCompress);
}
await app.listen(Number(PORT), '127.0.0.1');
process.send?.({ ready: true, port: app.getHttpServer().address().port, cacheLog });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // A close that never settles (a hung store connection) must not keep the process, or its profile, alive.
  setTimeout(() => process.exit(1), 5000).unref();
  void app.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
