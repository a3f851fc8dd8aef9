// ValueLog: the application facade. It recovers torn tails on open, keeps one writer per lane,
// rotates segments by size, batches concurrent commits into one sync (group commit), and hands out
// snapshots that pin the segments they can read. Dictionary compression keeps its dictionaries in a
// store beside the segments (src/dictionaries.ts) and trains them from a bounded sample of recent values.
import { DictionaryStore, SampleReservoir, type DamagedDictionary, type DictionaryInfo } from './dictionaries.js';
import { asValueLogError, invalidArgument, ValueLogError } from './errors.js';
import { BlockCodec, framePrefixLength, type LogRecord } from './format/frame.js';
import { FramePreparer } from './frame-preparer.js';
import { checkValuePtr, ptrKey, type ValuePtr } from './format/pointer.js';
import { decodeFileId, encodeFileId, MAX_LANE, MAX_SEQ, parseSegmentFileName, segmentFileName } from './format/segment.js';
import { HEADER_SIZE, MAX_FRAME_K } from './limits.js';
import { Manager, type ValueSet } from './manager.js';
import { AutoCodecChooser, chooseBlockGroupK, type AutoCodec } from './policy.js';
import { GarbageTracker } from './garbage.js';
import { Reader, type ReaderEntry } from './reader.js';
import { recoverSegment, type SegmentRecovery } from './recovery.js';
import { DICT_HIGHWATER_NAME, parseDictFileName } from './format/dictionary.js';
import type { StorageBackend, StorageFile, StorageLock } from './storage/types.js';
import { DEFAULT_WRITER_BUFFER, Writer } from './writer.js';

export type Compression = 'none' | 'snappy' | 'lz4' | 'zstd-dict' | 'auto';

/** How 'zstd-dict' and 'auto' train and use dictionaries. */
export interface DictionaryOptions {
  /** Size of trained dictionaries in bytes (default 32 KiB). */
  size?: number;
  /** Bytes of recent values kept in memory as training samples (default 1 MiB). */
  sampleBytes?: number;
  /**
   * Train automatically once this many value bytes were put while there is no dictionary (default
   * 256 KiB; retried after as many bytes again if training fails). 0: only trainDictionary() trains.
   */
  trainAfterBytes?: number;
  /** zstd level of dictionary frames (default 3) and whether literals are entropy-coded (default true). */
  level?: number;
  entropy?: boolean;
}

export interface DictionaryTrainOptions {
  /** Samples to train from (default: the recent values the log has sampled). At least 8. */
  samples?: Uint8Array[];
  /** Dictionary size in bytes (default: the log's dictionary.size). */
  size?: number;
}

/** How frames were stored since open: raw ('none') or compressed with a codec. */
export type FrameCodec = 'none' | 'snappy' | 'lz4' | 'zstd-dict';

export interface CompressionStats {
  /** Value bytes put into frames and the payload bytes stored for them. */
  rawBytes: number;
  storedBytes: number;
  frames: Record<FrameCodec, number>;
  values: Record<FrameCodec, number>;
  /** 'auto' only: the observed stored/raw ratios it chooses by (undefined until observed). */
  autoRatios: { lz4: number | undefined; zstdDict: number | undefined } | undefined;
}

export interface DictionaryStats {
  /** Id new frames are compressed with ('zstd-dict'/'auto'), if there is a dictionary. */
  current: bigint | undefined;
  /** Every sound dictionary in the store, with frames/values written with it since open. */
  dictionaries: DictionaryInfo[];
  /** Files that failed their checks: never used; frames that need them fail with CORRUPT. */
  damaged: DamagedDictionary[];
  /** Dictionaries trained since open: automatically by policy and on request. */
  trainedByPolicy: number;
  trainedOnRequest: number;
  /** A policy training is running in the background. */
  training: boolean;
  /** Why the last policy training failed (it is retried later), if it did. */
  lastTrainingError: string | undefined;
  /** Bytes of recent values held as training samples. */
  sampleBytes: number;
}

export interface ValueLogOptions {
  /** Rotate a lane to a new segment once its active one reaches this many bytes (default 64 MiB). */
  segmentSize?: number;
  /** Number of lanes (independent writers and segment sequences), 1..256 (default 1). */
  lanes?: number;
  /**
   * How frames are compressed (default 'none'): a block codec, 'zstd-dict' (zstd with the store's
   * current dictionary; LZ4 until the first dictionary is trained) or 'auto' (per frame: none, LZ4
   * or zstd-dict; see README). Reading never depends on this: any frame the store can decode reads.
   */
  compression?: Compression;
  dictionary?: DictionaryOptions;
  /** Open despite damage followed by valid records, truncating the segment at the damage. */
  salvage?: boolean;
  /**
   * Open for reading only (default false): takes no lock, so it works beside the process that has
   * the log open for writing; writes, truncates and creates nothing (no recovery: a torn or
   * in-progress last record is simply where reading ends). put, putMany, commit, markDead, compact
   * and trainDictionary reject with INVALID_ARGUMENT. What the writer adds later: records appended
   * to segments already known are readable at once; new segments, dictionaries and dead marks after
   * refresh() (snapshot() refreshes first). See README, "Read-only access".
   */
  readOnly?: boolean;
  /** Each writer's staging buffer (default 256 KiB). */
  bufferSize?: number;
  /**
   * With compression 'none', putMany groups values into frames of about this many bytes (default
   * 1 KiB: values of 1 KiB and more get a record each, 100-byte values go ten to a frame; 1 never
   * groups). A read checks the CRC of its whole frame, so larger frames cost random reads (a 1 KiB
   * read from a 16 KiB frame reads and checks 16 KiB: 64 k reads/s instead of 265 k here) and save
   * header space and append time only for small values (bench/results/frames.md).
   */
  rawFrameBytes?: number;
}

