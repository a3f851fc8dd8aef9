// @runtimes node: it takes hard links away from the lock code with Node's module hooks (module.register).
// The directory lock on a file system without hard links (FAT, exFAT, some network file systems):
// link() fails there with EPERM, and the lock falls back to O_EXCL creates. The children of the
// ownership tests run with a loader that makes node:fs's linkSync fail with EPERM for the lock
// module only (and logs each call), so the fallback is what takes, refuses and takes over the lock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCK_FILE_NAME } from '../src/index.node.js';
import { assertOneWinnerEach } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'owner-child.js');
const test = suite('directory lock without hard links');
const work = mkdtempSync(join(tmpdir(), 'valuelog-nolink-'));
const linkLog = join(work, 'link-calls.log');

// The shim: node:fs as it is, but linkSync fails as on FAT. A local export shadows the star export.
writeFileSync(
  join(work, 'fs-without-links.mjs'),
  `import { appendFileSync } from 'node:fs';
export * from 'node:fs';
export function linkSync(from, to) {
  appendFileSync(${JSON.stringify(linkLog)}, to + '\\n');
  throw Object.assign(new Error('EPERM: operation not permitted, link ' + from + ' -> ' + to), { code: 'EPERM', errno: -1, syscall: 'link' });
}
`,
);
writeFileSync(
  join(work, 'hooks.mjs'),
  `const shim = ${JSON.stringify(pathToFileURL(join(work, 'fs-without-links.mjs')).href)};
export async function resolve(specifier, context, next) {
  if ((specifier === 'node:fs' || specifier === 'fs') && context.parentURL !== undefined && /\\/storage\\/node-lock\\.js$/.test(context.parentURL)) return { url: shim, shortCircuit: true };
  return next(specifier, context);
}
`,
);
writeFileSync(join(work, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(work, 'hooks.mjs')).href)});\n`);

function run(args: string[], input?: () => Promise<void>): Promise<{ out: string; code: number | null; stderr: string }> {
  const p = spawn(process.execPath, ['--import', pathToFileURL(join(work, 'register.mjs')).href, child, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  if (input === undefined) p.stdin!.end();
  else void input().then(() => p.stdin!.end());
  return new Promise((resolve) => p.on('close', (code) => resolve({ out, code, stderr })));
}
const linkCalls = (): number => (existsSync(linkLog) ? readFileSync(linkLog, 'utf8').split('\n').filter(Boolean).length : 0);
const dir = (): string => mkdtempSync(join(work, 'log-'));
const lockFiles = (d: string): string[] => readdirSync(d).filter((n) => n.startsWith(LOCK_FILE_NAME));

test('open takes the lock by an exclusive create, a second opener gets LOCKED naming the holder, close releases', async () => {
  const d = dir();
  const before = linkCalls();
  let holderOut = '';
  const holder = run(['hold', d], async () => {
    // While the holder holds the lock, a second process must be refused.
    for (let i = 0; i < 200 && !existsSync(join(d, LOCK_FILE_NAME)); i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300)); // the holder has printed R by now
    const second = await run(['open', d]);
    holderOut = second.out;
  });
  const h = await holder;
  assert.is(h.code, 0, h.stderr);
  assert.match(h.out, /^R \{"holder":/);
  assert.match(holderOut, /^LOCKED .*pid \d+ on host /);
  assert.ok(linkCalls() > before, 'the lock code tried link() and fell back');
  assert.equal(lockFiles(d), [], 'no lock files left behind');
  const again = await run(['open', d]);
  assert.match(again.out, /^OK \{"holder":.*"tookOver":false/);
});

test('two racers take over the same stale lock at once, 10 times: exactly one wins each time', async () => {
  const dirs = Array.from({ length: 10 }, dir);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  for (const [i, d] of dirs.entries()) {
    const token = `${'0123456789abcdef'.repeat(2)}${i}`.slice(0, 24);
    writeFileSync(join(d, LOCK_FILE_NAME), JSON.stringify({ pid: dead, host: hostname(), runtime: 'node v0', since: '2026-01-01T00:00:00.000Z', token }));
  }
  const at = Date.now() + 1500;
  const [r1, r2] = await Promise.all([run(['race', String(at), '150', ...dirs]), run(['race', String(at), '150', ...dirs])]);
  assert.is(r1.code, 0, r1.stderr);
  assert.is(r2.code, 0, r2.stderr);
  assertOneWinnerEach([r1.out, r2.out], dirs.length);
  for (const d of dirs) assert.equal(lockFiles(d), [], 'no lock files left behind');
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
