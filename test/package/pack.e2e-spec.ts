import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis.js';
import { REPO, registryReachable, run, skipWithoutRegistry } from './commands.js';
import {
  OPTIONAL_PEERS,
  RESOLUTIONS,
  consumerMain,
  consumerPackageJson,
  consumerTsconfig,
  type Resolution,
} from './consumer-app.js';

/** What `npm pack --json` reports (the fields this test reads). */
interface PackReport {
  name: string;
  filename: string;
  files: Array<{ path: string }>;
}

const TOP_LEVEL_FILES = ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json'];
const LIBRARY_FILE = /^dist\/cache\/.+\.(js|d\.ts)$/;

/** The library's sources that ship, relative to src/cache, without `.ts` (spec files are tests, not library). */
function librarySources(): string[] {
  return readdirSync(join(REPO, 'src/cache'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
    .map((file) => file.slice(0, -'.ts'.length));
}

/** Builds (as `pretest` does) when dist/cache is missing or older than a source of the library. */
async function buildIfStale(): Promise<void> {
  const entry = join(REPO, 'dist/cache/index.js');
  const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
  const newest = Math.max(
    ...librarySources().map((file) => statSync(join(REPO, 'src/cache', `${file}.ts`)).mtimeMs),
  );
  if (built >= newest) return;
  const result = await run('npm', ['run', 'build'], { cwd: REPO, timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`npm run build failed:\n${result.stdout}\n${result.stderr}`);
}

const registry = await registryReachable();
const skipInstall = skipWithoutRegistry('package e2e (fresh application from the tarball)', registry);

describe('the package as npm packs it', () => {
  let work: string;
  let pack: PackReport;
  let packed: string[];
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    await buildIfStale();
    work = mkdtempSync(join(tmpdir(), 'nest-http-cache-pack-'));
    const result = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: REPO,
      timeoutMs: 120_000,
    });
    if (result.code !== 0) throw new Error(`npm pack failed:\n${result.stderr}`);
    const reports = JSON.parse(result.stdout) as PackReport[];
    expect(reports).toHaveLength(1);
    pack = reports[0]!;
    packed = pack.files.map((file) => file.path).sort();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...children].map(stop));
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('holds only the built library, README.md, LICENSE, CHANGELOG.md and package.json', () => {
    const unexpected = packed.filter(
      (path) => !TOP_LEVEL_FILES.includes(path) && !(LIBRARY_FILE.test(path) && !/\.spec\./.test(path)),
    );
    expect(unexpected, 'files that are not the built library').toEqual([]);

    const expected = [
      ...TOP_LEVEL_FILES,
      ...librarySources().flatMap((file) => [`dist/cache/${file}.js`, `dist/cache/${file}.d.ts`]),
    ];
    expect(
      expected.filter((path) => !packed.includes(path)),
      'files of the library missing from the tarball',
    ).toEqual([]);

    const sources = new Set(librarySources());
    const stale = packed.filter((path) => {
      const match = /^dist\/cache\/(.+)\.(js|d\.ts)$/.exec(path);
      return match !== null && !sources.has(match[1]!);
    });
    expect(stale, 'built files whose source is gone (delete dist/ and build again)').toEqual([]);
  });

  describe.skipIf(skipInstall)('installed into a fresh ESM Nest application', () => {
    let app: string;

    beforeAll(async () => {
      app = join(work, 'app');
      mkdirSync(join(app, 'src'), { recursive: true });
      writeFileSync(join(app, 'package.json'), consumerPackageJson(pack.name, join(work, pack.filename)));
      writeFileSync(join(app, 'src/main.ts'), consumerMain(pack.name));
      for (const resolution of Object.keys(RESOLUTIONS) as Resolution[]) {
        writeFileSync(join(app, `tsconfig.${resolution}.json`), consumerTsconfig(resolution));
      }
      const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: app,
        timeoutMs: 300_000,
      });
      if (install.code !== 0) throw new Error(`npm install failed:\n${install.stdout}\n${install.stderr}`);
    }, 330_000);

    it('installs without the optional peers @nestjs/terminus and prom-client', () => {
      expect(existsSync(join(app, 'node_modules', pack.name, 'dist/cache/index.js'))).toBe(true);
      for (const peer of OPTIONAL_PEERS) {
        expect(existsSync(join(app, 'node_modules', peer)), `${peer} is installed`).toBe(false);
      }
    });

    it.each(Object.keys(RESOLUTIONS) as Resolution[])(
      'compiles with moduleResolution %s, strict and skipLibCheck off, with no errors; runs and answers MISS, then HIT',
      async (resolution) => {
        const tsc = await run(
          process.execPath,
          ['node_modules/typescript/bin/tsc', '-p', `tsconfig.${resolution}.json`],
          {
            cwd: app,
            timeoutMs: 120_000,
          },
        );
        expect(`${tsc.stdout}${tsc.stderr}`, 'tsc output').toBe('');
        expect(tsc.code).toBe(0);

        const running = await start(join(app, `dist-${resolution}/main.js`), app);
        children.add(running.child);
        try {
          const first = await fetch(`${running.url}/items`);
          expect(first.headers.get('x-cache')).toBe('MISS');
          expect(await first.json()).toEqual({ runs: 1 });

          const second = await fetch(`${running.url}/items`);
          expect(second.headers.get('x-cache')).toBe('HIT');
          expect(await second.json()).toEqual({ runs: 1 });

          // InvalidationService is constructor-injected: this works only if the app's tsc emitted its metadata.
          expect((await fetch(`${running.url}/items/invalidate`, { method: 'POST' })).status).toBe(201);
          const third = await fetch(`${running.url}/items`);
          expect(third.headers.get('x-cache')).toBe('MISS');
          expect(await third.json()).toEqual({ runs: 2 });
        } finally {
          await stop(running.child);
          children.delete(running.child);
        }
        expect(running.output(), 'errors or warnings of the application').toBe('');
      },
      180_000,
    );
  });
});

/** Starts `node <main>` on a free port with caching on, and waits until its uncached route answers. */
async function start(
  main: string,
  cwd: string,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = await freePort();
  // Only what the app needs: no REDIS_* or CACHE_* of the caller's environment may change what it does.
  const env = { PATH: process.env['PATH'] ?? '', PORT: String(port), CACHE_ENABLED: 'true' };
  const child = spawn(process.execPath, [main], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the application exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the application did not start within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => output };
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}
