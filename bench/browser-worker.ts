// The browser bench's measuring side: runs in a dedicated module worker of one Chromium page (where
// OPFS sync access handles exist), started by bench/browser.bench.ts. For each value size it times,
// interleaved over several runs:
//  - valuelog appends: ValueLog on OpfsStorage (compression 'none'), putMany of 1,000 values or one
//    put() per value with one durable commit at the end, or putMany + commit after every 1,000 values;
//  - the limit: the same values copied into 256 KiB batches and written through one
//    FileSystemSyncAccessHandle, flushed at the end or after every 1,000 values;
//  - IndexedDB in this same worker: the same values, 1,000 put() per readwrite transaction, integer
//    keys, each transaction awaited, with the default and with 'strict' durability;
// then random point reads: log.get by pointer (values put with putMany, grouped in frames, and with
// put, one per frame) vs IndexedDB get by key, batched (1,000 per readonly transaction) or one
// transaction per read, and the limit: sync-handle reads of the same bytes from a raw file. Progress and the result go to the page by postMessage.
import { init, OpfsStorage, SeededRandom, ValueLog, type ValuePtr } from '../src/index.js';
import { noise } from '../test/helpers.js';
import { latency, mbPerSec, median, type Latency } from './stats.js';

export interface BrowserBenchParams {
  sizes: number[];
  /** Payload MiB per write case and run. */
  writeMiB: number;
  runs: number;
  /** Payload MiB of the data set the reads run on (capped by writeMiB). */
  readMiB: number;
  /** Random reads per round (at most 512 MiB of values); one transaction per read runs a tenth. */
  reads: number;
}

export type WriteCase = 'raw' | 'raw-1000' | 'ours' | 'ours-put' | 'ours-1000' | 'idb-1000' | 'idb-1000-strict';
export const WRITE_CASES: WriteCase[] = ['raw', 'ours', 'ours-put', 'raw-1000', 'ours-1000', 'idb-1000', 'idb-1000-strict'];
export type ReadCase = 'raw' | 'ours' | 'ours-put' | 'idb-batched' | 'idb-single';
export const READ_CASES: ReadCase[] = ['raw', 'ours', 'ours-put', 'idb-batched', 'idb-single'];

export interface WriteFigure {
  /** Medians over the runs. */
  mbs: number;
  ops: number;
  /** ms per commit (flush, or awaited transaction) over all runs, or the final commit alone. */
  commit: Latency;
  /** Bytes in OPFS or IndexedDB after the run, by navigator.storage.estimate() (usage growth). */
  storedBytes: number;
}

export interface ReadFigure {
  ops: number;
  /** µs per read: batches of 100 (ours), of 1,000 (IndexedDB batched), single reads (one per transaction). */
  lat: Latency;
}

export interface BrowserBenchResult {
  userAgent: string;
  crossOriginIsolated: boolean;
  timerResolutionUs: number;
  quota: number;
  sizes: Array<{ size: number; count: number; readCount: number; writes: Record<WriteCase, WriteFigure>; reads: Record<ReadCase, ReadFigure> }>;
  seconds: number;
}

// The few OPFS and worker shapes used here (the DOM lib has neither sync access handles nor workers).
interface SyncHandle {
  read(buffer: Uint8Array, options?: { at?: number }): number;
  write(buffer: Uint8Array, options?: { at?: number }): number;
  flush(): void;
  close(): void;
}
interface Dir {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<Dir>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<{ createSyncAccessHandle(): Promise<SyncHandle> }>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
}
const scope = self as unknown as { postMessage(m: unknown): void; onmessage: ((e: { data: BrowserBenchParams }) => void) | null };
const log = (text: string) => scope.postMessage({ text });

const BATCH = 256 * 1024;
const COMMIT_EVERY = 1000;
const DIR = 'valuelog-bench';
const opfsRoot = () => navigator.storage.getDirectory() as unknown as Promise<Dir>;

async function clearOpfs(): Promise<void> {
  await (await opfsRoot()).removeEntry(DIR, { recursive: true }).catch(() => undefined);
}

async function usage(): Promise<number> {
  return (await navigator.storage.estimate()).usage ?? 0;
}

