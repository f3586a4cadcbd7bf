// `npm run bench`: this library against @nestjs/cache-manager's CacheInterceptor, in the same run,
// interleaved, on Express and Fastify. Writes docs/benchmarks.md and docs/benchmarks.svg.
// Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (default 3), BENCH_ADAPTERS (default fastify,express).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, median, sleep } from './util.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'fastify,express').split(',');
const CONNECTIONS = 32;
const TICK_US = 1_000_000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0 && cpus().length >= 2;
const pinned = (core, command, args) =>
  hasTaskset ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];

const VARIANTS = [
  { id: 'floor', name: 'undecorated route (floor)', mode: 'ours-memory', path: '/floor' },
  { id: 'ours-mem', name: 'ours: HIT from memory', mode: 'ours-memory', path: '/hit' },
  { id: 'peer-mem', name: 'peer: HIT from memory', mode: 'peer-memory', path: '/hit' },
  { id: 'ours-redis', name: 'ours: HIT from Redis', mode: 'ours-redis', path: '/hit' },
  { id: 'peer-redis', name: 'peer: HIT from Redis', mode: 'peer-redis', path: '/hit' },
  { id: 'ours-l1', name: 'ours: HIT from L1 (Redis + L1)', mode: 'ours-l1', path: '/hit' },
  { id: 'ours-big', name: 'ours: 100 KB HIT (memory)', mode: 'ours-memory', path: '/big' },
  { id: 'peer-big', name: 'peer: 100 KB HIT (memory)', mode: 'peer-memory', path: '/big' },
  {
    id: 'ours-miss',
    name: 'ours: miss-heavy, 100k keys',
    mode: 'ours-memory',
    path: '/miss',
    distinctKeys: 100_000,
  },
  {
    id: 'peer-miss',
    name: 'peer: miss-heavy, 100k keys',
    mode: 'peer-memory',
    path: '/miss',
    distinctKeys: 100_000,
  },
  { id: 'disabled', name: 'ours: @Cached, caching disabled', mode: 'ours-disabled', path: '/hit' },
  { id: 'disabled-floor', name: 'undecorated, same (disabled) app', mode: 'ours-disabled', path: '/floor' },
];

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of the full line)
}

