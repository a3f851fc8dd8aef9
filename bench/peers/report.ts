// The peers benchmark's report: the markdown tables (loads per commit mode, random reads, scans,
// JSON documents, the goals of issue 6) and the data of its two SVG charts (./chart.ts).
import { tmpdir } from 'node:os';
import { machineInfo, sizeName } from '../harness.js';
import type { Results } from './aggregate.js';
import { chart, NOT_APPLICABLE } from './chart.js';
import { packageVersion } from './packages.js';
import { KiB, MiB, SIZES, type Mode, type Params, type StoreId } from './types.js';

/** The commit modes, in the order the report shows them. */
export const MODES: Mode[] = ['none', 'c1000', 'c1'];

/** What the report is written from. */
export interface ReportInput {
  quick: boolean;
  params: Params;
  /** Peers that could not be loaded, with why. */
  missing: Map<string, string>;
  /** Child runs that failed, described. */
  failures: string[];
  totalSeconds: number;
  /** The stores of the fixed-size workloads and of the JSON workload (those installed). */
  fixedStores: StoreId[];
  jsonStores: StoreId[];
  res: Results;
  /** YYYY-MM-DD of the run. */
  date: string;
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const num = (x: number) => (!Number.isFinite(x) ? '–' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(x >= 10 ? 0 : 1));
const dur = (ns: number) => (!Number.isFinite(ns) ? '–' : ns >= 1e6 ? `${(ns / 1e6).toFixed(ns >= 1e8 ? 0 : 2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} µs` : `${ns.toFixed(0)} ns`);
const mib = (b: number) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '–');
const rssCell = (peak: number, start: number, wasm: number) => `${mib(peak)} (${mib(start)})${Number.isFinite(wasm) ? `, wasm ${(wasm / MiB).toFixed(1)}` : ''}`;
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : NaN);

/** How each store is named in tables and legends. */
export const LABEL: Record<StoreId, string> = {
  valuelog: 'valuelog',
  'valuelog-4m': 'valuelog, 4 MiB buffer (the default before this run)',
  'valuelog-zstd-dict': 'valuelog, zstd + dictionary (K = 1)',
  'valuelog-zstd-dict-grouped': 'valuelog, zstd + dictionary (grouped)',
  raw: 'raw file API (limit)',
  lmdb: 'lmdb-js',
  'lmdb-lz4': 'lmdb-js, compression: true (LZ4)',
  'classic-level': 'classic-level',
};
const MODE_TITLE: Record<Mode, string> = {
  none: 'no durable commit',
  c1000: 'durable commit every 1,000 values',
  c1: 'durable commit after every value',
};
const COLORS: Record<string, string> = { valuelog: '#1f77b4', raw: '#8c8c8c', lmdb: '#ff7f0e', 'classic-level': '#2ca02c', 'classic-level-async': '#98df8a' };

