// `npm run demo` (`valuelog demo`): what a new user would write. For each compression mode it opens a
// ValueLog in its own directory, puts a few hundred thousand JSON documents of mixed sizes in batches
// with a commit each, reads them back by pointer in random order and by a scan of every segment,
// verifies every byte, and prints what it measured. With --keep (or --dir DIR) the logs stay, and the
// demo ends with the CLI commands to try on them.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DictionaryStore, init, NodeStorage, parseSegmentFileName, Reader, SeededRandom, ValueLog, type Compression, type ValuePtr } from '../index.node.js';

const COUNT = Number(process.env.VALUELOG_DEMO_COUNT ?? 200_000);
const enc = new TextEncoder();

/** The demo's JSON documents: mixed sizes (100 B – 4 KiB, ~360 B on average), reproducible for a seed. */
export function makeDocs(n: number, seed: number): Uint8Array[] {
  const rng = new SeededRandom(seed);
  const cities = ['Lisbon', 'Osaka', 'Quito', 'Tallinn', 'Accra', 'Perth', 'Bergen', 'Cusco'];
  const states = ['active', 'pending', 'suspended', 'closed'];
  const docs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const items = [];
    // Mixed sizes: most documents are small, some are a few KiB.
    const nItems = rng.intn(10) === 0 ? 20 + rng.intn(40) : rng.intn(4);
    for (let j = 0; j < nItems; j++) items.push({ sku: `SKU-${rng.intn(5000)}`, qty: 1 + rng.intn(9), price: rng.intn(100000) / 100 });
    const doc = {
      id: i,
      user: `user-${rng.intn(50000)}`,
      email: `u${rng.intn(50000)}@example.com`,
      city: cities[rng.intn(cities.length)],
      state: states[rng.intn(states.length)],
      createdAt: new Date(1_700_000_000_000 + rng.intn(1e9) * 1000).toISOString(),
      items,
    };
    docs.push(enc.encode(JSON.stringify(doc)));
  }
  return docs;
}

interface Row {
  codec: string;
  values: number;
  rawMB: number;
  diskMB: number;
  writeMBs: number;
  readOps: number;
  scanMBs: number;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Documents per putMany + commit (a commit is one sync: batching is how a log is fed quickly). */
const BATCH = 1000;

async function run(mode: Compression, dir: string, docs: Uint8Array[], training: Uint8Array[]): Promise<Row> {
  const storage = new NodeStorage(dir);
  const log = await ValueLog.open(storage, { compression: mode, dictionary: { trainAfterBytes: 0 } });
  try {
    if (mode === 'zstd-dict') await log.trainDictionary({ samples: training });
    const raw = docs.reduce((a, d) => a + d.length, 0);
    const ptrs: ValuePtr[] = [];
    let t0 = performance.now();
    for (let i = 0; i < docs.length; i += BATCH) {
      ptrs.push(...log.putMany(docs.slice(i, i + BATCH)));
      await log.commit();
    }
    const writeMs = performance.now() - t0;
    const disk = log.stats().totalBytes;

    const rng = new SeededRandom(7);
    const order = Array.from({ length: docs.length }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.intn(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const snap = await log.snapshot();
    const got: Uint8Array[] = new Array<Uint8Array>(docs.length);
    t0 = performance.now();
    for (const i of order) got[i] = snap.get(ptrs[i]!);
    const readMs = performance.now() - t0;
    await snap.release();
    got.forEach((v, i) => {
      if (!equal(v, docs[i]!)) throw new Error(`${mode}: value ${i} read back wrong`);
    });

    // A scan of every segment in order (the log's dictionaries resolve its frames).
    const dicts = (await DictionaryStore.open(storage)).lookup;
    const segments = (await storage.list()).map((n) => parseSegmentFileName(n)).filter((id): id is number => id !== undefined).sort((a, b) => a - b);
    let scanned = 0;
    t0 = performance.now();
    for (const id of segments) {
      const r = await Reader.open(storage, id);
      r.setDictLookup(dicts);
      for (const e of r) {
        if (!equal(e.value!, docs[scanned]!)) throw new Error(`${mode}: scan mismatch at ${scanned}`);
        scanned++;
      }
      r.close();
    }
    const scanMs = performance.now() - t0;
    if (scanned !== docs.length) throw new Error(`${mode}: scan found ${scanned} of ${docs.length} values`);
    return { codec: mode, values: docs.length, rawMB: raw / 1e6, diskMB: disk / 1e6, writeMBs: raw / 1e3 / writeMs, readOps: (docs.length * 1000) / readMs, scanMBs: raw / 1e3 / scanMs };
  } finally {
    await log.close();
  }
}

export interface DemoOptions {
  /** Keep the logs (in a temporary directory whose path is printed). */
  keep?: boolean;
  /** Write the logs below this directory (created if needed) and keep them. */
  dir?: string;
}

/** Runs the demo (the `demo` command of the CLI and `npm run demo`). */
export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  await init();
  const keep = opts.keep === true || opts.dir !== undefined;
  let root: string;
  if (opts.dir !== undefined) {
    root = resolve(opts.dir);
    if (existsSync(root)) throw new Error(`${root} already exists: the demo writes into a new directory`);
    mkdirSync(root, { recursive: true });
  } else root = mkdtempSync(join(tmpdir(), 'valuelog-demo-'));
  try {
    console.log(`valuelog demo: ${COUNT.toLocaleString()} JSON documents of mixed sizes, Node ${process.versions.node}, logs in ${root}`);
    const docs = makeDocs(COUNT, 1);
    const training = makeDocs(4000, 99);
    const rows: Row[] = [];
    const modes: Compression[] = ['none', 'snappy', 'lz4', 'zstd-dict'];
    for (const mode of modes) rows.push(await run(mode, join(root, mode), docs, training));
    const pad = (s: string, n: number) => s.padStart(n);
    console.log(`\n${'codec'.padEnd(10)}${pad('values', 9)}${pad('raw MB', 9)}${pad('disk MB', 9)}${pad('ratio', 7)}${pad('write MB/s', 12)}${pad('reads/s', 11)}${pad('scan MB/s', 11)}`);
    for (const r of rows) {
      console.log(
        `${r.codec.padEnd(10)}${pad(r.values.toLocaleString(), 9)}${pad(r.rawMB.toFixed(1), 9)}${pad(r.diskMB.toFixed(1), 9)}${pad((r.rawMB / r.diskMB).toFixed(2), 7)}` +
          `${pad(r.writeMBs.toFixed(0), 12)}${pad(Math.round(r.readOps).toLocaleString(), 11)}${pad(r.scanMBs.toFixed(0), 11)}`,
      );
    }
    console.log(`\nValueLog.open per mode, putMany of ${BATCH} documents + commit (a durable sync) per batch; write MB/s counts raw JSON bytes.`);
    console.log('Reads/s are random reads by pointer through a snapshot. Every value was verified after those reads and after a scan of every segment.');
    if (keep) {
      const d = join(root, 'zstd-dict');
      console.log(`\nThe logs are kept in ${root} (one directory per mode). Try:`);
      for (const c of [`inspect ${d}`, `verify ${d}`, `stats ${d}`, `dump ${join(d, 'value-l0-000001.log')} | head -3`]) console.log(`  npx valuelog ${c}`);
    }
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}
