// `npm run bench`: this library against @nestjs/cache-manager's CacheInterceptor, in the same run,
// interleaved, on Express and Fastify. Writes docs/benchmarks.md and docs/benchmarks.svg.
// Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (default 3), BENCH_ADAPTERS (default fastify,express),
// BENCH_ONLY (comma-separated variant ids, plus `stampede`, `hang` and `entry-size` for the extra
// comparisons: runs only those, prints the tables and leaves docs/ untouched).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  TICK_US,
  cpuTicks,
  hasTaskset,
  median,
  root,
  runLoad,
  sleep,
  startApp,
  startRedis,
} from './util.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'fastify,express').split(',');
const CONNECTIONS = 32;
const GZIP = { 'accept-encoding': 'gzip' };
// Response headers tallied over every measured response of every cell (the same client work for all).
const COUNTED = ['x-cache', 'content-encoding'];
const HIT = { 'x-cache': 'HIT' };
const GZIP_HIT = { 'x-cache': 'HIT', 'content-encoding': 'gzip' };

// `peer`: the peer variant this one is compared with (the ×peer column). `keys: 'unique'`: every request
// carries a key never requested before, so every request is a MISS; the run checks it (see missCheck).
// `expect`: response header values every measured response must carry (see expectCheck). `headers`: request
// headers of every request. The gzip cells run in app processes of their own, with the adapter's compression
// plugin (`compression` / `@fastify/compress`), and are left out of the chart's scale (see the SVG).
const ALL_VARIANTS = [
  { id: 'floor', name: 'undecorated route (floor)', mode: 'ours-memory', path: '/floor' },
  {
    id: 'ours-mem',
    name: 'ours: HIT from memory',
    mode: 'ours-memory',
    path: '/hit',
    peer: 'peer-mem',
    expect: HIT,
  },
  {
    id: 'public-mem',
    name: 'ours: public HIT from memory (early)',
    mode: 'ours-memory',
    path: '/public',
    expect: HIT,
  },
  { id: 'peer-mem', name: 'peer: HIT from memory', mode: 'peer-memory', path: '/hit', expect: HIT },
  {
    id: 'ours-redis',
    name: 'ours: HIT from Redis',
    mode: 'ours-redis',
    path: '/hit',
    peer: 'peer-redis',
    expect: HIT,
  },
  {
    id: 'public-redis',
    name: 'ours: public HIT from Redis (early)',
    mode: 'ours-redis',
    path: '/public',
    expect: HIT,
  },
  { id: 'peer-redis', name: 'peer: HIT from Redis', mode: 'peer-redis', path: '/hit', expect: HIT },
  { id: 'ours-l1', name: 'ours: HIT from L1 (Redis + L1)', mode: 'ours-l1', path: '/hit', expect: HIT },
  {
    id: 'ours-big',
    name: 'ours: 100 KB HIT (memory)',
    mode: 'ours-memory',
    path: '/big',
    peer: 'peer-big',
    expect: HIT,
  },
  { id: 'peer-big', name: 'peer: 100 KB HIT (memory)', mode: 'peer-memory', path: '/big', expect: HIT },
  {
    id: 'gz-ours',
    name: 'ours: 100 KB gzip HIT, compressed entry',
    mode: 'ours-memory-gz',
    path: '/big',
    headers: GZIP,
    peer: 'gz-peer',
    expect: GZIP_HIT,
    gz: true,
  },
  {
    id: 'gz-plain',
    name: 'ours: 100 KB gzip HIT, compressAbove: false',
    mode: 'ours-memory-gz-plain',
    path: '/big',
    headers: GZIP,
    peer: 'gz-peer',
    expect: GZIP_HIT,
    gz: true,
  },
  {
    id: 'gz-peer',
    name: 'peer: 100 KB gzip HIT (plugin compresses)',
    mode: 'peer-memory-gz',
    path: '/big',
    headers: GZIP,
    expect: GZIP_HIT,
    gz: true,
  },
  {
    id: 'ours-miss',
    process: 'ours-memory/miss',
    name: 'ours: MISS, memory (new key each request)',
    mode: 'ours-memory',
    path: '/miss',
    keys: 'unique',
    peer: 'peer-miss',
  },
  {
    id: 'peer-miss',
    process: 'peer-memory/miss',
    name: 'peer: MISS, memory (new key each request)',
    mode: 'peer-memory',
    path: '/miss',
    keys: 'unique',
  },
  {
    id: 'ours-redis-miss',
    process: 'ours-redis/miss',
    name: 'ours: MISS, Redis (new key each request)',
    mode: 'ours-redis',
    path: '/miss',
    keys: 'unique',
    peer: 'peer-redis-miss',
  },
  {
    id: 'peer-redis-miss',
    process: 'peer-redis/miss',
    name: 'peer: MISS, Redis (new key each request)',
    mode: 'peer-redis',
    path: '/miss',
    keys: 'unique',
  },
  { id: 'disabled', name: 'ours: @Cached, caching disabled', mode: 'ours-disabled', path: '/hit' },
  { id: 'disabled-floor', name: 'undecorated, same (disabled) app', mode: 'ours-disabled', path: '/floor' },
];
const EXTRAS = {
  stampede: ['ours-memory', 'peer-memory'],
  hang: ['ours-redis', 'peer-redis'],
  'entry-size': ['ours-redis', 'ours-redis-plain'],
};

