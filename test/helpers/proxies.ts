import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './redis.js';

/** A reverse proxy a test started: its own process, port and folder (configuration, cache, logs). */
export interface OwnedProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The proxy's main process (nginx's master, varnishd's manager). */
  readonly pid: number;
  /** What the process wrote to stdout and stderr, and its error log where it keeps one. */
  output(): string;
  /** Ends the process (by its pid) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Finds an executable: the environment variable `variable` if set, else `name` in `PATH`, `/usr/sbin` or
 * `/usr/local/sbin` (Debian installs nginx and varnishd in `/usr/sbin`, which is not on every user's `PATH`).
 */
function findExecutable(variable: string, name: string): string | undefined {
  const given = process.env[variable];
  if (given !== undefined && given !== '') return existsSync(given) ? given : undefined;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, name)).find((path) => path.startsWith('/') && existsSync(path));
}

/** The first line of `<binary> <flag>` (stdout or stderr) that names a version, or `undefined`. */
function versionLine(binary: string | undefined, flag: string, pattern: RegExp): string | undefined {
  if (binary === undefined) return undefined;
  const out = spawnSync(binary, [flag], { encoding: 'utf8', timeout: 10_000 });
  if (out.status !== 0) return undefined;
  return `${out.stdout}\n${out.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .find((line) => pattern.test(line));
}

/** The nginx the tests run: `NGINX_PATH`, else `nginx` on `PATH` or in `/usr/sbin`. */
export const NGINX_PATH = findExecutable('NGINX_PATH', 'nginx');
/** The varnishd the tests run: `VARNISHD_PATH`, else `varnishd` on `PATH` or in `/usr/sbin`. */
export const VARNISHD_PATH = findExecutable('VARNISHD_PATH', 'varnishd');

/** `nginx version: nginx/1.22.1`, or `undefined` when nginx cannot be run here. */
export function nginxVersion(): string | undefined {
  return versionLine(NGINX_PATH, '-v', /^nginx version:/);
}

/** `varnishd (varnish-7.1.1 revision ...)`, or `undefined` when varnishd cannot be run here. */
export function varnishVersion(): string | undefined {
  return versionLine(VARNISHD_PATH, '-V', /^varnishd \(varnish-/);
}

/**
 * Under CI=true a missing proxy is a failure; elsewhere the suite is skipped with a loud notice. Returns true
 * when the suite should be skipped.
 */
export function skipWithoutProxy(what: string, available: boolean, install: string): boolean {
  if (available) return false;
  const message = `${what}: needs ${install}`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
  return true;
}

/**
 * Children still running when the worker exits (a test that failed before its afterAll) are ended by pid, with
 * SIGTERM: nginx's master and varnishd's manager then stop their own workers (SIGKILL would orphan them).
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

/** Spawns `binary` in the foreground, waits until it accepts connections on `port` and returns its handle. */
async function startProxy(
  what: string,
  binary: string,
  args: string[],
  port: number,
  folder: string,
  errorLog?: string,
): Promise<OwnedProxy> {
  const child = spawn(binary, args, { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const outputOf = () => {
    const log = errorLog !== undefined && existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
    return `${output}${log}`;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(folder, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const reason = child.exitCode !== null ? `exited with ${child.exitCode}` : 'did not start in 20 s';
      const text = outputOf();
      await stop();
      throw new Error(`${what} ${reason}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (child.pid === undefined) throw new Error(`${what} has no pid`);
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid, output: outputOf, stop };
}

/**
 * A temporary folder readable by everyone: run as root, nginx's workers and varnishd's child drop to an
 * unprivileged user, which must still reach the configuration and the cache inside it.
 */
function ownFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(folder, 0o755);
  return folder;
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** The origin, `127.0.0.1:<port>`. */
  upstream: string;
  /** Directives added to `location /` after `proxy_pass` and `proxy_cache`. @default none */
  location?: readonly string[];
}

/**
 * nginx 1.x as a caching reverse proxy on a free loopback port: `proxy_cache` (zone `app`, its folder in the
 * proxy's own folder) in front of `upstream` over HTTP/1.1, with nothing else configured, so what it stores
 * follows the origin's headers (`Cache-Control`, `Vary`, `Set-Cookie`) alone. Every response tells what the
 * cache did and what the origin answered: `X-Proxy-Cache` (`$upstream_cache_status`: MISS, HIT, EXPIRED,
 * REVALIDATED...) and `X-Upstream-Status` (`$upstream_status`, empty when the origin was not asked).
 */
