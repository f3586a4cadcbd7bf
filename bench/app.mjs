// The benchmark application: one process per (adapter, mode). Plain JavaScript over the built library
// (`npm run build`), decorators applied by hand. Env: ADAPTER (express|fastify), MODE, PORT, REDIS_URL.
// Stops on SIGTERM or SIGINT through app.close() and process.exit (which writes a --cpu-prof profile).
//   floor routes are undecorated; cached routes use, per MODE:
//   ours-memory | ours-redis | ours-l1 | ours-disabled  this library
//   peer-memory | peer-redis                             @nestjs/cache-manager's CacheInterceptor
import 'reflect-metadata';
import { Controller, Get, Module, Param, Query, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { CacheInterceptor as PeerInterceptor, CacheModule as PeerCacheModule } from '@nestjs/cache-manager';
import KeyvRedis from '@keyv/redis';
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
      return PeerCacheModule.register({ ttl: 600_000 });
    case 'peer-redis':
      return PeerCacheModule.register({ ttl: 600_000, stores: [new KeyvRedis(REDIS_URL)] });
    case 'ours-memory':
      return CacheModule.forRoot({ enabled: true, memory: { maxEntries: 200_000 } });
    case 'ours-redis':
      return CacheModule.forRoot({
        enabled: true,
        keyPrefix: 'bench',
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

const app = await NestFactory.create(
  BenchModule,
  ADAPTER === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
  {
    logger: ['error'],
  },
);
await app.listen(Number(PORT), '127.0.0.1');
process.send?.({ ready: true, port: app.getHttpServer().address().port });
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
