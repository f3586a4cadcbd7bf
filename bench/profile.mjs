// `npm run bench:profile`: one bench app under the V8 CPU profiler while autocannon loads one path, then
// the functions, the steps of a request (receive, framework, our lookup and headers, send) and the files that
// took the most self time during the measured load.
// Environment:
//   ADAPTER        fastify | express                                       (default fastify)
//   MODE           a bench/app.mjs mode: ours-memory, peer-redis, ...      (default ours-memory)
//   PATH_TO_LOAD   the path to load: /miss, /hit, /public, /big, /floor    (default /miss)
//   KEYS           unique (a new ?k= on every request) | none              (default unique for /miss, else none)
//   HEADERS        request headers as JSON, e.g. '{"accept-encoding":"gzip"}' (default none)
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
const HEADERS = process.env.HEADERS === undefined ? undefined : JSON.parse(process.env.HEADERS);
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
      headers: HEADERS,
      count: ['x-cache', 'content-encoding'],
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

// Steps of a request. A native frame (a V8 builtin, a C++ binding) counts in the step of the nearest
// JavaScript frame above it, except the socket writes themselves (the syscall, most of the cost of sending).
const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const SOCKET_WRITES = new Set([
  'writev',
  'writeUtf8String',
  'writeBuffer',
  'writeLatin1String',
  'writeAsciiString',
]);
const OUR_HEADERS =
  /^dist\/cache\/http\/(cache-headers|response-access|etag|client-lifetime|accept-encoding)\.js$/;
const OUR_SEND = /^dist\/cache\/http\/(send-hook|cached-exchange|stored-compression)\.js$/;
const SENDING = /^node:(_http_outgoing|net|internal\/stream_base_commons|internal\/streams\/writable)$/;
const RECEIVING = /^node:(_http_common|_http_incoming|_http_server|internal\/streams\/readable)$/;
const FASTIFY =
  /node_modules\/(fastify|find-my-way|@fastify\/(?!compress)[^/]+|@nestjs\/platform-fastify|toad-cache)\//;
const EXPRESS =
  /node_modules\/(express|router|body-parser|parseurl|on-finished|finalhandler|type-is|path-to-regexp|debug|send|encodeurl|@nestjs\/platform-express)\//;
const PLUGIN = /node_modules\/(compression|compressible|on-headers|vary|@fastify\/compress)\//;
function step(id) {
  const { functionName, url } = nodes.get(id).callFrame;
  if (url === '' && /^\(.*\)$/.test(functionName)) return functionName;
  if (url === '' && SOCKET_WRITES.has(functionName)) return 'send: socket write (the syscall)';
  let frame = nodes.get(id);
  while (frame !== undefined && frame.callFrame.url === '') frame = nodes.get(parentOf.get(frame.id));
  const path = frame === undefined ? '' : shortUrl(frame.callFrame.url);
  const fn = frame?.callFrame.functionName ?? '';
  if (OUR_HEADERS.test(path)) return 'ours: headers (cache headers, ETag, Accept-Encoding)';
  if (OUR_SEND.test(path)) return 'ours: send hook, capture, stored bytes';
  if (path.startsWith('dist/cache/')) return 'ours: lookup + key (hook, key, engine, store)';
  if (path === 'node:zlib' || path.startsWith('node:internal/zlib')) return 'compression (zlib)';
  if (PLUGIN.test(path)) return 'compression plugin (JavaScript)';
  if (path === 'node:_http_server' && /^(writeHead|resOnFinish|onFinish|_writeRaw)$/.test(fn))
    return 'send: Node HTTP response, streams';
  if (SENDING.test(path)) return 'send: Node HTTP response, streams';
  if (RECEIVING.test(path)) return 'receive: Node HTTP parser, request';
  if (FASTIFY.test(path)) return 'Fastify (hooks, routing, Reply, serializer)';
  if (EXPRESS.test(path)) return 'Express (router, middleware, res.send)';
  if (/node_modules\/(@nestjs|rxjs)\//.test(path)) return 'Nest core + rxjs (router, pipeline)';
  if (path.startsWith('node:')) return 'Node: events, ticks, timers, promises';
  return path === '' ? '(native, no JavaScript caller)' : `other: ${area(frame.callFrame.url, fn)}`;
}

// Percentages are of the busy time: (idle) is the app waiting for requests, reported on its own.
let idleUs = 0;
const byFunction = new Map();
const byFile = new Map();
const byArea = new Map();
const byStep = new Map();
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
  add(byStep, step(id), us, () => ({}));
}
const busyUs = totalUs - idleUs;

const ms = (us) => (us / 1000).toFixed(1).padStart(8);
const pct = (us) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
const perRequest = (us) => (us / Math.max(result.requests, 1)).toFixed(2).padStart(7);
const row = (us, label) => `${ms(us)} ${pct(us)} ${perRequest(us)}  ${label}`;
const sorted = (map) => [...map.entries()].sort((a, b) => b[1].us - a[1].us);
const out = [];
out.push(
  `${ADAPTER} ${MODE} ${PATH_TO_LOAD}${KEYS === 'unique' ? '?k=<new key per request>' : ''}` +
    `${HEADERS === undefined ? '' : ` ${JSON.stringify(HEADERS)}`}: ${SECONDS} s, ${CONNECTIONS} connections, ` +
    `${result.requests} requests (${result.rps.toFixed(0)} req/s, ${result.non2xx + result.errors + result.timeouts} errors), ` +
    `${cpuUs.toFixed(1)} µs CPU/request under the profiler`,
);
out.push(`response headers over the measured load: ${JSON.stringify(result.seen)}`);
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
out.push('', 'Self time by step (native frames in the step of their JavaScript caller)', '', heading('step'));
for (const [name, a] of sorted(byStep)) out.push(row(a.us, name));
out.push('', 'Self time by area', '', heading('area'));
for (const [name, a] of sorted(byArea)) out.push(row(a.us, name));
out.push('', `Self time by file (top ${TOP})`, '', heading('file'));
for (const [name, f] of sorted(byFile).slice(0, TOP)) out.push(row(f.us, name));
process.stdout.write(`${out.join('\n')}\n`);
