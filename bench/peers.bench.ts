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
// is not installed is reported as such and the rest still runs.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import {
  chooseBlockGroupK,
  encodeFileId,
  init,
  Manager,
  NodeStorage,
  Reader,
  SeededRandom,
  trainDictionary,
  wasmMemoryBytes,
  Writer,
  type ValuePtr,
} from '../src/index.node.js';
import { latency, machineInfo, median } from './harness.js';
import { noise } from '../test/helpers.js';
import { makeDocs } from '../src/cli/demo.js';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..', '..');
const MiB = 2 ** 20;
const KiB = 1024;
/** The raw limit writes 256 KiB batches; "no commit" loads hand every store 256 KiB of payload per batch. */
const BATCH = 256 * KiB;
/** writev stays below the kernel's IOV_MAX (1024). */
const MAX_IOV = 960;
const SIZES = [100, 1024, 4096, 65536];

// ---------------------------------------------------------------------------------------------
// Shared types

type StoreId = 'valuelog' | 'valuelog-4m' | 'valuelog-zstd-dict' | 'valuelog-zstd-dict-grouped' | 'raw' | 'lmdb' | 'lmdb-lz4' | 'classic-level';
type Mode = 'none' | 'c1000' | 'c1';
type Work = { kind: 'fixed'; size: number } | { kind: 'json' };

interface Params {
  /** Payload per load run with no commit or a commit every 1,000 values. */
  volume: number;
  /** Durable commits (values) per run when committing after every value. */
  c1Count: number;
  /** Payload of the untimed warm-up load each load child runs first (JIT and WebAssembly tier-up). */
  warmup: number;
  /** Payload per JSON load run. */
  jsonVolume: number;
  /** Distinct JSON documents (cycled to reach jsonVolume). */
  jsonDistinct: number;
  /** Random reads per read run (fixed sizes), at most this many bytes' worth. */
  reads: number;
  readBytes: number;
  jsonReads: number;
  /** Reads through classic-level's asynchronous get(). */
  asyncReads: number;
  runs: number;
}

interface LoadTask {
  op: 'load';
  store: StoreId;
  work: Work;
  /** Timed loads, in this order, after one untimed warm-up load; `${dir}-none` is kept for the read run. */
  modes: Mode[];
  dir: string;
  params: Params;
}

interface ReadTask {
  op: 'read';
  store: StoreId;
  work: Work;
  dir: string;
  params: Params;
  scan: boolean;
}

interface Lat {
  p50: number;
  p99: number;
  p999: number;
  /** Operations per latency sample (1 = each operation timed on its own). */
  per: number;
  samples: number;
}

interface LoadResult {
  values: number;
  payload: number;
  ms: number;
  lat: Lat;
  dirBytes: number;
  ioBytes: number | undefined;
  startRss: number;
  peakRss: number;
  wasm: number | undefined;
}

interface ReadResult {
  reads: number;
  readBytes: number;
  ms: number;
  lat: Lat;
  startRss: number;
  peakRss: number;
  wasm: number | undefined;
  async?: { reads: number; ms: number; lat: Lat };
  /** valuelog only: the same reads with CRC verification off. */
  noCrc?: { reads: number; ms: number; lat: Lat };
  scan?: { values: number; bytes: number; ms: number; lat: Lat; peakRss: number };
}

// ---------------------------------------------------------------------------------------------
// Minimal shapes of the peers' APIs (loaded with a non-literal import() so that this file compiles
// and runs when a peer is missing).

interface LmdbDb {
  putSync(key: number, value: Uint8Array): boolean;
  transactionSync<T>(fn: () => T): T;
  get(key: number): Uint8Array | undefined;
  getRange(opts?: object): Iterable<{ key: unknown; value: Uint8Array }>;
  close(): Promise<void>;
}
interface LmdbModule {
  open(opts: Record<string, unknown>): LmdbDb;
}
interface LevelChainedBatch {
  put(key: Uint8Array, value: Uint8Array): LevelChainedBatch;
  write(opts?: { sync?: boolean }): Promise<void>;
}
interface LevelIterator {
  nextv(size: number): Promise<Uint8Array[]>;
  close(): Promise<void>;
}
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  put(key: Uint8Array, value: Uint8Array, opts?: { sync?: boolean }): Promise<void>;
  batch(): LevelChainedBatch;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getSync(key: Uint8Array): Uint8Array | undefined;
  values(opts?: Record<string, unknown>): LevelIterator;
}
interface ClassicLevelModule {
  ClassicLevel: new (location: string, opts: Record<string, unknown>) => LevelDb;
}

/** Peers live in bench/node_modules (bench/package.json), installed by bench/run.mjs. */
const peerRequire = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'package.json'));

async function importPeer<T>(name: string): Promise<{ mod: T } | { error: string }> {
  try {
    return { mod: (await import(pathToFileURL(peerRequire.resolve(name)).href)) as T };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    return { error: msg };
  }
}

