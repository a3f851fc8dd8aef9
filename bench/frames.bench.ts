// How big uncompressed frames should be (ValueLogOptions.rawFrameBytes): appends and random reads of
// ValueLog on NodeStorage, compression 'none', for several frame targets side by side, per value size.
// A read checks the CRC of its whole frame, so frame size is read amplification; small values gain
// from grouping on the append side. Writes bench/results/frames.md.
//   node build/bench/frames.bench.js [--quick]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, NodeStorage, ValueLog, type ValuePtr } from '../src/index.node.js';
import { fmtNum, machineInfo, median } from './harness.js';
import { noise } from '../test/helpers.js';

const quick = process.argv.includes('--quick');
const MIB = quick ? 16 : 64;
const RUNS = quick ? 1 : 3;
const READS = quick ? 20_000 : 100_000;
const sizes = [100, 1024, 4096];
const targets = [16384, 4096, 1024, 1];

await init();

async function run(size: number, target: number): Promise<{ mbps: number; reads: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-frames-'));
  try {
    const log = await ValueLog.open(new NodeStorage(dir), { rawFrameBytes: target });
    const pool = Array.from({ length: 64 }, (_, i) => noise(size, i + 1));
    const n = Math.floor((MIB << 20) / size);
    const ptrs: ValuePtr[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i += 1000) {
      ptrs.push(...log.putMany(Array.from({ length: Math.min(1000, n - i) }, (_, j) => pool[(i + j) & 63]!)));
      await log.commit();
    }
    const seconds = (performance.now() - t0) / 1000;
    let x = 1;
    const t1 = performance.now();
    for (let i = 0; i < READS; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0; // 32-bit LCG (a float product would lose the low bits)
      if (log.get(ptrs[x % ptrs.length]!).length !== size) throw new Error('wrong value size');
    }
    const reads = READS / ((performance.now() - t1) / 1000);
    await log.close();
    return { mbps: MIB / seconds, reads };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[] = [];
for (const size of sizes) {
  for (const target of targets) {
    const r = [];
    for (let i = 0; i < RUNS; i++) r.push(await run(size, target));
    const mbps = median(r.map((x) => x.mbps));
    const reads = median(r.map((x) => x.reads));
    const k = target === 1 ? 1 : Math.max(1, Math.min(128, Math.floor(target / size)));
    rows.push(`| ${size} B | ${target === 1 ? '1 (never group)' : `${target} B`}${target === 1024 ? ' (default)' : ''} | ${k} | ${mbps.toFixed(0)} | ${fmtNum(reads)} |`);
    console.log(rows[rows.length - 1]);
  }
}

const out = [
  `# Uncompressed frame size: appends vs random reads (${new Date().toISOString().slice(0, 10)}${quick ? ', --quick' : ''})`,
  '',
  `${machineInfo()}. ValueLog on NodeStorage (page cache), compression 'none', ${MIB} MiB of noise values per case, putMany of 1,000 + commit; then ${fmtNum(READS)} random \`get\` (CRC checked). Medians of ${RUNS} run(s).`,
  '',
  '| value size | rawFrameBytes | values per frame | append MB/s | random reads/s |',
  '|---:|---|---:|---:|---:|',
  ...rows,
  '',
  'A read checks the CRC of its whole frame: read cost follows frame size, so the default groups only values well under 1 KiB.',
  '',
];
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'frames.md'), out.join('\n'));
console.log('\nwrote bench/results/frames.md');