/** The markdown report (each line also printed as it is written), ending with the links to the charts. */
export function peersReport(input: ReportInput): string {
  const { quick, params, missing, failures, totalSeconds, fixedStores: FIXED_STORES, jsonStores: JSON_STORES, res, date } = input;
  const out: string[] = [];
  const say = (s = '') => {
    out.push(s);
    console.log(s);
  };

  say(`# Peers benchmark: valuelog vs lmdb-js, classic-level and the raw file API (${date}${quick ? ', --quick' : ''})`);
  say();
  say(`Machine: ${machineInfo()}. Files in ${tmpdir()} (ext4 here; the page cache is not dropped between write and read).`);
  say(
    `Packages: valuelog (this tree), lmdb ${missing.has('lmdb') ? 'not installed' : packageVersion('lmdb')}, classic-level ${missing.has('classic-level') ? 'not installed' : packageVersion('classic-level')} (LevelDB), ` +
      `msgpackr ${packageVersion('msgpackr')}. Whole run: ${(totalSeconds / 60).toFixed(1)} min, ${params.runs} run(s) per figure (medians${params.runs === 1 ? ' of one run' : ''}).`,
  );
  for (const [name, why] of missing) say(`\n**${name}: not installed (${why})**; its rows are missing.`);
  if (failures.length) say(`\nFailed runs: ${failures.join('; ')}.`);
  say();
  say('## Method');
  say();
  say(
    `- Every load run and every read run is a fresh child process; runs are interleaved across the stores and the figure shown is the median over ${params.runs} run(s). ` +
      `Loads move ${mib(params.volume)} MiB of payload per run (no commit, commit every 1,000 values); runs with a durable commit after every value are capped at ${params.c1Count.toLocaleString()} values (they are bound by the commit latency, not by bandwidth).` +
      (quick ? ' **--quick: smaller volumes and a single run**; use the full run for conclusions.' : ''),
  );
  say(
    '- Values: incompressible random bytes (windows of an 8 MiB random pool). Keys for the peers: ascending integers (lmdb-js `keyEncoding: "uint32"`, classic-level 4-byte big-endian), the best case for both (B-tree appends at the right edge; LevelDB compactions become moves).',
  );
  say(
    '- valuelog: `Writer.append` (one value per frame) with `bufferSize: 256 KiB`, so that it hands the OS writes of the same size as the raw limit (the no-commit table also shows a 4 MiB buffer, the default when this was measured; the default is now 256 KiB), `sync()` (fdatasync) as the durable commit. raw: `fs.writevSync` in 256 KiB batches, `fs.fdatasyncSync` at the commit points. ' +
      'lmdb-js (`open({ path, compression: false, encoding: "binary", keyEncoding: "uint32" })`): no commit = `noSync: true` and one `transactionSync` per batch; durable = `overlappingSync: false` so that each `transactionSync` (1,000 `putSync`) or single `putSync` returns after LMDB\'s own sync of the commit. ' +
      'classic-level: a chained `batch()` per batch `write({ sync: false })`; durable = `write({ sync: true })` per 1,000 values, or `put(key, value, { sync: true })` per value.',
  );
  say('- No-commit loads hand every store ~256 KiB of payload per batch (the raw limit\'s writev size). Timing runs from the first value to `close()` (included).');
  say(
    '- Latency (loads): wall time per unit: one ~256 KiB batch (no commit), one 1,000-value commit, or one value with its commit. Reads: per read; reads averaging under 2 µs are timed in groups of G (shown) and each sample is the group mean, which hides tails inside a group. Scans: per ~256 KiB of values.',
  );
  say(
    '- Write amplification: "disk ÷ payload" = the store directory\'s file sizes after `close()` ÷ user payload bytes (what the directory grew by); "kernel ÷ payload" = the growth of `write_bytes` in `/proc/self/io` over the run (bytes the process caused to be sent to storage, including files written and deleted by compaction) ÷ payload. Space amplification (JSON) = on-disk bytes ÷ payload.',
  );
  say(
    '- Peak RSS: `process.memoryUsage.rss()` sampled every 5 ms of the timed part of each child process, in MiB, with the RSS at the start of the timed part in parentheses (Node, the data set and the store opened); lmdb-js pages its mmap into RSS. For valuelog also the WebAssembly memory.',
  );
  say(
    '- Random reads: valuelog reads by the pointers its appends returned (there is no key index in valuelog; applications keep pointers), with CRC verification (`Manager.read`, which returns a copy); raw = `fs.readSync` of the value bytes at a known offset into a reused buffer; lmdb-js `get(key)` (a copy, from its mmap); classic-level `getSync(key)` (and the asynchronous `await get(key)` in its own row). ' +
      'Each read run opens the store fresh, does an untimed warm-up pass over the same random order, then the timed pass. Every store verifies 50 values before timing.',
  );
  say('- The browser part of issue 6 is not measured: it needs an OPFS storage backend, which does not exist yet.');

  for (const mode of MODES) {
    say();
    say(`## Loads, ${MODE_TITLE[mode]}`);
    say();
    const unit = mode === 'none' ? 'per ~256 KiB batch' : mode === 'c1000' ? 'per 1,000-value commit' : 'per commit';
    say(`| value size | store | MB/s | values/s | p50 / p99 / p999 (${unit}) | disk ÷ payload | kernel ÷ payload | peak RSS MiB (start) | MB/s ÷ raw |`);
    say('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const size of SIZES) {
      const raw = res.load(mode, String(size), 'raw');
      for (const store of [...FIXED_STORES, 'valuelog-4m' as StoreId]) {
        const a = res.load(mode, String(size), store);
        if (!a) continue;
        say(
          `| ${sizeName(size)} | ${LABEL[store]} | ${f1(a.mbs)} | ${num(a.ops)} | ${dur(a.p50)} / ${dur(a.p99)} / ${dur(a.p999)} | ${f2(a.wa)} | ${f2(a.io)} | ${rssCell(a.peakRss, a.startRss, a.wasm)} | ${f2(ratio(a.mbs, raw?.mbs))} |`,
        );
      }
    }
    const ex = res.load(mode, '100', FIXED_STORES[0]!);
    if (ex) say(`\n${ex.runs} run(s); values per run: ${SIZES.map((s) => `${sizeName(s)} ${(res.load(mode, String(s), 'raw') ?? res.load(mode, String(s), FIXED_STORES[0]!))?.values.toLocaleString() ?? '?'}`).join(', ')}.`);
  }

  say();
  say('## Random reads (by pointer for valuelog, by key for the peers)');
  say();
  say('| value size | store | reads/s | MB/s | p50 / p99 / p999 per read | G | peak RSS MiB (start) | ÷ raw | ÷ lmdb-js |');
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const raw = res.read(String(size), 'raw');
    const lm = res.read(String(size), 'lmdb');
    for (const store of FIXED_STORES) {
      const a = res.read(String(size), store);
      if (!a) continue;
      say(`| ${sizeName(size)} | ${LABEL[store]} | ${num(a.ops)} | ${f0(a.mbs)} | ${dur(a.p50)} / ${dur(a.p99)} / ${dur(a.p999)} | ${a.per} | ${rssCell(a.peakRss, a.startRss, a.wasm)} | ${f2(ratio(a.ops, raw?.ops))} | ${f2(ratio(a.ops, lm?.ops))} |`);
      if (a.noCrc) {
        say(`| ${sizeName(size)} | valuelog, CRC check off | ${num(a.noCrc.ops)} | ${f0((a.noCrc.ops * size) / 1e6)} | ${dur(a.noCrc.p50)} / ${dur(a.noCrc.p99)} / ${dur(a.noCrc.p999)} | – | – | ${f2(ratio(a.noCrc.ops, raw?.ops))} | ${f2(ratio(a.noCrc.ops, lm?.ops))} |`);
      }
      if (a.async) {
        say(`| ${sizeName(size)} | classic-level, \`await get()\` | ${num(a.async.ops)} | ${f0((a.async.ops * size) / 1e6)} | ${dur(a.async.p50)} / ${dur(a.async.p99)} / ${dur(a.async.p999)} | 1 | – | ${f2(ratio(a.async.ops, raw?.ops))} | ${f2(ratio(a.async.ops, lm?.ops))} |`);
      }
    }
  }
  say(`\nReads per run: ${SIZES.map((s) => `${sizeName(s)} ${res.read(String(s), FIXED_STORES[0]!)?.reads.toLocaleString() ?? '?'}`).join(', ')} (\`await get()\`: ${params.asyncReads.toLocaleString()}), uniformly random over the values loaded with no commit.`);

  say();
  say('## Full sequential scan');
  say();
  say('| value size | store | MB/s | values/s | p50 / p99 / p999 per ~256 KiB | ÷ raw |');
  say('|---:|---|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const raw = res.read(String(size), 'raw')?.scan;
    for (const store of FIXED_STORES) {
      const a = res.read(String(size), store)?.scan;
      if (!a) continue;
      say(`| ${sizeName(size)} | ${LABEL[store]} | ${f0(a.mbs)} | ${num(a.ops)} | ${dur(a.p50)} / ${dur(a.p99)} / ${dur(a.p999)} | ${f2(ratio(a.mbs, raw?.mbs))} |`);
    }
  }
  say('\nvaluelog: `Reader` over the segment (CRC-verified); raw: `fs.readSync` of 256 KiB chunks; lmdb-js: `getRange()`; classic-level: `values()` iterator with `nextv()`.');

  say();
  say('## JSON documents');
  say();
  const jl0 = res.load('none', 'json', JSON_STORES[0]!);
  say(
    `The \`npm run demo\` documents (mixed 100 B – 4 KiB${jl0 ? `, ${f0(jl0.payload / jl0.values)} B on average` : ''}; ${params.jsonDistinct.toLocaleString()} distinct documents cycled to ${mib(params.jsonVolume)} MiB per run, no durable commit). ` +
      'valuelog with a 32 KiB zstd dictionary trained on 4,000 other documents (`trainDictionary`), either per value (K = 1) or grouped into frames of K values as the demo does (`chooseBlockGroupK`, ~4 KiB compressed per frame); lmdb-js with and without its LZ4 option; classic-level with its default Snappy.',
  );
  say();
  say('| store | payload MiB | on disk MiB | ratio (payload ÷ disk) | space amp. (disk ÷ payload) | load MB/s | load ÷ raw | kernel ÷ payload | reads/s | reads ÷ raw | p50 / p99 / p999 per read | peak RSS MiB (start) |');
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const jraw = res.load('none', 'json', 'raw');
  const jrawR = res.read('json', 'raw');
  for (const store of JSON_STORES) {
    const l = res.load('none', 'json', store);
    const r = res.read('json', store);
    if (!l) continue;
    say(
      `| ${LABEL[store]} | ${mib(l.payload)} | ${mib(l.dirBytes)} | ${f2(l.payload / l.dirBytes)} | ${f2(l.wa)} | ${f1(l.mbs)} | ${f2(ratio(l.mbs, jraw?.mbs))} | ${f2(l.io)} | ${r ? num(r.ops) : '–'} | ${f2(ratio(r?.ops, jrawR?.ops))} | ${r ? `${dur(r.p50)} / ${dur(r.p99)} / ${dur(r.p999)}` : '–'} | ${rssCell(Math.max(l.peakRss, r?.peakRss ?? 0), l.startRss, l.wasm)} |`,
    );
  }
  say('\nlmdb-js compresses only values above its default threshold (1,000 bytes), so most of these documents are stored as they are. classic-level\'s directory includes its write-ahead log as left at `close()`.');

  // Goals (issue 6), reported, not asserted.
  say();
  say('## Goals (issue 6)');
  say();
  say('| goal | mode | measured | |');
  say('|---|---|---|---|');
  const met = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**not met**');
  const big = SIZES.filter((s) => s >= KiB);
  for (const mode of MODES) {
    const parts: string[] = [];
    let ok: boolean | undefined = true;
    for (const s of big) {
      const ours = res.load(mode, String(s), 'valuelog');
      const lm = res.load(mode, String(s), 'lmdb');
      const cl = res.load(mode, String(s), 'classic-level');
      if (!ours || (!lm && !cl)) ok = undefined;
      const rl = ratio(ours?.mbs, lm?.mbs);
      const rc = ratio(ours?.mbs, cl?.mbs);
      if (ok !== undefined && ((lm && !(rl >= 2)) || (cl && !(rc >= 2)))) ok = false;
      parts.push(`${sizeName(s)}: ${f2(rl)}× / ${f2(rc)}×`);
    }
    say(`| appends ≥ 2× lmdb-js and classic-level, values ≥ 1 KiB (ours ÷ lmdb-js / ours ÷ classic-level, MB/s) | ${MODE_TITLE[mode]} | ${parts.join('; ')} | ${met(ok)} |`);
  }
  {
    const parts: string[] = [];
    let ok: boolean | undefined = true;
    for (const s of SIZES) {
      const ours = res.read(String(s), 'valuelog');
      const lm = res.read(String(s), 'lmdb');
      const cl = res.read(String(s), 'classic-level');
      if (!ours || !lm || !cl) ok = undefined;
      const rl = ratio(ours?.ops, lm?.ops);
      const rc = ratio(ours?.ops, cl?.ops);
      if (ok !== undefined && !(rl >= 0.5 && rc > 1)) ok = false;
      parts.push(`${sizeName(s)}: ${f2(rl)} / ${f2(rc)}`);
    }
    say(`| random reads ≥ 0.5× lmdb-js and > 1× classic-level \`getSync\` (ours ÷ lmdb-js / ours ÷ classic-level, reads/s) | – | ${parts.join('; ')} | ${met(ok)} |`);
  }
  for (const mode of MODES) {
    const parts: string[] = [];
    let ok: boolean | undefined = true;
    for (const s of SIZES.filter((x) => x >= 4 * KiB)) {
      const r = ratio(res.load(mode, String(s), 'valuelog')?.mbs, res.load(mode, String(s), 'raw')?.mbs);
      if (!Number.isFinite(r)) ok = undefined;
      else if (ok !== undefined && !(r >= 0.85)) ok = false;
      parts.push(`${sizeName(s)}: ${f2(r)}`);
    }
    say(`| appends ≥ 0.85× the raw file API, values ≥ 4 KiB (ours ÷ raw, MB/s) | ${MODE_TITLE[mode]} | ${parts.join('; ')} | ${met(ok)} |`);
  }

  say();
  say('Charts: [`peers-appends.svg`](peers-appends.svg), [`peers-reads.svg`](peers-reads.svg).');
  return out.join('\n') + '\n';
}

