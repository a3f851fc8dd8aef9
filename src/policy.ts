// Compression policy (docs/DESIGN.md, "Compression policy"): the keep rule, backoff lengths, block
// grouping, autotune options and the synthetic workloads used to exercise them.
import { invalidArgument } from './errors.js';
import { MAX_FRAME_K } from './limits.js';

/**
 * Keep compressed bytes only if they are strictly smaller and, when both costs are known, the I/O
 * saved outweighs the encode time plus a safety margin.
 */
export function shouldKeepCompressed(
  rawBytes: number,
  encodedBytes: number,
  encodeNs: number,
  ioNsPerStoredByte: number,
  safetyMargin: number,
): boolean {
  if (rawBytes <= 0 || encodedBytes < 0) return false;
  if (encodedBytes >= rawBytes) return false;
  if (ioNsPerStoredByte <= 0 || encodeNs <= 0) return true;
  const margin = safetyMargin < 0 ? 0 : safetyMargin;
  const savings = (rawBytes - encodedBytes) * ioNsPerStoredByte;
  const cost = encodeNs * (1 + margin);
  return savings > cost;
}

/** Static skip: encoding one byte costs at least as much as storing it. */
export function shouldSkipCompression(ioNsPerStoredByte: number, encodeNsPerRawByte: number, safetyMargin: number): boolean {
  if (ioNsPerStoredByte <= 0 || encodeNsPerRawByte <= 0) return false;
  const threshold = safetyMargin > 0 ? encodeNsPerRawByte * (1 + safetyMargin) : encodeNsPerRawByte;
  return ioNsPerStoredByte <= threshold;
}

/** Frames to skip after the n-th consecutive fruitless attempt: 8, 16, 32, 64, 128, then 256. */
export function dictSkipFrames(noBenefit: number): number {
  return 2 ** Math.min(noBenefit + 2, 8);
}

/** As dictSkipFrames, but 512 when the attempt cost at least 4x what it could ever save. */
export function dictSkipFramesAggressive(
  noBenefit: number,
  rawBytes: number,
  encodedBytes: number,
  encodeNs: number,
  ioNsPerStoredByte: number,
  safetyMargin: number,
): number {
  const base = dictSkipFrames(noBenefit);
  if (encodedBytes < rawBytes && encodeNs > 0 && ioNsPerStoredByte > 0) {
    const savings = (rawBytes - encodedBytes) * ioNsPerStoredByte;
    const cost = encodeNs * (safetyMargin > 0 ? 1 + safetyMargin : 1);
    if (savings > 0 && cost / savings >= 4) return 512;
  }
  return base;
}

export const DEFAULT_BLOCK_TARGET_COMPRESSED_BYTES = 4096;
const MIN_BLOCK_TARGET = 256;
const MAX_BLOCK_TARGET = 1024 * 1024;

/**
 * Clamps a block group's target compressed size to 256 B..1 MiB; 0, negative or NaN gives the default 4
 * KiB.
 */
export function normalizeBlockTargetCompressedBytes(v: number): number {
  if (!(v > 0)) return DEFAULT_BLOCK_TARGET_COMPRESSED_BYTES;
  if (v < MIN_BLOCK_TARGET) return MIN_BLOCK_TARGET;
  if (v > MAX_BLOCK_TARGET) return MAX_BLOCK_TARGET;
  return v;
}

/** How many values to group per frame so that a compressed frame lands near the target size. */
export function chooseBlockGroupK(records: number, rawPayloadBytes: number, targetCompressedBytes: number, observedRatio: number): number {
  if (!(records > 1) || !(rawPayloadBytes > 0)) return 1;
  const target = normalizeBlockTargetCompressedBytes(targetCompressedBytes);
  let ratio = observedRatio;
  if (!(ratio > 0) || !Number.isFinite(ratio)) ratio = 1;
  if (ratio >= 0.98) return 1;
  const est = (rawPayloadBytes / records) * ratio;
  if (!(est > 0)) return 1;
  let k = Math.floor(target / est);
  k = Math.max(1, Math.min(k, Math.floor(records)));
  return Math.min(k, MAX_FRAME_K);
}

/** The codecs the facade's 'auto' mode chooses between for each frame (raw comes from the keep rule). */
export type AutoCodec = 'lz4' | 'zstd-dict';

/**
 * The facade's 'auto' choice between LZ4 and dictionary zstd, from observed ratios (stored/raw,
 * exponentially weighted). The frame is then written with the chosen codec through the usual keep
 * rule and backoff, which stores it raw when compression does not pay ("none"). Without a
 * dictionary the choice is LZ4. With one, zstd-dict is chosen while its ratio is at least `minGain`
 * better than LZ4's; every `probeEvery`-th frame the codec not chosen is tried on the same values
 * (not written) so that both ratios stay current. A new dictionary starts unknown, so it is tried.
 */
export class AutoCodecChooser {
  private lz4: number | undefined;
  private dict: number | undefined;
  private frames = 0;

  constructor(
    readonly probeEvery = 16,
    readonly minGain = 0.1,
  ) {}

