// `npm run bench:methods`: the method cache (CacheService.getOrSet and an @Cacheable async method) beside
// cache-manager 7's wrap() and Bentocache's getOrSet(), on memory and on Redis, in one process, interleaved in
// rounds. Measures CPU µs per call (process.cpuUsage() over the calls) and wall ns per call, for a HIT (the
// same warm key on every call) and a MISS (a new key on every call, the compute returning a fresh ~1 KB
// object), called one after another and from 32 concurrent callers. One more cell, caching disabled: an
// @Cacheable async (and sync) method of an application with `enabled: false` against the same method
// undecorated, sequential calls, CPU ns per call. Writes docs/method-benchmarks.md.
// Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (default 1, per variant and round), BENCH_ONLY
// (comma-separated variant ids: runs only those, prints the table and leaves docs/ untouched).
// Profiling: BENCH_PROFILE=<variant id> runs only that variant's calls for BENCH_SECONDS (default 5 there),
// for `node --cpu-prof bench/methods.mjs`, and prints nothing but a summary line.
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { format, resolveConfig } from 'prettier';
import { CacheModule, CacheService, Cacheable } from '../dist/cache/index.js';
import { hasTaskset, median, root, sleep, startRedis } from './util.mjs';

const PROFILE = process.env.BENCH_PROFILE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (PROFILE === undefined ? 1 : 5));
const WARM_SECONDS = 0.2;
const CONCURRENT = 32;
const TTL_S = 600;
const MEMORY_MAX_ENTRIES = 500_000;
const MEMORY_MAX_BYTES = 1024 * 1024 * 1024;

// A collection between variants keeps one variant's garbage out of the next one's CPU window.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// --- the value ---
const NAMES = Array.from({ length: 64 }, (_, i) => `item number ${i}`);
/** A fresh object of about 1 KB of JSON (the shape of bench/app.mjs's payload). */
function fresh(id) {
  const items = [];
  for (let i = 0; i < 13; i++) {
    items.push({ id: i, name: NAMES[i], tags: ['alpha', 'beta'], active: i % 2 === 0 });
  }
  return { id, items };
}
const VALUE_BYTES = JSON.stringify(fresh(1)).length;

/** How many times a compute function (or a cached method's body) really ran. */
let computes = 0;
/** Keys of MISS calls: never used twice in a run, by any variant. */
let nextKey = 1_000_000;

// --- ours ---
class ItemsService {
  async load(id) {
    computes++;
    return fresh(id);
  }
}
{
  const proto = ItemsService.prototype;
  // What TypeScript emits for `@Cacheable({ expire: 600 }) async load(id: number): Promise<Item>`: the design
  // metadata first, then the decorator, then the descriptor it changed.
  Reflect.defineMetadata('design:paramtypes', [Number], proto, 'load');
  Reflect.defineMetadata('design:returntype', Promise, proto, 'load');
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'load');
  Cacheable({ expire: TTL_S })(proto, 'load', descriptor);
  Object.defineProperty(proto, 'load', descriptor);
  Injectable()(ItemsService);
}

async function oursContext(store, redisUrl) {
  const cache =
    store === 'memory'
      ? CacheModule.forRoot({
          enabled: true,
          memory: { maxEntries: MEMORY_MAX_ENTRIES, maxBytes: MEMORY_MAX_BYTES },
        })
      : CacheModule.forRoot({ enabled: true, keyPrefix: 'bm', redis: { enabled: true, url: redisUrl } });
  class BenchModule {}
  Module({ imports: [cache], providers: [ItemsService] })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
  return { app, service: app.get(CacheService), items: app.get(ItemsService) };
}

// --- caching disabled: a decorated method beside the same method undecorated, in one application ---
class PlainLookupService {
  async find(id) {
    computes++;
    return { id, name: 'item' };
  }

