// `npm run bench:footprint`: the measurement of issue 9, as a new user would make it. The built sample app
// (dist/main.js, SQLite in a temporary folder) on its own redis-server with CACHE_DEFAULT_TTL=3; USERS users
// (default 300) each GET /users/me twice. Prints the keys under the prefix at the peak and 5 s after every
// entry has expired (with those that have no expiry), and the commands Redis ran (INFO commandstats: SET-family
// calls, scripts, reads) per miss.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, root, sleep, startRedis } from './util.mjs';

const USERS = Number(process.env.USERS ?? 300);
const TTL = 3;

function cli(port, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(port), ...args]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

async function keys(port) {
  const all = (await cli(port, '--scan', '--pattern', 'cache:*')).split('\n').filter(Boolean);
  const withoutTtl = [];
  for (const key of all) if ((await cli(port, 'pttl', key)) === '-1') withoutTtl.push(key);
  return { all, withoutTtl };
}

function commandStats(text) {
  const stats = {};
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line.trim());
    if (match) stats[match[1]] = Number(match[2]);
  }
  return stats;
}

const redis = await startRedis();
const redisPort = Number(new URL(redis.url).port);
const dir = mkdtempSync(join(tmpdir(), 'footprint-'));
const port = await freePort();
const app = spawn(process.execPath, [join(root, 'dist/main.js')], {
  cwd: dir,
  env: {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    DATABASE_URL: `sqlite:${join(dir, 'app.db')}`,
    CACHE_ENABLED: 'true',
    REDIS_ENABLED: 'true',
    REDIS_URL: redis.url,
    CACHE_DEFAULT_TTL: String(TTL),
    JWT_SECRET: 'footprint-benchmark-secret',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      if (i > 200) throw new Error('the sample app did not start');
      await sleep(100);
    }
  }
  const tokens = [];
  for (let i = 0; i < USERS; i++) {
    const res = await fetch(`${url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `u${i}@example.com`,
        password: 'a-long-password-1',
        firstName: 'U',
        lastName: `${i}`,
      }),
    });
    tokens.push((await res.json()).accessToken);
  }
  await cli(redisPort, 'config', 'resetstat');
  let misses = 0;
  let hits = 0;
  for (const token of tokens) {
    for (let n = 0; n < 2; n++) {
      const res = await fetch(`${url}/users/me`, { headers: { authorization: `Bearer ${token}` } });
      await res.text();
      if (res.headers.get('x-cache') === 'MISS') misses++;
      else if (res.headers.get('x-cache') === 'HIT') hits++;
    }
  }
  const stats = commandStats(await cli(redisPort, 'info', 'commandstats'));
  const peak = await keys(redisPort);
  await sleep((TTL + 5) * 1000);
  const after = await keys(redisPort);
  const sets = (stats.set ?? 0) + (stats.setnx ?? 0) + (stats.pexpire ?? 0);
  const scripts = (stats.evalsha ?? 0) + (stats.eval ?? 0);
  console.log(`${USERS} users × GET /users/me twice, CACHE_DEFAULT_TTL=${TTL}: ${misses} MISS, ${hits} HIT`);
  console.log(`keys at the peak: ${peak.all.length} (${peak.withoutTtl.length} without expiry)`);
  console.log(`keys ${TTL + 5} s after the last request: ${after.all.length}: ${after.all.join(', ')}`);
  console.log(`Redis commands (INFO commandstats, script-internal calls included): ${JSON.stringify(stats)}`);
  console.log(
    `per miss: ${(scripts / misses).toFixed(2)} scripts, ${(sets / misses).toFixed(2)} SET/PEXPIRE (inside scripts)`,
  );
} finally {
  app.kill('SIGTERM');
  await new Promise((r) => app.once('exit', r));
  redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
