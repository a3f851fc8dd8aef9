// Builds wasm/out/valuelog.wasm (zstd + this project's LZ4, Snappy and CRC-32C) with @yowasp/clang,
// a Clang/LLD that runs from npm alone, and writes src/codec/wasm-binary.ts, the module inlined as
// deflated base64 so that every runtime (Node, Deno, Bun, browsers, workers) loads it without fetching files.
//
// zstd's C source is read from the pinned @cloudpss/zstd package in node_modules (never copied into
// this repository). Every object file is cached under .cache/wasm by a hash of its source, its flags
// and the compiler version, so a rebuild only recompiles what changed (zstd takes about a minute).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, '.cache', 'wasm');
const outDir = join(root, 'wasm', 'out');
const wasmOut = join(outDir, 'valuelog.wasm');
const tsOut = join(root, 'src', 'codec', 'wasm-binary.ts');

const TARGET = ['--target=wasm32-wasip1', '-flto', '-msimd128'];
const ZSTD_FLAGS = [
  '-Os',
  '-DZSTD_DISABLE_ASM',
  '-DZSTD_LEGACY_SUPPORT=0',
  '-D_WASI_EMULATED_PROCESS_CLOCKS',
  '-DNDEBUG',
  '-Wno-everything',
];
const OWN_FLAGS = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=c11', '-DNDEBUG'];
// 1 GiB cap: a corrupt or hostile input can never make the module reserve more than this.
const MAX_MEMORY = 1024 * 1024 * 1024;
const LINK_FLAGS = [
  '-mexec-model=reactor',
  '-Wl,--no-entry',
  `-Wl,--max-memory=${MAX_MEMORY}`,
  '-Wl,-z,stack-size=1048576',
  '-Wl,--strip-all',
  '-lwasi-emulated-process-clocks',
];

const sha = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : Buffer.from(p)).update('\0');
  return h.digest('hex');
};