  choose(hasDict: boolean): AutoCodec {
    if (!hasDict) return 'lz4';
    if (this.dict === undefined) return 'zstd-dict';
    if (this.lz4 === undefined) return 'zstd-dict';
    return this.dict <= this.lz4 * (1 - this.minGain) ? 'zstd-dict' : 'lz4';
  }

  /** Counts a frame; true when the codec not chosen should be tried on it too. */
  shouldProbe(hasDict: boolean): boolean {
    this.frames++;
    return hasDict && this.frames % this.probeEvery === 0;
  }

  /** Records the outcome of an attempted encode (stored = raw when the result was not kept). */
  observe(codec: AutoCodec, rawBytes: number, storedBytes: number): void {
    if (!(rawBytes > 0)) return;
    const r = Math.min(1, storedBytes / rawBytes);
    if (codec === 'lz4') this.lz4 = this.lz4 === undefined ? r : 0.8 * this.lz4 + 0.2 * r;
    else this.dict = this.dict === undefined ? r : 0.8 * this.dict + 0.2 * r;
  }

  /** A new dictionary: its ratio is unknown until tried. */
  resetDictionary(): void {
    this.dict = undefined;
  }

  ratios(): { lz4: number | undefined; zstdDict: number | undefined } {
    return { lz4: this.lz4, zstdDict: this.dict };
  }
}

// ---------------------------------------------------------------------------------------------
// Autotune options (the Go package's, docs/DESIGN.md "Compression policy")

/** How hard autotuning searches (the Go package's modes). */
export enum AutotuneMode {
  /** Not set: normalizeAutotuneOptions picks Medium when the value log is on, Off otherwise. */
  Unset = 0,
  /** No autotuning. */
  Off = 1,
  /** The smaller candidate grid. */
  Medium = 2,
  /** The larger candidate grid and sample budget. */
  Aggressive = 3,
}

/**
 * Autotune options as in the Go package; 0 or an empty list means "the mode's default" (see
 * normalizeAutotuneOptions).
 */
