// The compression option at work: how many values a frame holds, which codec each frame gets (the
// mode, and for 'auto' the chooser of policy.ts), the sampling of recent values and the policy that
// trains a dictionary from them, and what all that did (stats().compression and .dictionaries).
// See docs/DESIGN.md, "Compression policy".
import type { DictionaryStore } from './dictionaries.js';
import { SampleReservoir } from './dictionaries.js';
import { invalidArgument } from './errors.js';
import { BlockCodec, framePrefixLength, type LogRecord } from './format/frame.js';
import type { ValuePtr } from './format/pointer.js';
import { FramePreparer } from './frame-preparer.js';
import type { Lane } from './lanes.js';
import { HEADER_SIZE, MAX_FRAME_K } from './limits.js';
import type { NormalizedOptions } from './log-options.js';
import type { CompressionStats, DictionaryStats, FrameCodec } from './log-stats.js';
import { AutoCodecChooser, chooseBlockGroupK, type AutoCodec } from './policy.js';
import type { Writer } from './writer.js';

/** Samples are cut to this length: a dictionary helps the start of a value most. */
const MAX_SAMPLE_BYTES = 16 * 1024;
/** Once a dictionary exists, one value in this many is still sampled (for retraining on request). */
const SAMPLE_STRIDE_WITH_DICT = 8;
/** The trainer needs at least this many samples. */
const MIN_TRAINING_SAMPLES = 8;
/** 'auto' trains only when LZ4 shows the data compresses at all (observed ratio below this). */
const AUTO_TRAIN_MAX_LZ4_RATIO = 0.9;

/** @internal The log's compression mode: frame sizes, codec choice, sampling and training. */
export class CompressionMode {
  private readonly reservoir: SampleReservoir | undefined;
  private readonly chooser = new AutoCodecChooser();
  /** Encodes frames with the codec not chosen ('auto'), to keep both ratios current; never written. */
  private readonly probe = new FramePreparer();
  private trainingRun: Promise<void> | undefined;
  private trainedAt = 0;
  private trainedByPolicy = 0;
  private trainedOnRequest = 0;
  private lastTrainingError: string | undefined;
  private readonly codecFrames: Record<FrameCodec, number> = { none: 0, snappy: 0, lz4: 0, 'zstd-dict': 0 };
  private readonly codecValues: Record<FrameCodec, number> = { none: 0, snappy: 0, lz4: 0, 'zstd-dict': 0 };
  private rawBytes = 0;
  private storedBytes = 0;
  private stopped = false;

  /** `dicts()` is the log's dictionary store (a read-only log replaces it on refresh). */
  constructor(
    private readonly opts: NormalizedOptions,
    private readonly dicts: () => DictionaryStore,
  ) {
    if (this.usesDictionaries()) this.reservoir = new SampleReservoir(opts.dictionary.sampleBytes, MAX_SAMPLE_BYTES);
    if (this.reservoir && dicts().current) this.reservoir.stride = SAMPLE_STRIDE_WITH_DICT;
    this.probe.setBlockCompression(BlockCodec.LZ4, true);
    this.probe.setDictFrameEncoderOptions(opts.dictionary.level, opts.dictionary.entropy);
  }

  /** Sets a lane writer's codecs: the dictionary modes use LZ4 for frames without a dictionary. */
  configure(writer: Writer): void {
    const mode = this.opts.compression;
    if (mode !== 'none') writer.setBlockCompression(mode === 'snappy' ? BlockCodec.Snappy : BlockCodec.LZ4, true);
    writer.setDictFrameEncoderOptions(this.opts.dictionary.level, this.opts.dictionary.entropy);
  }