function startApp(adapter, mode, redisUrl) {
  return new Promise((resolve, reject) => {
    const [command, args] = pinned(0, process.execPath, [join(root, 'bench/app.mjs')]);
    const child = spawn(command, args, {
      env: { ...process.env, ADAPTER: adapter, MODE: mode, PORT: '0', REDIS_URL: redisUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('message', (message) =>
      resolve({ child, url: `http://127.0.0.1:${message.port}`, pid: child.pid }),
    );
    child.once('exit', (code) => reject(new Error(`${adapter}/${mode} exited with ${code}`)));
  });
}

function load(url, path, seconds, distinctKeys) {
  const [command, args] = pinned(1, process.execPath, [
    join(root, 'bench/load.mjs'),
    JSON.stringify({ url, path, connections: CONNECTIONS, seconds, distinctKeys }),
  ]);
  return JSON.parse(execFileSync(command, args, { maxBuffer: 16 * 1024 * 1024 }).toString());
}

async function measure(app, variant) {
  // Let the previous variant's process settle (GC, timers): it shares the app core with this one.
  await sleep(1000);
  load(app.url, variant.path, 1, variant.distinctKeys); // warm-up (and, for hits, the first MISS)
  const before = cpuTicks(app.pid);
  const result = load(app.url, variant.path, SECONDS, variant.distinctKeys);
  const after = cpuTicks(app.pid);
  return { ...result, cpuUs: ((after - before) * TICK_US) / Math.max(result.requests, 1) };
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
const redisPort = await freePort();
const redisDir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
const redis = spawn(
  'redis-server',
  ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', redisDir],
  {
    stdio: 'ignore',
  },
);
await sleep(300);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const apps = {};
const results = {};
const extras = {};
try {
  for (const adapter of ADAPTERS) {
    apps[adapter] = {};
    for (const mode of new Set(VARIANTS.map((v) => v.mode)))
      apps[adapter][mode] = await startApp(adapter, mode, redisUrl);
  }
  await sleep(1000);
  for (let round = 1; round <= ROUNDS; round++) {
    // Every other round runs the variants in reverse, so no variant always follows the same neighbour.
    const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
    for (const adapter of ADAPTERS) {
      for (const variant of order) {
        const r = await measure(apps[adapter][variant.mode], variant);
        ((results[adapter] ??= {})[variant.id] ??= []).push(r);
        process.stderr.write(
          `round ${round} ${adapter.padEnd(7)} ${variant.name.padEnd(34)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuUs.toFixed(1).padStart(6)} µs CPU/req  p99 ${r.p99} ms\n`,
        );
      }
    }
  }
  for (const adapter of ADAPTERS) {
    extras[adapter] = {
      stampedeOurs: await stampede(apps[adapter]['ours-memory']),
      stampedePeer: await stampede(apps[adapter]['peer-memory']),
    };
  }
  const hangAdapter = ADAPTERS[0];
  extras.hang = {
    adapter: hangAdapter,
    ours: await whileRedisHangs(apps[hangAdapter]['ours-redis'], redis.pid),
  };
  await sleep(1500);
  extras.hang.peer = await whileRedisHangs(apps[hangAdapter]['peer-redis'], redis.pid);
} finally {
  for (const byMode of Object.values(apps))
    for (const app of Object.values(byMode)) app.child.kill('SIGKILL');
  redis.kill('SIGKILL');
  rmSync(redisDir, { recursive: true, force: true });
}

// --- report ---
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
      non2xx: runs.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
    };
  }
}

const checks = [];
for (const adapter of ADAPTERS) {
  const s = summary[adapter];
  const check = (what, value, target, ok) => checks.push({ adapter, what, value, target, ok });
  check(
    'memory HIT CPU / floor',
    s['ours-mem'].cpu / s.floor.cpu,
    '≤ 1.10',
    s['ours-mem'].cpu / s.floor.cpu <= 1.1,
  );
  check(
    'memory HIT CPU / peer memory HIT',
    s['ours-mem'].cpu / s['peer-mem'].cpu,
    '≤ 1.00',
    s['ours-mem'].cpu <= s['peer-mem'].cpu,
  );
  check(
    'Redis HIT CPU / peer Redis HIT',
    s['ours-redis'].cpu / s['peer-redis'].cpu,
    '≤ 0.80',
    s['ours-redis'].cpu / s['peer-redis'].cpu <= 0.8,
  );
  check(
    'L1 HIT CPU / Redis HIT',
    s['ours-l1'].cpu / s['ours-redis'].cpu,
    '< 1 (no round trip)',
    s['ours-l1'].cpu < s['ours-redis'].cpu,
  );
  check(
    '100 KB HIT req/s / peer',
    s['ours-big'].rps / s['peer-big'].rps,
    '≥ 3.00',
    s['ours-big'].rps / s['peer-big'].rps >= 3,
  );
  check(
    'disabled CPU / undecorated',
    s.disabled.cpu / s['disabled-floor'].cpu,
    '≤ 1.03',
    s.disabled.cpu / s['disabled-floor'].cpu <= 1.03,
  );
  check(
    'handler runs, 100 cold requests (peer)',
    extras[adapter].stampedeOurs,
    `1 (peer: ${extras[adapter].stampedePeer})`,
    extras[adapter].stampedeOurs === 1,
  );
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
lines.push('steadiest figure on a shared machine. Medians, with the min–max over rounds.', '');
lines.push('![CPU per request](benchmarks.svg)', '');
for (const adapter of ADAPTERS) {
  lines.push(`## ${adapter[0].toUpperCase()}${adapter.slice(1)}`, '');
  lines.push('| variant | CPU µs/req (min–max) | req/s | p50 ms | p99 ms | ×floor | errors |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const v of Object.values(summary[adapter])) {
    const floor = summary[adapter].floor.cpu;
    lines.push(
      `| ${v.name} | ${v.cpu.toFixed(1)} (${v.cpuMin.toFixed(1)}–${v.cpuMax.toFixed(1)}) | ${v.rps.toFixed(0)} | ${v.p50} | ${v.p99} | ${(v.cpu / floor).toFixed(2)} | ${v.non2xx} |`,
    );
  }
  lines.push('');
}
lines.push('## Targets', '');
lines.push('| adapter | measure | value | target | met |');
lines.push('|---|---|---|---|---|');
for (const c of checks) {
  lines.push(
    `| ${c.adapter} | ${c.what} | ${typeof c.value === 'number' && !Number.isInteger(c.value) ? c.value.toFixed(2) : c.value} | ${c.target} | ${c.ok ? 'yes' : '**no**'} |`,
  );
}
lines.push('');
const h = extras.hang;
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
lines.push(
  'Namespace invalidation with 10k / 100k / 1M keys present (ours vs a SCAN+UNLINK delete) is measured by',
);
lines.push('`npm run bench:scale`; see the README ("Scaling out").', '');

// SVG: horizontal bars of median CPU µs/request, one group per adapter.
const barHeight = 16;
const gap = 4;
const labelWidth = 290;
const chartWidth = 420;
const maxCpu = Math.max(...ADAPTERS.flatMap((a) => Object.values(summary[a]).map((v) => v.cpu)));
let y = 30;
const svg = [];
for (const adapter of ADAPTERS) {
  svg.push(`<text x="4" y="${y}" font-weight="bold">${adapter}</text>`);
  y += 8;
  for (const variant of VARIANTS) {
    const v = summary[adapter][variant.id];
    const width = Math.max(1, (v.cpu / maxCpu) * chartWidth);
    const color = variant.id.startsWith('peer')
      ? '#c0504d'
      : variant.id.includes('floor')
        ? '#7f7f7f'
        : '#4f81bd';
    svg.push(`<text x="4" y="${y + 12}" font-size="11">${v.name}</text>`);
    svg.push(
      `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
    );
    svg.push(
      `<text x="${labelWidth + width + 4}" y="${y + 12}" font-size="11">${v.cpu.toFixed(1)} µs</text>`,
    );
    y += barHeight + gap;
  }
  y += 16;
}
const svgText = `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 80}" height="${y}" font-family="sans-serif" font-size="12">
<text x="4" y="14" font-size="13">CPU µs per request (median, lower is better): blue ours, red @nestjs/cache-manager, grey undecorated</text>
${svg.join('\n')}
</svg>
`;
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'docs/benchmarks.md'), `${lines.join('\n')}\n`);
writeFileSync(join(root, 'docs/benchmarks.svg'), svgText);
process.stdout.write(`${lines.join('\n')}\n`);