const ms = (t0: number) => performance.now() - t0;

interface Timed {
  ms: number;
  commits: number[];
}

// ------------------------------------------------------------------------------------------------
// The raw limit

async function rawRun(values: Uint8Array[], count: number, every: number, keep = false): Promise<Timed & { handle?: SyncHandle }> {
  const dir = await (await opfsRoot()).getDirectoryHandle(DIR, { create: true });
  const h = await (await dir.getFileHandle('raw.bin', { create: true })).createSyncAccessHandle();
  const buf = new Uint8Array(BATCH);
  const commits: number[] = [];
  const t0 = performance.now();
  let fill = 0;
  let at = 0;
  const drain = () => {
    h.write(fill === BATCH ? buf : buf.subarray(0, fill), { at });
    at += fill;
    fill = 0;
  };
  for (let i = 0; i < count; i++) {
    const v = values[i % values.length]!;
    if (v.length <= BATCH - fill) {
      buf.set(v, fill);
      fill += v.length;
    } else {
      for (let off = 0; off < v.length; ) {
        const n = Math.min(v.length - off, BATCH - fill);
        buf.set(v.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === BATCH) drain();
      }
    }
    if (fill === BATCH) drain();
    if ((i + 1) % every === 0 || i + 1 === count) {
      const c0 = performance.now();
      if (fill > 0) drain();
      h.flush();
      commits.push(ms(c0));
    }
  }
  const total = ms(t0);
  if (keep) return { ms: total, commits, handle: h };
  h.close();
  return { ms: total, commits };
}

// ------------------------------------------------------------------------------------------------
// valuelog

async function openLog(name = 'ours'): Promise<{ storage: OpfsStorage; log: ValueLog }> {
  const storage = await OpfsStorage.open(`${DIR}/${name}`);
  return { storage, log: await ValueLog.open(storage, { compression: 'none' }) };
}

async function oursRun(values: Uint8Array[], count: number, every: number, single: boolean, keep = false): Promise<Timed & { ptrs?: ValuePtr[]; store?: { storage: OpfsStorage; log: ValueLog } }> {
  const store = await openLog(single ? 'ours-put' : 'ours');
  const { log: vlog } = store;
  const commits: number[] = [];
  const ptrs: ValuePtr[] | undefined = keep ? [] : undefined;
  const chunk: Uint8Array[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i += COMMIT_EVERY) {
    const n = Math.min(COMMIT_EVERY, count - i);
    if (single) {
      for (let j = 0; j < n; j++) {
        const p = vlog.put(values[(i + j) % values.length]!);
        if (ptrs) ptrs.push(p);
      }
    } else {
      chunk.length = 0;
      for (let j = 0; j < n; j++) chunk.push(values[(i + j) % values.length]!);
      const p = vlog.putMany(chunk);
      if (ptrs) for (const x of p) ptrs.push(x);
    }
    if ((i + n) % every === 0 || i + n === count) {
      const c0 = performance.now();
      await vlog.commit();
      commits.push(ms(c0));
    }
  }
  const total = ms(t0);
  if (keep) return { ms: total, commits, ptrs: ptrs!, store };
  await vlog.close();
  store.storage.close();
  return { ms: total, commits };
}

// ------------------------------------------------------------------------------------------------
// IndexedDB

const request = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

const done = (tx: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });

async function dropDb(name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    // 'blocked' is no failure: the deletion waits for the closing connection's last transactions.
  });
}

async function openDb(name: string): Promise<IDBDatabase> {
  await dropDb(name);
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => r.result.createObjectStore('v');
  return request(r);
}

async function idbRun(values: Uint8Array[], count: number, durability: IDBTransactionDurability, keep = false): Promise<Timed & { db?: IDBDatabase }> {
  const db = await openDb('bench');
  const commits: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i += COMMIT_EVERY) {
    const c0 = performance.now();
    const tx = db.transaction('v', 'readwrite', { durability });
    const store = tx.objectStore('v');
    for (let j = i; j < Math.min(count, i + COMMIT_EVERY); j++) store.put(values[j % values.length]!, j);
    await done(tx);
    commits.push(ms(c0));
  }
  const total = ms(t0);
  if (keep) return { ms: total, commits, db };
  db.close();
  await dropDb('bench');
  return { ms: total, commits };
}