export interface PutOptions {
  lane?: number;
}

export interface SegmentStats {
  name: string;
  fileId: number;
  lane: number;
  seq: number;
  bytes: number;
  active: boolean;
  /** Snapshots holding this segment. */
  pins: number;
  /** Bytes of values marked dead (each value's share of its record), and what that leaves live. */
  deadBytes: number;
  liveBytes: number;
  /** deadBytes / bytes (0 for an empty segment). */
  garbageRatio: number;
  deadValues: number;
  /** Compacted away; deleted when the last snapshot holding it is released. */
  zombie: boolean;
}

export interface CompactOptions {
  /** Compact sealed segments whose garbage ratio is at least this (default 0.5). */
  minGarbageRatio?: number;
  /** Stop after segments totalling this many bytes (default: no limit). */
  maxBytes?: number;
  /** Called with (bytes of chosen segments compacted so far, their total), at 0 and after each segment. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Old pointer → new pointer for every live value that compaction moved; looked up by pointer value. */
export class PointerRemap implements Iterable<[ValuePtr, ValuePtr]> {
  private readonly map = new Map<string, [ValuePtr, ValuePtr]>();
  /** Segments whose live values were copied (now zombies). */
  readonly compactedSegments: number[] = [];
  /** @internal */
  set(oldPtr: ValuePtr, newPtr: ValuePtr): void {
    this.map.set(ptrKey(oldPtr), [oldPtr, newPtr]);
  }
  get(oldPtr: ValuePtr): ValuePtr | undefined {
    return this.map.get(ptrKey(oldPtr))?.[1];
  }
  get size(): number {
    return this.map.size;
  }
  [Symbol.iterator](): Iterator<[ValuePtr, ValuePtr]> {
    return this.map.values();
  }
}

export interface ValueLogStats {
  segments: SegmentStats[];
  totalBytes: number;
  deadBytes: number;
  /** What open() did to torn tails (empty when every segment was clean). */
  recovered: SegmentRecovery[];
  puts: number;
  commits: number;
  /** Durable syncs actually issued: fewer than commits when concurrent commits were grouped. */
  syncs: number;
  compression: CompressionStats;
  dictionaries: DictionaryStats;
  /** Opened with { readOnly: true }. */
  readOnly: boolean;
  /**
   * The directory lock this log holds (undefined when read-only or when the backend has no lock()).
   * tookOver: the previous owner died without closing the log (an unclean shutdown).
   */
  lock: { holder: string; tookOver: boolean } | undefined;
}

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
const DEFAULT_BUFFER = DEFAULT_WRITER_BUFFER;
/** The next segment is opened in the background once the active one passes this share of its size. */
const PREOPEN_AT = 0.25;
/** Raw frame size putMany aims for when it does not compress (a read verifies a whole frame). */
const DEFAULT_RAW_FRAME_BYTES = 1024;
const DEFAULT_DICT_SIZE = 32 * 1024;
const DEFAULT_SAMPLE_BYTES = 1024 * 1024;
const DEFAULT_TRAIN_AFTER = 256 * 1024;
const DEFAULT_DICT_LEVEL = 3;
/** Samples are cut to this length: a dictionary helps the start of a value most. */
const MAX_SAMPLE_BYTES = 16 * 1024;
/** Once a dictionary exists, one value in this many is still sampled (for retraining on request). */
const SAMPLE_STRIDE_WITH_DICT = 8;
/** The trainer needs at least this many samples. */
const MIN_TRAINING_SAMPLES = 8;
/** 'auto' trains only when LZ4 shows the data compresses at all (observed ratio below this). */
const AUTO_TRAIN_MAX_LZ4_RATIO = 0.9;

type NormalizedOptions = Required<Omit<ValueLogOptions, 'salvage' | 'readOnly' | 'dictionary'>> & { dictionary: Required<DictionaryOptions> };

interface Lane {
  index: number;
  writer: Writer;
  seq: number;
  next: Promise<{ file: StorageFile; seq: number }> | undefined;
  ready: { file: StorageFile; seq: number } | undefined;
  dirty: boolean;
  ratio: number;
}

/** A pinned view of the segments that existed when it was taken. */
export class Snapshot {
  private released = false;
  /** @internal */
  constructor(
    private readonly log: ValueLog,
    private readonly set: ValueSet,
  ) {}

  get(ptr: ValuePtr): Uint8Array {
    if (this.released) throw invalidArgument('read through a released snapshot');
    this.log.makeVisible(ptr);
    return this.set.read(ptr);
  }

