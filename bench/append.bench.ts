// Per-record cost of appends (Node): Writer.append of one value per frame to a discarding sink (no
// I/O: the JavaScript and CRC cost alone) and ValueLog.putMany with compression 'none' to NodeStorage
// (1,000 values per putMany, a commit after each), at 100 B, 1 KiB and 4 KiB. Medians of several runs.
//   node build/bench/append.bench.js [--quick] [--baseline=<another build's build/src/index.node.js>]
// With --baseline, the same cases run against that build too, interleaved run by run in this process,
// in alternating order, and the table shows both side by side (e.g. a copy of build/ made before a
// change). The putMany figures include an fsync per 1,000 values and vary more from run to run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as current from '../src/index.node.js';
import { noise } from '../test/helpers.js';
import { mbPerSec, median } from './harness.js';

type Lib = typeof current;
const quick = process.argv.includes('--quick');
const baselineArg = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
const RUNS = quick ? 3 : 9;
const SINK_MIB = quick ? 32 : 128;
const LOG_MIB = quick ? 32 : 64;
const SIZES = [100, 1024, 4096];
const PER_PUT = 1000;

const libs: [string, Lib][] = [['this build', current]];
if (baselineArg) libs.unshift(['baseline', (await import(pathToFileURL(baselineArg).href)) as Lib]);
for (const [, lib] of libs) await lib.init();

function valuesOf(size: number): Uint8Array[] {
  return Array.from({ length: 64 }, (_, i) => noise(size, size * 64 + i + 1));
}

/** ns per Writer.append of `size`-byte values to a sink that discards. */
function sinkRun(lib: Lib, size: number, values: Uint8Array[]): number {
  const w = lib.Writer.fromSink(undefined, lib.encodeFileId(0, 1));
  const count = Math.floor((SINK_MIB << 20) / size);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) w.append(i + 1, values[i & 63]!);
  w.flush();
  return ((performance.now() - t0) * 1e6) / count;
}

/** MB/s of payload through ValueLog.putMany (compression 'none') with a commit after each putMany. */
async function logRun(lib: Lib, size: number, values: Uint8Array[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-append-'));
  try {
    const storage = new lib.NodeStorage(dir);
    const log = await lib.ValueLog.open(storage, { compression: 'none' });
    const count = Math.floor((LOG_MIB << 20) / size);
    const chunk: Uint8Array[] = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i += PER_PUT) {
      chunk.length = 0;
      for (let j = i; j < Math.min(count, i + PER_PUT); j++) chunk.push(values[j & 63]!);
      log.putMany(chunk);
      await log.commit();
    }
    const ms = performance.now() - t0;
    await log.close();
    return mbPerSec(count * size, ms);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[] = [];
for (const size of SIZES) {
  const values = valuesOf(size);
  const sink = new Map<string, number[]>();
  const log = new Map<string, number[]>();
  for (const [, lib] of libs) sinkRun(lib, size, values); // warm-up
  for (let r = 0; r < RUNS; r++) {
    for (const [name, lib] of r % 2 ? [...libs].reverse() : libs) {
      sink.set(name, [...(sink.get(name) ?? []), sinkRun(lib, size, values)]);
      log.set(name, [...(log.get(name) ?? []), await logRun(lib, size, values)]);
    }
  }
  const cells = libs.map(([name]) => `${(median(sink.get(name)!) / 1000).toFixed(2)} µs`);
  const mbs = libs.map(([name]) => `${median(log.get(name)!).toFixed(0)} MB/s`);
  const ratio = (m: Map<string, number[]>, inv: boolean) => {
    if (libs.length < 2) return '';
    const a = median(m.get('baseline')!);
    const b = median(m.get('this build')!);
    return ` (${((inv ? a / b - 1 : b / a - 1) * 100).toFixed(0)}%)`;
  };
  rows.push(`| ${size} B | ${cells.join(' → ')}${ratio(sink, true)} | ${mbs.join(' → ')}${ratio(log, false)} |`);
}
const heading = libs.map(([n]) => n).join(' → ');
console.log(`\nNode ${process.version}, medians of ${RUNS} runs (${heading}); % = speed-up\n`);
console.log('| value | Writer.append to a sink, per append | ValueLog.putMany + commit to NodeStorage |');
console.log('| --- | --- | --- |');
for (const r of rows) console.log(r);
