// `npm run bench:profile`: one bench app under the V8 CPU profiler while autocannon loads one path, then
// the functions and the files that took the most self time during the measured load.
// Environment:
//   ADAPTER        fastify | express                                       (default fastify)
//   MODE           a bench/app.mjs mode: ours-memory, peer-redis, ...      (default ours-memory)
//   PATH_TO_LOAD   the path to load: /miss, /hit, /big, /floor             (default /miss)
//   KEYS           unique (a new ?k= on every request) | none              (default unique for /miss, else none)
//   SECONDS        measured load, in seconds, after a 1 s warm-up          (default 5)
//   CONNECTIONS    autocannon connections                                  (default 32)
//   TOP            how many functions and files to list                    (default 25)
//   CPU_PROF_INTERVAL  sampling interval in µs (node --cpu-prof-interval)  (default V8's, 1000)
// Needs `npm run build` first. Starts its own redis-server on a free port for the Redis modes. The
// .cpuprofile is kept in a temporary directory (its path is printed; Chrome DevTools opens it).
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TICK_US, cpuTicks, root, runLoad, sleep, startApp, startRedis } from './util.mjs';

const ADAPTER = process.env.ADAPTER ?? 'fastify';
const MODE = process.env.MODE ?? 'ours-memory';
const PATH_TO_LOAD = process.env.PATH_TO_LOAD ?? '/miss';
const KEYS = process.env.KEYS ?? (PATH_TO_LOAD === '/miss' ? 'unique' : 'none');
const SECONDS = Number(process.env.SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const TOP = Number(process.env.TOP ?? 25);
const INTERVAL = process.env.CPU_PROF_INTERVAL;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
const redis = /redis|l1/.test(MODE) ? await startRedis() : undefined;
let app;
let window;
let result;
let cpuUs;
try {
  app = await startApp({
    adapter: ADAPTER,
    mode: MODE,
    redisUrl: redis?.url ?? 'redis://127.0.0.1:1',
    nodeArgs: [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      ...(INTERVAL !== undefined ? [`--cpu-prof-interval=${INTERVAL}`] : []),
    ],
  });
  const load = (seconds) =>
    runLoad({
      url: app.url,
      path: PATH_TO_LOAD,
      seconds,
      connections: CONNECTIONS,
      keys: KEYS === 'unique' ? 'unique' : undefined,
    });
  load(1); // warm-up: JIT, first MISS for hit paths; its samples are left out below
  await sleep(200);
  const cpuBefore = cpuTicks(app.pid);
  const start = nowUs();
  result = load(SECONDS);
  const end = nowUs();
  cpuUs = ((cpuTicks(app.pid) - cpuBefore) * TICK_US) / Math.max(result.requests, 1);
  window = { start, end };
  // bench/app.mjs closes the app and calls process.exit on SIGTERM, which writes the profile.
  app.child.kill('SIGTERM');
  const exit = await Promise.race([app.exited, sleep(15_000).then(() => 'timeout')]);
  if (exit === 'timeout') throw new Error('the app did not exit within 15 s of SIGTERM; no profile to read');
  if (exit !== 0) process.stderr.write(`the app exited with ${exit} (app.close() timed out?)\n`);
} catch (error) {
  app?.child.kill('SIGKILL');
  throw error;
} finally {
  redis?.stop();
}

const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// Sample i lasts until sample i + 1 (as DevTools counts it). Timestamps share the monotonic clock of
// process.hrtime, so the measured load's window picks its samples; fall back to the whole profile if not.
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const stamps = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) stamps.push((t += delta));
let { start, end } = window;
const inWindow = stamps.some((stamp) => stamp >= start && stamp <= end);
if (!inWindow) {
  process.stderr.write('profile timestamps do not cover the load window: using the whole profile\n');
  start = -Infinity;
  end = Infinity;
}
const selfUs = new Map(); // node id -> µs
let totalUs = 0;
for (let i = 0; i < profile.samples.length - 1; i++) {
  if (stamps[i] < start || stamps[i] > end) continue;
  const us = stamps[i + 1] - stamps[i];
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + us);
  totalUs += us;
}

