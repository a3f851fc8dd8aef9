// Loading the peer stores. They are the bench's own dependencies (bench/package.json, installed by
// bench/run.mjs into bench/node_modules) and are loaded with a non-literal import(), so that the
// benchmark compiles and runs when one is missing: its rows are reported as not installed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (this file is build/bench/peers/packages.js once compiled). */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const peerRequire = createRequire(join(root, 'bench', 'package.json'));

/** The peer package `name` from bench/node_modules, or why it cannot be loaded (first line of the error). */
export async function importPeer<T>(name: string): Promise<{ mod: T } | { error: string }> {
  try {
    return { mod: (await import(pathToFileURL(peerRequire.resolve(name)).href)) as T };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    return { error: msg };
  }
}

/** The peer package `name`, or throws why it cannot be loaded (inside a child, which then fails). */
export async function requirePeer<T>(name: string): Promise<T> {
  const r = await importPeer<T>(name);
  if ('error' in r) throw new Error(r.error);
  return r.mod;
}

/** The installed version of `name` (a peer from bench/node_modules, else the root's), or '?'. */
export function packageVersion(name: string): string {
  try {
    const dir = ['lmdb', 'classic-level', 'msgpackr'].includes(name) ? join(root, 'bench', 'node_modules') : join(root, 'node_modules');
    return (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}