const only = process.env.BENCH_ONLY?.split(',')
  .map((id) => id.trim())
  .filter(Boolean);
if (only !== undefined) {
  const known = [...ALL_VARIANTS.map((v) => v.id), ...Object.keys(EXTRAS)];
  const unknown = only.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    process.stderr.write(`BENCH_ONLY: unknown id(s) ${unknown.join(', ')}; known: ${known.join(', ')}\n`);
    process.exit(2);
  }
}
const selected = (id) => only === undefined || only.includes(id);
const VARIANTS = ALL_VARIANTS.filter((v) => selected(v.id));
const extrasToRun = Object.keys(EXTRAS).filter(selected);
// A variant runs in the app process of its mode, or in one of its own (`process`): the MISS cells do, so that
// the entries they pile up (a new key per request) do not weigh on the other cells' heap and GC.
const processOf = (variant) => variant.process ?? variant.mode;
const MODES = new Set([...VARIANTS.map(processOf), ...extrasToRun.flatMap((extra) => EXTRAS[extra])]);

const load = (url, variant, seconds) =>
  runLoad({
    url,
    path: variant.path,
    seconds,
    connections: CONNECTIONS,
    keys: variant.keys,
    headers: variant.headers,
    count: COUNTED,
  });

const missRuns = async (app) => (await (await fetch(`${app.url}/miss-runs`)).json()).runs;

async function measure(app, variant) {
  // Let the previous variant's process settle (GC, timers): it shares the app core with this one.
  await sleep(1000);
  load(app.url, variant, 1); // warm-up (and, for hits, the first MISS)
  // For MISS variants: how many times the handler ran during the measured load (read outside the CPU window).
  const runsBefore = variant.keys === 'unique' ? await missRuns(app) : undefined;
  const before = cpuTicks(app.pid);
  const result = load(app.url, variant, SECONDS);
  const after = cpuTicks(app.pid);
  const handlerRuns = runsBefore === undefined ? undefined : (await missRuns(app)) - runsBefore;
  return {
    ...result,
    handlerRuns,
    cpuUs: ((after - before) * TICK_US) / Math.max(result.requests, 1),
  };
}

/**
 * `MEMORY USAGE` of the one Redis entry a 100 KB JSON response leaves under `prefix` (its first request
 * accepts gzip; a second, identity, request must be a HIT with the same JSON).
 */
