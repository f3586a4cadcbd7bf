import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPAWNED_DIR_VARIABLE } from './redis.js';

/**
 * Vitest global setup: gives the run a folder where spawnRedis lists the servers it starts, and after the whole
 * run stops every one still listed (only while it still runs in one of spawnRedis's data folders).
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'cache-test-redis-pids-'));
  process.env[SPAWNED_DIR_VARIABLE] = dir;
  return () => {
    for (const pid of readdirSync(dir)) {
      try {
        if (readlinkSync(`/proc/${pid}/cwd`).includes('cache-redis-')) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