export async function startNginx(options: NginxOptions): Promise<OwnedProxy> {
  if (NGINX_PATH === undefined) throw new Error('nginx is not installed');
  const folder = ownFolder('nginx-proxy-');
  const port = await freePort();
  const errorLog = join(folder, 'error.log');
  const config = [
    'worker_processes 1;',
    `error_log ${errorLog} warn;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${join(folder, 'access.log')};`,
    `  client_body_temp_path ${join(folder, 'client_body')};`,
    `  proxy_temp_path ${join(folder, 'proxy_temp')};`,
    `  fastcgi_temp_path ${join(folder, 'fastcgi_temp')};`,
    `  uwsgi_temp_path ${join(folder, 'uwsgi_temp')};`,
    `  scgi_temp_path ${join(folder, 'scgi_temp')};`,
    `  proxy_cache_path ${join(folder, 'cache')} levels=1:2 keys_zone=app:1m max_size=32m inactive=10m;`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    `      proxy_pass http://${options.upstream};`,
    '      proxy_http_version 1.1;',
    '      proxy_cache app;',
    '      add_header X-Proxy-Cache $upstream_cache_status always;',
    '      add_header X-Upstream-Status $upstream_status always;',
    ...(options.location ?? []).map((line) => `      ${line}`),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
  const configFile = join(folder, 'nginx.conf');
  writeFileSync(configFile, config);
  const args = [
    '-e',
    errorLog,
    '-p',
    folder,
    '-c',
    configFile,
    '-g',
    `daemon off; pid ${join(folder, 'nginx.pid')};`,
  ];
  return startProxy('nginx', NGINX_PATH, args, port, folder, errorLog);
}

/** Options of {@link startVarnish}. */
export interface VarnishOptions {
  /** The origin, `127.0.0.1:<port>`. */
  backend: string;
  /**
   * VCL (4.1) added after the `vcl 4.1;` line and the `default` backend; it may define any `sub`, which
   * runs before the builtin one of the same name. `undefined` runs the stock builtin VCL alone (`-b`).
   * @default undefined
   */
  vcl?: string;
}

/**
 * Varnish as a caching reverse proxy on a free loopback port, in the foreground (`-F`), with a 32 MB malloc
 * store and its working folder in the proxy's own folder. Without `vcl`, exactly the stock configuration
 * (`-b <backend>`): Varnish's builtin VCL, default TTL 120 s, grace 10 s, keep 0.
 */
export async function startVarnish(options: VarnishOptions): Promise<OwnedProxy> {
  if (VARNISHD_PATH === undefined) throw new Error('varnishd is not installed');
  const folder = ownFolder('varnish-proxy-');
  const port = await freePort();
  const args = [
    '-F',
    '-a',
    `127.0.0.1:${port}`,
    '-T',
    '127.0.0.1:0',
    '-n',
    join(folder, 'work'),
    '-s',
    'malloc,32m',
  ];
  if (options.vcl === undefined) {
    args.push('-b', options.backend);
  } else {
    const [host, backendPort] = options.backend.split(':');
    const vclFile = join(folder, 'default.vcl');
    writeFileSync(
      vclFile,
      `vcl 4.1;\n\nbackend default {\n  .host = "${host}";\n  .port = "${backendPort}";\n}\n\n${options.vcl}\n`,
    );
    args.push('-f', vclFile);
  }
  return startProxy('varnishd', VARNISHD_PATH, args, port, folder);
}

/** The seconds of one `Cache-Control` directive (`s-maxage` in `public, max-age=0, s-maxage=5`: 5), if any. */
export function directiveSeconds(
  cacheControl: string | null | undefined,
  directive: string,
): number | undefined {
  const match = new RegExp(`(?:^|,)\\s*${directive}=(\\d+)\\s*(?:,|$)`, 'i').exec(cacheControl ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Sleeps until the wall clock reads `at` (milliseconds since the epoch); returns at once if it is past. */
export async function sleepUntil(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