async function entrySize(app, prefix, redisUrl) {
  const first = await fetch(`${app.url}/big`, { headers: GZIP });
  const body = await first.text();
  const second = await fetch(`${app.url}/big`, { headers: { 'accept-encoding': 'identity' } });
  const hit = second.headers.get('x-cache') === 'HIT' && (await second.text()) === body;
  const port = new URL(redisUrl).port;
  const cli = (...args) =>
    spawnSync('redis-cli', ['-p', port, ...args])
      .stdout.toString()
      .trim();
  const keys = cli('--scan', '--pattern', `${prefix}:@e:big*`).split('\n').filter(Boolean);
  return {
    keys: keys.length,
    bytes: keys.length === 1 ? Number(cli('MEMORY', 'USAGE', keys[0])) : null,
    hit,
    contentEncoding: first.headers.get('content-encoding') ?? 'none',
  };
}

/** 100 concurrent cold requests to one key: how many times did the handler run? */
async function stampede(app) {
  const id = `s${Date.now()}${Math.random().toString(36).slice(2)}`;
  await Promise.all(Array.from({ length: 100 }, () => fetch(`${app.url}/cold/${id}`).then((r) => r.text())));
  return (await (await fetch(`${app.url}/runs/${id}`)).json()).runs;
}

/** Requests (20 at once, client deadline 3 s) on uncached keys while Redis is SIGSTOPped for 4 s. */
async function whileRedisHangs(app, redisPid) {
  for (let i = 0; i < 5; i++) await fetch(`${app.url}/hit`).then((r) => r.text());
  process.kill(redisPid, 'SIGSTOP');
  try {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const t0 = performance.now();
        try {
          const res = await fetch(`${app.url}/miss?k=hang-${started}-${i}`, {
            signal: AbortSignal.timeout(3000),
          });
          await res.text();
          return { ms: performance.now() - t0, status: res.status };
        } catch {
          return { ms: performance.now() - t0, status: -1 };
        }
      }),
    );
    const answered = results.filter((r) => r.status !== -1).map((r) => r.ms);
    return {
      hung: results.filter((r) => r.status === -1).length,
      p50: answered.length > 0 ? median(answered) : null,
      max: answered.length > 0 ? Math.max(...answered) : null,
    };
  } finally {
    process.kill(redisPid, 'SIGCONT');
  }
}

// --- run ---
const redis = await startRedis();
const apps = {};
const results = {};
const extras = {};
const earlyLog = {};
try {
  for (const adapter of ADAPTERS) {
    apps[adapter] = {};
    for (const id of MODES) {
      apps[adapter][id] = await startApp({ adapter, mode: id.split('/')[0], redisUrl: redis.url });
    }
  }
  // Which public routes each process answers before the router, as the cache module logged at start-up.
  for (const adapter of ADAPTERS) {
    for (const [id, app] of Object.entries(apps[adapter])) {
      for (const line of app.cacheLog.filter((l) => l.startsWith('Public route'))) {
        ((earlyLog[adapter] ??= {})[id] ??= []).push(line);
        process.stderr.write(`${adapter} ${id}: ${line}\n`);
      }
    }
  }
  await sleep(1000);
  for (let round = 1; round <= ROUNDS; round++) {
    // Every other round runs the variants in reverse, so no variant always follows the same neighbour.
    const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
    for (const adapter of ADAPTERS) {
      for (const variant of order) {
        const r = await measure(apps[adapter][processOf(variant)], variant);
        ((results[adapter] ??= {})[variant.id] ??= []).push(r);
        const misses =
          r.handlerRuns === undefined
            ? `  ${JSON.stringify(r.seen)}`
            : `  X-Cache ${JSON.stringify(r.xCache)}, handler ran ${r.handlerRuns}`;
        process.stderr.write(
          `round ${round} ${adapter.padEnd(7)} ${variant.name.padEnd(42)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuUs.toFixed(1).padStart(6)} µs CPU/req  p99 ${r.p99} ms${misses}\n`,
        );
      }
    }
  }
  if (extrasToRun.includes('stampede')) {
    for (const adapter of ADAPTERS) {
      extras[adapter] = {
        stampedeOurs: await stampede(apps[adapter]['ours-memory']),
        stampedePeer: await stampede(apps[adapter]['peer-memory']),
      };
    }
  }
  if (extrasToRun.includes('entry-size')) {
    const sizeAdapter = ADAPTERS[0];
    extras.entrySize = {
      adapter: sizeAdapter,
      compressed: await entrySize(apps[sizeAdapter]['ours-redis'], 'bench', redis.url),
      plain: await entrySize(apps[sizeAdapter]['ours-redis-plain'], 'bench-plain', redis.url),
    };
  }
  if (extrasToRun.includes('hang')) {
    const hangAdapter = ADAPTERS[0];
    extras.hang = {
      adapter: hangAdapter,
      ours: await whileRedisHangs(apps[hangAdapter]['ours-redis'], redis.pid),
    };
    await sleep(1500);
    extras.hang.peer = await whileRedisHangs(apps[hangAdapter]['peer-redis'], redis.pid);
  }
} finally {
  for (const byMode of Object.values(apps))
    for (const app of Object.values(byMode)) app.child.kill('SIGKILL');
  redis.stop();
}

