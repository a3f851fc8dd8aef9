// Clocks and simulated I/O for deterministic tests and benchmarks (docs/DESIGN.md, "Compression policy").
import { invalidArgument } from './errors.js';

/** Nanosecond clock. */
export interface Clock {
  /** Current time in nanoseconds. */
  now(): bigint;
}

/** A clock that can be moved forward by a cost model or a simulated device. */
export interface AdvanceableClock extends Clock {
  /** Moves the clock forward by `ns` nanoseconds (a negative step moves it back). */
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
  /** Wall-clock time in nanoseconds since the Unix epoch. */
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
  /** The clock's current time in nanoseconds. */
  now(): bigint {
    return this.t;
  }
  /** Moves the clock by `ns` nanoseconds (negative moves it back). */
  advance(ns: bigint | number): void {
    this.t += toNs(ns);
  }
}

/** Writes nowhere; charges simulated time per byte and per sync/flush to an advanceable clock. */
export class VirtualSink {
  /** The clock write/sync/flush charge their simulated time to (undefined: no time passes). */
  clock: AdvanceableClock | undefined;
  /** Simulated nanoseconds per written byte. */
  nsPerByte: number;
  /** Simulated nanoseconds per sync(). */
  syncPenaltyNs: number;
  /** Simulated nanoseconds per flush(). */
  flushPenaltyNs: number;
  /** Total bytes accepted by write(). */
  bytesWritten = 0;

  constructor(opts: { clock?: AdvanceableClock; nsPerByte?: number; syncPenaltyNs?: number; flushPenaltyNs?: number } = {}) {
    this.clock = opts.clock;
    this.nsPerByte = opts.nsPerByte ?? 0;
    this.syncPenaltyNs = opts.syncPenaltyNs ?? 0;
    this.flushPenaltyNs = opts.flushPenaltyNs ?? 0;
  }

  /** Accepts all of `p` (discarding it), charging `p.length * nsPerByte` to the clock; returns `p.length`. */
  write(p: Uint8Array): number {
    if (this.clock && this.nsPerByte > 0) this.clock.advance(p.length * this.nsPerByte);
    this.bytesWritten += p.length;
    return p.length;
  }

  /** Charges `syncPenaltyNs` to the clock. */
  sync(): void {
    if (this.clock && this.syncPenaltyNs > 0) this.clock.advance(this.syncPenaltyNs);
  }

  /** Charges `flushPenaltyNs` to the clock. */
  flush(): void {
    if (this.clock && this.flushPenaltyNs > 0) this.clock.advance(this.flushPenaltyNs);
  }
}

/** Replaces measured encode time for sampled frames (and advances an advanceable clock by it). */
export interface EncodeCostModel {
  /** Simulated encode time in nanoseconds of a frame of `records` values totalling `rawPayloadBytes`. */
  encodeNs(rawPayloadBytes: number, records: number): number;
}

/** Adapts a function to an EncodeCostModel; an undefined function costs 0. */
export function encodeCostModelFunc(fn: ((rawPayloadBytes: number, records: number) => number) | undefined): EncodeCostModel {
  return { encodeNs: (raw, records) => (fn ? fn(raw, records) : 0) };
}