  findSync(id) {
    computes++;
    return { id, name: 'item' };
  }
}
/** The same two methods (the same function objects), decorated as TypeScript would emit it. */
class CachedLookupService {}
for (const name of ['find', 'findSync']) {
  const returnType = name === 'find' ? Promise : Object;
  Reflect.defineMetadata('design:paramtypes', [Number], PlainLookupService.prototype, name);
  Reflect.defineMetadata('design:returntype', returnType, PlainLookupService.prototype, name);
  const proto = CachedLookupService.prototype;
  const descriptor = Object.getOwnPropertyDescriptor(PlainLookupService.prototype, name);
  Object.defineProperty(proto, name, descriptor);
  Reflect.defineMetadata('design:paramtypes', [Number], proto, name);
  Reflect.defineMetadata('design:returntype', returnType, proto, name);
  Cacheable({ expire: TTL_S })(proto, name, descriptor);
  Object.defineProperty(proto, name, descriptor);
  if (proto[name] === PlainLookupService.prototype[name]) {
    throw new Error('@Cacheable did not wrap the CachedLookupService methods');
  }
}
Injectable()(PlainLookupService);
Injectable()(CachedLookupService);

/** One application with caching disabled, both providers in it. */
async function disabledContext() {
  class DisabledModule {}
  Module({
    imports: [CacheModule.forRoot({ enabled: false })],
    providers: [PlainLookupService, CachedLookupService],
  })(DisabledModule);
  const app = await NestFactory.createApplicationContext(DisabledModule, { logger: ['error'] });
  const plain = app.get(PlainLookupService);
  const cached = app.get(CachedLookupService);
  const before = computes;
  const values = [await plain.find(1), await cached.find(1), plain.findSync(1), cached.findSync(1)];
  if (computes - before !== 4 || values.some((v) => JSON.stringify(v) !== '{"id":1,"name":"item"}')) {
    throw new Error(`caching disabled: a call did not run its method (${JSON.stringify(values)})`);
  }
  return {
    calls: {
      'cacheable-async': () => cached.find(1),
      'plain-async': () => plain.find(1),
      'cacheable-sync': () => cached.findSync(1),
      'plain-sync': () => plain.findSync(1),
    },
    close: () => app.close(),
  };
}

const OURS_OPTIONS = { expire: TTL_S };
const hitCompute = () => {
  computes++;
  return fresh(1);
};

// Each subject makes a cache and returns `{ hit(), miss(), close() }`: `hit()` reads the one warm key,
// `miss()` a key never used before.
const subjects = {
  'ours-service': async (store, redis) => {
    const ours = await oursContext(store, redis.url);
    return {
      hit: () => ours.service.getOrSet('item-1', hitCompute, OURS_OPTIONS),
      miss: () => {
        const n = nextKey++;
        return ours.service.getOrSet(
          `item-${n}`,
          () => {
            computes++;
            return fresh(n);
          },
          OURS_OPTIONS,
        );
      },
      close: () => ours.app.close(),
    };
  },
  'ours-method': async (store, redis) => {
    const ours = await oursContext(store, redis.url);
    return {
      hit: () => ours.items.load(1),
      miss: () => ours.items.load(nextKey++),
      close: () => ours.app.close(),
    };
  },
  'cache-manager': async (store, redis) => {
    const keyv = store === 'memory' ? new Keyv() : new Keyv({ store: new KeyvRedis(redis.url) });
    const cache = createCache({ stores: [keyv] });
    const ttl = TTL_S * 1000;
    return {
      hit: () => cache.wrap('item-1', hitCompute, ttl),
      miss: () => {
        const n = nextKey++;
        return cache.wrap(
          `item-${n}`,
          () => {
            computes++;
            return fresh(n);
          },
          ttl,
        );
      },
      close: () => cache.disconnect(),
    };
  },
  bentocache: async (store, redis, { l1 = store === 'memory' } = {}) => {
    let layers = bentostore();
    if (l1)
      layers = layers.useL1Layer(memoryDriver({ maxItems: MEMORY_MAX_ENTRIES, maxSize: MEMORY_MAX_BYTES }));
    if (store === 'redis') {
      layers = layers.useL2Layer(redisDriver({ connection: { host: redis.host, port: redis.port } }));
    }
    const bento = new BentoCache({ default: 'c', stores: { c: layers } });
    const ttl = TTL_S * 1000;
    return {
      hit: () => bento.getOrSet({ key: 'item-1', factory: hitCompute, ttl }),
      miss: () => {
        const n = nextKey++;
        return bento.getOrSet({
          key: `item-${n}`,
          factory: () => {
            computes++;
            return fresh(n);
          },
          ttl,
        });
      },
      close: () => bento.disconnect(),
    };
  },
  'bentocache-l1': (store, redis) => subjects.bentocache(store, redis, { l1: true }),
};

