// A small benchmark harness: warm-up, then timed batches sized to ~2 ms so that timer resolution does
// not distort sub-microsecond operations; reports the median ns/op, p50/p99 of batch means, ops/s
// and MB/s. Several rounds are interleaved across the contenders of one case so that drift on a busy
// VM hits all of them alike.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fmtNs, fmtNum, percentile } from './stats.js';

export { fmtNs, fmtNum, mbPerSec, median, percentile, latency, Samples, sizeName, type Latency, type SampledLatency } from './stats.js';

/** One contender's figures from `measure`. */
export interface Measurement {
  name: string;
  nsPerOp: number;
  p50: number;
  p99: number;
  opsPerSec: number;
  mbPerSec: number | undefined;
  bytesPerOp: number;
}

/** One operation `measure` times, under a name. */
export interface Contender {
  name: string;
  /** One operation; returns something so the JIT cannot drop the work. */
  run: () => unknown;
  /** Payload bytes one operation processes (for MB/s), if meaningful. */
  bytes?: number;
}

let sink: unknown;

function batchSize(run: () => unknown): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sink = run();
    const ms = performance.now() - t0;
    if (ms >= 2 || n >= 1 << 22) return Math.max(1, Math.round((n * 2) / Math.max(ms, 0.001)));
    n *= 2;
  }
}

/** Measures each contender for about `msPerContender` ms in `rounds` interleaved rounds. */
export function measure(contenders: Contender[], msPerContender = 600, rounds = 5): Measurement[] {
  const batches = contenders.map((c) => {
    for (let i = 0; i < 3; i++) batchSize(c.run); // warm-up
    return batchSize(c.run);
  });
  const samples = contenders.map(() => [] as number[]);
  const perRound = msPerContender / rounds;
  for (let r = 0; r < rounds; r++) {
    contenders.forEach((c, ci) => {
      const n = batches[ci]!;
      const end = performance.now() + perRound;
      do {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) sink = c.run();
        samples[ci]!.push(((performance.now() - t0) * 1e6) / n);
      } while (performance.now() < end);
    });
  }
  return contenders.map((c, ci) => {
    const s = samples[ci]!.sort((a, b) => a - b);
    const med = percentile(s, 50);
    return {
      name: c.name,
      nsPerOp: med,
      p50: med,
      p99: percentile(s, 99),
      opsPerSec: 1e9 / med,
      mbPerSec: c.bytes ? (c.bytes * 1e9) / med / 1e6 : undefined,
      bytesPerOp: c.bytes ?? 0,
    };
  });
}

/** The last result of a measured operation, so that the JIT cannot prove the work unused. */
export function keepAlive(): unknown {
  return sink;
}

/** A markdown table row per measurement, with the ratio to the first (ours) row. */
export function table(title: string, rows: Measurement[], extra: Record<string, string> = {}): string {
  const base = rows[0]!;
  const lines = [
    `| ${title} | ns/op (p50) | p99 | ops/s | MB/s | peer time ÷ ours |${Object.keys(extra).length ? ' notes |' : ''}`,
    `|---|---:|---:|---:|---:|---:|${Object.keys(extra).length ? '---|' : ''}`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${fmtNs(r.nsPerOp)} | ${fmtNs(r.p99)} | ${fmtNum(r.opsPerSec)} | ${r.mbPerSec === undefined ? '–' : r.mbPerSec.toFixed(0)} | ${r === base ? '—' : `${(r.nsPerOp / base.nsPerOp).toFixed(2)}×`} |${Object.keys(extra).length ? ` ${extra[r.name] ?? ''} |` : ''}`,
    );
  }
  return lines.join('\n');
}

/** CPU count and model, memory, OS and Node version, for the head of a report. */
export function machineInfo(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()} ${arch()}; Node ${process.versions.node} (V8 ${process.versions.v8})`;
}

/** The peak resident set size of this process over a timed phase, sampled by the caller. */
export class RssPeak {
  /** The highest RSS sampled so far, in bytes. */
  peak: number;
  /** The RSS when the phase started, in bytes. */
  readonly start: number;
  private last = 0;
  constructor() {
    this.start = process.memoryUsage.rss();
    this.peak = this.start;
  }
  /** Samples RSS at most every 5 ms of wall time (`now` from performance.now()). */
  maybe(now: number): void {
    if (now - this.last >= 5) {
      this.last = now;
      const r = process.memoryUsage.rss();
      if (r > this.peak) this.peak = r;
    }
  }
  /** Samples RSS now. */
  now(): void {
    const r = process.memoryUsage.rss();
    if (r > this.peak) this.peak = r;
  }
}

/** The sizes of every file under `dir`, recursively, in bytes. */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    total += st.isDirectory() ? dirBytes(join(dir, name)) : st.size;
  }
  return total;
}

/** Bytes this process caused to be sent to the storage layer (Linux /proc/self/io), or undefined. */
export function ioWriteBytes(): number | undefined {
  try {
    const m = /write_bytes:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