/** The two SVG charts: appends by commit mode, and random reads and scans. */
export function peersCharts(input: ReportInput): { appendsSvg: string; readsSvg: string } {
  const { quick, params, fixedStores: FIXED_STORES, res, date } = input;
  const groups = SIZES.map(sizeName);
  const seriesFor = (stores: StoreId[]) => stores.map((st) => ({ name: LABEL[st], color: COLORS[st] ?? '#555' }));
  const appendsSvg = chart(
    'Appends: MB/s of user payload (higher is better; log scale)',
    `valuelog vs lmdb-js, classic-level and the raw file API; Node ${process.versions.node}, ${date}${quick ? ' (--quick)' : ''}; median of ${params.runs} run(s)`,
    groups,
    seriesFor(FIXED_STORES),
    MODES.map((mode) => ({
      title: `Load, ${MODE_TITLE[mode]}`,
      yLabel: 'MB/s',
      values: SIZES.map((size) => FIXED_STORES.map((st) => res.load(mode, String(size), st)?.mbs ?? NaN)),
    })),
  );
  const readSeries = [...seriesFor(FIXED_STORES)];
  const hasAsync = FIXED_STORES.includes('classic-level');
  if (hasAsync) readSeries.push({ name: 'classic-level, await get()', color: COLORS['classic-level-async']! });
  const readsSvg = chart(
    'Reads: random point reads/s and sequential scan MB/s (higher is better; log scale)',
    `valuelog reads by pointer (CRC-verified), the peers by key; Node ${process.versions.node}, ${date}${quick ? ' (--quick)' : ''}; median of ${params.runs} run(s)`,
    groups,
    readSeries,
    [
      {
        title: 'Random point reads',
        yLabel: 'reads/s',
        values: SIZES.map((size) => [...FIXED_STORES.map((st) => res.read(String(size), st)?.ops ?? NaN), ...(hasAsync ? [res.read(String(size), 'classic-level')?.async?.ops ?? NaN] : [])]),
      },
      {
        title: 'Full sequential scan',
        yLabel: 'MB/s',
        values: SIZES.map((size) => [...FIXED_STORES.map((st) => res.read(String(size), st)?.scan?.mbs ?? NaN), ...(hasAsync ? [NOT_APPLICABLE] : [])]),
      },
    ],
  );

  return { appendsSvg, readsSvg };
}