  async release(): Promise<void> {
    if (this.released) throw invalidArgument('snapshot released twice');
    this.released = true;
    await this.log.releaseSet(this.set);
  }
}

export class ValueLog {
  private lanes: Lane[] = [];
  private closed = false;
  private puts = 0;
  private commits = 0;
  private syncs = 0;
  private pendingCommit: Promise<void> | undefined;
  private backgroundError: unknown;
  private readonly garbage = new GarbageTracker();
  private readonly reservoir: SampleReservoir | undefined;
  private readonly chooser = new AutoCodecChooser();
  private readonly probe = new FramePreparer();
  private training: Promise<void> | undefined;
  private trainedAt = 0;
  private trainedByPolicy = 0;
  private trainedOnRequest = 0;
  private lastTrainingError: string | undefined;
  private readonly codecFrames: Record<FrameCodec, number> = { none: 0, snappy: 0, lz4: 0, 'zstd-dict': 0 };
  private readonly codecValues: Record<FrameCodec, number> = { none: 0, snappy: 0, lz4: 0, 'zstd-dict': 0 };
  private rawBytes = 0;
  private storedBytes = 0;
  private readOnly = false;
  private lockHandle: StorageLock | undefined;
  /** Read-only: the dictionary file names the store was loaded from (reloaded when they change). */
  private dictNames = '';

  private constructor(
    private readonly storage: StorageBackend,
    private readonly manager: Manager,
    private readonly opts: NormalizedOptions,
    private readonly recovered: SegmentRecovery[],
    private dicts: DictionaryStore,
  ) {
    if (this.usesDictionaries()) this.reservoir = new SampleReservoir(opts.dictionary.sampleBytes, MAX_SAMPLE_BYTES);
    if (this.reservoir && dicts.current) this.reservoir.stride = SAMPLE_STRIDE_WITH_DICT;
    this.probe.setBlockCompression(BlockCodec.LZ4, true);
    this.probe.setDictFrameEncoderOptions(opts.dictionary.level, opts.dictionary.entropy);
  }

  /**
   * Opens (or creates) the log in `storage`: the directory lock is taken first (a second opener gets
   * LOCKED naming the holder), the active segment of each lane is scanned, a torn tail is truncated
   * and reported, and writing continues after the last valid record. A refused open leaves nothing
   * behind: the lock is released and the empty segments it created are removed.
   * With { readOnly: true }: no lock, no recovery, no writes (see ValueLogOptions.readOnly).
   */
  static async open(storage: StorageBackend, options: ValueLogOptions = {}): Promise<ValueLog> {
    const opts = normalizeOptions(options);
    if (options.readOnly === true) return ValueLog.openReadOnly(storage, opts);
    // Ownership before anything else: nothing is created, truncated or written before the lock is ours.
    let lock: StorageLock | undefined;
    if (typeof storage.lock === 'function') {
      try {
        lock = await storage.lock();
      } catch (e) {
        throw asValueLogError(e, 'IO', 'taking the directory lock failed');
      }
    }
    const opened: Opened = { writers: [], manager: undefined, existing: undefined };
    try {
      opened.existing = new Set(await storage.list());
      return await ValueLog.openLocked(storage, options, opts, opened, lock);
    } catch (e) {
      await undoOpen(storage, opened, lock);
      throw e;
    }
  }

  /** A read-only view: every segment tracked, no lock, nothing written (see ValueLogOptions.readOnly). */
  private static async openReadOnly(storage: StorageBackend, opts: NormalizedOptions): Promise<ValueLog> {
    const manager = await Manager.open(storage);
    try {
      const log = new ValueLog(storage, manager, opts, [], await DictionaryStore.open(storage));
      log.readOnly = true;
      manager.setDictLookup(log.dicts.lookup);
      log.dictNames = dictionaryNames(await storage.list());
      for (const s of manager.segmentInfo()) await log.garbage.load(storage, s.id);
      return log;
    } catch (e) {
      await manager.close();
      throw e;
    }
  }