const LABELS = {
  'ours-service': 'ours: CacheService.getOrSet',
  'ours-method': 'ours: @Cacheable method',
  'cache-manager': 'cache-manager 7 wrap()',
  bentocache: 'bentocache getOrSet()',
  'bentocache-l1': 'bentocache getOrSet(), L1 + L2 (extra)',
  'cacheable-async': '@Cacheable async method, caching disabled',
  'plain-async': 'the same async method, undecorated',
  'cacheable-sync': '@Cacheable sync method, caching disabled',
  'plain-sync': 'the same sync method, undecorated',
};
const OURS = ['ours-service', 'ours-method'];
const PEERS = ['cache-manager', 'bentocache'];

// One cell per store, kind and concurrency; one variant per subject in it.
const CELLS = [];
for (const store of ['memory', 'redis']) {
  for (const kind of ['hit', 'miss']) {
    for (const concurrency of [1, CONCURRENT]) {
      const subjectIds = [...OURS, ...PEERS, ...(store === 'redis' ? ['bentocache-l1'] : [])];
      const id = `${store}-${kind}-c${concurrency}`;
      CELLS.push({
        id,
        store,
        kind,
        concurrency,
        variants: subjectIds.map((subject) => ({
          id: `${subject}-${id}`,
          subject,
          store,
          kind,
          concurrency,
        })),
      });
    }
  }
}
// Caching disabled: each decorated method against the same method undecorated, sequential calls.
const DISABLED_PAIRS = [
  { cacheable: 'cacheable-async', plain: 'plain-async', sync: false },
  { cacheable: 'cacheable-sync', plain: 'plain-sync', sync: true },
];
const DISABLED_TARGET = 1.05;
const DISABLED_CELL = {
  id: 'disabled-c1',
  variants: DISABLED_PAIRS.flatMap((pair) =>
    [pair.cacheable, pair.plain].map((subject) => ({
      id: `${subject}-disabled-c1`,
      subject,
      kind: 'disabled',
      sync: pair.sync,
      concurrency: 1,
    })),
  ),
};
const ALL_VARIANTS = [...CELLS, DISABLED_CELL].flatMap((cell) => cell.variants);
const only = (PROFILE ?? process.env.BENCH_ONLY)
  ?.split(',')
  .map((id) => id.trim())
  .filter(Boolean);