const prefix = `file://${root}/`;
const shortUrl = (url) => (url.startsWith(prefix) ? url.slice(prefix.length) : url);
/** Where a source file belongs: ours (dist/cache), a package, Node's core, or V8. */
function area(url, functionName) {
  // V8's pseudo-frames: (program), (garbage collector), (idle), (root).
  if (url === '') return /^\(.*\)$/.test(functionName) ? functionName : '(native: V8 builtins, C++)';
  const path = shortUrl(url);
  if (path.startsWith('dist/cache/')) return 'dist/cache/** (ours)';
  if (path.startsWith('node:') || !path.includes('/')) return 'node: (core)';
  const packaged = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (packaged !== null) return `node_modules/${packaged[1]}`;
  return path.split('/').slice(0, 2).join('/');
}

// Percentages are of the busy time: (idle) is the app waiting for requests, reported on its own.
let idleUs = 0;
const byFunction = new Map();
const byFile = new Map();
const byArea = new Map();
const add = (map, key, us, make) => {
  const entry = map.get(key) ?? { ...make(), us: 0 };
  entry.us += us;
  map.set(key, entry);
};
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber, columnNumber } = nodes.get(id).callFrame;
  if (functionName === '(idle)') {
    idleUs += us;
    continue;
  }
  const name = functionName || '(anonymous)';
  const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}:${columnNumber + 1}`;
  add(byFunction, `${name} ${where}`, us, () => ({ name, where }));
  add(byFile, url === '' ? area(url, functionName) : shortUrl(url), us, () => ({}));
  add(byArea, area(url, functionName), us, () => ({}));
}
const busyUs = totalUs - idleUs;

const ms = (us) => (us / 1000).toFixed(1).padStart(8);
const pct = (us) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
const perRequest = (us) => (us / Math.max(result.requests, 1)).toFixed(2).padStart(7);
const row = (us, label) => `${ms(us)} ${pct(us)} ${perRequest(us)}  ${label}`;
const sorted = (map) => [...map.entries()].sort((a, b) => b[1].us - a[1].us);
const out = [];
out.push(
  `${ADAPTER} ${MODE} ${PATH_TO_LOAD}${KEYS === 'unique' ? '?k=<new key per request>' : ''}: ${SECONDS} s, ${CONNECTIONS} connections, ` +
    `${result.requests} requests (${result.rps.toFixed(0)} req/s, ${result.non2xx + result.errors + result.timeouts} errors), ` +
    `${cpuUs.toFixed(1)} µs CPU/request under the profiler`,
);
if (result.xCache !== undefined) out.push(`X-Cache over the measured load: ${JSON.stringify(result.xCache)}`);
out.push(
  `profile: ${join(dir, file)}`,
  `sampled in the measured window${inWindow ? '' : ' (whole profile)'}: ${(totalUs / 1000).toFixed(0)} ms, of which ` +
    `${(idleUs / 1000).toFixed(0)} ms idle; percentages below are of the ${(busyUs / 1000).toFixed(0)} ms busy ` +
    `(${(busyUs / Math.max(result.requests, 1)).toFixed(1)} µs busy per request)`,
);
out.push('', `Top ${TOP} functions by self time`, '');
const heading = (label) => `${'self ms'.padStart(8)} ${'%'.padStart(6)} ${'µs/req'.padStart(7)}  ${label}`;
out.push(heading('function  url:line:column'));
for (const [, f] of sorted(byFunction).slice(0, TOP))
  out.push(row(f.us, `${f.name}${f.where === '' ? '' : `  ${f.where}`}`));
out.push('', 'Self time by area', '', heading('area'));
for (const [name, a] of sorted(byArea)) out.push(row(a.us, name));
out.push('', `Self time by file (top ${TOP})`, '', heading('file'));
for (const [name, f] of sorted(byFile).slice(0, TOP)) out.push(row(f.us, name));
process.stdout.write(`${out.join('\n')}\n`);
