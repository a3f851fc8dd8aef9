// Runs every compiled test file (build/test/*.test.js) with uvu in Node and ends with one plain
// summary line ("tests: N passed, N failed, N skipped") that CI can read.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
// Optional argument: a file-name prefix, e.g. `node test/run.mjs fuzz`.
const pattern = `^${process.argv[2] ?? ''}.*\\.test\\.js$`;
const res = spawnSync(process.execPath, [uvu, join(root, 'build', 'test'), pattern], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 64 * 1024 * 1024,
});
process.stdout.write(res.stdout ?? '');
const num = (label) => Number((res.stdout ?? '').match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
const failed = Math.max(0, total - passed - skipped) + (res.status !== 0 && total === passed + skipped ? 1 : 0);
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(res.status === 0 && failed === 0 && total > 0 ? 0 : 1);