// --- report ---
const sum = (xs) => xs.reduce((total, x) => total + x, 0);
/** The header tallies of several loads, added up: `{ 'x-cache': { HIT: n }, ... }`. */
function mergeSeen(tallies) {
  const merged = {};
  for (const tally of tallies) {
    for (const [name, values] of Object.entries(tally ?? {})) {
      for (const [value, n] of Object.entries(values)) {
        merged[name] ??= {};
        merged[name][value] = (merged[name][value] ?? 0) + n;
      }
    }
  }
  return merged;
}
const summary = {};
for (const adapter of ADAPTERS) {
  summary[adapter] = {};
  for (const variant of VARIANTS) {
    const runs = results[adapter][variant.id];
    const cpu = runs.map((r) => r.cpuUs);
    const rps = runs.map((r) => r.rps);
    summary[adapter][variant.id] = {
      name: variant.name,
      cpu: median(cpu),
      cpuMin: Math.min(...cpu),
      cpuMax: Math.max(...cpu),
      rps: median(rps),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      non2xx: sum(runs.map((r) => r.non2xx + r.errors + r.timeouts)),
      seen: mergeSeen(runs.map((r) => r.seen)),
      ...(variant.keys === 'unique'
        ? {
            responses: sum(runs.map((r) => sum(Object.values(r.xCache)))),
            xMiss: sum(runs.map((r) => r.xCache.MISS ?? 0)),
            handlerRuns: sum(runs.map((r) => r.handlerRuns)),
          }
        : {}),
    };
  }
}

// A MISS cell counts only if every measured response said `X-Cache: MISS` and the handler ran at least
// once per response (it may run a few more times: requests still in flight when the load stopped).
const missCheck = (v) => v.responses > 0 && v.xMiss === v.responses && v.handlerRuns >= v.responses;
// A cell with `expect` counts only if every measured response carried each expected header value.
const responsesOf = (v) => sum(Object.values(v.seen['x-cache'] ?? {}));
const expectCheck = (variant, v) =>
  responsesOf(v) > 0 &&
  Object.entries(variant.expect ?? {}).every(([name, value]) => v.seen[name]?.[value] === responsesOf(v));