  /** The read-write open under the lock; `lock?.tookOver` says the previous owner died without closing. */
  private static async openLocked(storage: StorageBackend, options: ValueLogOptions, opts: NormalizedOptions, opened: Opened, lock: StorageLock | undefined): Promise<ValueLog> {
    const byLane = new Map<number, number[]>();
    for (const name of await storage.list()) {
      const id = parseSegmentFileName(name);
      if (id === undefined || name !== segmentFileName(id)) continue; // legacy names are read, not written
      const { lane, seq } = decodeFileId(id);
      if (!byLane.has(lane)) byLane.set(lane, []);
      byLane.get(lane)!.push(seq);
    }
    const recovered: SegmentRecovery[] = [];
    const active: number[] = [];
    let maxRid = 0n;
    for (let lane = 0; lane < opts.lanes; lane++) {
      const seqs = (byLane.get(lane) ?? []).sort((a, b) => a - b);
      const seq = seqs.length > 0 ? seqs[seqs.length - 1]! : 1;
      active.push(seq);
      if (seqs.length === 0) continue;
      // The highest segment may be an empty one opened ahead of rotation: then the one before it was
      // still being written when the process stopped, and its tail needs recovery too.
      const scanSeqs = [seq];
      const last = await recoverSegment(storage, encodeFileId(lane, seq), options.salvage === true);
      const reports = [last];
      if (last.validBytes === 0 && seqs.length > 1) {
        scanSeqs.unshift(seqs[seqs.length - 2]!);
        reports.unshift(await recoverSegment(storage, encodeFileId(lane, scanSeqs[0]!), options.salvage === true));
      }
      for (const r of reports) {
        if (r.maxRid > maxRid) maxRid = r.maxRid;
        if (!r.clean) {
          const { clean: _clean, ...report } = r;
          recovered.push(report);
        }
      }
    }
    const writers = opened.writers;
    for (let lane = 0; lane < opts.lanes; lane++) writers.push(await Writer.open(storage, encodeFileId(lane, active[lane]!), { bufferSize: opts.bufferSize }));
    const manager = (opened.manager = await Manager.open(storage));
    const dicts = await DictionaryStore.open(storage);
    manager.setDictLookup(dicts.lookup);
    const log = new ValueLog(storage, manager, opts, recovered, dicts);
    log.lockHandle = lock;
    log.ridCounter = maxRid; // RIDs continue after the largest one in the active segments
    const tracked = new Set(manager.segmentInfo().map((x) => x.id));
    for (const name of await storage.list()) {
      const id = name.endsWith('.dead') ? parseSegmentFileName(name.replace(/\.dead$/, '.log')) : undefined;
      if (id === undefined) continue;
      if (tracked.has(id)) await log.garbage.load(storage, id);
      else await storage.remove(name); // its segment was deleted before the sidecar could be
    }
    manager.onSegmentDeleted = (id) => log.garbage.drop(storage, id);
    log.lanes = writers.map((writer, index) => {
      // The dictionary modes use LZ4 for frames without a dictionary.
      if (opts.compression !== 'none') writer.setBlockCompression(opts.compression === 'snappy' ? BlockCodec.Snappy : BlockCodec.LZ4, true);
      writer.setDictFrameEncoderOptions(opts.dictionary.level, opts.dictionary.entropy);
      return { index, writer, seq: active[index]!, next: undefined, ready: undefined, dirty: false, ratio: 0.5 };
    });
    return log;
  }

  /** Appends one value; the pointer is valid at once, durable after the next commit(). */
  put(value: Uint8Array, opts: PutOptions = {}): ValuePtr {
    this.checkWritable('put');
    return this.putMany([value], opts)[0]!;
  }

  /** Appends values in frames of up to 128 (sized for the codec); returns one pointer per value. */
  putMany(values: readonly Uint8Array[], opts: PutOptions = {}): ValuePtr[] {
    this.checkWritable('putMany');
    if (!Array.isArray(values)) throw invalidArgument('putMany expects an array of Uint8Array');
    for (const v of values) if (!(v instanceof Uint8Array)) throw invalidArgument('every value must be a Uint8Array');
    const lane = this.lane(opts.lane);
    const ptrs: ValuePtr[] = [];
    let i = 0;
    while (i < values.length) {
      const probe = Math.min(values.length - i, MAX_FRAME_K);
      let k = 1;
      if (this.opts.compression === 'none') {
        // Fill the frame up to rawFrameBytes (at least one value): O(k), not O(128), per frame.
        let bytes = values[i]!.length;
        while (k < probe && bytes + values[i + k]!.length <= this.opts.rawFrameBytes) bytes += values[i + k++]!.length;
      } else {
        let raw = 0;
        for (let j = 0; j < probe; j++) raw += values[i + j]!.length;
        k = chooseBlockGroupK(probe, raw, 0, lane.ratio);
      }
      let frameBytes = HEADER_SIZE + framePrefixLength(k);
      for (let j = 0; j < k; j++) frameBytes += values[i + j]!.length;
      this.rotateIfFull(lane, frameBytes);
      const records = [];
      for (let j = 0; j < k; j++) records.push({ rid: ++this.ridCounter, value: values[i + j]! });
      for (const p of this.writeFrame(lane, records)) ptrs.push(p);
      i += k;
    }
    lane.dirty = true;
    this.puts += values.length;
    if (this.reservoir) {
      for (const v of values) this.reservoir.offer(v);
      this.maybeTrainByPolicy();
    }
    return ptrs;
  }

  /** Writes one frame with the codec the mode (and for 'auto' the chooser) picks; counts the outcome. */
  private writeFrame(lane: Lane, records: LogRecord[]): ValuePtr[] {
    const mode = this.opts.compression;
    const dict = this.usesDictionaries() ? this.dicts.current : undefined;
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
    if (stats.kept && withDict) this.dicts.noteFrame(withDict.id, records.length);
    return ptrs;
  }

  private usesDictionaries(): boolean {
    return this.opts.compression === 'zstd-dict' || this.opts.compression === 'auto';
  }

  /** Starts a background training when the policy says so (see DictionaryOptions.trainAfterBytes). */
  private maybeTrainByPolicy(): void {
    const r = this.reservoir!;
    const after = this.opts.dictionary.trainAfterBytes;
    if (after === 0 || this.training !== undefined || this.dicts.current !== undefined) return;
    if (r.seenBytes - this.trainedAt < after || r.count < MIN_TRAINING_SAMPLES) return;
    this.trainedAt = r.seenBytes;
    if (this.opts.compression === 'auto') {
      const lz4 = this.chooser.ratios().lz4;
      if (lz4 === undefined || lz4 > AUTO_TRAIN_MAX_LZ4_RATIO) return; // incompressible so far: try again later
    }
    const samples = r.samples();
    this.training = (async () => {
      await Promise.resolve(); // put() returns first; training then runs on the event loop
      try {
        await this.train(samples, this.opts.dictionary.size);
        this.trainedByPolicy++;
        this.lastTrainingError = undefined;
      } catch (e) {
        this.lastTrainingError = e instanceof Error ? e.message : String(e);
      } finally {
        this.training = undefined;
      }
    })();
  }

