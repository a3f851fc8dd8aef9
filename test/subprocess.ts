// Starting a script in the runtime that runs the tests (Node, Deno or Bun).
import { spawnSync } from 'node:child_process';
import { runtime } from './env.js';

export { runtime };


/** The command line that runs `script` with `args` in this runtime. */
export function scriptCommand(script: string, args: string[]): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: runtime === 'deno' ? ['run', '-A', script, ...args] : [script, ...args] };
}

/** Runs a script to completion and returns its exit code and output. */
export function runScript(script: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const c = scriptCommand(script, args);
  const r = spawnSync(c.cmd, c.args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