const checks = [];
for (const adapter of ADAPTERS) {
  const s = summary[adapter];
  const check = (what, ids, value, target, ok) => {
    if (ids.every((id) => s[id] !== undefined))
      checks.push({ adapter, what, value: value(), target, ok: ok() });
  };
  const ratio = (a, b) => s[a].cpu / s[b].cpu;
  const fastify = adapter === 'fastify';
  const memoryHitTarget = fastify ? 1.05 : 1.1;
  check(
    'memory HIT CPU / floor',
    ['ours-mem', 'floor'],
    () => ratio('ours-mem', 'floor'),
    `≤ ${memoryHitTarget.toFixed(2)}`,
    () => ratio('ours-mem', 'floor') <= memoryHitTarget,
  );
  const publicMemoryTarget = fastify ? 0.6 : 0.8;
  check(
    'public memory HIT CPU / floor',
    ['public-mem', 'floor'],
    () => ratio('public-mem', 'floor'),
    `≤ ${publicMemoryTarget.toFixed(2)}`,
    () => ratio('public-mem', 'floor') <= publicMemoryTarget,
  );
  const publicRedisTarget = fastify ? 0.75 : 0.9;
  check(
    'public Redis HIT CPU / floor',
    ['public-redis', 'floor'],
    () => ratio('public-redis', 'floor'),
    `≤ ${publicRedisTarget.toFixed(2)}`,
    () => ratio('public-redis', 'floor') <= publicRedisTarget,
  );
  check(
    'memory HIT CPU / peer memory HIT',
    ['ours-mem', 'peer-mem'],
    () => ratio('ours-mem', 'peer-mem'),
    '≤ 1.00',
    () => s['ours-mem'].cpu <= s['peer-mem'].cpu,
  );
  check(
    'Redis HIT CPU / peer Redis HIT',
    ['ours-redis', 'peer-redis'],
    () => ratio('ours-redis', 'peer-redis'),
    '≤ 0.70',
    () => ratio('ours-redis', 'peer-redis') <= 0.7,
  );
  check(
    'L1 HIT CPU / Redis HIT',
    ['ours-l1', 'ours-redis'],
    () => ratio('ours-l1', 'ours-redis'),
    '< 1 (no round trip)',
    () => s['ours-l1'].cpu < s['ours-redis'].cpu,
  );
  check(
    '100 KB HIT req/s / peer',
    ['ours-big', 'peer-big'],
    () => s['ours-big'].rps / s['peer-big'].rps,
    '≥ 3.00',
    () => s['ours-big'].rps / s['peer-big'].rps >= 3,
  );
  check(
    '100 KB gzip HIT req/s / peer (plugin on)',
    ['gz-ours', 'gz-peer'],
    () => s['gz-ours'].rps / s['gz-peer'].rps,
    '≥ 10.00',
    () => s['gz-ours'].rps / s['gz-peer'].rps >= 10,
  );
  check(
    '100 KB gzip HIT req/s / ours, compressAbove: false',
    ['gz-ours', 'gz-plain'],
    () => s['gz-ours'].rps / s['gz-plain'].rps,
    '≥ 2.00',
    () => s['gz-ours'].rps / s['gz-plain'].rps >= 2,
  );
  check(
    'memory MISS CPU / peer memory MISS',
    ['ours-miss', 'peer-miss'],
    () => ratio('ours-miss', 'peer-miss'),
    '≤ 1.15',
    () => ratio('ours-miss', 'peer-miss') <= 1.15,
  );
  check(
    'Redis MISS CPU / peer Redis MISS',
    ['ours-redis-miss', 'peer-redis-miss'],
    () => ratio('ours-redis-miss', 'peer-redis-miss'),
    '≤ 1.15',
    () => ratio('ours-redis-miss', 'peer-redis-miss') <= 1.15,
  );
  check(
    'disabled CPU / undecorated',
    ['disabled', 'disabled-floor'],
    () => ratio('disabled', 'disabled-floor'),
    '≤ 1.03',
    () => ratio('disabled', 'disabled-floor') <= 1.03,
  );
  if (extras[adapter] !== undefined) {
    checks.push({
      adapter,
      what: 'handler runs, 100 cold requests (peer)',
      value: extras[adapter].stampedeOurs,
      target: `1 (peer: ${extras[adapter].stampedePeer})`,
      ok: extras[adapter].stampedeOurs === 1,
    });
  }
}