  private async train(samples: Uint8Array[], size: number): Promise<bigint> {
    const { id } = await this.dicts.train(samples, { size, level: this.opts.dictionary.level });
    if (!this.closed) {
      this.dicts.setCurrent(id);
      this.chooser.resetDictionary();
      if (this.reservoir) this.reservoir.stride = SAMPLE_STRIDE_WITH_DICT;
    }
    return id;
  }

  /**
   * Trains a dictionary from the recent values the log has sampled (or from `opts.samples`), stores
   * it durably beside the segments and makes it the one new frames use. Returns its id; training
   * content the store already holds returns that dictionary's id instead of a duplicate.
   */
  async trainDictionary(opts: DictionaryTrainOptions = {}): Promise<bigint> {
    this.checkWritable('trainDictionary');
    const samples = opts.samples ?? this.reservoir?.samples() ?? [];
    if (!Array.isArray(samples)) throw invalidArgument('samples must be an array of Uint8Array');
    if (samples.length < MIN_TRAINING_SAMPLES) {
      throw invalidArgument(`trainDictionary needs at least ${MIN_TRAINING_SAMPLES} samples, has ${samples.length}${opts.samples ? '' : ' (put more values first, or pass samples)'}`);
    }
    if (this.training) await this.training;
    const id = await this.train(samples, opts.size ?? this.opts.dictionary.size);
    this.trainedOnRequest++;
    return id;
  }

  /** Waits for background work: a policy training in flight and segments being opened ahead. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [this.training, ...this.lanes.map((l) => l.next)].filter((p) => p !== undefined);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** A copy of the value a pointer names (values put but not yet committed included). */
  get(ptr: ValuePtr): Uint8Array {
    this.checkOpen();
    this.makeVisible(ptr);
    return this.manager.read(ptr);
  }

  /**
   * Makes everything put so far durable (flush + sync of every lane written since the last commit).
   * Commits issued while one is pending share its single sync (group commit).
   */
  commit(): Promise<void> {
    this.checkOpen();
    if (this.readOnly) return Promise.reject(readOnlyLog('commit'));
    this.commits++;
    this.pendingCommit ??= (async () => {
      await Promise.resolve(); // let the commits issued in this turn join
      this.pendingCommit = undefined;
      await this.garbage.persist(this.storage);
      this.syncAll();
      // A lane already past its segment size waits for its pre-opened successor here, so that a loop
      // of put + commit that never yields to the event loop still rotates (bounded overshoot).
      const behind = this.lanes.filter((l) => l.next !== undefined && l.writer.size >= this.opts.segmentSize);
      if (behind.length > 0) await Promise.all(behind.map((l) => l.next!.catch(() => {})));
    })();
    return this.pendingCommit;
  }

  /** Pins the current segments; reads through it keep working until release(). Read-only: refreshes first. */
  async snapshot(): Promise<Snapshot> {
    this.checkOpen();
    if (this.readOnly) await this.refresh();
    return new Snapshot(this, await this.manager.currentSet());
  }

  /**
   * Read-only logs: picks up what the writer beside this reader added since open or the last
   * refresh: new segments, new (or until now incomplete) dictionary files and dead marks. Records
   * appended to segments already tracked are readable without it. A no-op on a read-write log,
   * which sees its own writes.
   */
  async refresh(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) return;
    await besideWriter(() => this.manager.refresh());
    const names = dictionaryNames(await this.storage.list());
    // A dictionary file being written shows as damaged until it is complete: look again then too.
    if (names !== this.dictNames || this.dicts.damaged().length > 0) {
      this.dicts = await DictionaryStore.open(this.storage);
      this.manager.setDictLookup(this.dicts.lookup);
      this.dictNames = names;
    }
    for (const s of this.manager.segmentInfo()) await this.garbage.load(this.storage, s.id);
  }

