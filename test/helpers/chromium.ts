import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** The Chromium the browser tests drive: `CHROMIUM_PATH`, else Debian's package. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * Flags for a quiet headless run on loopback: no sandbox (containers), no GPU, no QUIC, and nothing that
 * phones home or updates itself while a test runs.
 */
const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium's version line (`Chromium 156.0.8078.114 ...`), or `undefined` when it cannot be run here. */
export function chromiumVersion(): string | undefined {
  if (!existsSync(CHROMIUM_PATH)) return undefined;
  const out = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (out.status !== 0) return undefined;
  const line = out.stdout.split('\n').find((l) => /\d+\.\d+/.test(l));
  return line?.trim();
}

/**
 * Under CI=true a missing Chromium (or playwright-core) is a failure; elsewhere the suite is skipped with a loud
 * notice. Returns true when the suite should be skipped.
 */
export function skipWithoutChromium(what: string, available: boolean): boolean {
  if (available) return false;
  const message = `${what}: needs Chromium at ${CHROMIUM_PATH} (Debian package chromium; or CHROMIUM_PATH) and playwright-core`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
  return true;
}

/**
 * Launches headless Chromium through playwright-core (over CDP), with a fresh temporary profile. Each test
 * should open its own `browser.newContext()`: a context has its own HTTP cache. Close it in `afterAll`.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
}