const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown';
const redisVersion =
  (spawnSync('redis-server', ['--version'])
    .stdout.toString()
    .match(/v=([\d.]+)/) ?? [])[1] ?? '?';
const date = new Date().toISOString().slice(0, 10);
const machine = `${cpus().length} cores (${cpuModel}), Node ${process.version}, Redis ${redisVersion}${hasTaskset ? ', app pinned to core 0 and load to core 1 (taskset)' : ''}`;

const lines = [];
lines.push('# Benchmarks', '');
lines.push(
  `Measured on ${date}, ${machine}. \`npm run bench\`: ${ROUNDS} interleaved rounds of ${SECONDS} s per variant`,
);
lines.push(
  `(after a 1 s pause and a 1 s warm-up; every other round in reverse order), ${CONNECTIONS} connections from autocannon in a separate process, all variants in one run.`,
);
lines.push(
  '"peer" is `@nestjs/cache-manager` (pinned in devDependencies) with its `CacheInterceptor`, keyed by URL.',
);
lines.push(
  "CPU µs/request is the app process's user+system time (from /proc) divided by the requests served: the",
);
lines.push(
  'steadiest figure on a shared machine. Medians, with the min–max over rounds. Each MISS cell runs in an app',
  'process of its own (the entries it piles up, a new key per request, would otherwise weigh on the heap, and so',
  'on the GC, of the cells that share its process).',
  "The public cells (`@Cached({ public: true })`, no guard) are HITs answered before Nest's pipeline (in front",
  "of Nest's handler of the Fastify route, the first handler of the Express route), in the process of the floor",
  '(only the cached routes are hooked, not the floor). The gzip cells send `Accept-Encoding: gzip` to',
  "app processes of their own with the adapter's compression plugin (`compression`, `@fastify/compress`):",
  'ours with compressed entries (the default, 4 KB and up), ours with `compressAbove: false`, and the peer, whose',
  'cached object the plugin compresses on every hit. Every response of every cell is checked (`X-Cache`,',
  '`Content-Encoding`; see "Response checks").',
  '',
);
lines.push('![CPU per request](benchmarks.svg)', '');
const cell = (x) => (x === undefined ? '—' : x.toFixed(2));
for (const adapter of ADAPTERS) {
  const s = summary[adapter];
  lines.push(`## ${adapter[0].toUpperCase()}${adapter.slice(1)}`, '');
  lines.push('| variant | CPU µs/req (min–max) | req/s | p50 ms | p99 ms | ×floor | ×peer | errors |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const variant of VARIANTS) {
    const v = s[variant.id];
    const xFloor = s.floor === undefined ? undefined : v.cpu / s.floor.cpu;
    const peer = variant.peer === undefined ? undefined : s[variant.peer];
    const xPeer = peer === undefined ? undefined : v.cpu / peer.cpu;
    lines.push(
      `| ${v.name} | ${v.cpu.toFixed(1)} (${v.cpuMin.toFixed(1)}–${v.cpuMax.toFixed(1)}) | ${v.rps.toFixed(0)} | ${v.p50} | ${v.p99} | ${cell(xFloor)} | ${cell(xPeer)} | ${v.non2xx} |`,
    );
  }
  lines.push('');
}
const missCells = ADAPTERS.flatMap((adapter) =>
  VARIANTS.filter((v) => v.keys === 'unique').map((v) => ({ adapter, ...summary[adapter][v.id] })),
);
if (missCells.length > 0) {
  lines.push('## MISS cells', '');
  lines.push(
    'Every request of a MISS cell carries a `?k=` never requested before. Over the measured loads (all rounds):',
    'responses, those with `X-Cache: MISS` (both interceptors set it), and how many times the handler ran',
    '(at least once per response when nothing was served from the cache; a few more for requests still in flight',
    'when a load stopped).',
    '',
  );
  lines.push('| adapter | variant | responses | X-Cache: MISS | handler runs | all misses |');
  lines.push('|---|---|---|---|---|---|');
  for (const c of missCells) {
    lines.push(
      `| ${c.adapter} | ${c.name} | ${c.responses} | ${c.xMiss} | ${c.handlerRuns} | ${missCheck(c) ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
}
const checkedCells = ADAPTERS.flatMap((adapter) =>
  VARIANTS.filter((v) => v.expect !== undefined).map((v) => ({
    adapter,
    variant: v,
    ...summary[adapter][v.id],
  })),
);
if (checkedCells.length > 0) {
  const tally = (values) =>
    Object.entries(values ?? {})
      .map(([value, n]) => `${value}: ${n}`)
      .join(', ');
  lines.push('## Response checks', '');
  lines.push(
    'Over the measured loads (all rounds), the values of `X-Cache` and `Content-Encoding` on every response of',
    'the HIT cells (`none`: the header was absent); a cell is as expected when every response carried the',
    'expected values.',
    '',
  );
  lines.push('| adapter | variant | responses | X-Cache | Content-Encoding | expected | as expected |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const c of checkedCells) {
    const expected = Object.entries(c.variant.expect)
      .map(([name, value]) => `${name}: ${value}`)
      .join(', ');
    lines.push(
      `| ${c.adapter} | ${c.name} | ${responsesOf(c)} | ${tally(c.seen['x-cache'])} | ${tally(c.seen['content-encoding'])} | ${expected} | ${expectCheck(c.variant, c) ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
  const early = ADAPTERS.flatMap((adapter) =>
    ['ours-memory', 'ours-redis']
      .filter((mode) => MODES.has(mode))
      .map((mode) => ({ adapter, mode, lines: earlyLog[adapter]?.[mode] ?? [] })),
  );
  if (early.length > 0) {
    lines.push("The cache module's start-up log, for the processes of the public cells:", '');
    for (const e of early) {
      lines.push(`- ${e.adapter}, ${e.mode}: ${e.lines.length > 0 ? e.lines.join('; ') : '(no line)'}`);
    }
    lines.push('');
  }
}
const es = extras.entrySize;
if (es !== undefined) {
  const bytes = (x) => (x.bytes === null ? `— (${x.keys} keys)` : String(x.bytes));
  lines.push('## Redis memory of one 100 KB entry', '');
  lines.push(
    `\`MEMORY USAGE\` of the one key a 100 KB JSON response (the gzip cells' body) leaves in Redis (${es.adapter},`,
    'first request with `Accept-Encoding: gzip`, then an identity request answered as a HIT with the same JSON):',
    '',
  );
  lines.push('| entry | MEMORY USAGE bytes | first response Content-Encoding | identity HIT, same JSON |');
  lines.push('|---|---|---|---|');
  lines.push(
    `| compressed (default) | ${bytes(es.compressed)} | ${es.compressed.contentEncoding} | ${es.compressed.hit ? 'yes' : '**no**'} |`,
  );
  lines.push(
    `| \`compressAbove: false\` | ${bytes(es.plain)} | ${es.plain.contentEncoding} | ${es.plain.hit ? 'yes' : '**no**'} |`,
  );
  if (es.compressed.bytes !== null && es.plain.bytes !== null) {
    lines.push(
      '',
      `Compressed / plain: ${(es.compressed.bytes / es.plain.bytes).toFixed(3)} (target ≤ 0.25).`,
    );
    checks.push({
      adapter: es.adapter,
      what: 'Redis MEMORY USAGE, 100 KB entry: compressed / plain',
      value: es.compressed.bytes / es.plain.bytes,
      target: '≤ 0.25',
      ok: es.compressed.bytes / es.plain.bytes <= 0.25,
    });
  }
  lines.push('');
}
if (checks.length > 0) {
  lines.push('## Targets', '');
  lines.push('| adapter | measure | value | target | met |');
  lines.push('|---|---|---|---|---|');
  for (const c of checks) {
    lines.push(
      `| ${c.adapter} | ${c.what} | ${typeof c.value === 'number' && !Number.isInteger(c.value) ? c.value.toFixed(2) : c.value} | ${c.target} | ${c.ok ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
}
const h = extras.hang;
if (h !== undefined) {
  const fmt = (x) => (x === null ? '—' : `${x.toFixed(0)} ms`);
  lines.push('## While Redis is SIGSTOPped', '');
  lines.push(
    `20 concurrent requests on uncached keys (${h.adapter}), client deadline 3 s, Redis paused for their whole duration:`,
    '',
  );
  lines.push('| | answered p50 | answered max | hung (no answer in 3 s) |');
  lines.push('|---|---|---|---|');
  lines.push(`| ours | ${fmt(h.ours.p50)} | ${fmt(h.ours.max)} | ${h.ours.hung} |`);
  lines.push(`| peer | ${fmt(h.peer.p50)} | ${fmt(h.peer.max)} | ${h.peer.hung} |`);
  lines.push('');
}
lines.push(
  'Namespace invalidation with 10k / 100k / 1M keys present (ours vs a SCAN+UNLINK delete) is measured by',
);
lines.push('`npm run bench:scale`; see the README ("Scaling out").', '');

// SVG: horizontal bars of median CPU µs/request, one group per adapter.
const barHeight = 16;
const gap = 4;
const labelWidth = 290;
const chartWidth = 420;
// The gzip cells (the peer's recompression costs well over a millisecond) would flatten every other bar:
// the scale is the other cells' largest, and longer bars are cut at the chart's edge (their value is printed).
const scaled = VARIANTS.filter((v) => !v.gz);
const maxCpu = Math.max(
  ...ADAPTERS.flatMap((a) => (scaled.length > 0 ? scaled : VARIANTS).map((v) => summary[a][v.id].cpu)),
);
let y = 30;
const svg = [];
for (const adapter of ADAPTERS) {
  svg.push(`<text x="4" y="${y}" font-weight="bold">${adapter}</text>`);
  y += 8;
  for (const variant of VARIANTS) {
    const v = summary[adapter][variant.id];
    const width = Math.min(chartWidth, Math.max(1, (v.cpu / maxCpu) * chartWidth));
    const color = variant.id.includes('peer')
      ? '#c0504d'
      : variant.id.includes('floor')
        ? '#7f7f7f'
        : '#4f81bd';
    svg.push(`<text x="4" y="${y + 12}" font-size="11">${v.name}</text>`);
    svg.push(
      `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
    );
    svg.push(
      `<text x="${labelWidth + width + 4}" y="${y + 12}" font-size="11">${v.cpu.toFixed(1)} µs${v.cpu > maxCpu ? ' (cut)' : ''}</text>`,
    );
    y += barHeight + gap;
  }
  y += 16;
}
const svgText = `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 120}" height="${y}" font-family="sans-serif" font-size="12">
<text x="4" y="14" font-size="13">CPU µs per request (median, lower is better): blue ours, red @nestjs/cache-manager, grey undecorated</text>
${svg.join('\n')}
</svg>
`;
if (only === undefined) {
  mkdirSync(join(root, 'docs'), { recursive: true });
  // Formatted as the repository's Prettier settings say, so `npm run lint` passes on the regenerated page.
  const docPath = join(root, 'docs/benchmarks.md');
  const markdown = await format(`${lines.join('\n')}\n`, {
    ...(await resolveConfig(docPath)),
    filepath: docPath,
  });
  writeFileSync(docPath, markdown);
  writeFileSync(join(root, 'docs/benchmarks.svg'), svgText);
} else {
  process.stderr.write(
    `BENCH_ONLY=${only.join(',')}: a partial run, docs/benchmarks.md and .svg left as they were\n`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