  stats(): ValueLogStats {
    const infos = this.manager.segmentInfo();
    const activeIds = this.readOnly ? lastSegmentPerLane(infos.map((s) => s.id)) : new Set(this.lanes.map((l) => l.writer.fileId));
    const segments: SegmentStats[] = infos.map((s) => {
      const { lane, seq } = decodeFileId(s.id);
      const writer = this.lanes.find((l) => l.writer.fileId === s.id)?.writer;
      return this.segmentStats(s.name, s.id, lane, seq, writer ? writer.size : s.bytes, activeIds.has(s.id), s.refCount, s.zombie);
    });
    for (const l of this.lanes) {
      if (!segments.some((s) => s.fileId === l.writer.fileId)) {
        segments.push(this.segmentStats(segmentFileName(l.writer.fileId), l.writer.fileId, l.index, l.seq, l.writer.size, true, 0, false));
      }
    }
    segments.sort((a, b) => a.fileId - b.fileId);
    return {
      segments,
      totalBytes: segments.reduce((a, s) => a + s.bytes, 0),
      deadBytes: segments.reduce((a, s) => a + s.deadBytes, 0),
      recovered: this.recovered.map((r) => ({ ...r })),
      puts: this.puts,
      commits: this.commits,
      syncs: this.syncs,
      compression: {
        rawBytes: this.rawBytes,
        storedBytes: this.storedBytes,
        frames: { ...this.codecFrames },
        values: { ...this.codecValues },
        autoRatios: this.opts.compression === 'auto' ? this.chooser.ratios() : undefined,
      },
      dictionaries: {
        current: this.dicts.current?.id,
        dictionaries: this.dicts.info(),
        damaged: this.dicts.damaged(),
        trainedByPolicy: this.trainedByPolicy,
        trainedOnRequest: this.trainedOnRequest,
        training: this.training !== undefined,
        lastTrainingError: this.lastTrainingError,
        sampleBytes: this.reservoir?.bytes ?? 0,
      },
      readOnly: this.readOnly,
      lock: this.lockHandle ? { holder: this.lockHandle.holder, tookOver: this.lockHandle.tookOver } : undefined,
    };
  }

  /** Commits, then closes every writer and segment, and releases the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.readOnly) {
      this.closed = true;
      await this.manager.close();
      return;
    }
    try {
      await this.closeWritable();
    } finally {
      // Released even when the last sync failed: this process is done with the log either way.
      const lock = this.lockHandle;
      this.lockHandle = undefined;
      await lock?.release();
    }
  }

  private async closeWritable(): Promise<void> {
    if (this.training) await this.training;
    if (this.pendingCommit) await this.pendingCommit.catch(() => undefined);
    let err: unknown;
    try {
      await this.garbage.persist(this.storage);
      this.syncAll();
    } catch (e) {
      err = e;
    }
    this.closed = true;
    for (const l of this.lanes) {
      try {
        l.writer.close();
      } catch (e) {
        err ??= e;
      }
      const spare = l.ready ?? (l.next ? await l.next.catch(() => undefined) : undefined);
      spare?.file.close();
    }
    await this.manager.close();
    if (err !== undefined) throw err;
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Records that values are no longer referenced. Their bytes count as garbage of their segment
   * (stats().segments[].garbageRatio) and compact() leaves them behind. Marking a value twice is
   * harmless. The marks become durable with the next commit(). Returns how many marks were new.
   */
  markDead(ptrs: ValuePtr | readonly ValuePtr[]): number {
    this.checkWritable('markDead');
    const list = Array.isArray(ptrs) ? ptrs : [ptrs as ValuePtr];
    let added = 0;
    for (const ptr of list) {
      if (this.garbage.isDead(ptr)) continue;
      this.makeVisible(ptr);
      if (this.garbage.mark(ptr, this.manager.valueBytes(ptr))) added++;
    }
    return added;
  }

  /**
   * Copies the live values of sealed segments whose garbage ratio is at least `minGarbageRatio` into
   * the active segment of their lane (a record whose values are all live is copied byte for byte;
   * others are re-framed), makes the copies durable, and returns old → new pointers for the caller's
   * index. The old segments become zombies: deleted as soon as no snapshot holds them. Take a
   * snapshot before compacting and release it once your index durably points at the new pointers.
   */
  async compact(opts: CompactOptions = {}): Promise<PointerRemap> {
    this.checkWritable('compact');
    const minRatio = opts.minGarbageRatio ?? 0.5;
    const maxBytes = opts.maxBytes ?? Infinity;
    if (!(minRatio >= 0 && minRatio <= 1)) throw invalidArgument(`minGarbageRatio must be in 0..1, got ${String(opts.minGarbageRatio)}`);
    if (!(maxBytes > 0)) throw invalidArgument(`maxBytes must be positive, got ${String(opts.maxBytes)}`);
    await this.commit();
    const candidates = this.stats()
      .segments.filter((x) => !x.active && !x.zombie && x.bytes > 0 && x.garbageRatio >= minRatio && !this.isSpare(x.fileId))
      .sort((a, b) => b.garbageRatio - a.garbageRatio);
    const remap = new PointerRemap();
    const chosen: SegmentStats[] = [];
    let budget = maxBytes;
    for (const seg of candidates) {
      if (seg.bytes > budget && chosen.length > 0) break;
      budget -= seg.bytes;
      chosen.push(seg);
    }
    const total = chosen.reduce((a, x) => a + x.bytes, 0);
    let done = 0;
    opts.onProgress?.(0, total);
    for (const seg of chosen) {
      await this.compactSegment(seg.fileId, this.lanes[seg.lane] ?? this.lanes[0]!, remap);
      remap.compactedSegments.push(seg.fileId);
      done += seg.bytes;
      opts.onProgress?.(done, total);
    }
    await this.commit();
    for (const id of remap.compactedSegments) {
      this.manager.markZombie(id);
      // Unpinned: delete now; pinned: the last release of a snapshot deletes it.
      if (this.manager.segmentInfo().find((x) => x.id === id)?.refCount === 0) await this.manager.removeSegment(id);
    }
    return remap;
  }

