import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: where `npm pack` runs and whose `node_modules` give the versions to install. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What `npm run` exports about the package it runs for; an npm started in another folder must not see it. */
const OWN_PACKAGE_VARIABLES =
  /^(npm_package_.*|npm_lifecycle_.*|npm_config_local_prefix|npm_command|npm_execpath|npm_node_execpath|INIT_CWD)$/i;

/**
 * The environment for npm and node run by these tests: the caller's (registry, proxy and cache settings
 * included), minus what `npm test` exports about this repository's package.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!OWN_PACKAGE_VARIABLES.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end (killed after `timeoutMs`); never rejects on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether the npm registry answers `npm ping` (the fresh application's dependencies come from it). */
export async function registryReachable(): Promise<boolean> {
  try {
    const result = await run('npm', ['ping'], { cwd: REPO, timeoutMs: 20_000 });
    return result.code === 0;
  } catch {
    return false;
  }
}

/**
 * Under CI=true an unreachable registry is a failure; elsewhere the suite is skipped with a loud notice.
 * Returns true when the suite should be skipped.
 */
export function skipWithoutRegistry(what: string, available: boolean): boolean {
  if (available) return false;
  const message = `${what}: needs the npm registry (npm ping failed)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`\n*** SKIPPED ${message} ***\n`);
  return true;
}