// ------------------------------------------------------------------------------------------------

async function writeCase(c: WriteCase, values: Uint8Array[], count: number): Promise<Timed> {
  switch (c) {
    case 'raw':
      return rawRun(values, count, count);
    case 'raw-1000':
      return rawRun(values, count, COMMIT_EVERY);
    case 'ours':
      return oursRun(values, count, count, false);
    case 'ours-put':
      return oursRun(values, count, count, true);
    case 'ours-1000':
      return oursRun(values, count, COMMIT_EVERY, false);
    case 'idb-1000':
      return idbRun(values, count, 'default');
    case 'idb-1000-strict':
      return idbRun(values, count, 'strict');
  }
}

/** Times `reads` calls of fn in chunks of `chunk`; per-call µs samples are chunk means. */
async function timeReads(order: Int32Array, chunk: number, fn: (from: number, to: number) => unknown): Promise<{ ops: number; samples: number[] }> {
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < order.length; i += chunk) {
    const to = Math.min(order.length, i + chunk);
    const c0 = performance.now();
    await fn(i, to);
    samples.push((ms(c0) * 1e3) / (to - i));
  }
  return { ops: (order.length * 1e3) / ms(t0), samples };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 61) if (a[i] !== b[i]) return false;
  return a[a.length - 1] === b[b.length - 1];
}

async function readCases(values: Uint8Array[], size: number, readCount: number, p: BrowserBenchParams): Promise<Record<ReadCase, ReadFigure>> {
  const raw = await rawRun(values, readCount, readCount, true);
  const grouped = await oursRun(values, readCount, COMMIT_EVERY, false, true);
  const single = await oursRun(values, readCount, COMMIT_EVERY, true, true);
  const db = (await idbRun(values, readCount, 'default', true)).db!;
  const h = raw.handle!;
  const rng = new SeededRandom(7);
  const order = Int32Array.from({ length: Math.min(p.reads, Math.floor(2 ** 29 / size)) }, () => rng.intn(readCount));
  const few = order.subarray(0, Math.max(100, Math.floor(p.reads / 10)));
  let bad = 0;
  const check = (i: number, v: unknown) => {
    if (!(v instanceof Uint8Array) || !same(v, values[i % values.length]!)) bad++;
  };
  const byPtr = (run: typeof grouped) => (from: number, to: number) => {
    const vlog = run.store!.log;
    const ptrs = run.ptrs!;
    for (let j = from; j < to; j++) {
      const v = vlog.get(ptrs[order[j]!]!);
      if (j % 97 === 0) check(order[j]!, v);
    }
  };
  const cases: Record<ReadCase, [Int32Array, number, (from: number, to: number) => unknown]> = {
    raw: [
      order,
      100,
      (from, to) => {
        for (let j = from; j < to; j++) {
          const v = new Uint8Array(size);
          h.read(v, { at: order[j]! * size });
          if (j % 97 === 0) check(order[j]!, v);
        }
      },
    ],
    ours: [order, 100, byPtr(grouped)],
    'ours-put': [order, 100, byPtr(single)],
    'idb-batched': [
      order,
      1000,
      async (from, to) => {
        const tx = db.transaction('v', 'readonly');
        const store = tx.objectStore('v');
        const got = [];
        for (let j = from; j < to; j++) got.push(request(store.get(order[j]!)));
        const vs = await Promise.all(got);
        for (let j = from; j < to; j += 97) check(order[j]!, vs[j - from]);
        await done(tx);
      },
    ],
    'idb-single': [
      few,
      1,
      async (from) => {
        const tx = db.transaction('v', 'readonly');
        check(few[from]!, await request(tx.objectStore('v').get(few[from]!)));
      },
    ],
  };
  const samples = Object.fromEntries(READ_CASES.map((c) => [c, { ops: [] as number[], lat: [] as number[] }])) as Record<ReadCase, { ops: number[]; lat: number[] }>;
  for (const c of READ_CASES) await timeReads(cases[c][0].subarray(0, 2000), cases[c][1], cases[c][2]); // warm-up
  for (let round = 0; round < Math.max(1, p.runs); round++) {
    for (const c of READ_CASES) {
      const r = await timeReads(...cases[c]);
      samples[c].ops.push(r.ops);
      samples[c].lat.push(...r.samples);
    }
  }
  h.close();
  for (const run of [grouped, single]) {
    await run.store!.log.close();
    run.store!.storage.close();
  }
  db.close();
  await dropDb('bench');
  await clearOpfs();
  if (bad > 0) throw new Error(`${bad} reads returned the wrong bytes`);
  return Object.fromEntries(READ_CASES.map((c) => [c, { ops: median(samples[c].ops), lat: latency(samples[c].lat) }])) as Record<ReadCase, ReadFigure>;
}