  private async compactSegment(id: number, lane: Lane, remap: PointerRemap): Promise<void> {
    const reader = await Reader.open(this.storage, id);
    reader.setDictLookup(this.dicts.lookup);
    const file = await this.storage.open(segmentFileName(id), { readOnly: true });
    try {
      let frame: ReaderEntry[] = [];
      const flush = () => {
        if (frame.length === 0) return;
        const live = frame.filter((e) => !this.garbage.isDead(e.ptr));
        if (live.length === frame.length) {
          // Wholly live: copy the record byte for byte; every value keeps its sub-index and hint.
          const first = frame[0]!.ptr;
          const head = new Uint8Array(HEADER_SIZE);
          file.read(head, first.offset - 4);
          const len = HEADER_SIZE + new DataView(head.buffer).getUint32(16, true);
          const raw = new Uint8Array(len);
          file.read(raw, first.offset - 4);
          this.rotateIfFull(lane, len);
          const copied = lane.writer.appendRawRecord(raw, first.length);
          for (const e of frame) remap.set(e.ptr, { offset: copied.offset, length: e.ptr.length, fileId: copied.fileId });
        } else if (live.length > 0) {
          let bytes = HEADER_SIZE + framePrefixLength(live.length);
          for (const e of live) bytes += e.value!.length;
          this.rotateIfFull(lane, bytes);
          // Re-framed values are compressed as new ones are (with the current dictionary, if any).
          const ptrs = this.writeFrame(lane, live.map((e) => ({ rid: e.rid, value: e.value! })));
          live.forEach((e, i) => remap.set(e.ptr, ptrs[i]!));
        }
        lane.dirty = true;
        frame = [];
      };
      for (const e of reader) {
        if (frame.length > 0 && e.ptr.offset !== frame[0]!.ptr.offset) flush();
        frame.push(e);
      }
      flush();
    } finally {
      reader.close();
      file.close();
    }
  }

  private isSpare(id: number): boolean {
    return this.lanes.some((l) => l.ready !== undefined && encodeFileId(l.index, l.ready.seq) === id);
  }

  private segmentStats(name: string, fileId: number, lane: number, seq: number, bytes: number, active: boolean, pins: number, zombie: boolean): SegmentStats {
    const deadBytes = Math.min(bytes, this.garbage.deadBytes(fileId));
    return {
      name, fileId, lane, seq, bytes, active, pins, zombie,
      deadBytes,
      liveBytes: bytes - deadBytes,
      garbageRatio: bytes > 0 ? deadBytes / bytes : 0,
      deadValues: this.garbage.deadValues(fileId),
    };
  }

  /** @internal Flushes the writer whose unflushed bytes a pointer names, so that reads see them. */
  makeVisible(ptr: ValuePtr): void {
    checkValuePtr(ptr);
    for (const l of this.lanes) {
      if (l.writer.fileId === ptr.fileId >>> 0 && ptr.offset - 4 >= l.writer.flushedSize) {
        l.writer.flush();
        return;
      }
    }
  }

  /** @internal */
  async releaseSet(set: ValueSet): Promise<void> {
    await this.manager.release(set);
  }

  private syncAll(): void {
    if (this.backgroundError !== undefined) throw this.backgroundError;
    let synced = false;
    for (const l of this.lanes) {
      if (!l.dirty) continue;
      l.writer.sync();
      l.dirty = false;
      synced = true;
    }
    if (synced) this.syncs++;
  }

  private lane(lane: number | undefined): Lane {
    const i = lane ?? 0;
    const l = Number.isInteger(i) ? this.lanes[i] : undefined;
    if (l === undefined) throw invalidArgument(`lane ${String(lane)} is not open (lanes: 0..${this.lanes.length - 1})`);
    return l;
  }

  private ridCounter = 0n;

  /**
   * Rotation keeps put() synchronous: the next segment is opened in the background once the active
   * one is a quarter full, and the writer switches to it when the next frame would cross the size limit.
   * If it is not open yet, the active segment grows past the limit until it is.
   */
  private rotateIfFull(lane: Lane, recordBytes: number): void {
    const size = lane.writer.size;
    if (lane.next === undefined && lane.ready === undefined && size >= this.opts.segmentSize * PREOPEN_AT) this.preopen(lane);
    if (size === 0 || size + recordBytes <= this.opts.segmentSize || lane.ready === undefined) return;
    const { file, seq } = lane.ready;
    lane.ready = undefined;
    lane.writer.switchTo(file, encodeFileId(lane.index, seq));
    lane.seq = seq;
    lane.dirty = true;
  }

  private preopen(lane: Lane): void {
    const seq = lane.seq + 1;
    if (seq > MAX_SEQ) {
      this.backgroundError = new ValueLogError('SEGMENT_ID_RANGE', `valuelog: lane ${lane.index} has no sequence numbers left`);
      return;
    }
    const id = encodeFileId(lane.index, seq);
    lane.next = (async () => {
      const file = await this.storage.open(segmentFileName(id), { create: true });
      await this.manager.refresh();
      return { file, seq };
    })();
    lane.next.then(
      (r) => {
        lane.next = undefined;
        if (this.closed) r.file.close();
        else lane.ready = r;
      },
      (e: unknown) => {
        lane.next = undefined;
        this.backgroundError = e;
      },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: the log is closed');
  }

  private checkWritable(op: string): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyLog(op);
  }
}

