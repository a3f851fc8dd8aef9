// Runs every benchmark in turn with the same arguments, so that `npm run bench -- --quick` reaches all
// of them (npm appends arguments to the last command of a script only). Needs `npm run build` first.
//   node bench/run.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--only='));
// The peer stores are the bench's own dependencies (bench/package.json). If they cannot be installed
// here, the peers benchmark says so in its report and measures the rest.
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: benchDir, stdio: 'inherit', shell: process.platform === 'win32' });
if (install.status !== 0) console.log('bench: could not install the peer stores (bench/package.json); the peers benchmark will report them as not installed');
// browser needs Chromium (it says so and measures nothing without it); runtimes runs the log
// benchmark in Node, Deno and Bun.
const started = performance.now();
for (const name of ['codecs', 'log', 'append', 'frames', 'dict-frames', 'modes', 'peers', 'runtimes', 'browser'].filter((n) => !only || only.includes(n))) {
  const file = fileURLToPath(new URL(`../build/bench/${name}.bench.js`, import.meta.url));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [file, ...args], { stdio: 'inherit' });
  console.log(`\n${name}.bench: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}
console.log(`\nbench: ${((performance.now() - started) / 60000).toFixed(1)} min in all`);
