// The log against the raw file API, side by side in one run (Node, page cache):
//  - appends: Writer.append (one value per frame, staged, 256 KiB writes) and appendRawFrames (writev
//    straight from the caller's arrays) vs fs.writevSync of the same values in 256 KiB batches;
//  - random reads: Manager.read by pointer with CRC verification vs fs.readSync of the same bytes;
//  - memory: peak RSS and WebAssembly memory over a 1 GiB append run.
//   node build/bench/log.bench.js [--quick] [--baseline=<another build's build/src/index.node.js>]
// With --baseline, Writer.append and Manager.read (CRC) of that build run too, in the same process,
// alternated with this build's run by run, and the tables gain a column each (e.g. a copy of build/
// made before a change).
// With --json (bench/runtimes.bench.ts runs it so in Node, Deno and Bun) it runs a reduced workload,
// --sizes=1024,4096 (default), and prints one line of JSON instead of writing results/log.md.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as current from '../src/index.node.js';
import { encodeFileId, init, Manager, NodeStorage, SeededRandom, wasmMemoryBytes, Writer, type ValuePtr } from '../src/index.node.js';
import { noise } from '../test/helpers.js';
import { fmtNum, machineInfo, mbPerSec, median } from './harness.js';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const sizesArg = process.argv.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length);
const SIZES = sizesArg ? sizesArg.split(',').map(Number) : json ? [1024, 4096] : [100, 1024, 4096, 65536];
// Payload per append run, runs per figure, values written and random reads per read case, and the
// bytes of the memory run: the JSON mode runs in three runtimes one after the other, so it moves less.
const P = json
  ? { appendMiB: quick ? 32 : 64, runs: 3, readValues: quick ? 10_000 : 30_000, reads: quick ? 30_000 : 100_000, readRounds: quick ? 1 : 3, memoryMiB: quick ? 64 : 256 }
  : { appendMiB: quick ? 64 : 256, runs: quick ? 3 : 5, readValues: quick ? 20_000 : 60_000, reads: quick ? 50_000 : 200_000, readRounds: 3, memoryMiB: quick ? 256 : 1024 };
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BATCH = 256 * 1024;
const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  if (!json) console.log(s);
};

await init();
const baselineArg = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
const baseline = baselineArg === undefined ? undefined : ((await import(pathToFileURL(baselineArg).href)) as typeof current);
await baseline?.init();

type AppendMode = 'raw' | 'append' | 'rawFrames' | 'baseline';

interface AppendResult {
  ours: number;
  oursRaw: number;
  raw: number;
  /** Writer.append of the --baseline build. */
  base: number;
}

