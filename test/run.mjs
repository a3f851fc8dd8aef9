// `npm test` after the build: runs every compiled test file (build/test/*.test.js) with uvu in Node,
// Deno and Bun (the runtimes come from the pinned npm packages) and in headless Chromium (a dedicated
// worker with OPFS, driven by playwright-core on Debian's /usr/bin/chromium), then prints one plain
// summary line ("tests: N passed, N failed, N skipped") over all runtimes. A runtime that cannot run
// says why and fails the run: nothing passes silently. A test file that cannot run in a runtime says
// why in its first line (test/test-files.mjs) and is listed as not run. Optional argument: a
// file-name prefix (`node test/run.mjs log`); VALUELOG_RUNTIMES=node,chromium picks runtimes.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = process.argv[2] ?? '';
const bin = (name) => join(root, 'node_modules', '.bin', name);
const runner = join(root, 'test', 'uvu-runner.mjs');
const testDir = join(root, 'build', 'test');
const runtimes = [
  { name: 'node', cmd: process.execPath, args: [runner, testDir, prefix] },
  { name: 'deno', cmd: bin('deno'), args: ['run', '-A', runner, testDir, prefix] },
  { name: 'bun', cmd: bin('bun'), args: [runner, testDir, prefix] },
  { name: 'chromium', cmd: process.execPath, args: [join(root, 'test', 'chromium-runner.mjs'), testDir, prefix] },
];
const only = process.env.VALUELOG_RUNTIMES?.split(',');

let passed = 0;
let failed = 0;
let skipped = 0;
let filesNotRun = 0;
for (const rt of runtimes) {
  if (only && !only.includes(rt.name)) continue;
  console.log(`\n=== ${rt.name} ===`);
  if (rt.name !== 'node' && !existsSync(rt.cmd)) {
    console.log(`${rt.name}: not installed at ${rt.cmd} (it is a devDependency: run npm install)`);
    failed++;
    continue;
  }
  const res = spawnSync(rt.cmd, rt.args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } });
  process.stdout.write(res.stdout ?? '');
  const num = (label) => Number((res.stdout ?? '').match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = num('Total');
  const ok = num('Passed');
  const skip = num('Skipped');
  const notRun = num('Files not run');
  let bad = Math.max(0, total - ok - skip);
  if ((res.status !== 0 || total === 0) && bad === 0) bad = 1; // crashed or ran nothing
  console.log(`${rt.name}: ${ok} passed, ${bad} failed, ${skip} skipped, ${notRun} files not run here (listed above)${res.error ? ` (${res.error.message})` : ''}`);
  passed += ok;
  failed += bad;
  skipped += skip;
  filesNotRun += notRun;
}
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped (${filesNotRun} test files not run in some runtime, each with its reason above)`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
