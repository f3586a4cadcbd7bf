// Small helpers shared by the benchmark scripts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether the app and the load can be pinned to separate cores. */
export const hasTaskset = spawnSync('taskset', ['--version']).status === 0 && cpus().length >= 2;

/** `[command, args]` for running `command` on one core (unchanged without taskset). */
export const pinned = (core, command, args) =>
  hasTaskset ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];

/** Microseconds per clock tick of /proc/<pid>/stat. */
export const TICK_US = 1_000_000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

/** User + system CPU ticks of a process so far. */
export function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of the full line)
}

function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * A private redis-server on a free port (no persistence, its own temporary directory), started and
 * answering PING. `stop()` kills it and removes the directory.
 */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const stop = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100 && !(await redisAnswers(port)); i++) await sleep(50);
  if (!(await redisAnswers(port))) {
    stop();
    throw new Error(`redis-server on port ${port} did not answer`);
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
}

/**
 * Starts bench/app.mjs for one adapter and mode, pinned to core 0. Resolves once it listens, with its
 * base URL, its pid, `exited` (a promise of its exit code or signal) and `cacheLog` (the cache module's
 * start-up log lines). `nodeArgs` go before the script
 * (for example `--cpu-prof`).
 */
export function startApp({ adapter, mode, redisUrl, nodeArgs = [] }) {
  return new Promise((resolve, reject) => {
    const [command, args] = pinned(0, process.execPath, [...nodeArgs, join(root, 'bench/app.mjs')]);
    const child = spawn(command, args, {
      env: { ...process.env, ADAPTER: adapter, MODE: mode, PORT: '0', REDIS_URL: redisUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise((done) => child.once('exit', (code, signal) => done(code ?? signal)));
    child.once('message', (message) =>
      resolve({
        child,
        url: `http://127.0.0.1:${message.port}`,
        pid: child.pid,
        exited,
        cacheLog: message.cacheLog ?? [],
      }),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`${adapter}/${mode} exited with ${code ?? signal}`)),
    );
  });
}

/**
 * One autocannon run from bench/load.mjs in its own process, pinned to core 1. `keys`: undefined (the
 * path as given), `{ distinct: n }` (a random `?k=` of n) or `'unique'` (a new `?k=` on every request).
 * `headers`: request headers sent with every request. `count`: response header names whose values are
 * tallied over every response (the result's `seen`).
 */
export function runLoad({ url, path, seconds, connections, keys, headers, count }) {
  const [command, args] = pinned(1, process.execPath, [
    join(root, 'bench/load.mjs'),
    JSON.stringify({ url, path, connections, seconds, keys, headers, count }),
  ]);
  return JSON.parse(execFileSync(command, args, { maxBuffer: 16 * 1024 * 1024 }).toString());
}