async function run(p: BrowserBenchParams): Promise<BrowserBenchResult> {
  const started = performance.now();
  await init();
  await clearOpfs();
  await dropDb('bench');
  const stamps = new Set<number>();
  for (let i = 0; i < 100_000 && stamps.size < 1000; i++) stamps.add(performance.now());
  const st = [...stamps].sort((a, b) => a - b);
  let res = Infinity;
  for (let i = 1; i < st.length; i++) res = Math.min(res, st[i]! - st[i - 1]!);
  const quota = (await navigator.storage.estimate()).quota ?? 0;
  const out: BrowserBenchResult = { userAgent: navigator.userAgent, crossOriginIsolated: (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true, timerResolutionUs: res * 1e3, quota, sizes: [], seconds: 0 };
  for (const size of p.sizes) {
    const values = Array.from({ length: 64 }, (_, i) => noise(size, i + 1));
    const count = Math.max(COMMIT_EVERY, Math.floor((p.writeMiB * 2 ** 20) / size));
    const warm = Math.min(count, Math.max(COMMIT_EVERY, Math.floor((4 * 2 ** 20) / size)));
    for (const c of WRITE_CASES) {
      await writeCase(c, values, warm);
      await clearOpfs();
    }
    const runs: Record<WriteCase, Array<Timed & { stored: number }>> = Object.fromEntries(WRITE_CASES.map((c) => [c, []])) as unknown as Record<WriteCase, Array<Timed & { stored: number }>>;
    for (let r = 0; r < p.runs; r++) {
      // Rotate the order of the cases from run to run, so that drift does not favour one of them.
      for (let k = 0; k < WRITE_CASES.length; k++) {
        const c = WRITE_CASES[(k + r) % WRITE_CASES.length]!;
        const before = await usage();
        const t = await writeCase(c, values, count);
        const stored = c.startsWith('idb') ? 0 : (await usage()) - before; // IndexedDB is dropped inside idbRun
        await clearOpfs();
        runs[c].push({ ...t, stored });
        log(`  ${size} B run ${r + 1}/${p.runs} ${c}: ${mbPerSec(count * size, t.ms).toFixed(0)} MB/s\n`);
      }
    }
    const writes = Object.fromEntries(
      WRITE_CASES.map((c) => {
        const rs = runs[c];
        const fig: WriteFigure = {
          mbs: median(rs.map((x) => mbPerSec(count * size, x.ms))),
          ops: median(rs.map((x) => (count * 1e3) / x.ms)),
          commit: latency(rs.flatMap((x) => x.commits)),
          storedBytes: median(rs.map((x) => x.stored)),
        };
        return [c, fig];
      }),
    ) as Record<WriteCase, WriteFigure>;
    const readCount = Math.min(count, Math.max(COMMIT_EVERY, Math.floor((p.readMiB * 2 ** 20) / size)));
    log(`  ${size} B reads over ${readCount} values\n`);
    const reads = await readCases(values, size, readCount, p);
    out.sizes.push({ size, count, readCount, writes, reads });
  }
  out.seconds = ms(started) / 1e3;
  return out;
}

scope.onmessage = ({ data }) => {
  run(data).then(
    (result) => scope.postMessage({ result }),
    (e: unknown) => scope.postMessage({ error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) }),
  );
};
