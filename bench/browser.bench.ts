// The browser benchmark (issues 4 and 6, browser part): valuelog on OPFS vs raw OPFS writes (the
// limit) vs IndexedDB, in one run, in a dedicated worker of one headless Chromium page. This side
// serves the repository (test/browser/server.mjs, which rewrites bare imports so the compiled modules
// load unbundled), starts Chromium through playwright-core with an on-disk profile, hands the
// parameters to bench/browser-worker.ts and writes bench/results/browser.md.
//   node build/bench/browser.bench.js [--quick] [--sizes=1024,4096] [--mib=N] [--runs=N]
// If Chromium is not installed it says so and exits 0, so that bench/run.mjs goes on.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmtNum, machineInfo, sizeName as kib } from './harness.js';
import type { BrowserBenchParams, BrowserBenchResult, ReadCase, WriteCase } from './browser-worker.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

// Each write case moves writeMiB of payload per run; the reads run on readMiB of it. IndexedDB sets the
// pace (about 8 MB/s at 1 KiB here), which is why 100 B values are left out: 64 MiB of them would
// take IndexedDB minutes per run.
const params: BrowserBenchParams = quick
  ? { sizes: [1024, 4096], writeMiB: 16, runs: 1, readMiB: 8, reads: 10_000 }
  : { sizes: [1024, 4096, 65536], writeMiB: 64, runs: 3, readMiB: 32, reads: 50_000 };
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (arg('sizes')) params.sizes = arg('sizes')!.split(',').map(Number);
if (arg('mib')) params.writeMiB = Number(arg('mib'));
if (arg('runs')) params.runs = Number(arg('runs'));

interface ServerModule {
  startServer(o: { routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> }): Promise<{ url: string; close(): Promise<void> }>;
  rewriteImports(code: string): string;
  CHROMIUM_PATH: string;
  relayConsole(page: PwPage): void;
  /** Headless Chromium on a fresh on-disk profile (see server.mjs for why on disk). */
  launchChromium(): Promise<{ version: string; newPage(): Promise<PwPage>; close(): Promise<void> }>;
}
interface PwPage {
  on(event: 'console', f: (m: { text(): string; type(): string }) => void): void;
  on(event: 'pageerror', f: (e: Error) => void): void;
  goto(url: string): Promise<unknown>;
  evaluate<T>(f: () => T): Promise<T>;
  waitForFunction(f: () => unknown, arg: undefined, o: { timeout: number; polling: number }): Promise<{ jsonValue(): Promise<unknown> }>;
}

const server = (await import(pathToFileURL(join(root, 'test', 'browser', 'server.mjs')).href)) as ServerModule;
if (!existsSync(server.CHROMIUM_PATH)) {
  console.log(`browser bench: Chromium is not installed at ${server.CHROMIUM_PATH} (Debian: apt-get install -y chromium; or set VALUELOG_CHROMIUM); not measured`);
  process.exit(0);
}

// Cross-origin isolation gives the worker 5 µs timers instead of 100 µs: the page and the worker
// script are sent with COOP/COEP (every other module is same-origin, which COEP allows).
const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store' };
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>valuelog browser bench</title><link rel="icon" href="data:,">
<script type="module">
  const worker = new Worker('/build/bench/browser-worker.js', { type: 'module' });
  window.__result = undefined;
  worker.onmessage = ({ data }) => {
    if (data.text !== undefined) console.log('\\u0001' + data.text);
    if (data.result !== undefined || data.error !== undefined) window.__result = data;
  };
  worker.onerror = (e) => { window.__result = { error: 'worker error: ' + e.message + ' (' + e.filename + ':' + e.lineno + ')' }; };
  worker.postMessage(JSON.parse(decodeURIComponent(location.hash.slice(1))));
</script>`;
const workerFile = join(root, 'build', 'bench', 'browser-worker.js');
const srv = await server.startServer({
  routes: {
    '/bench/browser.html': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...isolation });
      res.end(PAGE);
    },
    '/build/bench/browser-worker.js': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/javascript', ...isolation });
      res.end(server.rewriteImports(readFileSync(workerFile, 'utf8')));
    },
  },
});

const started = performance.now();
let ctx: Awaited<ReturnType<ServerModule['launchChromium']>> | undefined;
let result: BrowserBenchResult;
let version = 'unknown';
try {
  ctx = await server.launchChromium();
  const page = await ctx.newPage();
  server.relayConsole(page);
  await page.goto(`${srv.url}/bench/browser.html#${encodeURIComponent(JSON.stringify(params))}`);
  // The user agent string is reduced (150.0.0.0); the browser object knows the full version.
  version = ctx.version;
  console.log(`browser bench: Chromium ${version}${quick ? ' (--quick)' : ''}`);
  const h = await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result, undefined, { timeout: 20 * 60 * 1000, polling: 250 });
  const msg = (await h.jsonValue()) as { result?: BrowserBenchResult; error?: string };
  if (msg.error !== undefined) throw new Error(msg.error);
  result = msg.result!;
} finally {
  await ctx?.close();
  await srv.close();
}

