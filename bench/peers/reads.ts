// The read workload (runs in a child process) over what a load run left behind: random point reads
// (valuelog and raw by the pointers the load kept, the peers by key) and a full sequential scan.
import { existsSync, readFileSync } from 'node:fs';
import { RssPeak, Samples } from '../harness.js';
import { dataset, readCount, readOrder, type Dataset } from './data.js';
import type { Kept } from './loads.js';
import { storeFor } from './stores/index.js';
import type { Lat, ReadResult, ReadTask } from './types.js';

/** What a store's `read` returns: the timed random reads and whatever else it measured. */
export interface ReadParts {
  res: { ms: number; bytes: number; lat: Lat };
  wasm?: number;
  async?: ReadResult['async'];
  noCrc?: ReadResult['noCrc'];
  scan?: ReadResult['scan'];
}

/** An iterator a scan times: `next()` returns the next value's length, or -1 at the end. */
export interface ScanIterator {
  next: () => number | Promise<number>;
  close: () => unknown;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What a store's `read` works with: the read order, the kept pointers, verification and the timers. */
export class ReadContext {
  /** Values the load wrote (no commit). */
  readonly total: number;
  /** The value index of each read. */
  readonly order: Int32Array;
  /** Reads per pass. */
  readonly count: number;
  /** Where each read's value landed (stores with `byPointer`), by read slot. */
  readonly kept: Kept[];
  /** Values per timed scan sample (~256 KiB of payload). */
  readonly group: number;
  /** The values the load wrote, to verify against. */
  readonly ds: Dataset;
  /** Set by `start()`. */
  rss!: RssPeak;

  /** `task`: what the orchestrator asked this read child to do. */
  constructor(readonly task: ReadTask) {
    this.ds = dataset(task.work, task.params);
    this.total = this.ds.count('none');
    this.order = readOrder(this.total, readCount(task.work, task.params), 11);
    this.count = this.order.length;
    this.kept = existsSync(`${task.dir}.ptrs.json`) ? (JSON.parse(readFileSync(`${task.dir}.ptrs.json`, 'utf8')) as Kept[]) : [];
    this.group = this.ds.batch; // scans are timed per ~256 KiB of payload
  }

  /** Verifies the first reads (untimed) against the values the load wrote. */
  verify(get: (k: number) => Uint8Array | undefined): void {
    const { order, ds } = this;
    for (let k = 0; k < Math.min(50, this.count); k++) {
      if (!sameBytes(get(k), ds.value(order[k]!))) throw new Error(`${this.task.store}: value ${order[k]} read back wrong`);
    }
  }

  /** Starts the RSS sampling: call after verifying, before the timed reads. */
  start(): void {
    this.rss = new RssPeak();
  }

  /**
   * An untimed warm-up pass over the read order, then the timed pass; `read(k)` returns the bytes read.
   * Reads that take under 2 µs on average are timed in groups of G (each sample is the group's mean);
   * slower ones one by one.
   */
  timeReads(read: (k: number) => number): { ms: number; bytes: number; lat: Lat } {
    const { count, rss } = this;
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

  /**
   * An untimed warm-up scan over the first values (at most the warm-up volume), then a timed full
   * scan with a fresh iterator from `open`.
   */
  async timeScan(open: () => Promise<ScanIterator>): Promise<NonNullable<ReadResult['scan']>> {
    const { group, total, ds, rss, task: t } = this;
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
  }
}

/** A read child's work: the random reads (and the scan) of `t.store` over `t.dir`. */
export async function runRead(t: ReadTask): Promise<ReadResult> {
  const ctx = new ReadContext(t);
  const { res, wasm, async: asyncRes, noCrc, scan } = await storeFor(t.store).read(t.store, ctx);
  const rss = ctx.rss;
  rss.now();
  return { reads: ctx.count, readBytes: res.bytes, ms: res.ms, lat: res.lat, startRss: rss.start, peakRss: rss.peak, wasm, async: asyncRes, noCrc, scan };
}
