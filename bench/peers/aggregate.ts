// The orchestrator's collection of child results, and their aggregation: medians over the runs,
// each figure on its own.
import { mbPerSec, median } from '../stats.js';
import type { Lat, LoadResult, Mode, ReadResult, StoreId } from './types.js';

/** One load figure set: medians over the runs of one mode, work and store. */
export interface LoadAgg {
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

/** One read figure set: medians over the runs of one work and store. */
export interface ReadAgg {
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

/** Medians of reads/s and the latency percentiles of one read phase over the runs. */
const phase = (xs: Array<{ reads: number; ms: number; lat: Lat }>) => ({
  ops: median(xs.map((x) => (x.reads * 1e3) / x.ms)),
  p50: median(xs.map((x) => x.lat.p50)),
  p99: median(xs.map((x) => x.lat.p99)),
  p999: median(xs.map((x) => x.lat.p999)),
});

const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);

/** Every run's results, filed by mode, work key (see `workKey`) and store. */
export class Results {
  private readonly loads = new Map<string, LoadResult[]>();
  private readonly reads = new Map<string, ReadResult[]>();

  /** Files one timed load. */
  addLoad(mode: Mode, wk: string, store: StoreId, r: LoadResult): void {
    push(this.loads, `${mode}|${wk}|${store}`, r);
  }

  /** Files one read run. */
  addRead(wk: string, store: StoreId, r: ReadResult): void {
    push(this.reads, `${wk}|${store}`, r);
  }

  /** The load figures of `mode`, `wk`, `store`, or undefined if no run produced them. */
  load(mode: Mode, wk: string, store: StoreId): LoadAgg | undefined {
    const rs = this.loads.get(`${mode}|${wk}|${store}`);
    if (!rs?.length) return undefined;
    const m = (f: (r: LoadResult) => number) => median(rs.map(f));
    return {
      mbs: m((r) => mbPerSec(r.payload, r.ms)),
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

  /** The read (and scan) figures of `wk`, `store`, or undefined if no run produced them. */
  read(wk: string, store: StoreId): ReadAgg | undefined {
    const rs = this.reads.get(`${wk}|${store}`);
    if (!rs?.length) return undefined;
    const m = (f: (r: ReadResult) => number) => median(rs.map(f));
    const withAsync = rs.filter((r) => r.async);
    const withNoCrc = rs.filter((r) => r.noCrc);
    const withScan = rs.filter((r) => r.scan);
    return {
      ops: m((r) => (r.reads * 1e3) / r.ms),
      mbs: m((r) => mbPerSec(r.readBytes, r.ms)),
      p50: m((r) => r.lat.p50),
      p99: m((r) => r.lat.p99),
      p999: m((r) => r.lat.p999),
      per: median(rs.map((r) => r.lat.per)),
      reads: rs[0]!.reads,
      peakRss: m((r) => r.peakRss),
      startRss: m((r) => r.startRss),
      wasm: m((r) => r.wasm ?? NaN),
      async: withAsync.length ? { ...phase(withAsync.map((r) => r.async!)), reads: withAsync[0]!.async!.reads } : undefined,
      noCrc: withNoCrc.length ? phase(withNoCrc.map((r) => r.noCrc!)) : undefined,
      scan: withScan.length
        ? {
            mbs: median(withScan.map((r) => mbPerSec(r.scan!.bytes, r.scan!.ms))),
            ops: median(withScan.map((r) => (r.scan!.values * 1e3) / r.scan!.ms)),
            p50: median(withScan.map((r) => r.scan!.lat.p50)),
            p99: median(withScan.map((r) => r.scan!.lat.p99)),
            p999: median(withScan.map((r) => r.scan!.lat.p999)),
            peakRss: median(withScan.map((r) => r.scan!.peakRss)),
          }
        : undefined,
    };
  }
}
