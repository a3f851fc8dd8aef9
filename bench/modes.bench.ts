// The facade's compression modes on JSON documents (the demo's generator): bytes on disk, write
// MB/s (training and the final sync included) and random reads by pointer, per mode, in one run.
// Prints a table (README "Dictionaries" quotes it).   node build/bench/modes.bench.js [--quick]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDocs } from '../src/cli/demo.js';
import { init, NodeStorage, ValueLog, type Compression, type ValuePtr } from '../src/index.node.js';
import { fmtNum, machineInfo } from './harness.js';

const quick = process.argv.includes('--quick');
const DOCS = quick ? 20_000 : 100_000;
const READS = quick ? 20_000 : 100_000;

await init();
const docs = makeDocs(DOCS, 1);
const raw = docs.reduce((a, d) => a + d.length, 0);
console.log(`${machineInfo()}; ${fmtNum(DOCS)} JSON documents, ${(raw / 1e6).toFixed(1)} MB, putMany of 100, NodeStorage\n`);
console.log('| mode | payload ÷ bytes on disk | write MB/s | random reads/s |');
console.log('|---|---:|---:|---:|');
for (const compression of ['none', 'lz4', 'zstd-dict', 'auto'] as Compression[]) {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-modes-'));
  try {
    const log = await ValueLog.open(new NodeStorage(dir), { compression });
    const t0 = performance.now();
    const ptrs: ValuePtr[] = [];
    for (let i = 0; i < docs.length; i += 100) {
      ptrs.push(...log.putMany(docs.slice(i, i + 100)));
      if (i % 10_000 === 0) await log.idle(); // let background training land, as an application's awaits would
    }
    await log.idle();
    await log.commit();
    const mbps = raw / 1e6 / ((performance.now() - t0) / 1000);
    let x = 1;
    const t1 = performance.now();
    for (let i = 0; i < READS; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      log.get(ptrs[x % ptrs.length]!);
    }
    const reads = READS / ((performance.now() - t1) / 1000);
    await log.close();
    const disk = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    console.log(`| ${compression} | ${(raw / disk).toFixed(2)}× | ${mbps.toFixed(0)} | ${fmtNum(reads)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