if (only !== undefined) {
  const unknown = only.filter((id) => !ALL_VARIANTS.some((v) => v.id === id));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown variant id(s) ${unknown.join(', ')}; known: ${ALL_VARIANTS.map((v) => v.id).join(', ')}\n`,
    );
    process.exit(2);
  }
}
const VARIANTS = ALL_VARIANTS.filter((v) => only === undefined || only.includes(v.id));
// The caching-disabled cell runs in a process of its own, as in production: while an application that caches
// lives, decorated methods keep their wrappers (see installWrappers); with caching disabled everywhere they do not.
const RESULTS_FILE = process.env.BENCH_RESULTS_FILE;
const DISABLED_APART =
  PROFILE === undefined &&
  VARIANTS.some((v) => v.kind === 'disabled') &&
  VARIANTS.some((v) => v.kind !== 'disabled');
const IN_PROCESS = DISABLED_APART ? VARIANTS.filter((v) => v.kind !== 'disabled') : VARIANTS;

/** Runs the caching-disabled variants in a child process of this script; returns their results by id. */
function measureDisabledApart() {
  const file = join(tmpdir(), `bench-methods-disabled-${process.pid}.json`);
  const ids = VARIANTS.filter((v) => v.kind === 'disabled').map((v) => v.id);
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ONLY: ids.join(','), BENCH_RESULTS_FILE: file },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`the caching-disabled cell failed (exit ${child.status})`);
  const measured = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return measured;
}

/**
 * Calls `call` from `concurrency` callers, each awaiting its calls one after another, for `seconds`.
 * Returns the calls made, the CPU µs (user + system) and wall ns they took, and the computes during them.
 */
async function drive(call, concurrency, seconds) {
  let calls = 0;
  const measured = startMeasure();
  const deadline = performance.now() + seconds * 1000;
  const caller = async () => {
    while (performance.now() < deadline) {
      await call();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return measured(calls);
}

/** Calls made between two clock reads, so the loop adds little beside the calls themselves. */
const BATCH = 1_000;
/** Where the loops below keep each result, so no call is optimized away. */
let sink;

/** Starts the CPU, wall and compute counters of one drive; the returned function reads them for `calls`. */
function startMeasure() {
  const computesBefore = computes;
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  return (calls) => {
    const cpu = process.cpuUsage(cpuBefore);
    const wallNs = Number(process.hrtime.bigint() - wallBefore);
    return { calls, cpuUs: cpu.user + cpu.system, wallNs, computes: computes - computesBefore };
  };
}

/** `drive()` for one sequential caller of an async method: same measures, the clock read once per batch. */
async function driveAsyncCalls(call, seconds) {
  let calls = 0;
  const measured = startMeasure();
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < BATCH; i++) sink = await call();
    calls += BATCH;
  }
  return measured(calls);
}

/** `drive()` for a sync method: a plain loop (the event loop waits for it), the clock read once per batch. */
function driveSyncCalls(call, seconds) {
  let calls = 0;
  const measured = startMeasure();
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < BATCH; i++) sink = call();
    calls += BATCH;
  }
  return measured(calls);
}

/** Checks once per subject and store that a hit returns what was stored, as a copy equal to it. */
async function checkValues(subject, variant) {
  const first = await subject.hit();
  const again = await subject.hit();
  if (JSON.stringify(again) !== JSON.stringify(fresh(1)) || JSON.stringify(first) !== JSON.stringify(again)) {
    throw new Error(`${variant.subject} on ${variant.store}: a hit returned ${JSON.stringify(again)}`);
  }
}

// --- run ---
const redis = await startRedis();
{
  const url = new URL(redis.url);
  redis.host = url.hostname;
  redis.port = Number(url.port);
}
// The bench and Redis on separate cores, as `npm run bench` keeps the app and the load apart.
if (hasTaskset) {
  spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(redis.pid)], { stdio: 'ignore' });
}
const admin = new Redis(redis.url, { lazyConnect: false });
// HIT subjects live for the whole run (one per subject and store); a MISS variant gets a fresh cache for each
// measurement, closed after it (and the private Redis emptied), so that entries piled up by one measurement do
// not weigh on the heap, the GC or the LRU of the next.
const hitSubjects = new Map();
const hitSubject = async (variant) => {
  const key = `${variant.subject}/${variant.store}`;
  if (!hitSubjects.has(key)) {
    const subject = await subjects[variant.subject](variant.store, redis);
    await checkValues(subject, variant);
    hitSubjects.set(key, subject);
  }
  return hitSubjects.get(key);
};

// The caching-disabled application lives for the whole run, like the HIT subjects.
let disabled;
async function measureDisabled(variant, seconds) {
  disabled ??= await disabledContext();
  const call = disabled.calls[variant.subject];
  const run = variant.sync ? driveSyncCalls : driveAsyncCalls;
  await run(call, WARM_SECONDS);
  gc();
  await sleep(50);
  const measured = await run(call, seconds);
  if (JSON.stringify(sink) !== '{"id":1,"name":"item"}') {
    throw new Error(`${variant.id}: the last call returned ${JSON.stringify(sink)}`);
  }
  return measured;
}

async function measure(variant, seconds) {
  if (variant.kind === 'disabled') return measureDisabled(variant, seconds);
  const subject =
    variant.kind === 'hit'
      ? await hitSubject(variant)
      : await subjects[variant.subject](variant.store, redis);
  const call = variant.kind === 'hit' ? subject.hit : subject.miss;
  try {
    await drive(call, variant.concurrency, WARM_SECONDS); // warm-up (for a HIT, the key is stored here)
    gc();
    await sleep(50);
    return await drive(call, variant.concurrency, seconds);
  } finally {
    if (variant.kind === 'miss') {
      await subject.close();
      if (variant.store === 'redis') await admin.flushall(); // our private server, not a shared one
    }
  }
}

const results = {};
try {
  if (PROFILE !== undefined) {
    const r = await measure(VARIANTS[0], SECONDS);
    process.stderr.write(
      `${VARIANTS[0].id}: ${r.calls} calls, ${(r.cpuUs / r.calls).toFixed(2)} µs CPU/call, ${r.computes} computes\n`,
    );
  } else {
    if (DISABLED_APART) Object.assign(results, measureDisabledApart());
    for (let round = 1; round <= ROUNDS; round++) {
      // Every other round runs the variants in reverse, so no variant always follows the same neighbour.
      const order = round % 2 === 1 ? IN_PROCESS : [...IN_PROCESS].reverse();
      for (const variant of order) {
        const r = await measure(variant, SECONDS);
        (results[variant.id] ??= []).push(r);
        process.stderr.write(
          `round ${round} ${variant.id.padEnd(34)} ${(r.cpuUs / r.calls).toFixed(2).padStart(7)} µs CPU/call ${(r.wallNs / r.calls).toFixed(0).padStart(7)} ns/call  ${String(r.calls).padStart(7)} calls  ${r.computes} computes\n`,
        );
      }
    }
  }
} finally {
  for (const subject of hitSubjects.values()) await subject.close();
  await disabled?.close();
  admin.disconnect();
  redis.stop();
}
if (PROFILE !== undefined) process.exit(0);
if (RESULTS_FILE !== undefined) {
  writeFileSync(RESULTS_FILE, JSON.stringify(results));
  process.exit(0);
}

// --- report ---
const sum = (xs) => xs.reduce((total, x) => total + x, 0);
const summary = {};
for (const variant of VARIANTS) {
  const runs = results[variant.id];
  const cpu = runs.map((r) => r.cpuUs / r.calls);
  const calls = sum(runs.map((r) => r.calls));
  const ran = sum(runs.map((r) => r.computes));
  summary[variant.id] = {
    cpu: median(cpu),
    cpuMin: Math.min(...cpu),
    cpuMax: Math.max(...cpu),
    wall: median(runs.map((r) => r.wallNs / r.calls)),
    calls,
    computes: ran,
    // A HIT cell counts only if nothing was computed while it was measured; a MISS cell (and a call with
    // caching disabled) only if every call computed (a few more computes are allowed: calls still in flight
    // when a window closed).
    valid: variant.kind === 'hit' ? ran === 0 : ran >= calls,
  };
}

const checks = [];
for (const cell of CELLS) {
  const of = (subject) => summary[`${subject}-${cell.id}`];
  const peers = PEERS.filter((p) => of(p) !== undefined);
  if (peers.length === 0) continue;
  const faster = peers.reduce((best, p) => (of(p).cpu < of(best).cpu ? p : best));
  cell.faster = faster;
  const target = cell.kind === 'hit' ? 1.0 : 1.2;
  for (const ours of OURS.filter((o) => of(o) !== undefined)) {
    const ratio = of(ours).cpu / of(faster).cpu;
    of(ours).ratio = ratio;
    checks.push({ cell, ours, faster, ratio, target, ok: ratio <= target });
  }
}

const disabledChecks = [];
for (const pair of DISABLED_PAIRS) {
  const cacheable = summary[`${pair.cacheable}-${DISABLED_CELL.id}`];
  const plain = summary[`${pair.plain}-${DISABLED_CELL.id}`];
  if (cacheable === undefined || plain === undefined) continue;
  const ratio = cacheable.cpu / plain.cpu;
  cacheable.ratio = ratio;
  disabledChecks.push({ pair, ratio, ok: ratio <= DISABLED_TARGET });
}

const cpuModel = cpus()[0]?.model ?? 'unknown';
const redisVersion =
  (spawnSync('redis-server', ['--version'])
    .stdout.toString()
    .match(/v=([\d.]+)/) ?? [])[1] ?? '?';
const version = (name) =>
  JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
const date = new Date().toISOString().slice(0, 10);
const cellTitle = (cell) =>
  `${cell.store === 'memory' ? 'Memory' : 'Redis'} ${cell.kind.toUpperCase()}, ${cell.concurrency === 1 ? 'sequential' : `${cell.concurrency} concurrent callers`}`;

const lines = [];
lines.push('# Method cache benchmarks', '');
lines.push(
  `Measured on ${date}, ${cpus().length} cores (${cpuModel}), Node ${process.version}, Redis ${redisVersion}${hasTaskset ? ', the bench pinned to core 0 and Redis to core 1 (taskset)' : ''}.`,
  `\`npm run bench:methods\`: ${ROUNDS} interleaved rounds (every other one in reverse order) of ${SECONDS} s per variant, after a`,
  `${WARM_SECONDS} s warm-up and a GC, all variants in one process (the caching-disabled cell in its own). Peers: cache-manager ${version('cache-manager')} \`wrap(key, fn, ttl)\` on`,
  `Keyv ${version('keyv')} (memory: its Map; Redis: @keyv/redis ${version('@keyv/redis')}) and Bentocache ${version('bentocache')} \`getOrSet({ key, factory, ttl })\``,
  '(memory: its L1 memory driver; Redis: its Redis driver as the only layer, so a hit is a Redis round trip like',
  'ours; "L1 + L2" adds its memory layer, reported as an extra line). Ours: an application context with',
  '`CacheModule.forRoot({ enabled: true, memory })` or `redis: { enabled: true, url }`, through',
  '`CacheService.getOrSet(key, compute, { expire: 600 })` and an `@Cacheable({ expire: 600 })` async method',
  `\`(id: number) => Promise<object>\`. The value is a fresh object of ${VALUE_BYTES} bytes of JSON; all libraries store`,
  'it serialized (Keyv and Bentocache serialize by default) and return a copy on a hit.',
  '',
  'HIT: the same warm key on every call. MISS: a key never used before on every call, the compute resolving at once;',
  'each MISS measurement gets a fresh cache (closed after it, and the private Redis emptied). Calls are awaited one',
  `after another ("sequential"), or by ${CONCURRENT} concurrent callers each awaiting its own. CPU µs/call is this process's`,
  'user + system time (`process.cpuUsage()`) over the calls, divided by them: the median over rounds, with the',
  'min–max. Wall ns/call is the median elapsed time over the calls. ×peer is ours over the faster (by CPU) of',
  'cache-manager and Bentocache (L2 only on Redis) in the same cell. "ok": every MISS call computed, no HIT call did.',
  '',
);
const fmtCpu = (v) => `${v.cpu.toFixed(2)} (${v.cpuMin.toFixed(2)}–${v.cpuMax.toFixed(2)})`;
for (const cell of CELLS) {
  const rows = cell.variants.filter((v) => summary[v.id] !== undefined);
  if (rows.length === 0) continue;
  lines.push(`## ${cellTitle(cell)}`, '');
  lines.push('| variant | CPU µs/call (min–max) | wall ns/call | ×peer | calls | ok |');
  lines.push('|---|---|---|---|---|---|');
  for (const variant of rows) {
    const v = summary[variant.id];
    const mark = cell.faster === variant.subject ? ' (faster peer)' : '';
    lines.push(
      `| ${LABELS[variant.subject]}${mark} | ${fmtCpu(v)} | ${v.wall.toFixed(0)} | ${v.ratio === undefined ? '—' : v.ratio.toFixed(2)} | ${v.calls} | ${v.valid ? 'yes' : `**no** (${v.computes} computes)`} |`,
    );
  }
  lines.push('');
}
const disabledRows = DISABLED_CELL.variants.filter((v) => summary[v.id] !== undefined);
if (disabledRows.length > 0) {
  const fmtNs = (us) => (us * 1000).toFixed(1);
  lines.push('## Caching disabled, sequential', '');
  lines.push(
    'One application context with `CacheModule.forRoot({ enabled: false })`, in a process of its own (as in',
    'production: no application there caches), and two providers with the same two',
    "methods: `find(id)` (async) and `findSync(id)`, each counting the call and returning `{ id, name: 'item' }`. On one",
    'provider both are decorated `@Cacheable({ expire: 600 })`, on the other they are not. One caller, `find(1)` awaited',
    `one after another (\`findSync(1)\` in a plain loop), the clock read every ${BATCH} calls. CPU ns/call as above (median`,
    'over rounds, min–max); ×undecorated is the decorated median over the undecorated one. "ok": every call ran the method.',
    '',
  );
  lines.push('| variant | CPU ns/call (min–max) | wall ns/call | ×undecorated | calls | ok |');
  lines.push('|---|---|---|---|---|---|');
  for (const variant of disabledRows) {
    const v = summary[variant.id];
    lines.push(
      `| ${LABELS[variant.subject]} | ${fmtNs(v.cpu)} (${fmtNs(v.cpuMin)}–${fmtNs(v.cpuMax)}) | ${v.wall.toFixed(1)} | ${v.ratio === undefined ? '—' : v.ratio.toFixed(2)} | ${v.calls} | ${v.valid ? 'yes' : `**no** (${v.computes} computes)`} |`,
    );
  }
  lines.push('');
}
if (checks.length > 0 || disabledChecks.length > 0) {
  lines.push('## Targets', '');
}
if (checks.length > 0) {
  lines.push(
    'Ours HIT ≤ 1.0× the faster peer on each store; ours MISS ≤ 1.2×. The sequential cells are the targets; the',
    `${CONCURRENT}-caller cells are shown against the same bar.`,
    '',
  );
  lines.push('| cell | ours | faster peer | ×peer | target | met |');
  lines.push('|---|---|---|---|---|---|');
  for (const c of checks) {
    lines.push(
      `| ${cellTitle(c.cell)} | ${LABELS[c.ours]} | ${LABELS[c.faster]} | ${c.ratio.toFixed(2)} | ≤ ${c.target.toFixed(1)} | ${c.ok ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
}
if (disabledChecks.length > 0) {
  lines.push(
    `Caching disabled: a decorated method ≤ ${DISABLED_TARGET.toFixed(2)}× the same method undecorated (CPU), a cost within`,
    'noise of an undecorated method. While only applications with caching disabled live, the prototype holds the',
    'method as written (the cache wrappers are put back when an application that caches starts), so a call costs',
    'what it costs undecorated.',
    '',
  );
  lines.push('| cell | decorated | undecorated | ×undecorated | target | met |');
  lines.push('|---|---|---|---|---|---|');
  for (const c of disabledChecks) {
    lines.push(
      `| Caching disabled, sequential | ${LABELS[c.pair.cacheable]} | ${LABELS[c.pair.plain]} | ${c.ratio.toFixed(2)} | ≤ ${DISABLED_TARGET.toFixed(2)} | ${c.ok ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
  for (const c of disabledChecks) {
    process.stderr.write(
      `caching disabled, ${c.pair.sync ? 'sync' : 'async'}: decorated ${c.ratio.toFixed(2)}× undecorated (target ≤ ${DISABLED_TARGET.toFixed(2)}): ${c.ok ? 'met, a cost within noise of an undecorated method' : 'NOT met'}\n`,
    );
  }
}
lines.push('## Reading the cells', '');
lines.push(
  "- On a hit every library gives its caller a copy of the stored value, with one exception: cache-manager's",
  '  `wrap()` coalesces all concurrent calls on one key, hits included, so in the 32-caller HIT cells the callers of',
  '  the warm key share one lookup and one deserialized object; ours and Bentocache give each caller its own copy.',
  '  Bentocache and cache-manager parse the stored text on every hit; ours parses a plain JSON value once, keeps the',
  '  tree, and copies it for each later hit of the same text (docs/methods.md, "Values").',
  '- On a miss every library returns the computed object itself (ours does for plain JSON data, which the cache only',
  '  holds as text; a value with Dates, Maps or class instances comes back decoded, as a hit gives it).',
  '- A Redis HIT of ours is one `MGET` (the entry and its invalidation records, so a hit reads several keys); a value',
  '  entry is `V{fields}\\n{body}`, so its body is parsed once, by the value codec. Bentocache L2 is one `GET` of one key.',
  '',
);
// Formatted as `npm run lint` wants it (Prettier aligns the tables).
const docPath = join(root, 'docs/method-benchmarks.md');
const markdown = await format(`${lines.join('\n')}\n`, {
  ...(await resolveConfig(docPath)),
  filepath: docPath,
});
if (only === undefined) {
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(docPath, markdown);
} else {
  process.stderr.write(
    `BENCH_ONLY=${only.join(',')}: a partial run, docs/method-benchmarks.md left as it was\n`,
  );
}
process.stdout.write(markdown);
