// FramePreparer (docs/DESIGN.md, "Compression policy"): turns records into frame bodies, deciding per
// frame whether to compress (dictionary zstd or a block codec), whether to keep the result, and how
// long to back off after fruitless attempts. The Writer uses one internally, so this is the one
// place where those decisions are made.
import { normalizeZstdLevel, zstdCompress } from './codec/codecs.js';
import { type Clock, type EncodeCostModel, isAdvanceable, RealClock } from './clock.js';
import { invalidArgument, ValueLogError } from './errors.js';
import {
  assembleFrameBody,
  BlockCodec,
  blockCompress,
  checkBodySize,
  checkRecords,
  concatValues,
  type FrameContent,
  framePrefixLength,
  type LogRecord,
  normalizeBlockCodec,
  toU64,
} from './format/frame.js';
import { DEFAULT_KEEP_SAFETY_MARGIN, FRAME_FLAG_COMPRESSED } from './limits.js';
import { dictSkipFramesAggressive, shouldKeepCompressed, shouldSkipCompression } from './policy.js';

/** What preparing one frame did: sizes, whether an encode ran and was kept, and its sampled time. */
export interface FrameStats {
  /** Values in the frame. */
  records: number;
  /** Sum of the values' lengths. */
  rawPayloadBytes: number;
  /** Bytes stored after the frame prefix: the raw length, or the compressed length when kept. */
  storedPayloadBytes: number;
  /** An encode actually ran (even if its result was discarded). */
  attempted: boolean;
  /** Compressed bytes were stored. */
  kept: boolean;
  /** Sampled encode time in ns (0 when not measured). */
  encodeNs: number;
}

/** A frame body ready to be wrapped in a record, and what preparing it did. */
export interface PreparedFrame {
  /** The frame body (header, RIDs, offsets, stored payload). */
  body: Uint8Array;
  /** What preparing it did. */
  stats: FrameStats;
}

/** A frame decided but not yet laid out: header fields, values, and the kept compressed payload. */
export interface FrameParts extends FrameContent {
  /** The values' record ids. */
  rids: bigint[];
  /** The raw values (stored as they are unless a compressed payload was kept). */
  values: Uint8Array[];
  /** Length of the body once laid out. */
  bodyLength: number;
  /** What preparing it did. */
  stats: FrameStats;
}

/** The stats of a frame whose values are stored raw, no encode attempted. */
export function rawFrameStats(records: number, rawLength: number): FrameStats {
  return { records, rawPayloadBytes: rawLength, storedPayloadBytes: rawLength, attempted: false, kept: false, encodeNs: 0 };
}

const NO_BENEFIT_MAX = 255;
const SKIP_REMAIN_MAX = 0xffff;

/**
 * Turns records into frame bodies and makes every compression decision: which codec, whether the
 * compressed result is kept (the keep rule), and how long to back off after frames that did not
 * benefit.
 */
export class FramePreparer {
  private level = normalizeZstdLevel(undefined);
  private entropy = false;
  private blockCodec: BlockCodec = BlockCodec.Snappy;
  private blockEnabled = false;
  private clock: Clock = new RealClock();
  private costModel: EncodeCostModel | undefined;
  private sampleStride = 0;
  private sampleCounter = 0;
  private ioNsPerStoredByte = 0;
  private encodeNsPerRawByte = 0;
  private safetyMargin = DEFAULT_KEEP_SAFETY_MARGIN;
  private skipDictId = 0n;
  private noBenefit = 0;
  private skipRemain = 0;

  /**
   * @param backoffBeforeSkipPolicy The Writer consults its backoff counter before the static skip
   * policy; the standalone FramePreparer checks the skip policy first (as in the Go package).
   */
  constructor(private readonly backoffBeforeSkipPolicy = false) {}

  /** zstd level for dictionary frames (outside 1..19 → Fastest) and whether literals are entropy-coded. */
  setDictFrameEncoderOptions(level: number, enableEntropy: boolean): void {
    this.level = normalizeZstdLevel(level);
    this.entropy = Boolean(enableEntropy);
    this.resetCompressionHints();
  }