  /**
   * How many of `values[i..]` the next frame holds (at least one, at most 128): up to rawFrameBytes
   * of them uncompressed; once there is a dictionary, up to dictionary.frameBytes of them (a random
   * read decodes its whole frame, and a dictionary compresses even one value well); else as many as
   * make a compressed frame of about 4 KiB at the lane's observed ratio.
   */
  valuesInFrame(values: readonly Uint8Array[], i: number, lane: Lane): number {
    const probe = Math.min(values.length - i, MAX_FRAME_K);
    if (this.opts.compression === 'none') return valuesUpTo(values, i, probe, this.opts.rawFrameBytes);
    if (this.usesDictionaries() && this.dicts().current !== undefined) return valuesUpTo(values, i, probe, this.opts.dictionary.frameBytes);
    let raw = 0;
    for (let j = 0; j < probe; j++) raw += values[i + j]!.length;
    return chooseBlockGroupK(probe, raw, 0, lane.ratio);
  }

  /** Writes one frame with the codec the mode (and for 'auto' the chooser) picks; counts the outcome. */
  writeFrame(lane: Lane, records: LogRecord[]): ValuePtr[] {
    const mode = this.opts.compression;
    const dicts = this.dicts();
    const dict = this.usesDictionaries() ? dicts.current : undefined;
    let codec: FrameCodec = mode === 'none' ? 'none' : mode === 'snappy' ? 'snappy' : 'lz4';
    if (dict !== undefined) codec = mode === 'auto' ? this.chooser.choose(true) : 'zstd-dict';
    const withDict = codec === 'zstd-dict' ? dict : undefined;
    const { ptrs, stats } = lane.writer.appendFrame(records, withDict ? { dictId: withDict.id, dict: withDict.bytes } : {});
    if (stats.attempted && stats.rawPayloadBytes > 0) {
      lane.ratio = 0.8 * lane.ratio + 0.2 * (stats.storedPayloadBytes / stats.rawPayloadBytes);
      if (mode === 'auto') this.chooser.observe(codec as AutoCodec, stats.rawPayloadBytes, stats.storedPayloadBytes);
    }
    if (mode === 'auto' && this.chooser.shouldProbe(dict !== undefined)) {
      // Try the codec not chosen on the same values (not written) so that both ratios stay current.
      const other: AutoCodec = codec === 'zstd-dict' ? 'lz4' : 'zstd-dict';
      this.probe.resetCompressionHints();
      const p = other === 'zstd-dict' ? this.probe.prepareParts(dict!.id, dict!.bytes, records) : this.probe.prepareParts(0, undefined, records);
      if (p.stats.attempted) this.chooser.observe(other, p.stats.rawPayloadBytes, p.stats.storedPayloadBytes);
    }
    const stored: FrameCodec = stats.kept ? codec : 'none';
    this.codecFrames[stored]++;
    this.codecValues[stored] += records.length;
    this.rawBytes += stats.rawPayloadBytes;
    this.storedBytes += stats.storedPayloadBytes;
    if (stats.kept && withDict) dicts.noteFrame(withDict.id, records.length);
    return ptrs;
  }

  /** Offers values put to the training samples, and trains in the background when the policy says so. */
  sample(values: readonly Uint8Array[]): void {
    if (this.reservoir === undefined) return;
    for (const v of values) this.reservoir.offer(v);
    this.maybeTrainByPolicy();
  }

  /** The background training in flight, if any. */
  get training(): Promise<void> | undefined {
    return this.trainingRun;
  }

  /**
   * Trains a dictionary from `samples` (default: the values sampled) on request and makes it the
   * current one, after a policy training in flight. INVALID_ARGUMENT with fewer than 8 samples.
   */
  async trainOnRequest(samples: Uint8Array[] | undefined, size: number | undefined): Promise<bigint> {
    const given = samples !== undefined;
    const list = samples ?? this.reservoir?.samples() ?? [];
    if (!Array.isArray(list)) throw invalidArgument('samples must be an array of Uint8Array');
    if (list.length < MIN_TRAINING_SAMPLES) {
      throw invalidArgument(`trainDictionary needs at least ${MIN_TRAINING_SAMPLES} samples, has ${list.length}${given ? '' : ' (put more values first, or pass samples)'}`);
    }
    if (this.trainingRun) await this.trainingRun;
    const id = await this.train(list, size ?? this.opts.dictionary.size);
    this.trainedOnRequest++;
    return id;
  }

