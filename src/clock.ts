// Clocks and simulated I/O for deterministic tests and benchmarks (reference-behaviour.md §8).
import { invalidArgument } from './errors.js';

/** Nanosecond clock. */
export interface Clock {
  now(): bigint;
}

/** A clock that can be moved forward by a cost model or a simulated device. */
export interface AdvanceableClock extends Clock {
  advance(ns: bigint | number): void;
}

export function isAdvanceable(c: unknown): c is AdvanceableClock {
  return typeof c === 'object' && c !== null && typeof (c as { advance?: unknown }).advance === 'function';
}

function toNs(ns: bigint | number): bigint {
  if (typeof ns === 'bigint') return ns;
  if (!Number.isFinite(ns)) throw invalidArgument(`nanoseconds must be finite, got ${ns}`);
  return BigInt(Math.trunc(ns));
}

/** Wall-clock time in nanoseconds since the epoch, from the runtime's high-resolution timer. */
export class RealClock implements Clock {
  now(): bigint {
    return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  }
}

/** A clock that moves only when told to; negative steps move it back, as in Go. */
export class VirtualClock implements AdvanceableClock {
  private t: bigint;
  constructor(startNs: bigint | number = 0n) {
    this.t = toNs(startNs);
  }
  now(): bigint {
    return this.t;
  }
  advance(ns: bigint | number): void {
    this.t += toNs(ns);
  }
}

/** Writes nowhere; charges simulated time per byte and per sync/flush to an advanceable clock. */
export class VirtualSink {
  clock: AdvanceableClock | undefined;
  nsPerByte: number;
  syncPenaltyNs: number;
  flushPenaltyNs: number;
  /** Total bytes accepted by write(). */
  bytesWritten = 0;

  constructor(opts: { clock?: AdvanceableClock; nsPerByte?: number; syncPenaltyNs?: number; flushPenaltyNs?: number } = {}) {
    this.clock = opts.clock;
    this.nsPerByte = opts.nsPerByte ?? 0;
    this.syncPenaltyNs = opts.syncPenaltyNs ?? 0;
    this.flushPenaltyNs = opts.flushPenaltyNs ?? 0;
  }

  write(p: Uint8Array): number {
    if (this.clock && this.nsPerByte > 0) this.clock.advance(p.length * this.nsPerByte);
    this.bytesWritten += p.length;
    return p.length;
  }

  sync(): void {
    if (this.clock && this.syncPenaltyNs > 0) this.clock.advance(this.syncPenaltyNs);
  }

  flush(): void {
    if (this.clock && this.flushPenaltyNs > 0) this.clock.advance(this.flushPenaltyNs);
  }
}

/** Replaces measured encode time for sampled frames (and advances an advanceable clock by it). */
export interface EncodeCostModel {
  encodeNs(rawPayloadBytes: number, records: number): number;
}

/** Adapts a function to an EncodeCostModel; an undefined function costs 0. */
export function encodeCostModelFunc(fn: ((rawPayloadBytes: number, records: number) => number) | undefined): EncodeCostModel {
  return { encodeNs: (raw, records) => (fn ? fn(raw, records) : 0) };
}