  /** Block compression for frames without a dictionary; None (or anything unknown) selects Snappy. */
  setBlockCompression(codec: BlockCodec | number, enabled: boolean): void {
    this.blockCodec = normalizeBlockCodec(codec);
    this.blockEnabled = Boolean(enabled);
  }

  /** Clock used to time sampled encodes (undefined or null: the real clock). */
  setClock(clock: Clock | undefined | null): void {
    this.clock = clock ?? new RealClock();
  }

  /** 0 = never measure encode time, 1 = every attempt, n = every n-th attempt. */
  setEncodeSampleStride(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw invalidArgument(`encode sample stride must be a non-negative integer, got ${n}`);
    this.sampleStride = n;
  }

  /** Replaces measured encode times with a model (undefined or null: measure). */
  setEncodeCostModel(model: EncodeCostModel | undefined | null): void {
    this.costModel = model ?? undefined;
  }

  /**
   * The keep rule's costs: a compressed frame is kept only when the I/O it saves (ns per stored byte)
   * outweighs its encode time (ns per raw byte) by the safety margin (negative counts as 0).
   */
  setKeepPolicy(ioNsPerStoredByte: number, encodeNsPerRawByte: number, safetyMargin: number): void {
    for (const [name, v] of [['ioNsPerStoredByte', ioNsPerStoredByte], ['encodeNsPerRawByte', encodeNsPerRawByte], ['safetyMargin', safetyMargin]] as const) {
      if (typeof v !== 'number' || Number.isNaN(v)) throw invalidArgument(`keep policy ${name} must be a number`);
    }
    this.ioNsPerStoredByte = ioNsPerStoredByte;
    this.encodeNsPerRawByte = encodeNsPerRawByte;
    this.safetyMargin = safetyMargin < 0 ? 0 : safetyMargin;
  }

  /** Forgets the backoff state (frames without benefit, frames left to skip). */
  resetCompressionHints(): void {
    this.noBenefit = 0;
    this.skipRemain = 0;
    this.skipDictId = 0n;
  }

  /** Current backoff state (for tests and diagnostics). */
  compressionHints(): { noBenefit: number; skipRemain: number; skipDictId: bigint } {
    return { noBenefit: this.noBenefit, skipRemain: this.skipRemain, skipDictId: this.skipDictId };
  }

  /**
   * Builds one frame body for 1..128 records. `dst`, when its buffer is large enough, is reused
   * for the body (the returned body then shares its buffer).
   */
  prepareFrame(dictId: bigint | number, dict: Uint8Array | undefined, records: readonly LogRecord[], dst?: Uint8Array): PreparedFrame {
    const parts = this.prepareParts(dictId, dict, records);
    const body = assembleFrameBody(parts, dst);
    return { body, stats: parts.stats };
  }

  /**
   * Whether prepareParts(dictId, …) would store any records raw without trying to compress them and
   * without touching the backoff state: no dictionary and no block compression. The frame is then the
   * values as given, with flags 0, reserved 0, dictId 0 and rawFrameStats.
   */
  storesRaw(dictId: bigint | number | undefined): boolean {
    return !this.blockEnabled && (dictId === undefined || dictId === 0 || dictId === 0n);
  }