  /** The log is closing: a training that ends from now on stores its dictionary but does not switch to it. */
  stop(): void {
    this.stopped = true;
  }

  /** What compression did since open. */
  compressionStats(): CompressionStats {
    return {
      rawBytes: this.rawBytes,
      storedBytes: this.storedBytes,
      frames: { ...this.codecFrames },
      values: { ...this.codecValues },
      autoRatios: this.opts.compression === 'auto' ? this.chooser.ratios() : undefined,
    };
  }

  /** The dictionary store and training. */
  dictionaryStats(): DictionaryStats {
    const dicts = this.dicts();
    return {
      current: dicts.current === undefined ? undefined : Number(dicts.current.id),
      dictionaries: dicts.info().map((d) => ({ ...d, id: Number(d.id) })),
      damaged: dicts.damaged().map((d) => ({ ...d, id: d.id === undefined ? undefined : Number(d.id) })),
      trainedByPolicy: this.trainedByPolicy,
      trainedOnRequest: this.trainedOnRequest,
      training: this.trainingRun !== undefined,
      lastTrainingError: this.lastTrainingError,
      sampleBytes: this.reservoir?.bytes ?? 0,
    };
  }

  private usesDictionaries(): boolean {
    return this.opts.compression === 'zstd-dict' || this.opts.compression === 'auto';
  }

  /** Starts a background training when the policy says so (see DictionaryOptions.trainAfterBytes). */
  private maybeTrainByPolicy(): void {
    const r = this.reservoir!;
    const after = this.opts.dictionary.trainAfterBytes;
    if (after === 0 || this.trainingRun !== undefined || this.dicts().current !== undefined) return;
    if (r.seenBytes - this.trainedAt < after || r.count < MIN_TRAINING_SAMPLES) return;
    this.trainedAt = r.seenBytes;
    if (this.opts.compression === 'auto') {
      const lz4 = this.chooser.ratios().lz4;
      if (lz4 === undefined || lz4 > AUTO_TRAIN_MAX_LZ4_RATIO) return; // incompressible so far: try again later
    }
    const samples = r.samples();
    this.trainingRun = (async () => {
      await Promise.resolve(); // put() returns first; training then runs on the event loop
      try {
        await this.train(samples, this.opts.dictionary.size);
        this.trainedByPolicy++;
        this.lastTrainingError = undefined;
      } catch (e) {
        this.lastTrainingError = e instanceof Error ? e.message : String(e);
      } finally {
        this.trainingRun = undefined;
      }
    })();
  }

  private async train(samples: Uint8Array[], size: number): Promise<bigint> {
    const dicts = this.dicts();
    const { id } = await dicts.train(samples, { size, level: this.opts.dictionary.level });
    if (!this.stopped) {
      dicts.setCurrent(id);
      this.chooser.resetDictionary();
      if (this.reservoir) this.reservoir.stride = SAMPLE_STRIDE_WITH_DICT;
    }
    return id;
  }
}

/** @internal The bytes of a record holding values[from..from+k] uncompressed: what rotation makes room for. */
export function uncompressedRecordBytes(values: readonly Uint8Array[], from = 0, k = values.length): number {
  let bytes = HEADER_SIZE + framePrefixLength(k);
  for (let j = 0; j < k; j++) bytes += values[from + j]!.length;
  return bytes;
}

/** How many of values[i..i+most] fit in `bytes` (at least one): O(k), not O(128), per frame. */
function valuesUpTo(values: readonly Uint8Array[], i: number, most: number, bytes: number): number {
  let k = 1;
  let sum = values[i]!.length;
  while (k < most && sum + values[i + k]!.length <= bytes) sum += values[i + k++]!.length;
  return k;
}