function packageVersion(name: string): string {
  try {
    const dir = ['lmdb', 'classic-level', 'msgpackr'].includes(name) ? join(root, 'bench', 'node_modules') : join(root, 'node_modules');
    return (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------
// Data: values, JSON documents, keys, the random read order


interface Dataset {
  /** Values per timed load in each mode. */
  count: (mode: Mode) => number;
  value: (i: number) => Uint8Array;
  /** Values per "no commit" batch (about 256 KiB of payload). */
  batch: number;
  avgSize: number;
}

function dataset(work: Work, p: Params): Dataset {
  if (work.kind === 'fixed') {
    const size = work.size;
    // Values are distinct windows of an 8 MiB random pool (incompressible, no repeats within a block).
    const poolLen = 8 * MiB;
    const pool = noise(poolLen + size, 7);
    const span = poolLen - 64;
    const n = Math.ceil(p.volume / size);
    return {
      count: (mode) => (mode === 'c1' ? Math.min(p.c1Count, n) : n),
      value: (i) => {
        const off = ((Math.imul(i, 0x9e3779b1) >>> 0) % span) & ~7;
        return pool.subarray(off, off + size);
      },
      batch: Math.max(1, Math.round(BATCH / size)),
      avgSize: size,
    };
  }
  const docs = makeDocs(p.jsonDistinct, 1);
  const avg = docs.reduce((a, d) => a + d.length, 0) / docs.length;
  const n = Math.ceil(p.jsonVolume / avg);
  return { count: (mode) => (mode === 'c1' ? Math.min(p.c1Count, n) : n), value: (i) => docs[i % docs.length]!, batch: Math.max(1, Math.round(BATCH / avg)), avgSize: avg };
}

function readOrder(count: number, reads: number, seed: number): Int32Array {
  const rng = new SeededRandom(seed);
  const order = new Int32Array(reads);
  for (let i = 0; i < reads; i++) order[i] = rng.intn(count);
  return order;
}

function readCount(work: Work, p: Params): number {
  return work.kind === 'json' ? p.jsonReads : Math.min(p.reads, Math.max(1000, Math.floor(p.readBytes / work.size)));
}

function levelKey(i: number): Uint8Array {
  const k = new Uint8Array(4);
  k[0] = i >>> 24;
  k[1] = (i >>> 16) & 0xff;
  k[2] = (i >>> 8) & 0xff;
  k[3] = i & 0xff;
  return k;
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/** Latency samples in ns (per unit for loads and scans, per read for reads). */
class Samples {
  private xs: number[] = [];
  constructor(readonly per: number) {}
  push(ns: number): void {
    this.xs.push(ns);
  }
  lat(): Lat {
    return { ...latency(this.xs), per: this.per };
  }
}

class RssPeak {
  peak: number;
  readonly start: number;
  private last = 0;
  constructor() {
    this.start = process.memoryUsage.rss();
    this.peak = this.start;
  }
  /** Samples RSS at most every 5 ms of wall time. */
  maybe(now: number): void {
    if (now - this.last >= 5) {
      this.last = now;
      const r = process.memoryUsage.rss();
      if (r > this.peak) this.peak = r;
    }
  }
  now(): void {
    const r = process.memoryUsage.rss();
    if (r > this.peak) this.peak = r;
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    total += st.isDirectory() ? dirBytes(join(dir, name)) : st.size;
  }
  return total;
}

/** Bytes this process caused to be sent to the storage layer (Linux /proc/self/io), or undefined. */
function ioWriteBytes(): number | undefined {
  try {
    const m = /write_bytes:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function valuelogDict(): Uint8Array {
  return trainDictionary(makeDocs(4000, 99), { size: 32 * KiB, dictId: 1 });
}

// ---------------------------------------------------------------------------------------------
// Child: loads

/**
 * One load of `n` values into `dir` in `mode`. With `order`, keeps the pointers (valuelog) or offsets
 * (raw) of the values a read run will fetch and writes them to `${dir}.ptrs.json`.
 */
async function loadOnce(store: StoreId, ds: Dataset, dict: Uint8Array | undefined, dir: string, mode: Mode, n: number, order?: Int32Array): Promise<LoadResult> {
  const unitSize = mode === 'none' ? ds.batch : mode === 'c1000' ? 1000 : 1;
  const durable = mode !== 'none';
  const samples = new Samples(unitSize);
  const want = new Int32Array(order ? n : 0).fill(-1);
  if (order) for (let k = 0; k < order.length; k++) if (want[order[k]!]! < 0) want[order[k]!] = k;
  const kept: Array<[number, number, number]> = new Array(order?.length ?? 0);
  let payload = 0;
  for (let i = 0; i < n; i++) payload += ds.value(i).length;
  mkdirSync(dir, { recursive: true });
  const io0 = ioWriteBytes();
  let rss!: RssPeak;
  let t0 = 0;
  let wasm: number | undefined;

  /** Runs unit(from, to) over the whole dataset, timing each unit. */
  const units = async (unit: (from: number, to: number) => void | Promise<void>): Promise<void> => {
    for (let i = 0; i < n; i += unitSize) {
      const u0 = performance.now();
      const r = unit(i, Math.min(n, i + unitSize));
      if (r) await r;
      const u1 = performance.now();
      samples.push((u1 - u0) * 1e6);
      rss.maybe(u1);
    }
  };

  if (store === 'valuelog' || store === 'valuelog-4m' || store === 'valuelog-zstd-dict' || store === 'valuelog-zstd-dict-grouped') {
    const storage = new NodeStorage(dir);
    const opts = dict ? { dictId: 1, dict } : {};
    const k = store === 'valuelog-zstd-dict-grouped' ? chooseBlockGroupK(128, ds.avgSize * 128, 4096, 0.35) : 1;
    const w = await Writer.open(storage, encodeFileId(0, 1), store === 'valuelog-4m' ? { bufferSize: 4 * 1024 * 1024 } : { bufferSize: BATCH });
    const keep = (i: number, p: ValuePtr) => {
      if (order && want[i]! >= 0) kept[want[i]!] = [p.fileId, p.offset, p.length];
    };
    rss = new RssPeak();
    t0 = performance.now();
    await units((from, to) => {
      if (k === 1) {
        for (let i = from; i < to; i++) keep(i, w.append(i + 1, ds.value(i), opts));
      } else {
        for (let i = from; i < to; i += k) {
          const recs = [];
          for (let j = i; j < Math.min(to, i + k); j++) recs.push({ rid: j + 1, value: ds.value(j) });
          const { ptrs } = w.appendFrame(recs, opts);
          for (let j = 0; j < ptrs.length; j++) keep(i + j, ptrs[j]!);
        }
      }
      if (durable) w.sync();
    });
    w.close();
    wasm = wasmMemoryBytes();
  } else if (store === 'raw') {
    const fd = openSync(join(dir, 'raw.log'), 'w+');
    let batch: Uint8Array[] = [];
    let bytes = 0;
    let at = 0;
    const flush = () => {
      if (batch.length) writevSync(fd, batch, at);
      at += bytes;
      batch = [];
      bytes = 0;
    };
    rss = new RssPeak();
    t0 = performance.now();
    await units((from, to) => {
      for (let i = from; i < to; i++) {
        const v = ds.value(i);
        if (order && want[i]! >= 0) kept[want[i]!] = [0, at + bytes, v.length];
        batch.push(v);
        bytes += v.length;
        if (bytes >= BATCH || batch.length >= MAX_IOV) flush();
      }
      if (durable) {
        flush();
        fdatasyncSync(fd);
      }
    });
    flush();
    closeSync(fd);
  } else if (store === 'lmdb' || store === 'lmdb-lz4') {
    const lmdb = await importPeer<LmdbModule>('lmdb');
    if ('error' in lmdb) throw new Error(lmdb.error);
    // No commit: noSync (LMDB never flushes). Durable: overlappingSync off, so that every commit
    // (transactionSync / putSync) returns after LMDB's own sync of the commit.
    const db = lmdb.mod.open({
      path: dir,
      compression: store === 'lmdb-lz4',
      encoding: 'binary',
      keyEncoding: 'uint32',
      ...(durable ? { overlappingSync: false } : { noSync: true }),
    });
    rss = new RssPeak();
    t0 = performance.now();
    if (mode === 'c1') {
      await units((from) => void db.putSync(from, ds.value(from)));
    } else {
      await units((from, to) =>
        db.transactionSync(() => {
          for (let i = from; i < to; i++) db.putSync(i, ds.value(i));
        }),
      );
    }
    await db.close();
  } else if (store === 'classic-level') {
    const level = await importPeer<ClassicLevelModule>('classic-level');
    if ('error' in level) throw new Error(level.error);
    const db = new level.mod.ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    rss = new RssPeak();
    t0 = performance.now();
    if (mode === 'c1') {
      await units((from) => db.put(levelKey(from), ds.value(from), { sync: true }));
    } else {
      await units((from, to) => {
        const b = db.batch();
        for (let i = from; i < to; i++) b.put(levelKey(i), ds.value(i));
        return b.write({ sync: durable });
      });
    }
    await db.close();
  } else {
    throw new Error(`unknown store ${store}`);
  }
  const ms = performance.now() - t0;
  rss.now();
  const io1 = ioWriteBytes();
  if (order && (store === 'raw' || store.startsWith('valuelog'))) {
    // Repeated indices in the read order share the first slot's pointer.
    for (let k = 0; k < order.length; k++) kept[k] ??= kept[want[order[k]!]!]!;
    writeFileSync(`${dir}.ptrs.json`, JSON.stringify(kept));
  }
  return {
    values: n,
    payload,
    ms,
    lat: samples.lat(),
    dirBytes: dirBytes(dir),
    ioBytes: io0 !== undefined && io1 !== undefined ? io1 - io0 : undefined,
    startRss: rss.start,
    peakRss: rss.peak,
    wasm,
  };
}

async function runLoads(t: LoadTask): Promise<Partial<Record<Mode, LoadResult>>> {
  const ds = dataset(t.work, t.params);
  const dict = t.store === 'valuelog-zstd-dict' || t.store === 'valuelog-zstd-dict-grouped' ? valuelogDict() : undefined;
  const warmDir = `${t.dir}-warmup`;
  await loadOnce(t.store, ds, dict, warmDir, 'none', Math.min(ds.count('none'), Math.ceil(t.params.warmup / ds.avgSize)));
  rmSync(warmDir, { recursive: true, force: true });
  const out: Partial<Record<Mode, LoadResult>> = {};
  for (const mode of t.modes) {
    const dir = `${t.dir}-${mode}`;
    const n = ds.count(mode);
    out[mode] = await loadOnce(t.store, ds, dict, dir, mode, n, mode === 'none' ? readOrder(n, readCount(t.work, t.params), 11) : undefined);
    if (mode !== 'none') rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Child: random reads (and a scan) over what a load run left behind

/**
 * An untimed warm-up pass over the same read order, then the timed pass. Reads that take under 2 µs
 * on average are timed in groups of G (each sample is the group's mean); slower ones one by one.
 */
function timeReads(count: number, read: (k: number) => number, rss: RssPeak): { ms: number; bytes: number; lat: Lat } {
  const w0 = performance.now();
  for (let k = 0; k < count; k++) read(k);
  const meanNs = ((performance.now() - w0) * 1e6) / count;
  const per = meanNs >= 2000 ? 1 : Math.min(64, Math.ceil(2000 / Math.max(meanNs, 1)));
  const samples = new Samples(per);
  let bytes = 0;
  const t0 = performance.now();
  for (let k = 0; k < count; k += per) {
    const end = Math.min(count, k + per);
    const g0 = performance.now();
    for (let j = k; j < end; j++) bytes += read(j);
    const g1 = performance.now();
    samples.push(((g1 - g0) * 1e6) / (end - k));
    rss.maybe(g1);
  }
  return { ms: performance.now() - t0, bytes, lat: samples.lat() };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function runRead(t: ReadTask): Promise<ReadResult> {
  const ds = dataset(t.work, t.params);
  const total = ds.count('none');
  const order = readOrder(total, readCount(t.work, t.params), 11);
  const count = order.length;
  const kept = existsSync(`${t.dir}.ptrs.json`) ? (JSON.parse(readFileSync(`${t.dir}.ptrs.json`, 'utf8')) as Array<[number, number, number]>) : [];
  const group = ds.batch; // scans are timed per ~256 KiB of payload
  let rss!: RssPeak;
  let res!: { ms: number; bytes: number; lat: Lat };
  let scan: ReadResult['scan'];
  let asyncRes: ReadResult['async'];
  let noCrc: ReadResult['noCrc'];
  let wasm: number | undefined;
  /** Verifies the first reads (untimed) against the values the load wrote. */
  const verify = (get: (k: number) => Uint8Array | undefined) => {
    for (let k = 0; k < Math.min(50, count); k++) {
      if (!sameBytes(get(k), ds.value(order[k]!))) throw new Error(`${t.store}: value ${order[k]} read back wrong`);
    }
  };
  /**
   * An untimed warm-up scan over the first values (at most the warm-up volume), then a timed full
   * scan with a fresh iterator. `open` returns the next value's length, or -1 at the end.
   */
  const timeScan = async (open: () => Promise<{ next: () => number | Promise<number>; close: () => unknown }>): Promise<NonNullable<ReadResult['scan']>> => {
    const warm = await open();
    for (let i = 0, limit = Math.ceil(t.params.warmup / ds.avgSize); i < limit; i++) if ((await warm.next()) < 0) break;
    await warm.close();
    const it = await open();
    const next = it.next;
    const samples = new Samples(group);
    let values = 0;
    let bytes = 0;
    let done = false;
    const t0 = performance.now();
    while (!done) {
      const g0 = performance.now();
      let got = 0;
      while (got < group) {
        const b = await next();
        if (b < 0) {
          done = true;
          break;
        }
        bytes += b;
        got++;
      }
      const g1 = performance.now();
      if (got === group) samples.push((g1 - g0) * 1e6);
      values += got;
      rss.maybe(g1);
    }
    const ms = performance.now() - t0;
    await it.close();
    if (values !== total) throw new Error(`${t.store}: scan found ${values} of ${total} values`);
    return { values, bytes, ms, lat: samples.lat(), peakRss: rss.peak };
  };

  if (t.store === 'valuelog' || t.store === 'valuelog-zstd-dict' || t.store === 'valuelog-zstd-dict-grouped') {
    const storage = new NodeStorage(t.dir);
    const dict = t.store === 'valuelog' ? undefined : valuelogDict();
    const lookup = (id: bigint) => (id === 1n ? dict : undefined);
    const m = await Manager.open(storage);
    if (dict) m.setDictLookup(lookup);
    const ptrs: ValuePtr[] = kept.map(([fileId, offset, length]) => ({ fileId, offset, length }));
    verify((k) => m.read(ptrs[k]!));
    rss = new RssPeak();
    res = timeReads(count, (k) => m.read(ptrs[k]!).length, rss);
    m.setDisableReadChecksum(true);
    const nc = timeReads(count, (k) => m.read(ptrs[k]!).length, rss);
    noCrc = { reads: count, ms: nc.ms, lat: nc.lat };
    m.setDisableReadChecksum(false);
    if (t.scan) {
      scan = await timeScan(async () => {
        const r = await Reader.open(storage, encodeFileId(0, 1));
        if (dict) r.setDictLookup(lookup);
        return {
          next: () => {
            const e = r.next();
            return e === undefined ? -1 : e.value!.length;
          },
          close: () => r.close(),
        };
      });
    }
    await m.close();
    wasm = wasmMemoryBytes();
  } else if (t.store === 'raw') {
    const fd = openSync(join(t.dir, 'raw.log'), 'r');
    const dst = new Uint8Array(kept.reduce((a, p) => Math.max(a, p[2]), 0));
    verify((k) => {
      const [, off, len] = kept[k]!;
      readSync(fd, dst, 0, len, off);
      return dst.subarray(0, len);
    });
    rss = new RssPeak();
    res = timeReads(
      count,
      (k) => {
        const p = kept[k]!;
        return readSync(fd, dst, 0, p[2], p[1]);
      },
      rss,
    );
    if (t.scan && t.work.kind === 'fixed') {
      const size = t.work.size;
      const buf = new Uint8Array(group * size);
      scan = await timeScan(async () => {
        let pos = 0;
        let left = 0;
        return {
          next: () => {
            if (left === 0) {
              const got = readSync(fd, buf, 0, buf.length, pos);
              pos += got;
              left = Math.floor(got / size);
              if (left === 0) return -1;
            }
            left--;
            return size;
          },
          close: () => undefined,
        };
      });
    }
    closeSync(fd);
  } else if (t.store === 'lmdb' || t.store === 'lmdb-lz4') {
    const lmdb = await importPeer<LmdbModule>('lmdb');
    if ('error' in lmdb) throw new Error(lmdb.error);
    const db = lmdb.mod.open({ path: t.dir, compression: t.store === 'lmdb-lz4', encoding: 'binary', keyEncoding: 'uint32', noSync: true });
    verify((k) => db.get(order[k]!));
    rss = new RssPeak();
    res = timeReads(count, (k) => db.get(order[k]!)!.length, rss);
    if (t.scan) {
      scan = await timeScan(async () => {
        const it = db.getRange({})[Symbol.iterator]();
        return {
          next: () => {
            const e = it.next();
            return e.done ? -1 : e.value.value.length;
          },
          close: () => it.return?.(),
        };
      });
    }
    await db.close();
  } else if (t.store === 'classic-level') {
    const level = await importPeer<ClassicLevelModule>('classic-level');
    if ('error' in level) throw new Error(level.error);
    const db = new level.mod.ClassicLevel(t.dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const keys = Array.from(order, levelKey);
    verify((k) => db.getSync(keys[k]!));
    rss = new RssPeak();
    res = timeReads(count, (k) => db.getSync(keys[k]!)!.length, rss);
    // The asynchronous get() most code uses, one read in flight at a time, each timed on its own.
    const na = Math.min(count, t.params.asyncReads);
    for (let k = 0; k < Math.min(na, 500); k++) await db.get(keys[k]!);
    const samples = new Samples(1);
    const a0 = performance.now();
    for (let k = 0; k < na; k++) {
      const g0 = performance.now();
      await db.get(keys[k]!);
      samples.push((performance.now() - g0) * 1e6);
    }
    asyncRes = { reads: na, ms: performance.now() - a0, lat: samples.lat() };
    rss.now();
    if (t.scan) {
      scan = await timeScan(async () => {
        const it = db.values({ highWaterMarkBytes: Math.max(16 * KiB, 2 * group * ds.avgSize) });
        let vals: Uint8Array[] = [];
        let at = 0;
        return {
          next: async () => {
            if (at === vals.length) {
              vals = await it.nextv(group);
              at = 0;
              if (vals.length === 0) return -1;
            }
            return vals[at++]!.length;
          },
          close: () => it.close(),
        };
      });
    }
    await db.close();
  } else {
    throw new Error(`unknown store ${t.store}`);
  }
  rss.now();
  return { reads: count, readBytes: res.bytes, ms: res.ms, lat: res.lat, startRss: rss.start, peakRss: rss.peak, wasm, async: asyncRes, noCrc, scan };
}

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
const JSON_STORES = (['valuelog', 'valuelog-zstd-dict', 'valuelog-zstd-dict-grouped', 'raw', 'lmdb', 'lmdb-lz4', 'classic-level'] as StoreId[]).filter(available);
const MODES: Mode[] = ['none', 'c1000', 'c1'];
/** Order of the timed loads inside a load child: smallest footprint first, so that each phase's peak RSS is least affected by the ones before it. */
const LOAD_ORDER: Mode[] = ['c1', 'c1000', 'none'];

const base = mkdtempSync(join(tmpdir(), 'valuelog-peers-'));
const loads = new Map<string, LoadResult[]>();
const readsRes = new Map<string, ReadResult[]>();
const failures: string[] = [];
const workKey = (w: Work) => (w.kind === 'fixed' ? String(w.size) : 'json');
const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);

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

const mbs = (bytes: number, ms: number) => bytes / 1e3 / ms;

/** One load child (warm-up, then the modes), then one read child over the no-commit data. */
function loadAndRead(run: number, store: StoreId, work: Work, modes: Mode[], scan: boolean, read = true): void {
  const dir = join(base, `${run}-${store}-${workKey(work)}`);
  try {
    const ls = runTask<Partial<Record<Mode, LoadResult>>>({ op: 'load', store, work, modes, dir, params });
    if (!ls) return;
    for (const mode of modes) if (ls[mode]) push(loads, `${mode}|${workKey(work)}|${store}`, ls[mode]!);
    const r = read ? runTask<ReadResult>({ op: 'read', store, work, dir: `${dir}-none`, params, scan }) : undefined;
    if (r) push(readsRes, `${workKey(work)}|${store}`, r);
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

// ---------------------------------------------------------------------------------------------
// Aggregation (medians over runs, each figure on its own)

interface LoadAgg {
  mbs: number;
  ops: number;
  p50: number;
  p99: number;
  p999: number;
  per: number;
  samples: number;
  wa: number;
  io: number;
  peakRss: number;
  startRss: number;
  wasm: number;
  payload: number;
  values: number;
  dirBytes: number;
  runs: number;
}

function loadAgg(mode: Mode, wk: string, store: StoreId): LoadAgg | undefined {
  const rs = loads.get(`${mode}|${wk}|${store}`);
  if (!rs?.length) return undefined;
  const m = (f: (r: LoadResult) => number) => median(rs.map(f));
  return {
    mbs: m((r) => mbs(r.payload, r.ms)),
    ops: m((r) => (r.values * 1e3) / r.ms),
    p50: m((r) => r.lat.p50),
    p99: m((r) => r.lat.p99),
    p999: m((r) => r.lat.p999),
    per: rs[0]!.lat.per,
    samples: rs[0]!.lat.samples,
    wa: m((r) => r.dirBytes / r.payload),
    io: m((r) => (r.ioBytes === undefined ? NaN : r.ioBytes / r.payload)),
    peakRss: m((r) => r.peakRss),
    startRss: m((r) => r.startRss),
    wasm: m((r) => r.wasm ?? NaN),
    payload: m((r) => r.payload),
    values: rs[0]!.values,
    dirBytes: m((r) => r.dirBytes),
    runs: rs.length,
  };
}

interface ReadAgg {
  ops: number;
  mbs: number;
  p50: number;
  p99: number;
  p999: number;
  per: number;
  reads: number;
  peakRss: number;
  startRss: number;
  wasm: number;
  async?: { ops: number; p50: number; p99: number; p999: number; reads: number };
  noCrc?: { ops: number; p50: number; p99: number; p999: number };
  scan?: { mbs: number; ops: number; p50: number; p99: number; p999: number; peakRss: number };
}

function readAgg(wk: string, store: StoreId): ReadAgg | undefined {
  const rs = readsRes.get(`${wk}|${store}`);
  if (!rs?.length) return undefined;
  const m = (f: (r: ReadResult) => number) => median(rs.map(f));
  const withAsync = rs.filter((r) => r.async);
  const withNoCrc = rs.filter((r) => r.noCrc);
  const withScan = rs.filter((r) => r.scan);
  return {
    ops: m((r) => (r.reads * 1e3) / r.ms),
    mbs: m((r) => mbs(r.readBytes, r.ms)),
    p50: m((r) => r.lat.p50),
    p99: m((r) => r.lat.p99),
    p999: m((r) => r.lat.p999),
    per: median(rs.map((r) => r.lat.per)),
    reads: rs[0]!.reads,
    peakRss: m((r) => r.peakRss),
    startRss: m((r) => r.startRss),
    wasm: m((r) => r.wasm ?? NaN),
    async: withAsync.length
      ? {
          ops: median(withAsync.map((r) => (r.async!.reads * 1e3) / r.async!.ms)),
          p50: median(withAsync.map((r) => r.async!.lat.p50)),
          p99: median(withAsync.map((r) => r.async!.lat.p99)),
          p999: median(withAsync.map((r) => r.async!.lat.p999)),
          reads: withAsync[0]!.async!.reads,
        }
      : undefined,
    noCrc: withNoCrc.length
      ? {
          ops: median(withNoCrc.map((r) => (r.noCrc!.reads * 1e3) / r.noCrc!.ms)),
          p50: median(withNoCrc.map((r) => r.noCrc!.lat.p50)),
          p99: median(withNoCrc.map((r) => r.noCrc!.lat.p99)),
          p999: median(withNoCrc.map((r) => r.noCrc!.lat.p999)),
        }
      : undefined,
    scan: withScan.length
      ? {
          mbs: median(withScan.map((r) => mbs(r.scan!.bytes, r.scan!.ms))),
          ops: median(withScan.map((r) => (r.scan!.values * 1e3) / r.scan!.ms)),
          p50: median(withScan.map((r) => r.scan!.lat.p50)),
          p99: median(withScan.map((r) => r.scan!.lat.p99)),
          p999: median(withScan.map((r) => r.scan!.lat.p999)),
          peakRss: median(withScan.map((r) => r.scan!.peakRss)),
        }
      : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const num = (x: number) => (!Number.isFinite(x) ? '–' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(x >= 10 ? 0 : 1));
const dur = (ns: number) => (!Number.isFinite(ns) ? '–' : ns >= 1e6 ? `${(ns / 1e6).toFixed(ns >= 1e8 ? 0 : 2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} µs` : `${ns.toFixed(0)} ns`);
const mib = (b: number) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '–');
const sizeName = (s: number) => (s >= KiB ? `${s / KiB} KiB` : `${s} B`);
const rssCell = (peak: number, start: number, wasm: number) => `${mib(peak)} (${mib(start)})${Number.isFinite(wasm) ? `, wasm ${(wasm / MiB).toFixed(1)}` : ''}`;
const LABEL: Record<StoreId, string> = {
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

const date = new Date().toISOString().slice(0, 10);
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

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : NaN);
for (const mode of MODES) {
  say();
  say(`## Loads, ${MODE_TITLE[mode]}`);
  say();
  const unit = mode === 'none' ? 'per ~256 KiB batch' : mode === 'c1000' ? 'per 1,000-value commit' : 'per commit';
  say(`| value size | store | MB/s | values/s | p50 / p99 / p999 (${unit}) | disk ÷ payload | kernel ÷ payload | peak RSS MiB (start) | MB/s ÷ raw |`);
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const raw = loadAgg(mode, String(size), 'raw');
    for (const store of [...FIXED_STORES, 'valuelog-4m' as StoreId]) {
      const a = loadAgg(mode, String(size), store);
      if (!a) continue;
      say(
        `| ${sizeName(size)} | ${LABEL[store]} | ${f1(a.mbs)} | ${num(a.ops)} | ${dur(a.p50)} / ${dur(a.p99)} / ${dur(a.p999)} | ${f2(a.wa)} | ${f2(a.io)} | ${rssCell(a.peakRss, a.startRss, a.wasm)} | ${f2(ratio(a.mbs, raw?.mbs))} |`,
      );
    }
  }
  const ex = loadAgg(mode, '100', FIXED_STORES[0]!);
  if (ex) say(`\n${ex.runs} run(s); values per run: ${SIZES.map((s) => `${sizeName(s)} ${(loadAgg(mode, String(s), 'raw') ?? loadAgg(mode, String(s), FIXED_STORES[0]!))?.values.toLocaleString() ?? '?'}`).join(', ')}.`);
}

say();
say('## Random reads (by pointer for valuelog, by key for the peers)');
say();
say('| value size | store | reads/s | MB/s | p50 / p99 / p999 per read | G | peak RSS MiB (start) | ÷ raw | ÷ lmdb-js |');
say('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const size of SIZES) {
  const raw = readAgg(String(size), 'raw');
  const lm = readAgg(String(size), 'lmdb');
  for (const store of FIXED_STORES) {
    const a = readAgg(String(size), store);
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
say(`\nReads per run: ${SIZES.map((s) => `${sizeName(s)} ${readAgg(String(s), FIXED_STORES[0]!)?.reads.toLocaleString() ?? '?'}`).join(', ')} (\`await get()\`: ${params.asyncReads.toLocaleString()}), uniformly random over the values loaded with no commit.`);

say();
say('## Full sequential scan');
say();
say('| value size | store | MB/s | values/s | p50 / p99 / p999 per ~256 KiB | ÷ raw |');
say('|---:|---|---:|---:|---:|---:|');
for (const size of SIZES) {
  const raw = readAgg(String(size), 'raw')?.scan;
  for (const store of FIXED_STORES) {
    const a = readAgg(String(size), store)?.scan;
    if (!a) continue;
    say(`| ${sizeName(size)} | ${LABEL[store]} | ${f0(a.mbs)} | ${num(a.ops)} | ${dur(a.p50)} / ${dur(a.p99)} / ${dur(a.p999)} | ${f2(ratio(a.mbs, raw?.mbs))} |`);
  }
}
say('\nvaluelog: `Reader` over the segment (CRC-verified); raw: `fs.readSync` of 256 KiB chunks; lmdb-js: `getRange()`; classic-level: `values()` iterator with `nextv()`.');

say();
say('## JSON documents');
say();
const jl0 = loadAgg('none', 'json', JSON_STORES[0]!);
say(
  `The \`npm run demo\` documents (mixed 100 B – 4 KiB${jl0 ? `, ${f0(jl0.payload / jl0.values)} B on average` : ''}; ${params.jsonDistinct.toLocaleString()} distinct documents cycled to ${mib(params.jsonVolume)} MiB per run, no durable commit). ` +
    'valuelog with a 32 KiB zstd dictionary trained on 4,000 other documents (`trainDictionary`), either per value (K = 1) or grouped into frames of K values as the demo does (`chooseBlockGroupK`, ~4 KiB compressed per frame); lmdb-js with and without its LZ4 option; classic-level with its default Snappy.',
);
say();
say('| store | payload MiB | on disk MiB | ratio (payload ÷ disk) | space amp. (disk ÷ payload) | load MB/s | load ÷ raw | kernel ÷ payload | reads/s | reads ÷ raw | p50 / p99 / p999 per read | peak RSS MiB (start) |');
say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const jraw = loadAgg('none', 'json', 'raw');
const jrawR = readAgg('json', 'raw');
for (const store of JSON_STORES) {
  const l = loadAgg('none', 'json', store);
  const r = readAgg('json', store);
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
    const ours = loadAgg(mode, String(s), 'valuelog');
    const lm = loadAgg(mode, String(s), 'lmdb');
    const cl = loadAgg(mode, String(s), 'classic-level');
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
    const ours = readAgg(String(s), 'valuelog');
    const lm = readAgg(String(s), 'lmdb');
    const cl = readAgg(String(s), 'classic-level');
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
    const r = ratio(loadAgg(mode, String(s), 'valuelog')?.mbs, loadAgg(mode, String(s), 'raw')?.mbs);
    if (!Number.isFinite(r)) ok = undefined;
    else if (ok !== undefined && !(r >= 0.85)) ok = false;
    parts.push(`${sizeName(s)}: ${f2(r)}`);
  }
  say(`| appends ≥ 0.85× the raw file API, values ≥ 4 KiB (ours ÷ raw, MB/s) | ${MODE_TITLE[mode]} | ${parts.join('; ')} | ${met(ok)} |`);
}

// ---------------------------------------------------------------------------------------------
// Charts: grouped bar charts on a log scale, one SVG per question, no dependencies.

const COLORS: Record<string, string> = { valuelog: '#1f77b4', raw: '#8c8c8c', lmdb: '#ff7f0e', 'classic-level': '#2ca02c', 'classic-level-async': '#98df8a' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const decade = (d: number) => (d >= 6 ? `${10 ** (d - 6)}M` : d >= 3 ? `${10 ** (d - 3)}k` : d >= 0 ? String(10 ** d) : (10 ** d).toFixed(-d));
const short = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(x >= 1e7 ? 0 : 1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(x >= 1e4 ? 0 : 1)}k` : x >= 10 ? x.toFixed(0) : x.toFixed(1));

/** A bar that does not exist in a panel (no "n/a" mark). */
const NOT_APPLICABLE = -1;

interface Panel {
  title: string;
  yLabel: string;
  /** values[group][series] (NaN = missing). */
  values: number[][];
}

function chart(title: string, subtitle: string, groups: string[], series: Array<{ name: string; color: string }>, panels: Panel[]): string {
  const W = 900;
  const panelH = 250;
  const top = 78;
  const left = 78;
  const right = 20;
  const gap = 64;
  const H = top + panels.length * (panelH + gap) + 10;
  const s: string[] = [];
  s.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  s.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  s.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>`);
  s.push(`<text x="${W / 2}" y="43" text-anchor="middle" font-size="12" fill="#444">${esc(subtitle)}</text>`);
  // Legend
  let lx = left;
  for (const se of series) {
    s.push(`<rect x="${lx}" y="54" width="12" height="12" fill="${se.color}"/>`);
    s.push(`<text x="${lx + 16}" y="64" font-size="12">${esc(se.name)}</text>`);
    lx += 28 + se.name.length * 5.9;
  }
  panels.forEach((p, pi) => {
    const y0 = top + pi * (panelH + gap) + 22;
    const plotH = panelH - 22;
    const x0 = left;
    const plotW = W - left - right;
    const all = p.values.flat().filter((v) => Number.isFinite(v) && v > 0);
    const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...all, 1e9))));
    const hi = Math.ceil(Math.log10(Math.max(...all, 1)) + 0.15);
    const y = (v: number) => y0 + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
    s.push(`<text x="${x0}" y="${y0 - 8}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
    for (let d = lo; d <= hi; d++) {
      const yy = y(10 ** d);
      s.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`);
      s.push(`<text x="${x0 - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#333">${decade(d)}</text>`);
    }
    s.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + plotH}" stroke="#333"/>`);
    s.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${y0 + plotH}" y2="${y0 + plotH}" stroke="#333"/>`);
    s.push(`<text transform="translate(${x0 - 52},${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
    const gw = plotW / groups.length;
    const bw = Math.min(44, (gw * 0.8) / series.length);
    groups.forEach((g, gi) => {
      const gx = x0 + gi * gw + (gw - bw * series.length) / 2;
      series.forEach((se, si) => {
        const v = p.values[gi]?.[si] ?? NaN;
        const bx = gx + si * bw;
        if (v === NOT_APPLICABLE) return;
        if (!Number.isFinite(v) || v <= 0) {
          s.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${y0 + plotH - 4}" text-anchor="middle" font-size="10" fill="#999">n/a</text>`);
          return;
        }
        const by = y(v);
        s.push(`<rect x="${(bx + 1).toFixed(1)}" y="${by.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y0 + plotH - by).toFixed(1)}" fill="${se.color}"><title>${esc(`${se.name}, ${g}: ${short(v)}`)}</title></rect>`);
        s.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="10" fill="#222">${short(v)}</text>`);
      });
      s.push(`<text x="${(x0 + gi * gw + gw / 2).toFixed(1)}" y="${y0 + plotH + 16}" text-anchor="middle" font-size="12">${esc(g)}</text>`);
    });
    s.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH + 34}" text-anchor="middle" font-size="12" fill="#444">value size</text>`);
  });
  s.push('</svg>');
  return s.join('\n') + '\n';
}

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
    values: SIZES.map((size) => FIXED_STORES.map((st) => loadAgg(mode, String(size), st)?.mbs ?? NaN)),
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
      values: SIZES.map((size) => [...FIXED_STORES.map((st) => readAgg(String(size), st)?.ops ?? NaN), ...(hasAsync ? [readAgg(String(size), 'classic-level')?.async?.ops ?? NaN] : [])]),
    },
    {
      title: 'Full sequential scan',
      yLabel: 'MB/s',
      values: SIZES.map((size) => [...FIXED_STORES.map((st) => readAgg(String(size), st)?.scan?.mbs ?? NaN), ...(hasAsync ? [NOT_APPLICABLE] : [])]),
    },
  ],
);

say();
say('Charts: [`peers-appends.svg`](peers-appends.svg), [`peers-reads.svg`](peers-reads.svg).');

const dest = quick ? join(tmpdir(), 'valuelog-peers-quick') : join(root, 'bench', 'results');
mkdirSync(dest, { recursive: true });
writeFileSync(join(dest, 'peers.md'), out.join('\n') + '\n');
writeFileSync(join(dest, 'peers-appends.svg'), appendsSvg);
writeFileSync(join(dest, 'peers-reads.svg'), readsSvg);
console.log(`\nwrote ${join(dest, 'peers.md')}, peers-appends.svg, peers-reads.svg${quick ? ' (--quick results are not written to bench/results)' : ''}; ${(totalSeconds / 60).toFixed(1)} min`);