  /**
   * Decides how a frame is stored without assembling it: the header fields, the values, and the
   * compressed payload when compression was kept. The Writer lays these out in its own buffer.
   */
  prepareParts(dictId: bigint | number, dict: Uint8Array | undefined, records: readonly LogRecord[]): FrameParts {
    const id = toU64(dictId, 'dictId');
    const { rids, values, rawLength } = checkRecords(records, () => invalidArgument('missing rid'));
    if (id !== 0n && (dict === undefined || !(dict instanceof Uint8Array) || dict.length === 0)) {
      throw new ValueLogError('MISSING_DICT', `valuelog: missing dict bytes for dictionary ${id}`);
    }
    const stats = rawFrameStats(rids.length, rawLength);
    let stored: Uint8Array | undefined;
    let flags = 0;
    let reserved = 0;
    if (id === 0n && this.blockEnabled) {
      if (this.skipDictId !== 0n) this.resetCompressionHints();
      if (rawLength > 0 && this.mayAttempt()) {
        const raw = concatValues(values, rawLength);
        const encoded = this.timed(rawLength, rids.length, stats, () => blockCompress(this.blockCodec, raw));
        stored = this.decide(rawLength, encoded, stats);
        if (stored) {
          flags = FRAME_FLAG_COMPRESSED;
          reserved = this.blockCodec;
        }
      }
    } else if (id !== 0n) {
      if (id !== this.skipDictId) {
        this.noBenefit = 0;
        this.skipRemain = 0;
        this.skipDictId = id;
      }
      if (rawLength > 0 && this.mayAttempt()) {
        const raw = concatValues(values, rawLength);
        const encoded = this.timed(rawLength, rids.length, stats, () =>
          zstdCompress(raw, { level: this.level, entropy: this.entropy, dict: { id, bytes: dict! }, maxOutput: rawLength - 1 }),
        );
        stored = this.decide(rawLength, encoded, stats);
        if (stored) flags = FRAME_FLAG_COMPRESSED;
      }
    }
    const bodyLength = framePrefixLength(rids.length) + (stored ? stored.length : rawLength);
    checkBodySize(bodyLength);
    return { dictId: id, flags, reserved, rids, values, stored, bodyLength, stats };
  }

  /** Backoff and static skip policy: may this frame try to compress? Consumes one backoff step. */
  private mayAttempt(): boolean {
    const skipPolicy = () => shouldSkipCompression(this.ioNsPerStoredByte, this.encodeNsPerRawByte, this.safetyMargin);
    if (!this.backoffBeforeSkipPolicy && skipPolicy()) return false;
    if (this.skipRemain > 0) {
      this.skipRemain--;
      return false;
    }
    return this.backoffBeforeSkipPolicy ? !skipPolicy() : true;
  }

  /** Runs an encode, sampling its cost every `sampleStride` attempts. */
  private timed(rawLength: number, records: number, stats: FrameStats, encode: () => Uint8Array | undefined): Uint8Array | undefined {
    stats.attempted = true;
    this.sampleCounter++;
    const sample = this.sampleStride === 1 || (this.sampleStride > 1 && this.sampleCounter % this.sampleStride === 0);
    if (!sample) return encode();
    const start = this.clock.now();
    const out = encode();
    const modelled = this.costModel ? this.costModel.encodeNs(rawLength, records) : 0;
    if (modelled > 0) {
      stats.encodeNs = modelled;
      if (isAdvanceable(this.clock)) this.clock.advance(modelled);
    } else {
      stats.encodeNs = Number(this.clock.now() - start);
    }
    return out;
  }

  /** Applies the keep rule; on a miss, lengthens the backoff. Returns the bytes to store, if any. */
  private decide(rawLength: number, encoded: Uint8Array | undefined, stats: FrameStats): Uint8Array | undefined {
    const encodedLength = encoded ? encoded.length : rawLength;
    let ns = stats.encodeNs;
    if (ns <= 0 && this.encodeNsPerRawByte > 0) ns = this.encodeNsPerRawByte * rawLength;
    if (encoded && shouldKeepCompressed(rawLength, encodedLength, ns, this.ioNsPerStoredByte, this.safetyMargin)) {
      this.noBenefit = 0;
      this.skipRemain = 0;
      stats.kept = true;
      stats.storedPayloadBytes = encodedLength;
      return encoded;
    }
    this.noBenefit = Math.min(this.noBenefit + 1, NO_BENEFIT_MAX);
    this.skipRemain = Math.min(
      dictSkipFramesAggressive(this.noBenefit, rawLength, encodedLength, stats.encodeNs, this.ioNsPerStoredByte, this.safetyMargin),
      SKIP_REMAIN_MAX,
    );
    return undefined;
  }
}
