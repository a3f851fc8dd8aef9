// valuelog against the stores a Node user would otherwise pick, side by side in one run (issue 6,
// Node part): lmdb-js (`lmdb`), LevelDB (`classic-level`) and the raw file API as the limit.
//  - loads of fixed-size values (100 B, 1 KiB, 4 KiB, 64 KiB) with no durable commit, a durable
//    commit every 1,000 values, and a durable commit after every value;
//  - random point reads (valuelog by the pointers its appends returned; the peers by key), and a
//    full sequential scan;
//  - JSON documents with and without a trained zstd dictionary: ratio and on-disk bytes.
// Every measured run is a fresh child process (so peak RSS, threads and mmaps belong to one store and
// one run); runs are interleaved across stores; figures are medians over the runs.
//   node build/bench/peers.bench.js [--quick]
// The peers are devDependencies of the bench only and are loaded with a dynamic import(): a peer that
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init } from '../src/index.node.js';
import { mbPerSec as mbs } from './harness.js';
import { Results } from './peers/aggregate.js';
import { JSON_STORE_IDS } from './peers/json.js';
import { runLoads } from './peers/loads.js';
import { importPeer, root } from './peers/packages.js';
import { runRead } from './peers/reads.js';
import { peersCharts, peersReport } from './peers/report.js';
import { MiB, SIZES, workKey, type LoadResult, type LoadTask, type Mode, type Params, type ReadResult, type ReadTask, type StoreId, type Work } from './peers/types.js';

const here = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Child entry point

if (process.argv[2] === '--task') {
  const task = JSON.parse(process.argv[3]!) as LoadTask | ReadTask;
  await init();
  const result = task.op === 'load' ? await runLoads(task) : await runRead(task);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Orchestrator

const quick = process.argv.includes('--quick');
const runsArg = process.argv.find((a) => a.startsWith('--runs='));
const params: Params = quick
  ? { volume: 32 * MiB, warmup: 16 * MiB, c1Count: 200, jsonVolume: 8 * MiB, jsonDistinct: 10_000, reads: 10_000, readBytes: 256 * MiB, jsonReads: 5_000, asyncReads: 1_000, runs: 1 }
  : { volume: 256 * MiB, warmup: 32 * MiB, c1Count: 1_000, jsonVolume: 256 * MiB, jsonDistinct: 50_000, reads: 100_000, readBytes: 2048 * MiB, jsonReads: 20_000, asyncReads: 5_000, runs: 3 };
if (runsArg) params.runs = Math.max(1, Number(runsArg.slice('--runs='.length)) | 0);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

// Which peers load here.
const peerNames: Record<string, string> = { lmdb: 'lmdb', 'classic-level': 'classic-level' };
const missing = new Map<string, string>();
for (const name of Object.values(peerNames)) {
  const r = await importPeer<unknown>(name);
  if ('error' in r) missing.set(name, r.error);
}
const available = (s: StoreId) => !missing.has(s === 'lmdb-lz4' ? 'lmdb' : s);
const FIXED_STORES = (['valuelog', 'raw', 'lmdb', 'classic-level'] as StoreId[]).filter(available);
const JSON_STORES = JSON_STORE_IDS.filter(available);
/** Order of the timed loads inside a load child: smallest footprint first, so that each phase's peak RSS is least affected by the ones before it. */
const LOAD_ORDER: Mode[] = ['c1', 'c1000', 'none'];

const base = mkdtempSync(join(tmpdir(), 'valuelog-peers-'));
const res = new Results();
const failures: string[] = [];

function runTask<T>(task: LoadTask | ReadTask): T | undefined {
  const r = spawnSync(process.execPath, [here, '--task', JSON.stringify(task)], { encoding: 'utf8', maxBuffer: 64 * MiB, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) {
    const why = `${task.op} ${task.store} ${workKey(task.work)}: child exited with ${r.status ?? r.signal}`;
    failures.push(why);
    console.log(`  FAILED ${why}`);
    return undefined;
  }
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/** One load child (warm-up, then the modes), then one read child over the no-commit data. */
function loadAndRead(run: number, store: StoreId, work: Work, modes: Mode[], scan: boolean, read = true): void {
  const dir = join(base, `${run}-${store}-${workKey(work)}`);
  try {
    const ls = runTask<Partial<Record<Mode, LoadResult>>>({ op: 'load', store, work, modes, dir, params });
    if (!ls) return;
    for (const mode of modes) if (ls[mode]) res.addLoad(mode, workKey(work), store, ls[mode]!);
    const r = read ? runTask<ReadResult>({ op: 'read', store, work, dir: `${dir}-none`, params, scan }) : undefined;
    if (r) res.addRead(workKey(work), store, r);
    const l = ls.none;
    console.log(
      `  [${elapsed()}] ${store} ${workKey(work)}: ` +
        modes.map((m) => `${m} ${ls[m] ? mbs(ls[m]!.payload, ls[m]!.ms).toFixed(m === 'c1' ? 1 : 0) : '?'} MB/s`).join(', ') +
        (r ? `; reads ${((r.reads * 1e3) / r.ms / 1e3).toFixed(0)} k/s` + (r.scan ? `, scan ${mbs(r.scan.bytes, r.scan.ms).toFixed(0)} MB/s` : '') : '') +
        (l ? '' : ' (no-commit load missing)'),
    );
  } finally {
    for (const suffix of ['-none', '-c1000', '-c1', '-warmup']) rmSync(`${dir}${suffix}`, { recursive: true, force: true });
    rmSync(`${dir}-none.ptrs.json`, { force: true });
  }
}

/** Rotates the contenders by run so that none is always first after a heavy one. */
const rotate = <T>(xs: T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]!);

console.log(`peers benchmark${quick ? ' (--quick)' : ''}: ${params.runs} run(s), stores: ${FIXED_STORES.join(', ')}`);
for (const [name, why] of missing) console.log(`${name}: not installed (${why})`);
try {
  for (let run = 0; run < params.runs; run++) {
    console.log(`run ${run + 1} of ${params.runs}`);
    for (const size of SIZES) {
      for (const store of rotate(FIXED_STORES, run)) loadAndRead(run, store, { kind: 'fixed', size }, LOAD_ORDER, true);
      loadAndRead(run, 'valuelog-4m', { kind: 'fixed', size }, ['none'], false, false);
    }
    for (const store of rotate(JSON_STORES, run)) loadAndRead(run, store, { kind: 'json' }, ['none'], false);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
const totalSeconds = (performance.now() - started) / 1000;

const input = { quick, params, missing, failures, totalSeconds, fixedStores: FIXED_STORES, jsonStores: JSON_STORES, res, date: new Date().toISOString().slice(0, 10) };
const markdown = peersReport(input);
const { appendsSvg, readsSvg } = peersCharts(input);

const dest = quick ? join(tmpdir(), 'valuelog-peers-quick') : join(root, 'bench', 'results');
mkdirSync(dest, { recursive: true });
writeFileSync(join(dest, 'peers.md'), markdown);
writeFileSync(join(dest, 'peers-appends.svg'), appendsSvg);
writeFileSync(join(dest, 'peers-reads.svg'), readsSvg);
console.log(`\nwrote ${join(dest, 'peers.md')}, peers-appends.svg, peers-reads.svg${quick ? ' (--quick results are not written to bench/results)' : ''}; ${(totalSeconds / 60).toFixed(1)} min`);
