import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis.js';
import { ADMIN, Api } from '../helpers/sample-app.js';
import { MAIN, runApp, type Running } from '../helpers/app-process.js';

/** Runs `node dist/main.js` expecting it to refuse to start. */
function failedStart(
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

// `npm test` builds first (pretest), so dist/main.js is there; without it these tests fail, never skip.
describe('the built application as separate processes', () => {
  let dir: string;
  const running: Running[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sample-processes-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with no configuration at all: SQLite under ./data, memory cache, random JWT secret', async () => {
    const app = await runApp(dir, {});
    running.push(app);
    const health = (await (await fetch(`${app.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', database: 'up', databaseEngine: 'sqlite', cache: 'memory' });
    expect(existsSync(join(dir, 'data', 'app.db'))).toBe(true);
    expect(app.output()).toMatch(/JWT_SECRET is not set/);
    const docs = await fetch(`${app.url}/docs`);
    expect(docs.status).toBe(200);
    await app.stop();
  });

  it('refuses to start outside development without JWT_SECRET, naming the variable', async () => {
    const { code, output } = await failedStart(dir, {
      NODE_ENV: 'production',
      PORT: String(await freePort()),
    });
    expect(code).not.toBe(0);
    expect(output).toMatch(/JWT_SECRET: is required/);
  });

  it('refuses an invalid cache setting at startup, naming the variable and the value', async () => {
    const { code, output } = await failedStart(dir, {
      CACHE_DEFAULT_TTL: 'abc',
      PORT: String(await freePort()),
    });
    expect(code).not.toBe(0);
    expect(output).toContain('CACHE_DEFAULT_TTL: expected a positive integer, got "abc"');
  });

  it('shares one SQLite file between processes; an uncached read sees the other process’s write', async () => {
    const shared = {
      DATABASE_URL: `sqlite:${join(dir, 'shared.db')}`,
      JWT_SECRET: 'shared-secret-0123456789',
      CACHE_ENABLED: 'true',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    // Both start at once on a new file: the schema and the admin seed must survive the race.
    const [a, b] = await Promise.all([runApp(dir, shared), runApp(dir, shared)]);
    running.push(a, b);
    const apiA = new Api(a.url);
    const apiB = new Api(b.url);
    const userToken = await apiA.register('shared@example.com');
    const userId = Api.idOf(userToken);
    const admin = await apiB.login(ADMIN.email, ADMIN.password);

    const before = await apiA.call('GET', `/users?userId=${userId}`, { token: admin });
    expect(before.body).toMatchObject({ firstName: 'First' });
    expect(
      (await apiB.call('PUT', `/users/${userId}`, { token: admin, body: { firstName: 'FromB' } })).status,
    ).toBe(200);
    const fresh = await apiA.call('GET', `/users?userId=${userId}`, {
      token: admin,
      headers: { 'cache-control': 'no-cache' },
    });
    expect(fresh.body).toMatchObject({ firstName: 'FromB' });
    // The token issued by A is accepted by B: one secret, one database.
    expect((await apiB.call('GET', '/users/me', { token: userToken })).status).toBe(200);
  });
});
