// What a browser downloads, raw and gzipped (node:zlib, level 9): the `valuelog` browser bundle,
// `valuelog/browser` (the page's client and the worker it starts) and the Vite-built example in
// examples/browser. Also the inlined WebAssembly module: its bytes, its base64 text, and both gzipped.
//
//   npm run size                      builds the example (examples/browser/dist), prints the table
//                                     and the npm tarball's packed and installed sizes
//   npm run size -- --readme          ... and writes it into README.md between the size-report markers
//
// test/browser-example.test.ts imports sizeReport() and fails when a size passes its ceiling.
// Needs `npm run build` first (it reads dist/).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync, inflateSync } from 'node:zlib';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const exampleRoot = join(repoRoot, 'examples', 'browser');

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

/** Raw and gzip sizes of files (summed). */
export function measure(files) {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    raw += bytes.length;
    gzip += gz(bytes);
  }
  return { raw, gzip };
}

/** Builds the example with Vite's JS API (no config file; the example needs none) into outDir. */
export async function buildExample(outDir, cacheDir = join(outDir, '..', '.vite-cache')) {
  const { build } = await import('vite');
  await build({ root: exampleRoot, configFile: false, logLevel: 'silent', cacheDir, build: { outDir, emptyOutDir: true } });
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** The inlined module: found in the worker bundle as WASM_BASE64, the module deflated (zlib) then base64. */
function inlinedWasm(bundleFile) {
  const m = /WASM_BASE64\s*=\s*(['"`])([A-Za-z0-9+/=]{1000,})\1/.exec(readFileSync(bundleFile, 'utf8'));
  if (!m) throw new Error(`no inlined WebAssembly module found in ${bundleFile}`);
  const text = Buffer.from(m[2], 'latin1');
  const binary = inflateSync(Buffer.from(m[2], 'base64'));
  return { binary: { raw: binary.length, gzip: gz(binary) }, base64: { raw: text.length, gzip: gz(text) } };
}

/**
 * Rows { key, what, files, raw, gzip } for the dist bundles and, when exampleDist is given, the
 * built example (its HTML, its page script, the worker asset Vite copied, and their total).
 */
export function sizeReport({ dist = join(repoRoot, 'dist'), exampleDist } = {}) {
  const d = (name) => join(dist, name);
  const rows = [
    { key: 'browser', what: '`valuelog` (browser condition), page or worker, with its chunks', files: withImports(d('valuelog.browser.js')) },
    { key: 'client', what: '`valuelog/browser` client, in the page', files: [d('valuelog.client.js')] },
    { key: 'worker', what: 'its worker, `valuelog.worker.js`', files: [d('valuelog.worker.js')] },
    { key: 'clientWorker', what: 'client + worker', files: [d('valuelog.client.js'), d('valuelog.worker.js')] },
  ];
  if (exampleDist !== undefined) {
    const all = filesUnder(exampleDist);
    const worker = all.filter((f) => /valuelog\.worker[^/]*\.js$/.test(f));
    const page = all.filter((f) => f.endsWith('.js') && !worker.includes(f));
    const html = all.filter((f) => f.endsWith('.html'));
    if (worker.length !== 1 || page.length === 0 || html.length === 0) throw new Error(`unexpected example build in ${exampleDist}: ${all.map((f) => relative(exampleDist, f)).join(', ')}`);
    rows.push(
      { key: 'exampleHtml', what: 'Vite example: index.html', files: html },
      { key: 'examplePage', what: 'Vite example: page script (app + client)', files: page },
      { key: 'exampleWorker', what: 'Vite example: worker asset', files: worker },
      { key: 'example', what: 'Vite example: everything', files: all },
    );
  }
  for (const r of rows) Object.assign(r, measure(r.files));
  const wasm = inlinedWasm(d('valuelog.worker.js'));
  return { rows, wasm };
}

/** An ES module file and every relative module it imports, transitively (the bundle's chunks). */
export function withImports(file, seen = new Set()) {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) withImports(join(dirname(file), m[1]), seen);
  return [...seen];
}

/** The tarball `npm pack` would make: packed and unpacked bytes and file count (builds first: prepack). */
export function packageSize() {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout);
  return { packed: info.size, unpacked: info.unpackedSize, files: info.entryCount };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** The report as Markdown (a table and one line about the inlined module). */
export function markdown({ rows, wasm }) {
  const lines = ['| what a browser downloads | raw | gzip -9 |', '| --- | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.what} | ${kb(r.raw)} | ${kb(r.gzip)} |`);
  lines.push(
    '',
    `The WebAssembly module inside the bundles and the worker: ${kb(wasm.binary.raw)} as a binary (${kb(wasm.binary.gzip)} gzipped), ` +
      `${kb(wasm.base64.raw)} as the deflated base64 text the bundles carry (${kb(wasm.base64.gzip)} gzipped).`,
  );
  return lines.join('\n');
}

const BEGIN = '<!-- size-report: npm run size -- --readme -->';
const END = '<!-- /size-report -->';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!existsSync(join(repoRoot, 'dist', 'valuelog.worker.js'))) throw new Error('dist/ is missing: run npm run build first');
  const exampleDist = join(exampleRoot, 'dist');
  await buildExample(exampleDist, join(repoRoot, '.cache', 'vite'));
  const text = markdown(sizeReport({ exampleDist }));
  console.log(text);
  const pkg = packageSize();
  console.log(`\nThe npm tarball (npm pack, dist as built now): ${kb(pkg.packed)} packed, ${kb(pkg.unpacked)} installed, ${pkg.files} files.`);
  if (process.argv.includes('--readme')) {
    const readmePath = join(repoRoot, 'README.md');
    const readme = readFileSync(readmePath, 'utf8');
    const a = readme.indexOf(BEGIN);
    const b = readme.indexOf(END);
    if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} ... ${END} section`);
    writeFileSync(readmePath, `${readme.slice(0, a + BEGIN.length)}\n${text}\n${readme.slice(b)}`);
    console.log('README.md updated');
  }
}