// ------------------------------------------------------------------------------------------------
// Report

const totalSeconds = (performance.now() - started) / 1000;
const out: string[] = [];
const x = (a: number, b: number) => `${(a / b).toFixed(2)}`;
const date = new Date().toISOString().slice(0, 10);
const WRITE_NAMES: Record<WriteCase, string> = {
  raw: 'raw OPFS: 256 KiB writes, one flush at the end (limit)',
  ours: 'valuelog: `putMany` of 1,000, one `commit()` at the end',
  'ours-put': 'valuelog: `put` per value, one `commit()` at the end',
  'raw-1000': 'raw OPFS: 256 KiB writes, flush every 1,000 values (limit)',
  'ours-1000': 'valuelog: `putMany` of 1,000 + `commit()`',
  'idb-1000': 'IndexedDB: 1,000 `put` per readwrite transaction, default durability',
  'idb-1000-strict': "IndexedDB: 1,000 `put` per transaction, `durability: 'strict'`",
};
const READ_NAMES: Record<ReadCase, string> = {
  raw: 'raw OPFS: sync-handle `read` of the value bytes (limit)',
  ours: 'valuelog `log.get(ptr)`, values put with `putMany` (frames of up to rawFrameBytes, 1 KiB by default)',
  'ours-put': 'valuelog `log.get(ptr)`, values put with `put` (one per frame)',
  'idb-batched': 'IndexedDB `get(key)`, 1,000 per readonly transaction',
  'idb-single': 'IndexedDB `get(key)`, one readonly transaction per read',
};

out.push(`# Browser benchmark: valuelog on OPFS vs raw OPFS vs IndexedDB (${date}${quick ? ', --quick' : ''})`);
out.push('');
out.push(`Chromium ${version} (Debian, headless, playwright-core), on ${machineInfo()}. Whole run ${(totalSeconds / 60).toFixed(1)} min.`);
out.push('');
out.push(
  `Everything runs in **one dedicated worker of one page** (IndexedDB too, in the same worker), on an on-disk profile ` +
    `(a fresh playwright context would be off the record, with OPFS and IndexedDB in memory). Values are random bytes ` +
    `(64 distinct values per size, reused), ${params.writeMiB} MiB of payload per write case and run, ${params.runs} run(s) with the order of the cases rotated, ` +
    `after a 4 MiB warm-up of every case; figures are medians over the runs, latencies are pooled over the runs. ` +
    `Files and the database are deleted between cases. valuelog: \`ValueLog\` on \`OpfsStorage\`, compression 'none', ` +
    `default options (256 KiB staging buffer, 64 MiB segments; \`putMany\` groups uncompressed values into frames of about 16 KiB). ` +
    `Raw: the same values copied into a 256 KiB buffer, written through one \`FileSystemSyncAccessHandle\`, \`flush()\` as the commit. ` +
    `IndexedDB: one object store, integer keys 0..N-1, \`Uint8Array\` values (structured clone), each transaction awaited (\`complete\`) before the next. ` +
    `MB/s counts user payload. Worker timers: ${result.crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'}, resolution ${result.timerResolutionUs.toFixed(0)} µs. ` +
    `Origin quota ${(result.quota / 2 ** 30).toFixed(1)} GiB.`,
);
out.push('');

interface Goal {
  what: string;
  got: string;
  met: string;
}
const goals: Goal[] = [];

