// Dictionary frames sized for reads: 'zstd-dict' with a trained dictionary at several
// `dictionary.frameBytes`, on the demo's JSON documents, in one run. Per setting: payload bytes per
// byte on disk, bytes on disk per payload byte, values per frame, write MB/s, and random reads by
// pointer (reads/s, p50/p99 per read), the read rounds alternated across the settings and medians
// taken. 'none' and 'lz4' are the references. Prints a Markdown table (bench/results/dict-frames.md).
//   node build/bench/dict-frames.bench.js [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDocs } from '../src/cli/demo.js';
import { init, NodeStorage, ValueLog, type ValueLogOptions, type ValuePtr } from '../src/index.node.js';
import { dirBytes, fmtNs, fmtNum, latency, machineInfo, median } from './harness.js';

const quick = process.argv.includes('--quick');
const DOCS = quick ? 20_000 : 100_000;
const ROUNDS = quick ? 3 : 7;
const READS_PER_ROUND = quick ? 5_000 : 20_000;
const KiB = 1024;

interface Setting {
  name: string;
  options: ValueLogOptions;
  /** Train the dictionary before loading (so every frame can use it). */
  dictionary: boolean;
}

const settings: Setting[] = [
  { name: 'none', options: { compression: 'none' }, dictionary: false },
  { name: 'lz4', options: { compression: 'lz4' }, dictionary: false },
  ...[1, 1 * KiB, 2 * KiB, 4 * KiB, 8 * KiB, 16 * KiB, 32 * KiB].map((frameBytes) => ({
    name: `zstd-dict, frameBytes ${frameBytes === 1 ? '1 (a value per frame)' : `${frameBytes / KiB} KiB`}`,
    options: { compression: 'zstd-dict', dictionary: { trainAfterBytes: 0, frameBytes } } as ValueLogOptions,
    dictionary: true,
  })),
];

await init();
const docs = makeDocs(DOCS, 1);
const training = makeDocs(4000, 99); // other documents than the loaded ones
const payload = docs.reduce((a, d) => a + d.length, 0);

interface Loaded {
  setting: Setting;
  dir: string;
  log: ValueLog;
  ptrs: ValuePtr[];
  writeMBps: number;
  disk: number;
  frames: number;
  readsPerSec: number[];
  latencies: number[];
}

const loaded: Loaded[] = [];
try {
  for (const setting of settings) {
    const dir = mkdtempSync(join(tmpdir(), 'valuelog-dictframes-'));
    let log = await ValueLog.open(new NodeStorage(dir), setting.options);
    if (setting.dictionary) await log.trainDictionary({ samples: training, size: 32 * KiB });
    const t0 = performance.now();
    const ptrs: ValuePtr[] = [];
    for (let i = 0; i < docs.length; i += 100) ptrs.push(...log.putMany(docs.slice(i, i + 100)));
    await log.commit();
    const writeMBps = payload / 1e6 / ((performance.now() - t0) / 1000);
    const st = log.stats();
    const frames = Object.values(st.compression.frames).reduce((a, b) => a + b, 0);
    await log.close();
    const disk = dirBytes(dir);
    // Reopened: reads come from the files (page cache), not from anything the writer kept.
    log = await ValueLog.open(new NodeStorage(dir), { readOnly: true });
    loaded.push({ setting, dir, log, ptrs, writeMBps, disk, frames, readsPerSec: [], latencies: [] });
  }
  let x = 1;
  for (let round = 0; round < ROUNDS; round++) {
    for (const l of loaded) {
      const lat: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < READS_PER_ROUND; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const s = performance.now();
        l.log.get(l.ptrs[x % l.ptrs.length]!);
        lat.push((performance.now() - s) * 1e6);
      }
      l.readsPerSec.push(READS_PER_ROUND / ((performance.now() - t0) / 1000));
      if (round > 0) l.latencies.push(...lat); // round 0 warms up
    }
  }
  console.log(`${machineInfo()}; ${fmtNum(DOCS)} JSON documents (${(payload / 1e6).toFixed(1)} MB, ${Math.round(payload / DOCS)} B each), putMany of 100, NodeStorage, 32 KiB dictionary trained on 4,000 other documents; random reads by pointer after a read-only reopen, ${ROUNDS} alternated rounds of ${fmtNum(READS_PER_ROUND)} (median reads/s; p50/p99 per read over rounds 2-${ROUNDS})\n`);
  const base = median(loaded.find((l) => l.setting.name === 'none')!.readsPerSec);
  console.log('| setting | bytes on disk ÷ payload | payload ÷ disk | values per frame | write MB/s | random reads/s | reads ÷ none | p50 | p99 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of loaded) {
    const reads = median(l.readsPerSec);
    const lt = latency(l.latencies);
    console.log(`| ${l.setting.name} | ${(l.disk / payload).toFixed(3)} | ${(payload / l.disk).toFixed(2)}× | ${(DOCS / l.frames).toFixed(1)} | ${l.writeMBps.toFixed(0)} | ${fmtNum(reads)} | ${(reads / base).toFixed(2)} | ${fmtNs(lt.p50)} | ${fmtNs(lt.p99)} |`);
  }
} finally {
  for (const l of loaded) {
    await l.log.close();
    rmSync(l.dir, { recursive: true, force: true });
  }
}
