import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A `redis-server` this test owns: free to kill, pause and restart. */
export interface OwnedRedis {
  readonly port: number;
  readonly url: string;
  /** Starts it again on the same port (after stop/kill), with an empty dataset. */
  start(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGSTOP: the socket stays open, nothing answers. */
  pause(): void;
  /** SIGCONT after {@link pause}. */
  resume(): void;
  /** Sends one command through redis-cli and returns its output. */
  cli(...args: string[]): string;
  /** {@link cli} without blocking this process (an app under load here keeps serving meanwhile). */
  cliAsync(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** Whether tests that need their own `redis-server` can run here. */
export function canSpawnRedis(): boolean {
  return hasRedisServer;
}

/**
 * Under CI=true a missing Redis is a failure; elsewhere the suite is skipped with a loud notice.
 * Returns true when the suite should be skipped.
 */
export function skipWithoutRedis(what: string, available: boolean): boolean {
  if (available) return false;
  const message = `${what}: needs redis-server on PATH (or REDIS_URL)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
  return true;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    // Any reply (+PONG, or -NOAUTH from a server with a password) means it is up.
    socket.once('data', (data) => done(/^[+-]/.test(data.toString())));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Spawns a private `redis-server` on a free loopback port. Stop it in `afterAll`. */
/**
 * Where each server a test starts is listed (a file named after its pid) until it exits: a folder of this run,
 * made by test/helpers/redis-teardown.ts, which kills whatever is still listed once the run ends, so a test that
 * failed (or a worker that was stopped) before its afterAll never leaves a server behind.
 */
export const SPAWNED_DIR_VARIABLE = 'CACHE_TEST_REDIS_DIR';

function track(child: ChildProcess): void {
  const dir = process.env[SPAWNED_DIR_VARIABLE];
  if (child.pid === undefined || dir === undefined) return;
  const file = join(dir, String(child.pid));
  writeFileSync(file, '');
  child.once('exit', () => rmSync(file, { force: true }));
}

export async function spawnRedis(extraArgs: string[] = [], fixedPort?: number): Promise<OwnedRedis> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'cache-redis-'));
  let child: ChildProcess | undefined;
  const exited = () =>
    new Promise<void>((resolve) => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
  const handle: OwnedRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          ...extraArgs,
        ],
        { stdio: 'ignore' },
      );
      track(child);
      try {
        await waitFor(() => ping(port), 10_000, `redis-server on port ${port}`);
      } catch (error) {
        // Never leave a server behind when it did not come up in time.
        child.kill('SIGKILL');
        throw error;
      }
    },
    async kill() {
      child?.kill('SIGCONT');
      child?.kill('SIGKILL');
      await exited();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    cli(...args: string[]) {
      const out = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 });
      return out.stdout.trim();
    },
    cliAsync(...args: string[]) {
      return new Promise<string>((resolve) => {
        execFile(
          'redis-cli',
          ['-p', String(port), ...args],
          { encoding: 'utf8', timeout: 5000 },
          (_error, stdout) => resolve(String(stdout).trim()),
        );
      });
    },
    async stop() {
      await handle.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}

/** A Redis URL for tests that only read and write (never kill): REDIS_URL if set, else an owned server. */
export async function sharedOrOwnedRedis(): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, stop: async () => undefined };
  if (!hasRedisServer) return undefined;
  return spawnRedis();
}

/** A local Redis Cluster of three masters (no replicas), each an owned `redis-server`. */
export interface OwnedCluster {
  readonly nodes: OwnedRedis[];
  /** `host:port` of every node. */
  readonly addresses: string[];
  stop(): Promise<void>;
}

/** Starts three `cluster-enabled` servers on free ports and joins them with `redis-cli --cluster create`. */
export async function spawnCluster(): Promise<OwnedCluster> {
  const nodes: OwnedRedis[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(
      await spawnRedis([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
      ]),
    );
  }
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  if (created.status !== 0) throw new Error(`cluster create failed: ${created.stdout} ${created.stderr}`);
  await waitFor(
    async () => nodes.every((node) => node.cli('cluster', 'info').includes('cluster_state:ok')),
    20_000,
    'the cluster to be ok',
  );
  return {
    nodes,
    addresses,
    async stop() {
      for (const node of nodes) await node.stop();
    },
  };
}