out.push('## Appends');
out.push('');
for (const s of result.sizes) {
  const w = s.writes;
  out.push(`### ${kib(s.size)} values (${s.count.toLocaleString('en-US')} per run, ${((s.count * s.size) / 2 ** 20).toFixed(0)} MiB)`);
  out.push('');
  out.push('| case | MB/s | values/s | ÷ raw (same commits) | commit p50 / p99 ms | commits per run | stored ÷ payload |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  const perRun = (c: WriteCase) => Math.round(w[c].commit.samples / params.runs);
  for (const c of ['raw', 'ours', 'ours-put', 'raw-1000', 'ours-1000', 'idb-1000', 'idb-1000-strict'] as WriteCase[]) {
    const limit = c === 'raw' || c === 'ours' || c === 'ours-put' ? w.raw : w['raw-1000'];
    const stored = c.startsWith('idb') ? '–' : (w[c].storedBytes / (s.count * s.size)).toFixed(2);
    out.push(`| ${WRITE_NAMES[c]} | ${w[c].mbs.toFixed(0)} | ${fmtNum(w[c].ops)} | ${x(w[c].mbs, limit.mbs)} | ${w[c].commit.p50.toFixed(2)} / ${w[c].commit.p99.toFixed(2)} | ${perRun(c)} | ${stored} |`);
  }
  out.push('');
  out.push(
    `valuelog ÷ IndexedDB (default durability), commit every 1,000: **${x(w['ours-1000'].mbs, w['idb-1000'].mbs)}×**; ` +
      `with one commit at the end: ${x(w.ours.mbs, w['idb-1000'].mbs)}×; ÷ IndexedDB strict: ${x(w['ours-1000'].mbs, w['idb-1000-strict'].mbs)}×.`,
  );
  out.push('');
}

out.push('## Random point reads');
out.push('');
out.push(
  `On data sets of ${params.readMiB} MiB per size written just before (raw file; valuelog with \`putMany\` and with \`put\`, commit every 1,000; IndexedDB: ` +
    `default durability), read in the same order, ${params.reads.toLocaleString('en-US')} random reads per round (at most 512 MiB of values) (a tenth of that for one transaction per read), ` +
    `${params.runs} round(s); ops/s are medians over rounds. Latency: per read, as the mean of a batch of 100 reads (raw and valuelog, ` +
    `below the timer resolution one at a time), of a transaction of 1,000 (IndexedDB batched) or of one read (IndexedDB single). ` +
    'Every 97th value read is checked against what was written.',
);
out.push('');
out.push('| value size | case | reads/s | p50 / p99 µs per read | valuelog ÷ this |');
out.push('|---:|---|---:|---:|---:|');
for (const s of result.sizes) {
  for (const c of ['raw', 'ours', 'ours-put', 'idb-batched', 'idb-single'] as ReadCase[]) {
    const r = s.reads[c];
    out.push(`| ${kib(s.size)} | ${READ_NAMES[c]} | ${fmtNum(r.ops)} | ${r.lat.p50.toFixed(1)} / ${r.lat.p99.toFixed(1)} | ${c === 'ours' ? '—' : `${x(s.reads.ours.ops, r.ops)}×`} |`);
  }
}
out.push('');

for (const s of result.sizes.filter((y) => y.size === 1024 || y.size === 4096)) {
  const w = s.writes;
  if (s.size === 4096) {
    const r1 = w.ours.mbs / w.raw.mbs;
    const r2 = w['ours-1000'].mbs / w['raw-1000'].mbs;
    goals.push({ what: 'appends ≥ 0.8× raw 256 KiB OPFS writes at 4 KiB (issue 4)', got: `${x(w.ours.mbs, w.raw.mbs)} (one commit at the end: ${w.ours.mbs.toFixed(0)} vs ${w.raw.mbs.toFixed(0)} MB/s); ${x(w['ours-1000'].mbs, w['raw-1000'].mbs)} (commit every 1,000)`, met: r1 >= 0.8 && r2 >= 0.8 ? 'met' : '**not met**' });
  }
  goals.push({ what: `writes ≥ 10× IndexedDB at ${kib(s.size)}`, got: `${x(w['ours-1000'].mbs, w['idb-1000'].mbs)}× (commit every 1,000: ${w['ours-1000'].mbs.toFixed(0)} vs ${w['idb-1000'].mbs.toFixed(0)} MB/s)`, met: w['ours-1000'].mbs >= 10 * w['idb-1000'].mbs ? 'met' : '**not met**' });
  const rd = s.reads;
  const grouped = rd.ours.ops >= 3 * rd['idb-batched'].ops;
  const single = rd['ours-put'].ops >= 3 * rd['idb-batched'].ops;
  goals.push({
    what: `random reads ≥ 3× IndexedDB at ${kib(s.size)}`,
    got:
      `values put with \`putMany\`: ${x(rd.ours.ops, rd['idb-batched'].ops)}× batched IndexedDB, ${x(rd.ours.ops, rd['idb-single'].ops)}× one transaction per read; ` +
      `with \`put\`: ${x(rd['ours-put'].ops, rd['idb-batched'].ops)}× / ${x(rd['ours-put'].ops, rd['idb-single'].ops)}×`,
    met: grouped && single ? 'met' : single ? 'met for values put one by one, **not met** for `putMany`' : grouped ? 'met for `putMany` only' : '**not met**',
  });
}
out.push('## Goals');
out.push('');
out.push('| goal | measured | |');
out.push('|---|---|---|');
for (const g of goals) out.push(`| ${g.what} | ${g.got} | ${g.met} |`);
out.push('');
out.push('The read goal is judged against batched IndexedDB reads, its fastest form.');

const text = out.join('\n') + '\n';
console.log('\n' + text);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'browser.md'), text);
console.log('wrote bench/results/browser.md');