/** One timed append run of `total` payload bytes in values of `size` bytes; returns MB/s of payload. */
async function appendRun(size: number, total: number, values: Uint8Array[], mode: AppendMode): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-bench-'));
  try {
    const count = Math.floor(total / size);
    let t0: number;
    if (mode === 'raw') {
      const fd = openSync(join(dir, 'raw.log'), 'w+');
      t0 = performance.now();
      let batch: Uint8Array[] = [];
      let bytes = 0;
      let at = 0;
      for (let i = 0; i < count; i++) {
        batch.push(values[i % values.length]!);
        bytes += size;
        if (bytes >= BATCH || batch.length >= 960) {
          writevSync(fd, batch, at);
          at += bytes;
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length) writevSync(fd, batch, at);
      closeSync(fd);
    } else {
      const lib = mode === 'baseline' ? baseline! : current;
      const storage = new lib.NodeStorage(dir);
      const w = await lib.Writer.open(storage, lib.encodeFileId(0, 1), { bufferSize: BATCH });
      t0 = performance.now();
      if (mode === 'append' || mode === 'baseline') {
        for (let i = 0; i < count; i++) w.append(i + 1, values[i % values.length]!);
      } else {
        const per = Math.max(8, Math.floor(BATCH / size));
        for (let i = 0; i < count; i += per) {
          const recs = [];
          for (let j = i; j < Math.min(count, i + per); j++) recs.push({ rid: j + 1, value: values[j % values.length]! });
          w.appendRawFrames(recs, 1);
        }
      }
      w.close();
    }
    const ms = performance.now() - t0;
    return mbPerSec(count * size, ms);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What --json prints: MB/s of payload, reads/s, latencies in ns per read (batches of 500), bytes. */
export interface LogBenchJson {
  runtime: string;
  machine: string;
  appends: Array<{ size: number; rawMBs: number; appendMBs: number; rawFramesMBs: number }>;
  reads: Array<{ size: number; rawOps: number; readOps: number; noCrcOps: number; p50ns: number; p99ns: number }>;
  memory: { bytes: number; mbs: number; startRss: number; peakRss: number; wasm: number } | undefined;
}

/** 'Deno 2.9.6 (V8 …)', 'Bun 1.4.5 (JavaScriptCore)' or 'Node 20.20.2 (V8 …)'. */
function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string; v8: string } }; Bun?: { version: string } };
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.versions.node} (V8 ${process.versions.v8})`;
}

async function appends(size: number): Promise<AppendResult> {
  const total = P.appendMiB * 2 ** 20;
  const values = Array.from({ length: 64 }, (_, i) => noise(size, i + 1));
  const runs = P.runs;
  const modes: AppendMode[] = baseline ? ['raw', 'append', 'rawFrames', 'baseline'] : ['raw', 'append', 'rawFrames'];
  for (const mode of modes) await appendRun(size, Math.min(total, 8 * 2 ** 20), values, mode); // warm-up
  const r: Record<AppendMode, number[]> = { raw: [], append: [], rawFrames: [], baseline: [] };
  for (let i = 0; i < runs; i++) {
    for (const mode of i % 2 ? [...modes].reverse() : modes) r[mode].push(await appendRun(size, total, values, mode));
  }
  return { raw: median(r.raw), ours: median(r.append), oursRaw: median(r.rawFrames), base: baseline ? median(r.baseline) : NaN };
}

interface ReadResult {
  ours: number;
  oursNoCrc: number;
  raw: number;
  p50: number[];
  p99: number[];
  /** Manager.read (CRC) of the --baseline build. */
  base: number;
}

async function reads(size: number): Promise<ReadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-bench-'));
  try {
    const count = Math.min(P.readValues, Math.floor((256 * 2 ** 20) / size));
    const storage = new NodeStorage(dir);
    const w = await Writer.open(storage, encodeFileId(0, 1), { bufferSize: BATCH });
    const ptrs: ValuePtr[] = [];
    for (let i = 0; i < count; i++) ptrs.push(w.append(i + 1, noise(size, i)));
    w.close();
    const m = await Manager.open(storage);
    const rng = new SeededRandom(3);
    const order = Array.from({ length: P.reads }, () => rng.intn(count));
    // The raw baseline preads exactly the value bytes of the same records.
    const fd = openSync(join(dir, 'value-l0-000001.log'), 'r');
    const dst = new Uint8Array(size);
    const valueAt = (p: ValuePtr) => p.offset - 4 + 20 + 28;
    const timeIt = (fn: (i: number) => void): { ops: number; p50: number; p99: number } => {
      for (let i = 0; i < 5000; i++) fn(order[i]!);
      const lat: number[] = [];
      const chunk = 500;
      const t0 = performance.now();
      for (let i = 0; i < order.length; i += chunk) {
        const c0 = performance.now();
        for (let j = i; j < Math.min(order.length, i + chunk); j++) fn(order[j]!);
        lat.push(((performance.now() - c0) * 1e6) / chunk);
      }
      const ms = performance.now() - t0;
      lat.sort((a, b) => a - b);
      return { ops: (order.length * 1000) / ms, p50: lat[Math.floor(lat.length / 2)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
    };
    const bm = baseline ? await baseline.Manager.open(new baseline.NodeStorage(dir)) : undefined;
    const results = { raw: [] as number[], ours: [] as number[], noCrc: [] as number[], base: [] as number[] };
    let p50: number[] = [];
    let p99: number[] = [];
    for (let round = 0; round < P.readRounds; round++) {
      const raw = timeIt((i) => readSync(fd, dst, 0, size, valueAt(ptrs[i]!)));
      // The baseline's reads go before this build's on even rounds and after them on odd ones.
      if (bm && round % 2 === 0) results.base.push(timeIt((i) => bm.read(ptrs[i]!)).ops);
      m.setDisableReadChecksum(false);
      const ours = timeIt((i) => m.read(ptrs[i]!));
      m.setDisableReadChecksum(true);
      const noCrc = timeIt((i) => m.read(ptrs[i]!));
      if (bm && round % 2 === 1) results.base.push(timeIt((i) => bm.read(ptrs[i]!)).ops);
      results.raw.push(raw.ops);
      results.ours.push(ours.ops);
      results.noCrc.push(noCrc.ops);
      p50 = [raw.p50, ours.p50, noCrc.p50];
      p99 = [raw.p99, ours.p99, noCrc.p99];
    }
    closeSync(fd);
    await m.close();
    await bm?.close();
    return { raw: median(results.raw), ours: median(results.ours), oursNoCrc: median(results.noCrc), p50, p99, base: bm ? median(results.base) : NaN };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function memoryRun(): Promise<{ bytes: number; peakRss: number; startRss: number; wasm: number; mbs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-bench-'));
  try {
    const total = P.memoryMiB * 2 ** 20;
    const storage = new NodeStorage(dir);
    const segment = 256 * 2 ** 20;
    const values = Array.from({ length: 64 }, (_, i) => noise(4096, i + 1));
    const startRss = process.memoryUsage().rss;
    let peakRss = startRss;
    let seq = 1;
    let w = await Writer.open(storage, encodeFileId(0, seq), { bufferSize: BATCH });
    const t0 = performance.now();
    let written = 0;
    for (let i = 0; written < total; i++) {
      w.append(i + 1, values[i % 64]!);
      written += 4096;
      if (w.size >= segment) {
        await w.rotateTo(encodeFileId(0, ++seq));
      }
      if ((i & 4095) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    w.sync();
    w.close();
    const ms = performance.now() - t0;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    return { bytes: written, peakRss, startRss, wasm: wasmMemoryBytes(), mbs: mbPerSec(written, ms) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

say(`# Log benchmark: valuelog vs the raw file API (${new Date().toISOString().slice(0, 10)}${quick ? ', --quick' : ''})`);
say();
say(`Machine: ${machineInfo()}. Files in ${tmpdir()} (page cache; no fsync inside the timed loops).`);
say('Uncompressed values of random bytes, one value per frame (K = 1: 48 bytes of record and frame overhead per value).');
say('MB/s counts user payload only. Raw = `fs.writevSync` of the same value arrays in 256 KiB batches, and `fs.readSync` of the same value bytes at the same positions.');
say();
say('## Appends');
say();
const baseCells = (v: number, raw: number, fmt: (x: number) => string) => (baseline ? ` ${fmt(v)} | ${(v / raw).toFixed(2)} |` : '');
if (baseline) say(`Baseline: ${baselineArg}.`);
say(`| value size | raw writev MB/s | Writer.append MB/s | ratio | appendRawFrames MB/s | ratio | appends/s (append) |${baseline ? ' baseline Writer.append MB/s | ratio |' : ''}`);
say(`|---:|---:|---:|---:|---:|---:|---:|${baseline ? '---:|---:|' : ''}`);
const result: LogBenchJson = { runtime: runtimeName(), machine: machineInfo(), appends: [], reads: [], memory: undefined };
for (const size of SIZES) {
  const r = await appends(size);
  result.appends.push({ size, rawMBs: r.raw, appendMBs: r.ours, rawFramesMBs: r.oursRaw });
  say(`| ${size} B | ${r.raw.toFixed(0)} | ${r.ours.toFixed(0)} | ${(r.ours / r.raw).toFixed(2)} | ${r.oursRaw.toFixed(0)} | ${(r.oursRaw / r.raw).toFixed(2)} | ${fmtNum((r.ours * 1e6) / size)} |${baseCells(r.base, r.raw, (x) => x.toFixed(0))}`);
}
say();
say('## Random reads by pointer');
say();
say(`| value size | raw pread ops/s | Manager.read (CRC) ops/s | ratio | Manager.read (no CRC) ops/s | ratio | p50 / p99 µs raw | p50 / p99 µs CRC |${baseline ? ' baseline Manager.read (CRC) ops/s | ratio |' : ''}`);
say(`|---:|---:|---:|---:|---:|---:|---:|---:|${baseline ? '---:|---:|' : ''}`);
for (const size of SIZES) {
  const r = await reads(size);
  result.reads.push({ size, rawOps: r.raw, readOps: r.ours, noCrcOps: r.oursNoCrc, p50ns: r.p50[1]!, p99ns: r.p99[1]! });
  say(`| ${size} B | ${fmtNum(r.raw)} | ${fmtNum(r.ours)} | ${(r.ours / r.raw).toFixed(2)} | ${fmtNum(r.oursNoCrc)} | ${(r.oursNoCrc / r.raw).toFixed(2)} | ${(r.p50[0]! / 1e3).toFixed(2)} / ${(r.p99[0]! / 1e3).toFixed(2)} | ${(r.p50[1]! / 1e3).toFixed(2)} / ${(r.p99[1]! / 1e3).toFixed(2)} |${baseCells(r.base, r.raw, fmtNum)}`);
}
say();
say('p50/p99 are over batches of 500 reads (per-read latency is below the timer resolution).');
say();
const mem = await memoryRun();
result.memory = { bytes: mem.bytes, mbs: mem.mbs, startRss: mem.startRss, peakRss: mem.peakRss, wasm: mem.wasm };
say('## Memory over a long append run');
say();
say(`${(mem.bytes / 2 ** 30).toFixed(2)} GiB of 4 KiB values through Writer.append with rotation every 256 MiB: ${mem.mbs.toFixed(0)} MB/s; RSS ${(mem.startRss / 2 ** 20).toFixed(0)} MiB at start, peak ${(mem.peakRss / 2 ** 20).toFixed(0)} MiB; WebAssembly memory ${(mem.wasm / 2 ** 20).toFixed(1)} MiB.`);
if (json) {
  console.log(JSON.stringify(result));
} else {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'log.md'), out.join('\n') + '\n');
  console.log('\nwrote bench/results/log.md');
}
