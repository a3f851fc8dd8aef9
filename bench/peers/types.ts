// The shapes the peers benchmark passes between its orchestrator and its child processes (as JSON on
// the command line and on stdout), and the constants every part of it shares.
import type { SampledLatency } from '../stats.js';

/** Bytes in a MiB. */
export const MiB = 2 ** 20;
/** Bytes in a KiB. */
export const KiB = 1024;
/** The raw limit writes 256 KiB batches; "no commit" loads hand every store 256 KiB of payload per batch. */
export const BATCH = 256 * KiB;
/** writev stays below the kernel's IOV_MAX (1024). */
export const MAX_IOV = 960;
/** The fixed value sizes every fixed-size workload runs at. */
export const SIZES = [100, 1024, 4096, 65536];

/** A contender: valuelog in one of its configurations, the raw file API, or a peer store. */
export type StoreId = 'valuelog' | 'valuelog-4m' | 'valuelog-zstd-dict' | 'valuelog-zstd-dict-grouped' | 'raw' | 'lmdb' | 'lmdb-lz4' | 'classic-level';
/** When a load commits durably: never, every 1,000 values, or after every value. */
export type Mode = 'none' | 'c1000' | 'c1';
/** What a run loads: fixed-size random values, or the demo's JSON documents. */
export type Work = { kind: 'fixed'; size: number } | { kind: 'json' };

/** The volumes of one benchmark run (smaller with --quick). */
export interface Params {
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
  /** Random reads per JSON read run. */
  jsonReads: number;
  /** Reads through classic-level's asynchronous get(). */
  asyncReads: number;
  /** Runs per figure (the report shows medians over them). */
  runs: number;
}

/** What a load child is asked to do. */
export interface LoadTask {
  op: 'load';
  store: StoreId;
  work: Work;
  /** Timed loads, in this order, after one untimed warm-up load; `${dir}-none` is kept for the read run. */
  modes: Mode[];
  dir: string;
  params: Params;
}

/** What a read child is asked to do, over the directory a load child left behind. */
export interface ReadTask {
  op: 'read';
  store: StoreId;
  work: Work;
  dir: string;
  params: Params;
  scan: boolean;
}

/** Latency percentiles of one timed phase, in ns, with the operations per sample (see `Samples`). */
export type Lat = SampledLatency;

/** The figures of one timed load. */
export interface LoadResult {
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

/** The figures of one read run (random reads, and optionally a scan). */
export interface ReadResult {
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

/** The key under which results of one work are filed: the value size, or 'json'. */
export const workKey = (w: Work): string => (w.kind === 'fixed' ? String(w.size) : 'json');