function readOnlyLog(op: string): ValueLogError {
  return invalidArgument(`${op}: the log was opened read-only ({ readOnly: true })`);
}

/** What a read-write open has opened or created so far, for undoOpen. */
interface Opened {
  writers: Writer[];
  manager: Manager | undefined;
  /** Files in the directory before open created any (undefined: listing failed, nothing created). */
  existing: Set<string> | undefined;
}

/**
 * Undoes a refused open: closes what it opened, removes the segment files it created (open writes
 * nothing into them; without a lock only empty ones, which cannot be another writer's data) and
 * releases the lock.
 * Errors here are secondary to the one that refused the open and are not reported.
 */
async function undoOpen(storage: StorageBackend, opened: Opened, lock: StorageLock | undefined): Promise<void> {
  for (const w of opened.writers) {
    try {
      w.close();
    } catch {
      // the open already failed; its error is the one to report
    }
  }
  await opened.manager?.close().catch(() => undefined);
  try {
    if (opened.existing !== undefined) {
      for (const name of await storage.list()) {
        if (opened.existing.has(name) || parseSegmentFileName(name) === undefined) continue;
        // Under the lock every new file is ours; without one, only an empty file can be.
        if (lock === undefined) {
          const f = await storage.open(name, { readOnly: true });
          const empty = f.size() === 0;
          f.close();
          if (!empty) continue;
        }
        await storage.remove(name);
      }
    }
  } catch {
    // best effort: an empty segment left behind is harmless (the next open reuses it)
  } finally {
    await lock?.release().catch(() => undefined);
  }
}

/**
 * Runs a read-only log's directory scan again when a file it listed was deleted before it could be
 * opened (the writer beside it compacted a segment away meanwhile). The manager keeps what the
 * failed scan tracked, so a retry only adds the rest.
 */
async function besideWriter<T>(scan: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scan();
    } catch (e) {
      if (!(e instanceof ValueLogError && e.code === 'NOT_FOUND') || attempt >= 5) throw e;
    }
  }
}

/** Dictionary store file names, joined (to notice a change). */
function dictionaryNames(names: string[]): string {
  return names.filter((n) => n === DICT_HIGHWATER_NAME || parseDictFileName(n) !== undefined).join('/');
}

/** The highest segment of each lane: the one a writer beside a read-only log appends to. */
function lastSegmentPerLane(ids: number[]): Set<number> {
  const last = new Map<number, number>();
  for (const id of ids) {
    const { lane, seq } = decodeFileId(id);
    if ((last.get(lane) ?? -1) < seq) last.set(lane, seq);
  }
  return new Set([...last].map(([lane, seq]) => encodeFileId(lane, seq)));
}

function normalizeOptions(o: ValueLogOptions): NormalizedOptions {
  const segmentSize = o.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isSafeInteger(segmentSize) || segmentSize < 64 * 1024) throw invalidArgument(`segmentSize must be an integer >= 64 KiB, got ${String(o.segmentSize)}`);
  const lanes = o.lanes ?? 1;
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANE + 1) throw invalidArgument(`lanes must be 1..${MAX_LANE + 1}, got ${String(o.lanes)}`);
  const compression = o.compression ?? 'none';
  if (!['none', 'snappy', 'lz4', 'zstd-dict', 'auto'].includes(compression)) {
    throw invalidArgument(`compression must be 'none', 'snappy', 'lz4', 'zstd-dict' or 'auto', got ${JSON.stringify(compression)}`);
  }
  const bufferSize = o.bufferSize ?? DEFAULT_BUFFER;
  const rawFrameBytes = o.rawFrameBytes ?? DEFAULT_RAW_FRAME_BYTES;
  if (!Number.isSafeInteger(rawFrameBytes) || rawFrameBytes < 1) throw invalidArgument(`rawFrameBytes must be a positive integer, got ${String(o.rawFrameBytes)}`);
  const d = o.dictionary ?? {};
  const size = d.size ?? DEFAULT_DICT_SIZE;
  if (!Number.isSafeInteger(size) || size < 256 || size > 16 * 1024 * 1024) throw invalidArgument(`dictionary.size must be an integer in 256..16 MiB, got ${String(d.size)}`);
  const sampleBytes = d.sampleBytes ?? DEFAULT_SAMPLE_BYTES;
  if (!Number.isSafeInteger(sampleBytes) || sampleBytes < 1024 || sampleBytes > 256 * 1024 * 1024) throw invalidArgument(`dictionary.sampleBytes must be an integer in 1 KiB..256 MiB, got ${String(d.sampleBytes)}`);
  const trainAfterBytes = d.trainAfterBytes ?? DEFAULT_TRAIN_AFTER;
  if (!Number.isSafeInteger(trainAfterBytes) || trainAfterBytes < 0) throw invalidArgument(`dictionary.trainAfterBytes must be a non-negative integer, got ${String(d.trainAfterBytes)}`);
  const level = d.level ?? DEFAULT_DICT_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 19) throw invalidArgument(`dictionary.level must be 1..19, got ${String(d.level)}`);
  const entropy = d.entropy ?? true;
  return { segmentSize, lanes, compression, bufferSize, rawFrameBytes, dictionary: { size, sampleBytes, trainAfterBytes, level, entropy: Boolean(entropy) } };
}
