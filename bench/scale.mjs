// Scale figures for the README: invalidation cost with 10k / 100k / 1M keys present (generations vs a
// SCAN+UNLINK delete of the same namespace), and the cost of an L1 hit vs an L2 (Redis) hit.
// Needs `npm run build` first; starts its own redis-server on a free port. Usage: node bench/scale.mjs
import { createClient } from '@keyv/redis';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheBackend } from '../dist/cache/engine/cache-backend.js';
import { resolveCacheOptions } from '../dist/cache/cache.config.js';
import { resolveStoreKey } from '../dist/cache/http/cache-key.js';
import { RedisGenerations } from '../dist/cache/stores/generations.js';
import { freePort, median, sleep } from './util.mjs';

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
const redisProcess = spawn(
  'redis-server',
  ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
  {
    stdio: 'ignore',
  },
);
const url = `redis://127.0.0.1:${port}`;
const client = createClient({ url });
for (let i = 0; i < 100; i++) {
  try {
    await client.connect();
    break;
  } catch {
    await sleep(50);
  }
}

async function fill(n) {
  await client.flushDb();
  const value = JSON.stringify({ value: { status: 200, body: 'x'.repeat(200) } });
  for (let start = 0; start < n; start += 10_000) {
    const batch = client.multi();
    for (let i = start; i < Math.min(n, start + 10_000); i++)
      batch.set(`bench:ns:GET:%2Fitems:id=${i}:`, value);
    await batch.execAsPipeline();
  }
}

async function scanDelete() {
  let removed = 0;
  for await (const keys of client.scanIterator({ MATCH: 'bench:ns:*', COUNT: 1000 })) {
    if (keys.length > 0) removed += await client.unlink(keys);
  }
  return removed;
}

const rows = [];
const generations = new RedisGenerations(client, 'bench');
for (const n of [10_000, 100_000, 1_000_000]) {
  await fill(n);
  const ours = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await generations.bump(['ns:ns']);
    ours.push(performance.now() - t0);
  }
  const t0 = performance.now();
  const removed = await scanDelete();
  const scan = performance.now() - t0;
  rows.push({ keys: n, ours: median(ours), scan, removed });
}

// L1 vs L2 hit: the same entry read through the backend with and without the in-process tier.
async function readCost(l1) {
  const backend = new CacheBackend(
    resolveCacheOptions({
      enabled: true,
      keyPrefix: `tiers${l1 ? 1 : 2}`,
      redis: { enabled: true, url },
      l1: { enabled: l1 },
    }),
  );
  backend.onModuleInit();
  for (let i = 0; i < 200 && !(backend.backend === 'redis' && (!l1 || backend.l1Serving)); i++)
    await sleep(25);
  const { key, scopes } = resolveStoreKey(`tiers${l1 ? 1 : 2}`, 'items', 'items:GET:%2Fitems%2F%3Aid:id=1:');
  const lookup = await backend.read(key, scopes);
  const now = Date.now();
  backend.write(
    key,
    {
      status: 200,
      contentType: 'application/json',
      body: 'x'.repeat(1024),
      etag: '"e"',
      expiresAt: now + 60_000,
      staleUntil: now + 60_000,
      stamp: lookup.stamp,
      computeMs: 1,
    },
    60_000,
  );
  await sleep(50);
  await backend.read(key, scopes); // warms L1 from L2
  const samples = [];
  for (let round = 0; round < 7; round++) {
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const found = await backend.read(key, scopes);
      if (found.entry === undefined) throw new Error('expected a hit');
    }
    samples.push(((performance.now() - t0) / n) * 1000);
  }
  await backend.onApplicationShutdown();
  return median(samples);
}
const l2 = await readCost(false);
const l1 = await readCost(true);

await client.quit();
redisProcess.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });

console.log('\nNamespace invalidation with N keys of that namespace present (median of 50 for generations):');
console.log('| keys present | generations (ours) | SCAN + UNLINK | ratio |');
console.log('|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.keys.toLocaleString('en')} | ${r.ours.toFixed(3)} ms | ${r.scan.toFixed(0)} ms (${r.removed.toLocaleString('en')} keys) | ${(r.scan / r.ours).toFixed(0)}× |`,
  );
}
console.log(
  '\nHit cost through the backend, sequential reads of one 1 KB entry (median of 7 rounds of 2000):',
);
console.log('| tier | µs per hit |');
console.log('|---|---|');
console.log(`| L1 (in process, no round trip) | ${l1.toFixed(2)} |`);
console.log(`| L2 (Redis on loopback, GET + generations in one round trip) | ${l2.toFixed(2)} |`);
