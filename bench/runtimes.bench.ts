// Node vs Deno vs Bun: runs the log benchmark (build/bench/log.bench.js --json: NodeStorage on node:fs,
// 1 KiB and 4 KiB values, appends, random reads by pointer, a memory run) in each runtime, one after
// the other, and puts the figures side by side in bench/results/runtimes.md. Deno and Bun are the
// pinned devDependencies in node_modules/.bin; a runtime that is missing or fails is reported as such.
//   node build/bench/runtimes.bench.js [--quick]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtNum, machineInfo, sizeName as kib } from './harness.js';
import type { LogBenchJson } from './log.bench.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const logBench = join(here, 'log.bench.js');
const bin = (name: string) => join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const extra = ['--json', ...(quick ? ['--quick'] : [])];

const runtimes = [
  { name: 'Node', cmd: process.execPath, args: [logBench, ...extra] },
  { name: 'Deno', cmd: bin('deno'), args: ['run', '-A', logBench, ...extra] },
  { name: 'Bun', cmd: bin('bun'), args: [logBench, ...extra] },
];

const started = performance.now();
const results: Array<{ name: string; r?: LogBenchJson; error?: string; seconds: number }> = [];
for (const rt of runtimes) {
  const t0 = performance.now();
  if (rt.cmd !== process.execPath && !existsSync(rt.cmd)) {
    results.push({ name: rt.name, error: `not installed (${rt.cmd})`, seconds: 0 });
    console.log(`${rt.name}: not installed at ${rt.cmd}`);
    continue;
  }
  const p = spawnSync(rt.cmd, rt.args, { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1' } });
  const seconds = (performance.now() - t0) / 1000;
  const line = p.stdout?.trim().split('\n').pop() ?? '';
  try {
    if (p.status !== 0) throw new Error(`exit ${String(p.status)}: ${(p.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}`);
    const r = JSON.parse(line) as LogBenchJson;
    results.push({ name: rt.name, r, seconds });
    console.log(`${r.runtime}: ${seconds.toFixed(0)} s`);
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    results.push({ name: rt.name, error, seconds });
    console.log(`${rt.name}: failed (${error})`);
  }
}

const ok = results.filter((x) => x.r !== undefined) as Array<{ name: string; r: LogBenchJson; seconds: number }>;
const sizes = ok[0]?.r.appends.map((a) => a.size) ?? [];
const mb = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(0));
const rows: Array<[string, (r: LogBenchJson) => string]> = [];
for (const size of sizes) {
  const a = (r: LogBenchJson) => r.appends.find((x) => x.size === size);
  rows.push([`appends ${kib(size)}: raw \`writevSync\` MB/s (limit)`, (r) => mb(a(r)?.rawMBs)]);
  rows.push([`appends ${kib(size)}: \`Writer.append\` MB/s (÷ raw)`, (r) => `${mb(a(r)?.appendMBs)} (${((a(r)?.appendMBs ?? NaN) / (a(r)?.rawMBs ?? NaN)).toFixed(2)})`]);
  rows.push([`appends ${kib(size)}: \`appendRawFrames\` MB/s`, (r) => mb(a(r)?.rawFramesMBs)]);
}
for (const size of sizes) {
  const g = (r: LogBenchJson) => r.reads.find((x) => x.size === size);
  rows.push([`random reads ${kib(size)}: raw \`readSync\` reads/s`, (r) => fmtNum(g(r)?.rawOps ?? NaN)]);
  rows.push([`random reads ${kib(size)}: \`Manager.read\` (CRC) reads/s (÷ raw)`, (r) => `${fmtNum(g(r)?.readOps ?? NaN)} (${((g(r)?.readOps ?? NaN) / (g(r)?.rawOps ?? NaN)).toFixed(2)})`]);
  rows.push([`random reads ${kib(size)}: \`Manager.read\` (no CRC) reads/s`, (r) => fmtNum(g(r)?.noCrcOps ?? NaN)]);
  rows.push([`random reads ${kib(size)}: p50 / p99 µs (CRC, batches of 500)`, (r) => `${((g(r)?.p50ns ?? NaN) / 1e3).toFixed(2)} / ${((g(r)?.p99ns ?? NaN) / 1e3).toFixed(2)}`]);
}
const memMiB = ok[0]?.r.memory ? ok[0].r.memory.bytes / 2 ** 20 : 0;
rows.push([`${memMiB} MiB of 4 KiB appends with rotation: MB/s`, (r) => mb(r.memory?.mbs)]);
rows.push(['  RSS at start / peak, MiB', (r) => (r.memory ? `${(r.memory.startRss / 2 ** 20).toFixed(0)} / ${(r.memory.peakRss / 2 ** 20).toFixed(0)}` : '–')]);

const out: string[] = [];
const date = new Date().toISOString().slice(0, 10);
out.push(`# Node vs Deno vs Bun: the log benchmark in each runtime (${date}${quick ? ', --quick' : ''})`);
out.push('');
out.push(`Machine: ${machineInfo().replace(/; Node .*$/, '')}. Runtimes: ${results.map((x) => x.r?.runtime ?? `${x.name}: ${x.error}`).join('; ')}.`);
out.push('');
out.push(
  'The same compiled file, `build/bench/log.bench.js --json`, in each runtime, one after the other: NodeStorage (`node:fs`) in a temporary directory ' +
    '(page cache, no fsync in the timed loops), uncompressed random values, one value per frame. ' +
    (quick ? 'Quick mode: 32 MiB per append run, 3 runs; 10,000 values and 30,000 random reads, 1 round; a 64 MiB memory run. ' : '64 MiB per append run, 3 runs (median, after a warm-up run); 30,000 values and 100,000 random reads, 3 rounds; a 256 MiB memory run. ') +
    'Raw = `fs.writevSync` of the same values in 256 KiB batches and `fs.readSync` of the same value bytes, in the same runtime: each runtime is compared with its own limit too. ' +
    'See [`log.md`](log.md) for the method and the full Node run with 100 B and 64 KiB values.',
);
out.push('');
out.push(`| | ${ok.map((x) => x.r.runtime).join(' | ')} |`);
out.push(`|---|${ok.map(() => '---:').join('|')}|`);
for (const [label, f] of rows) out.push(`| ${label} | ${ok.map((x) => f(x.r)).join(' | ')} |`);
for (const x of results.filter((y) => y.r === undefined)) out.push('', `${x.name}: ${x.error}`);
out.push('');
out.push(`Whole run ${((performance.now() - started) / 1000).toFixed(0)} s (${results.map((x) => `${x.name} ${x.seconds.toFixed(0)} s`).join(', ')}).`);
const text = out.join('\n') + '\n';
console.log('\n' + text);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'runtimes.md'), text);
console.log('wrote bench/results/runtimes.md');