function zstdSource() {
  const path = join(root, 'node_modules', '@cloudpss', 'zstd', 'lib', 'zstd.c');
  const text = readFileSync(path, 'utf8');
  // The amalgamation turns on pthread-based multithreading for every non-emscripten target;
  // WebAssembly here has no threads, so that one define is dropped at build time.
  const patched = text.replace(/^#ifndef __EMSCRIPTEN__\n#define ZSTD_MULTITHREAD\n#endif\n/m, '');
  if (patched === text) throw new Error('build-wasm: the zstd amalgamation layout changed (ZSTD_MULTITHREAD guard not found)');
  return patched;
}

async function main() {
  const clangPkg = JSON.parse(readFileSync(join(root, 'node_modules', '@yowasp', 'clang', 'package.json'), 'utf8'));
  const toolId = `@yowasp/clang@${clangPkg.version}`;
  const wasmDir = join(root, 'wasm');
  const headers = Object.fromEntries(
    readdirSync(wasmDir).filter((f) => f.endsWith('.h')).map((f) => [f, readFileSync(join(wasmDir, f), 'utf8')]),
  );
  const headerHash = sha(...Object.entries(headers).flat());
  const units = readdirSync(wasmDir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(join(wasmDir, f), 'utf8'), flags: OWN_FLAGS }));
  units.unshift({ name: 'zstd.c', text: zstdSource(), flags: ZSTD_FLAGS });
  for (const u of units) u.hash = sha(toolId, u.name, u.text, headerHash, ...TARGET, ...u.flags);
  const linkHash = sha(toolId, ...units.map((u) => u.hash), ...LINK_FLAGS);

  const stampPath = join(outDir, 'valuelog.wasm.sha256');
  if (existsSync(wasmOut) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === linkHash) {
    const wasm = readFileSync(wasmOut);
    // The module is current; the TypeScript wrapper is rewritten only if its text would differ.
    if (!existsSync(tsOut) || readFileSync(tsOut, 'utf8') !== wasmModuleSource(wasm)) writeFileSync(tsOut, wasmModuleSource(wasm));
    console.log(`build-wasm: up to date (${wasm.length} bytes)`);
    return;
  }

  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const objects = {};
  const pending = [];
  for (const u of units) {
    const objName = u.name.replace(/\.c$/, '.o');
    const cached = join(cacheDir, `${u.hash}.o`);
    if (existsSync(cached)) objects[objName] = readFileSync(cached);
    else pending.push({ ...u, objName, cached });
  }
  // Compilers run in worker threads, two at a time (zstd.c alone takes most of the time), so that
  // this thread can print progress while they work: clang in WebAssembly blocks its own thread.
  const compile = async (u) => {
    const out = await runInWorker(`compiling ${u.name}`, ['clang', ...TARGET, ...u.flags, '-c', u.name, '-o', u.objName], { ...headers, [u.name]: u.text });
    if (!out[u.objName]) throw new Error(`build-wasm: ${u.name} produced no object`);
    writeFileSync(u.cached, out[u.objName]);
    objects[u.objName] = out[u.objName];
  };
  const queue = [...pending];
  await Promise.all([0, 1].map(async () => { for (let u; (u = queue.shift()); ) await compile(u); }));
  const t0 = Date.now();
  const names = units.map((u) => u.name.replace(/\.c$/, '.o'));
  const linkInputs = Object.fromEntries(names.map((n) => [n, objects[n]]));
  const out = await runInWorker('linking valuelog.wasm (link-time optimisation)', ['clang', ...TARGET, ...names, '-o', 'valuelog.wasm', ...LINK_FLAGS], linkInputs);
  const wasm = out['valuelog.wasm'];
  WebAssembly.validate(wasm) || (() => { throw new Error('build-wasm: linker output is not valid WebAssembly'); })();
  writeFileSync(wasmOut, wasm);
  writeFileSync(tsOut, wasmModuleSource(wasm));
  writeFileSync(stampPath, linkHash);
  console.log(`build-wasm: linked ${wasm.length} bytes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Runs one clang/lld command of @yowasp/clang in a worker thread over in-memory files and resolves
 * with the files it wrote. Prints what it does when it starts, every 10 s while it runs (a fresh
 * install compiles zstd for about a minute and links for about as long), and how long it took.
 */
function runInWorker(what, args, files) {
  const t0 = Date.now();
  console.log(`build-wasm: ${what} ...`);
  const ticker = setInterval(() => console.log(`build-wasm:   ... ${what}: ${Math.round((Date.now() - t0) / 1000)} s`), 10_000);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.clang).then(async ({ runClang }) => {
       // fetchProgress: the toolchain reads its own resources from node_modules; no download to report.
       const quiet = { stdout: null, stderr: (b) => b && process.stderr.write(b), fetchProgress: () => {} };
       const out = await runClang(workerData.args, workerData.files, quiet);
       parentPort.postMessage(out ?? {});
     }).catch((err) => { throw err; });`,
    { eval: true, workerData: { clang: pathToFileURL(join(root, 'node_modules', '@yowasp', 'clang', 'gen', 'bundle.js')).href, args, files } },
  );
  return new Promise((resolve, reject) => {
    let result;
    worker.once('message', (out) => { result = out; });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      clearInterval(ticker);
      if (result && code === 0) {
        console.log(`build-wasm: ${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        resolve(result);
      } else reject(new Error(`build-wasm: ${what} failed (worker exit code ${code})`));
    });
  });
}

/**
 * src/codec/wasm-binary.ts for a module: the module deflated (zlib format, level 9), then base64.
 * Base64 of the raw module gzips badly (the bundles carried ~171 KiB of it, twice in the tarball);
 * deflated first it costs about a third less, and init() inflates it with DecompressionStream.
 * Typed `string`/`number`: a literal type would copy the base64 into the .d.ts.
 */
function wasmModuleSource(wasm) {
  const packed = deflateSync(wasm, { level: 9 });
  return (
    '// Generated by scripts/build-wasm.mjs from wasm/*.c and the pinned zstd sources. Do not edit.\n' +
    `export const WASM_SHA256: string = '${sha(wasm)}';\n` +
    `/** Length of the module; WASM_BASE64 is the module deflated (zlib format), then base64. */\n` +
    `export const WASM_BYTES: number = ${wasm.length};\n` +
    `export const WASM_BASE64: string =\n  '${packed.toString('base64')}';\n`
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
