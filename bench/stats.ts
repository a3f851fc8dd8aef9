// The pure statistics and formatting part of the bench harness: no node:* imports, so that the
// browser bench's worker (build/bench/browser-worker.js, served unbundled) can import it too.

/** The p-th percentile (0..100) of an ascending array (nearest rank, lower side). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The median of the finite values (mean of the middle two for an even count), NaN if none. */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Percentiles of a set of samples, and how many there were. */
export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  samples: number;
}

/** p50/p99/p99.9 of unsorted samples (any unit). */
export function latency(samples: readonly number[]): Latency {
  const s = Float64Array.from(samples).sort();
  return { p50: percentile(s, 50), p99: percentile(s, 99), p999: percentile(s, 99.9), samples: s.length };
}

/** A duration in ns as '812 ns', '3.20 µs' or '1.05 ms'. */
export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** A count as '950', '12.5 k' or '3.10 M'. */
export function fmtNum(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

/** Latency percentiles of samples that each cover `per` operations (1 = each operation on its own). */
export interface SampledLatency extends Latency {
  per: number;
}

/** Latency samples in ns, each the mean over `per` operations. */
export class Samples {
  private xs: number[] = [];
  /** `per`: operations each sample covers. */
  constructor(readonly per: number) {}
  /** Adds one sample (ns). */
  push(ns: number): void {
    this.xs.push(ns);
  }
  /** The percentiles of the samples so far. */
  lat(): SampledLatency {
    return { ...latency(this.xs), per: this.per };
  }
}

/** MB/s (10^6 bytes per second) of `bytes` moved in `ms` milliseconds. */
export function mbPerSec(bytes: number, ms: number): number {
  return bytes / 1e3 / ms;
}

/** A value size for tables: '100 B', '4 KiB'. */
export function sizeName(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}