export interface AutotuneOptions {
  /** The mode. */
  mode: AutotuneMode;
  /** Candidate frame sizes K (values per frame). */
  candidateK: number[];
  /** Candidate history sizes in bytes. */
  candidateHistoryBytes: number[];
  /** Candidate dictionary sizes in bytes. */
  candidateDictBytes: number[];
  /** Smallest relative gain that makes autotuning switch candidates. */
  minGainToSwitch: number;
  /** Frames to stay with a candidate before switching again. */
  minDwellFrames: number;
  /** Sample one value in this many. */
  sampleStride: number;
  /** Most sample bytes kept. */
  maxSampleBytes: number;
  /** Share of CPU time training may use. */
  trainCpuFraction: number;
  /** Bytes written while probing candidates. */
  probeBytes: number;
  /** Bytes written between probes. */
  pauseBytes: number;
  /** Values smaller than this are not autotuned (0: no floor). */
  disableBelowValueBytes: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Default candidate grids. v0.3.0's Medium grid is UNCONFIRMED in the reference; we take the
 * smaller, earlier one (history 64/96/128 KiB, dictionary 40/64/96 KiB) and the newest Aggressive grid.
 */
export const AUTOTUNE_GRIDS = {
  k: [1, 2, 4, 8, 16, 32],
  medium: { history: [64 * KiB, 96 * KiB, 128 * KiB], dict: [40 * KiB, 64 * KiB, 96 * KiB] },
  aggressive: {
    history: [64 * KiB, 96 * KiB, 128 * KiB, 192 * KiB, 256 * KiB, 512 * KiB],
    dict: [40 * KiB, 64 * KiB, 96 * KiB, 128 * KiB, 192 * KiB, 256 * KiB],
  },
} as const;

export function defaultAutotuneOptions(): AutotuneOptions {
  return {
    mode: AutotuneMode.Unset,
    candidateK: [],
    candidateHistoryBytes: [],
    candidateDictBytes: [],
    minGainToSwitch: 0,
    minDwellFrames: 0,
    sampleStride: 0,
    maxSampleBytes: 0,
    trainCpuFraction: 0,
    probeBytes: 0,
    pauseBytes: 0,
    disableBelowValueBytes: 0,
  };
}

/** Fills unset fields with the mode's defaults; Unset becomes Medium when the value log is on. */
export function normalizeAutotuneOptions(opts: Partial<AutotuneOptions> | undefined, valueLogEnabled: boolean): AutotuneOptions {
  const o: AutotuneOptions = { ...defaultAutotuneOptions(), ...(opts ?? {}) };
  o.candidateK = [...o.candidateK];
  o.candidateHistoryBytes = [...o.candidateHistoryBytes];
  o.candidateDictBytes = [...o.candidateDictBytes];
  if (o.mode === AutotuneMode.Unset) o.mode = valueLogEnabled ? AutotuneMode.Medium : AutotuneMode.Off;
  if (o.mode === AutotuneMode.Off) return o;
  const aggressive = o.mode === AutotuneMode.Aggressive;
  const grid = aggressive ? AUTOTUNE_GRIDS.aggressive : AUTOTUNE_GRIDS.medium;
  if (o.candidateK.length === 0) o.candidateK = [...AUTOTUNE_GRIDS.k];
  if (o.candidateHistoryBytes.length === 0) o.candidateHistoryBytes = [...grid.history];
  if (o.candidateDictBytes.length === 0) o.candidateDictBytes = [...grid.dict];
  if (o.minGainToSwitch <= 0) o.minGainToSwitch = 0.05;
  if (o.minDwellFrames === 0) o.minDwellFrames = 1 << 16;
  if (o.sampleStride === 0) o.sampleStride = 4;
  if (o.maxSampleBytes === 0) o.maxSampleBytes = aggressive ? 32 * MiB : 8 * MiB;
  if (o.trainCpuFraction === 0) o.trainCpuFraction = 0.02;
  if (o.probeBytes === 0) o.probeBytes = 16 * MiB;
  if (o.pauseBytes === 0) o.pauseBytes = 64 * MiB;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Workloads (value generators shared with the Go package's benchmarks)

/**
 * Seeded generator (sfc32 with a splitmix32-expanded seed). Deterministic for a seed in every
 * runtime; not bit-identical to Go's math/rand, which no acceptance test requires.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | bigint) {
    let s = Number(BigInt.asUintN(32, BigInt(seed))) ^ Number(BigInt.asUintN(32, BigInt(seed) >> 32n));
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** The next 32-bit unsigned value. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw invalidArgument(`intn needs 1..2^32-1, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** Fills `dst` with random bytes (each 32-bit draw little-endian). */
  fill(dst: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= dst.length; i += 4) {
      const x = this.uint32();
      dst[i] = x & 0xff;
      dst[i + 1] = (x >>> 8) & 0xff;
      dst[i + 2] = (x >>> 16) & 0xff;
      dst[i + 3] = x >>> 24;
    }
    if (i < dst.length) {
      const x = this.uint32();
      for (let j = 0; i < dst.length; i++, j += 8) dst[i] = (x >>> j) & 0xff;
    }
  }
}

/** A named generator of benchmark values, shared with the Go package's workloads. */
export interface AutotuneWorkload {
  /** The workload's name. */
  name: string;
  /** One value of `size` bytes drawn from `rng`. */
  make(rng: SeededRandom, size: number): Uint8Array;
}

const utf8 = new TextEncoder();

function repeatPattern(pattern: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = pattern[i % pattern.length]!;
  return out;
}

const TAIL_PATTERN = utf8.encode('{"key":"value","active":true}');
const TEMPLATE_PREFIX = utf8.encode('templatedb:{"type":"account","data":');
const TEMPLATE_SUFFIX = utf8.encode(',"state":"active"}');
const SPARSE_PATTERN = utf8.encode('abcd1234');

const WORKLOADS: readonly AutotuneWorkload[] = [
  {
    name: 'highly_compressible_tail64',
    make(rng, size) {
      const out = repeatPattern(TAIL_PATTERN, size);
      const tail = Math.min(64, size);
      rng.fill(out.subarray(size - tail));
      return out;
    },
  },
  {
    name: 'template_friendly_mid',
    make(rng, size) {
      const fixed = TEMPLATE_PREFIX.length + TEMPLATE_SUFFIX.length;
      if (size <= fixed) {
        const both = new Uint8Array(fixed);
        both.set(TEMPLATE_PREFIX);
        both.set(TEMPLATE_SUFFIX, TEMPLATE_PREFIX.length);
        return both.slice(0, size);
      }
      const out = new Uint8Array(size);
      out.set(TEMPLATE_PREFIX);
      for (let i = TEMPLATE_PREFIX.length; i < size - TEMPLATE_SUFFIX.length; i++) out[i] = 0x61 + rng.intn(26);
      out.set(TEMPLATE_SUFFIX, size - TEMPLATE_SUFFIX.length);
      return out;
    },
  },
  {
    name: 'medium_compressible_sparse',
    make(rng, size) {
      const out = repeatPattern(SPARSE_PATTERN, size);
      for (let off = 0; off < size; off += 256) rng.fill(out.subarray(off, Math.min(off + 16, size)));
      return out;
    },
  },
  {
    name: 'incompressible',
    make(rng, size) {
      const out = new Uint8Array(size);
      rng.fill(out);
      return out;
    },
  },
];

/** Every built-in workload (a copy of the list). */
export function autotuneWorkloads(): AutotuneWorkload[] {
  return [...WORKLOADS];
}

/** The built-in workload named `name`, if any. */
export function lookupAutotuneWorkload(name: string): AutotuneWorkload | undefined {
  return WORKLOADS.find((w) => w.name === name);
}

/** `count` values of `size` bytes from one generator seeded with `seed` (empty for count/size <= 0). */
export function generateAutotuneValues(workload: AutotuneWorkload | string, size: number, count: number, seed: number | bigint): Uint8Array[] {
  const w = typeof workload === 'string' ? lookupAutotuneWorkload(workload) : workload;
  if (w === undefined) throw invalidArgument(`unknown autotune workload ${String(workload)}`);
  if (!(count > 0) || !(size > 0)) return [];
  const rng = new SeededRandom(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(w.make(rng, size));
  return out;
}
