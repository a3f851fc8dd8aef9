// ValueLog: the application facade. It recovers torn tails on open, keeps one writer per lane,
// rotates segments by size, batches concurrent commits into one sync (group commit), and hands out
// snapshots that pin the segments they can read. Dictionary compression keeps its dictionaries in a
// store beside the segments (src/dictionaries.ts) and trains them from a bounded sample of recent values.
import { DictionaryStore, SampleReservoir, type DamagedDictionary, type DictionaryInfo } from './dictionaries.js';
import { ForeignDictionaries, type DictionarySource } from './foreign-dictionaries.js';
import { type CompactionIntent, readIntents, removeIntent, writeIntent } from './compaction.js';
import { asValueLogError, corrupt, invalidArgument, ValueLogError } from './errors.js';
import { booleanOption, checkOptionKeys, describe, functionOption, intOption, numberOption } from './options.js';
import { BlockCodec, decodeFrame, framePrefixLength, type DictLookup, type LogRecord } from './format/frame.js';
import { decodeRecordHeader, isGroupedRecord, verifyRecordChecksum } from './format/record.js';
import { FramePreparer } from './frame-preparer.js';
import { checkValuePtr, ptrKey, type ValuePtr } from './format/pointer.js';
import { PointerRemap, type CompactionProblem } from './remap.js';
import { decodeFileId, encodeFileId, MAX_LANE, MAX_SEQ, parseSegmentFileName, segmentFileName } from './format/segment.js';
import { HEADER_SIZE, MAX_FRAME_K } from './limits.js';
import { Manager, type ValueSet } from './manager.js';
import { AutoCodecChooser, chooseBlockGroupK, type AutoCodec } from './policy.js';
import { checkDeadPointers, GarbageTracker } from './garbage.js';
import { Reader, type ReaderEntry } from './reader.js';
import { createReservedSegments, DIRTY_MARKER, leftDirty, markClean, markDirty, recoverLanes, type LaneRecovery, type SegmentRecovery } from './recovery.js';
import { DICT_HIGHWATER_NAME, parseDictFileName } from './format/dictionary.js';
import { checkedStorage } from './storage/checked.js';
import { DeferredCreationStorage } from './storage/deferred.js';
import type { StorageBackend, StorageFile, StorageLock } from './storage/types.js';
import { DEFAULT_WRITER_BUFFER, stoppedError, Writer } from './writer.js';

/**
 * How ValueLog compresses frames: 'none', a block codec, zstd with the store's dictionary, or a choice
 * per frame ('auto'; see README).
 */
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
  /** zstd level of dictionary frames (default 3). */
  level?: number;
  /** Whether dictionary frames entropy-code their literals (default true). */
  entropy?: boolean;
}

/** Options of ValueLog.trainDictionary. */
export interface DictionaryTrainOptions {
  /** Samples to train from (default: the recent values the log has sampled). At least 8. */
  samples?: Uint8Array[];
  /** Dictionary size in bytes (default: the log's dictionary.size). */
  size?: number;
}

/** How frames were stored since open: raw ('none') or compressed with a codec. */
export type FrameCodec = 'none' | 'snappy' | 'lz4' | 'zstd-dict';

/** What compression did since open, in stats(). */
export interface CompressionStats {
  /** Value bytes put into frames. */
  rawBytes: number;
  /** Payload bytes stored for them (compressed or raw). */
  storedBytes: number;
  /** Frames written, by how they were stored. */
  frames: Record<FrameCodec, number>;
  /** Values written, by how their frame was stored. */
  values: Record<FrameCodec, number>;
  /** 'auto' only: the observed stored/raw ratios it chooses by (undefined until observed). */
  autoRatios: { lz4: number | undefined; zstdDict: number | undefined } | undefined;
}

/** A dictionary in stats(): as DictionaryInfo, with the id as a number (ids are 1..2^32-1). */
export type DictionaryStatsEntry = Omit<DictionaryInfo, 'id'> & { id: number };
/** A damaged dictionary file in stats(), its id as a number. */
export type DamagedDictionaryStats = Omit<DamagedDictionary, 'id'> & { id: number | undefined };
/** What open() did to a torn tail, as in stats(): the largest RID as a decimal string (RIDs are u64). */
export type RecoveryStats = Omit<SegmentRecovery, 'maxRid'> & { maxRid: string };

/**
 * Dictionaries in stats(). Like every part of ValueLogStats it holds no bigint, so that
 * JSON.stringify(log.stats()) works: dictionary ids are numbers (1..2^32-1, exact).
 */
export interface DictionaryStats {
  /** Id new frames are compressed with ('zstd-dict'/'auto'), if there is a dictionary. */
  current: number | undefined;
  /** Every sound dictionary in the store, with frames/values written with it since open. */
  dictionaries: DictionaryStatsEntry[];
  /** Files that failed their checks: never used; frames that need them fail with CORRUPT. */
  damaged: DamagedDictionaryStats[];
  /** Dictionaries trained automatically (by policy) since open. */
  trainedByPolicy: number;
  /** Dictionaries trained by trainDictionary() since open. */
  trainedOnRequest: number;
  /** A policy training is running in the background. */
  training: boolean;
  /** Why the last policy training failed (it is retried later), if it did. */
  lastTrainingError: string | undefined;
  /** Bytes of recent values held as training samples. */
  sampleBytes: number;
}

/** Options of ValueLog.open; unknown names and wrong types are INVALID_ARGUMENT. */
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
  /** How 'zstd-dict' and 'auto' train and use dictionaries. */
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
  /**
   * Dictionaries for reading frames whose dictionary the log's store lacks (a log written by the Go
   * package, or dictionaries kept elsewhere): a Map (or object keyed by decimal id) of id -> zstd
   * dictionary bytes, or a lookup function asked once per missing id. Used for reading only and
   * never written to the directory (`valuelog dict import` stores one). Bytes given for an id the
   * store holds with other bytes are DICT_MISMATCH. See README, "Dictionaries of foreign logs".
   */
  dictionaries?: DictionarySource;
}

/** Options of put and putMany. */
export interface PutOptions {
  /** Lane to append to (0..lanes-1, default 0). */
  lane?: number;
}

/** One segment in stats(). */
export interface SegmentStats {
  /** The segment's file name. */
  name: string;
  /** Its file id (as in pointers). */
  fileId: number;
  /** Its lane. */
  lane: number;
  /** Its sequence number in the lane. */
  seq: number;
  /** Its size in bytes, including appended bytes not yet flushed. */
  bytes: number;
  /** It is a lane's active segment (appended to; never compacted). */
  active: boolean;
  /** Snapshots holding this segment. */
  pins: number;
  /** Bytes of values marked dead (each value's share of its record), and what that leaves live. */
  deadBytes: number;
  /** bytes - deadBytes. */
  liveBytes: number;
  /** deadBytes / bytes (0 for an empty segment). */
  garbageRatio: number;
  /** Values marked dead. */
  deadValues: number;
  /** Compacted away; deleted when the last snapshot holding it is released. */
  zombie: boolean;
}

export { PointerRemap, type CompactionProblem, type WireRemap } from './remap.js';

/** Options of ValueLog.compact. */
export interface CompactOptions {
  /** Compact sealed segments whose garbage ratio is at least this (default 0.5). */
  minGarbageRatio?: number;
  /** Stop after segments totalling this many bytes (default: no limit). */
  maxBytes?: number;
  /** Called with (bytes of chosen segments compacted so far, their total), at 0 and after each segment. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Receives the remap once every copy is durable and before any old segment becomes a zombie or is
   * deleted; compact() waits for it. Record the new pointers durably in it: once it resolves the old
   * segments may go. If it throws or rejects, compact() rejects with that error (a ValueLogError as
   * it is, anything else as IO with the original as `cause`), nothing is deleted and the copies just
   * made are marked dead.
   */
  onRemap?: (remap: PointerRemap) => void | Promise<void>;
}

/** What ValueLog.stats() returns: plain JSON (no bigint). */
export interface ValueLogStats {
  /** Every tracked segment, in id order. */
  segments: SegmentStats[];
  /** Sum of the segments' bytes. */
  totalBytes: number;
  /** Sum of the segments' dead bytes. */
  deadBytes: number;
  /** What open() did to torn tails (empty when every segment was clean). */
  recovered: RecoveryStats[];
  /** Values put since open. */
  puts: number;
  /** commit() calls since open. */
  commits: number;
  /** Durable syncs actually issued: fewer than commits when concurrent commits were grouped. */
  syncs: number;
  /** What compression did since open. */
  compression: CompressionStats;
  /** The dictionary store and training. */
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
/** commit() gives the event loop a turn when this long passed since it last did. */
const YIELD_EVERY_MS = 2;
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

type NormalizedOptions = Required<Omit<ValueLogOptions, 'dictionary' | 'dictionaries'>> & { dictionary: Required<DictionaryOptions>; dictionaries: ForeignDictionaries | undefined };

interface Lane {
  index: number;
  writer: Writer;
  seq: number;
  next: Promise<{ file: StorageFile; seq: number }> | undefined;
  ready: { file: StorageFile; seq: number } | undefined;
  /** The last background pre-open failed (at this commit count): retried after the next commit. */
  preopenFailed: { err: ValueLogError; atCommit: number } | undefined;
  dirty: boolean;
  ratio: number;
  /** Bytes of the active segment a sync covered: markDead accepts only values below this. */
  durableBytes: number;
}

/** A pinned view of the segments that existed when it was taken. */
export class Snapshot {
  private released = false;
  /** @internal */
  constructor(
    private readonly log: ValueLog,
    private readonly set: ValueSet,
  ) {}

  /**
   * A copy of the value the pointer names; NOT_FOUND when its segment is not in the snapshot,
   * INVALID_ARGUMENT after release().
   */
  get(ptr: ValuePtr): Uint8Array {
    if (this.released) throw invalidArgument('read through a released snapshot');
    this.log.makeVisible(ptr);
    return this.set.read(ptr);
  }

  /**
   * Unpins the snapshot's segments (compacted ones are deleted once nothing holds them); releasing
   * twice is INVALID_ARGUMENT.
   */
  async release(): Promise<void> {
    if (this.released) throw invalidArgument('snapshot released twice');
    this.released = true;
    await this.log.releaseSet(this.set);
  }
}

/**
 * The application facade: a value log in a StorageBackend, with lanes and rotation, group commit,
 * compression modes and dictionary training, dead values, compaction and snapshots (see README and
 * docs/DESIGN.md).
 */
export class ValueLog {
  private lanes: Lane[] = [];
  private closed = false;
  /** close() has begun. */
  private closing = false;
  private closeRun: Promise<void> | undefined;
  /** compact() is waiting for its onRemap. */
  private inOnRemap = false;
  private puts = 0;
  private commits = 0;
  private syncs = 0;
  private pendingCommit: Promise<void> | undefined;
  /** Lane sequence numbers ran out: commits fail with it (nothing was lost). */
  private backgroundError: unknown;
  /**
   * Fail-stop state: the first write, writev, truncate or sync failure that may have lost bytes not
   * yet durable. From then on nothing is acknowledged (commit, put, markDead, compact throw IO,
   * "reopen to recover"); reopening recovers from what is durable. Set only by noteFailure() (which
   * the lane writers call on their first failure) and failStop().
   */
  private failure: ValueLogError | undefined;
  /** When commit() last gave the event loop a turn. */
  private lastYield = 0;
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
  /** Creates the lanes' new segments on their first write (read-write opens). */
  private deferred: DeferredCreationStorage | undefined;
  private lockHandle: StorageLock | undefined;
  /** Read-only: the dictionary file names the store was loaded from (reloaded when they change). */
  private dictNames = '';
  /** Resolves frames' dictionaries: the store, then options.dictionaries (see foreign-dictionaries.ts). */
  private readonly dictLookup: DictLookup;

  private constructor(
    private readonly storage: StorageBackend,
    private readonly manager: Manager,
    private readonly opts: NormalizedOptions,
    private readonly recovered: SegmentRecovery[],
    private dicts: DictionaryStore,
  ) {
    const foreign = opts.dictionaries;
    this.dictLookup = foreign ? foreign.lookupOver(() => this.dicts) : (id) => this.dicts.lookup(id);
    if (this.usesDictionaries()) this.reservoir = new SampleReservoir(opts.dictionary.sampleBytes, MAX_SAMPLE_BYTES);
    if (this.reservoir && dicts.current) this.reservoir.stride = SAMPLE_STRIDE_WITH_DICT;
    this.probe.setBlockCompression(BlockCodec.LZ4, true);
    this.probe.setDictFrameEncoderOptions(opts.dictionary.level, opts.dictionary.entropy);
  }

  /**
   * Opens (or creates) the log in `storage`. Recovery (see README, "Recovery") scans the segments
   * of each lane that may have been written last, truncates a torn tail and reports it; anything a
   * crash cannot leave is refused with CORRUPT and left untouched. A lane continues after its last
   * valid record, or in a fresh segment when a torn tail was cut or the previous owner did not close
   * the log, so that no offset handed out before the crash names another value later.
   * With { readOnly: true }: no lock, no recovery, no writes (see ValueLogOptions.readOnly). A
   * refused open leaves nothing behind: the lock is released and the segments it created are removed.
   */
  static async open(backend: StorageBackend, options: ValueLogOptions = {}): Promise<ValueLog> {
    checkStorageBackend(backend);
    const opts = normalizeOptions(options);
    // Every call the log makes goes through the checked wrapper (byte counts, error wrapping).
    const storage = checkedStorage(backend);
    if (opts.readOnly) return ValueLog.openReadOnly(storage, opts);
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
      return await ValueLog.openLocked(storage, opts, opened, lock);
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
      opts.dictionaries?.checkAgainst(log.dicts);
      manager.setDictLookup(log.dictLookup);
      log.dictNames = dictionaryNames(await storage.list());
      for (const s of manager.segmentInfo()) await log.garbage.load(storage, s.id);
      return log;
    } catch (e) {
      await manager.close();
      throw e;
    }
  }

  /**
   * The read-write open under the lock; `lock?.tookOver` says the previous owner died without
   * closing, and then every lane continues in a fresh segment.
   */
  private static async openLocked(storage: StorageBackend, opts: NormalizedOptions, opened: Opened, lock: StorageLock | undefined): Promise<ValueLog> {
    const unclean = lock?.tookOver === true || (await leftDirty(storage));
    // Segments the crashed owner reserved but never created are created now, so the lanes go past them.
    // They count as existing: a refused open must not remove them (its marker no longer names them).
    if (unclean) for (const id of await createReservedSegments(storage)) opened.existing?.add(segmentFileName(id));
    const plan = await recoverLanes(storage, opts.lanes, { salvage: opts.salvage, uncleanShutdown: unclean });
    // The lanes' segments that do not exist yet are created on their first write (storage/deferred.ts):
    // opening writes nothing but the marker (and the lock), which reserves them durably before the
    // first pointer into them is handed out (see DIRTY_MARKER).
    const held: number[] = [];
    for (let lane = 0; lane < opts.lanes; lane++) {
      const id = encodeFileId(lane, plan.activeSeqs[lane]!);
      if (opened.existing?.has(segmentFileName(id)) === false) held.push(id);
    }
    await markDirty(storage, held); // durable before anything is written or handed out
    await createFreshSegments(storage, plan);
    const deferred = new DeferredCreationStorage(storage);
    for (const id of held) deferred.hold(segmentFileName(id));
    const writers = opened.writers;
    for (let lane = 0; lane < opts.lanes; lane++) writers.push(await Writer.open(deferred, encodeFileId(lane, plan.activeSeqs[lane]!), { bufferSize: opts.bufferSize }));
    const manager = (opened.manager = await Manager.open(deferred));
    const dicts = await DictionaryStore.open(storage);
    opts.dictionaries?.checkAgainst(dicts);
    const log = new ValueLog(deferred, manager, opts, plan.recovered, dicts);
    log.deferred = deferred;
    manager.setDictLookup(log.dictLookup);
    log.lockHandle = lock;
    log.ridCounter = plan.maxRid; // RIDs continue after the largest one in the segments recovery scanned
    await log.loadCompactionRecords();
    const tracked = new Set(manager.segmentInfo().map((x) => x.id));
    for (const name of await storage.list()) {
      const id = name.endsWith('.dead') ? parseSegmentFileName(name.replace(/\.dead$/, '.log')) : undefined;
      if (id === undefined) continue;
      if (tracked.has(id)) await log.garbage.load(storage, id);
      else await storage.remove(name); // its segment was deleted before the sidecar could be
    }
    manager.onSegmentDeleted = async (id) => {
      await log.garbage.drop(storage, id);
      await log.sourceDeleted(id);
    };
    log.lanes = writers.map((writer, index) => {
      // The dictionary modes use LZ4 for frames without a dictionary.
      if (opts.compression !== 'none') writer.setBlockCompression(opts.compression === 'snappy' ? BlockCodec.Snappy : BlockCodec.LZ4, true);
      writer.setDictFrameEncoderOptions(opts.dictionary.level, opts.dictionary.entropy);
      writer.onFailure = (e) => log.noteFailure(e);
      // What recovery left on disk is what the log holds: durable as far as this process can tell.
      return { index, writer, seq: plan.activeSeqs[index]!, next: undefined, ready: undefined, preopenFailed: undefined, dirty: false, ratio: 0.5, durableBytes: writer.size };
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
    const lane = this.lane(checkOptionKeys(opts, 'put options', PUT_OPTION_KEYS).lane as number | undefined);
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
    const o = checkOptionKeys(opts, 'trainDictionary options', ['samples', 'size']);
    if (o.size !== undefined) intOption(o, 'size', 'trainDictionary options', 0, 256, 16 * 1024 * 1024, 'bytes');
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
   * Whether markDead marked the value a pointer names (looked up by pointer value: any object with
   * the same fileId, offset and length). A value compaction moved is not dead under its new pointer.
   */
  isDead(ptr: ValuePtr): boolean {
    this.checkOpen();
    checkValuePtr(ptr);
    return this.garbage.isDead(ptr);
  }

  /**
   * The live values of the log with their pointers, in log order (by segment id, then offset), values
   * marked dead skipped; values put and not yet committed included. The segments are pinned by a
   * snapshot for the whole iteration (released when it ends, also by `break`), so compaction meanwhile
   * deletes nothing it still has to read. Async because opening segment files is.
   */
  async *values(): AsyncGenerator<{ ptr: ValuePtr; value: Uint8Array }, void, undefined> {
    this.checkOpen();
    for (const l of this.lanes) l.writer.flush();
    const set = await this.manager.currentSet();
    try {
      for (const id of [...set.files.keys()].sort((a, b) => a - b)) {
        const reader = await Reader.open(this.storage, id);
        reader.setDictLookup(this.dictLookup);
        try {
          for (;;) {
            let e: ReaderEntry | undefined;
            try {
              e = reader.next();
            } catch (err) {
              // Read-only: an incomplete last record (torn, or being written beside us) is where the data ends.
              if (this.readOnly && err instanceof ValueLogError && err.code === 'UNEXPECTED_EOF') break;
              throw err;
            }
            if (e === undefined) break;
            if (!this.garbage.isDead(e.ptr)) yield { ptr: e.ptr, value: e.value! };
          }
        } finally {
          reader.close();
        }
      }
    } finally {
      await this.manager.release(set);
    }
  }

  /**
   * Makes everything put so far durable (flush + sync of every lane written since the last commit).
   * Commits issued while one is pending share its single sync (group commit).
   */
  commit(): Promise<void> {
    this.checkOpen();
    if (this.failure !== undefined) return Promise.reject(stoppedError(this.failure));
    if (this.readOnly) return Promise.reject(readOnlyLog('commit'));
    this.commits++;
    this.pendingCommit ??= (async () => {
      await Promise.resolve(); // let the commits issued in this turn join
      this.pendingCommit = undefined;
      // A failed sidecar write is retried whole by the next commit (it rewrites from the last
      // durable entry), so it rejects this commit without stopping the log.
      await this.garbage.persist(this.storage);
      await this.createHeldSegments();
      this.syncAll();
      // A lane already past its segment size waits for its successor here (retrying a failed
      // pre-open), so that a put + commit loop still rotates (bounded overshoot).
      for (const l of this.lanes) if (l.next === undefined && l.ready === undefined && l.preopenFailed !== undefined && l.writer.size >= this.opts.segmentSize) this.preopen(l);
      const behind = this.lanes.filter((l) => l.next !== undefined && l.writer.size >= this.opts.segmentSize);
      if (behind.length > 0) await Promise.all(behind.map((l) => l.next!.catch(() => {})));
      await this.yieldToEventLoop();
    })();
    return this.pendingCommit;
  }

  /**
   * Gives the event loop a turn (a macrotask: background pre-opens and dictionary training run
   * there), at most about every 2 ms, so that a tight put + commit loop is not slowed down.
   */
  private async yieldToEventLoop(): Promise<void> {
    const now = Date.now();
    if (now - this.lastYield < YIELD_EVERY_MS) return;
    await macrotask();
    this.lastYield = Date.now();
  }

  /** Pins the current segments; reads through it keep working until release(). */
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
      const dicts = await DictionaryStore.open(this.storage);
      this.opts.dictionaries?.checkAgainst(dicts);
      this.dicts = dicts;
      this.manager.setDictLookup(this.dictLookup);
      this.dictNames = names;
    }
    for (const s of this.manager.segmentInfo()) await this.garbage.load(this.storage, s.id);
  }

  /** Segments, counters, compression, dictionaries and recovery, as plain JSON (no bigint). */
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
      recovered: this.recovered.map((r) => ({ ...r, maxRid: r.maxRid.toString() })),
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
        current: this.dicts.current === undefined ? undefined : Number(this.dicts.current.id),
        dictionaries: this.dicts.info().map((d) => ({ ...d, id: Number(d.id) })),
        damaged: this.dicts.damaged().map((d) => ({ ...d, id: d.id === undefined ? undefined : Number(d.id) })),
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
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closeRun ??= this.closeNow();
    return this.closeRun;
  }

  private async closeNow(): Promise<void> {
    // A compaction in progress finishes (or fails) first, unless it is waiting for its onRemap (which
    // may be what called close(): waiting would never end). Then the compaction stops where it is,
    // copies durable and nothing deleted, and its .remap record is rolled forward by the next compact().
    const duringOnRemap = this.inOnRemap;
    this.closing = true;
    if (!duringOnRemap) await this.compactions;
    if (this.readOnly) {
      this.closed = true;
      await this.manager.close();
      return;
    }
    try {
      await this.closeWritable();
      // Everything is durable: the next open may continue in the same segments.
      await markClean(this.storage);
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
    if (this.failure !== undefined) err = stoppedError(this.failure); // nothing more can be made durable
    else {
      try {
        await this.garbage.persist(this.storage);
        await this.createHeldSegments();
        this.syncAll();
      } catch (e) {
        err = e;
      }
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
   * Only pointers this log handed out for committed values are accepted: a pointer of another log,
   * to the middle of a record, with a length word that does not match its record, or to bytes not
   * yet committed is INVALID_ARGUMENT (NOT_FOUND for an unknown segment), and then nothing of the
   * batch is marked.
   */
  markDead(ptrs: ValuePtr | readonly ValuePtr[]): number {
    this.checkWritable('markDead');
    if (ptrs === null || typeof ptrs !== 'object') throw invalidArgument(`markDead expects a value pointer or an array of them, got ${describe(ptrs)}`);
    const list = Array.isArray(ptrs) ? ptrs : [ptrs as ValuePtr];
    const committed = new Map<number, number>();
    const limit = (id: number) => committed.get(id) ?? committed.set(id, this.committedBytes(id)).get(id)!;
    const dead = checkDeadPointers(list, limit, (id, start, end) => this.manager.recordValues(id, start, end));
    let added = 0;
    for (const { ptr, bytes } of dead) if (this.garbage.mark(ptr, bytes)) added++;
    return added;
  }

  /** Bytes of a segment known durable: a sync covered them (active segments) or it is sealed. */
  private committedBytes(fileId: number): number {
    for (const l of this.lanes) {
      if (l.writer.fileId === fileId) return l.durableBytes;
      if (l.ready !== undefined && encodeFileId(l.index, l.ready.seq) === fileId) return 0;
    }
    return this.manager.segmentInfo().find((x) => x.id === fileId)?.bytes ?? 0;
  }

  /**
   * Copies the live values of sealed segments whose garbage ratio is at least `minGarbageRatio` into
   * the active segment of their lane (a record whose values are all live is copied byte for byte,
   * after its checksum is verified on the copy itself; others are re-framed), makes the copies
   * durable, hands the remap to `onRemap` (if given) and returns it. Only then do the old segments
   * become zombies, deleted as soon as no snapshot holds them. Without onRemap, take a snapshot before
   * compacting and release it once your index durably points at the new pointers. A segment that
   * cannot be read back verified is skipped (remap.skippedSegments). Calls are serialised: a second
   * compact() waits for the first, then runs on what is left. A run cut short by a crash is finished
   * or undone by the next compact() (see README).
   */
  async compact(opts: CompactOptions = {}): Promise<PointerRemap> {
    this.checkWritable('compact');
    const o = checkOptionKeys(opts, 'compact options', COMPACT_OPTION_KEYS);
    const minRatio = numberOption(o, 'minGarbageRatio', 'compact options', 0.5, 0, 1);
    const maxBytes = numberOption(o, 'maxBytes', 'compact options', Infinity, 1, Infinity, true);
    functionOption<NonNullable<CompactOptions['onProgress']>>(o, 'onProgress', 'compact options');
    functionOption<NonNullable<CompactOptions['onRemap']>>(o, 'onRemap', 'compact options');
    const run = this.compactions.then(() => this.compactNow(opts, minRatio, maxBytes));
    this.compactions = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async compactNow(opts: CompactOptions, minRatio: number, maxBytes: number): Promise<PointerRemap> {
    this.checkWritable('compact');
    await this.commit();
    const rolled = await this.settleLeftovers();
    // Zombies whose deletion failed earlier: try again (a failure stays reported in the next remap).
    const retry: CompactionProblem[] = [];
    for (const s of this.manager.segmentInfo()) {
      if (!s.zombie || s.refCount !== 0) continue;
      try {
        await this.manager.removeSegment(s.id);
      } catch (e) {
        retry.push({ fileId: s.id, segment: s.name, error: asValueLogError(e, 'IO', `deleting ${s.name}`) });
      }
    }
    const remap = new PointerRemap();
    remap.deleteErrors.push(...retry);
    for (const r of rolled) {
      for (const [o, n] of r.pairs) {
        if (this.garbage.isDead(n)) continue; // the caller already applied the move and dropped the value
        remap.set(o, n);
      }
    }
    const rolledSources = new Set(rolled.flatMap((r) => r.sources).filter((id) => this.manager.isLive(id)));
    const candidates = this.stats()
      .segments.filter((x) => !x.active && !x.zombie && x.bytes > 0 && x.garbageRatio >= minRatio && !this.isSpare(x.fileId) && !rolledSources.has(x.fileId))
      .sort((a, b) => b.garbageRatio - a.garbageRatio);
    const chosen: SegmentStats[] = [];
    let budget = maxBytes;
    for (const seg of candidates) {
      if (seg.bytes > budget && chosen.length > 0) break;
      budget -= seg.bytes;
      chosen.push(seg);
    }
    const total = chosen.reduce((a, x) => a + x.bytes, 0);
    let intent: CompactionIntent | undefined;
    if (chosen.length > 0) {
      // Captured in one synchronous step: values put from here on get RIDs above maxRid.
      intent = {
        run: ++this.compactRun,
        phase: 'intent',
        maxRid: this.ridCounter,
        sources: chosen.map((s) => s.fileId),
        targets: this.lanes.map((l) => ({ fileId: l.writer.fileId, offset: l.writer.size })),
        pairs: [],
      };
      await writeIntent(this.storage, intent);
    }
    const runPairs: Array<[ValuePtr, ValuePtr]> = [];
    const discard: ValuePtr[] = [];
    const compacted: number[] = [];
    let remapRecord: CompactionIntent | undefined;
    try {
      let done = 0;
      opts.onProgress?.(0, total);
      for (const seg of chosen) {
        const pairs: Array<[ValuePtr, ValuePtr]> = [];
        const problem = await this.compactSegment(seg.fileId, this.lanes[seg.lane] ?? this.lanes[0]!, pairs, intent!.maxRid);
        if (problem === undefined) {
          compacted.push(seg.fileId);
          runPairs.push(...pairs);
        } else {
          for (const [, n] of pairs) discard.push(n);
          remap.skippedSegments.push({ fileId: seg.fileId, segment: seg.name, error: problem });
        }
        done += seg.bytes;
        opts.onProgress?.(done, total);
      }
      await this.commit(); // every copy durable before anything refers to it
      if (intent !== undefined && discard.length > 0) {
        for (const p of discard) this.markCopyDead(p);
        await this.commit();
      }
      if (intent !== undefined && compacted.length > 0) {
        const record: CompactionIntent = { ...intent, phase: 'remap', sources: compacted, pairs: runPairs };
        await writeIntent(this.storage, record);
        remapRecord = record;
      }
      for (const [o, n] of runPairs) remap.set(o, n);
      remap.compactedSegments.push(...compacted, ...rolledSources);
      if (opts.onRemap !== undefined) {
        this.inOnRemap = true;
        try {
          await opts.onRemap(remap);
        } finally {
          this.inOnRemap = false;
        }
      }
    } catch (e) {
      // A close() that began while onRemap ran has closed the log: the run's records stay on disk
      // for the next compact() to roll back or forward, as after a crash.
      if (!this.closing) await this.undoRun(intent, remapRecord, [...runPairs.map((p) => p[1]), ...discard]);
      throw asValueLogError(e, 'IO', 'compaction failed, nothing was deleted');
    }
    if (this.closing) return remap; // closed from inside onRemap: nothing deleted; the .remap record rolls it forward next time
    // Handed over: from here on nothing throws, so the caller always gets the remap.
    // A value the caller dropped while the run was copying it (or, for a run rolled forward, before):
    // its copy is garbage too.
    let marked = false;
    for (const [o, n] of remap) {
      if (this.garbage.isDead(o) && !this.garbage.isDead(n)) {
        this.markCopyDead(n);
        marked = true;
      }
    }
    if (marked) {
      // Durable before the old segment (and with it the old mark) goes; if that fails, the old
      // segments stay live and the run on record, so the next compact() redoes this.
      try {
        await this.commit();
      } catch (e) {
        const error = asValueLogError(e, 'IO', 'persisting dead marks of copies');
        for (const id of remap.compactedSegments) remap.deleteErrors.push({ fileId: id, segment: segmentFileName(id), error });
        if (remapRecord !== undefined) this.leftovers.push({ run: intent!.run, intent, remap: remapRecord });
        return remap;
      }
    }
    if (intent !== undefined) {
      if (compacted.length > 0) this.pendingRuns.set(intent.run, { left: new Set(compacted), pairs: runPairs });
      try {
        await removeIntent(this.storage, intent.run, 'intent'); // if it stays, a .remap rolls forward
      } catch {
        // Only copies already marked dead: the next run scans for them again.
        if (compacted.length === 0) this.leftovers.push({ run: intent.run, intent, remap: undefined });
      }
    }
    for (const r of rolled) {
      this.leftovers = this.leftovers.filter((l) => l.run !== r.run);
      this.pendingRuns.set(r.run, { left: new Set(r.sources.filter((id) => rolledSources.has(id))), pairs: r.pairs });
      await removeIntent(this.storage, r.run, 'intent').catch(() => undefined);
    }
    for (const id of remap.compactedSegments) {
      this.manager.markZombie(id);
      // Unpinned: delete now; pinned: the last release of a snapshot deletes it.
      if (this.manager.segmentInfo().find((x) => x.id === id)?.refCount !== 0) continue;
      try {
        await this.manager.removeSegment(id);
      } catch (e) {
        remap.deleteErrors.push({ fileId: id, segment: segmentFileName(id), error: asValueLogError(e, 'IO', `deleting ${segmentFileName(id)}`) });
      }
    }
    for (const [run, p] of this.pendingRuns) if (p.left.size === 0) await this.settleRun(run);
    return remap;
  }

  /**
   * Copies the live values of one segment into `lane`, adding old → new pairs. Returns the problem
   * when the source cannot be read back verified (its copies so far are in `pairs`); a failure to
   * write the copies throws.
   */
  private async compactSegment(id: number, lane: Lane, pairs: Array<[ValuePtr, ValuePtr]>, maxRid: bigint): Promise<ValueLogError | undefined> {
    const name = segmentFileName(id);
    let reader: Reader | undefined;
    let file: StorageFile | undefined;
    try {
      reader = await Reader.open(this.storage, id);
      file = await this.storage.open(name, { readOnly: true });
    } catch (e) {
      reader?.close();
      return asValueLogError(e, 'IO', `opening ${name} for compaction`);
    }
    reader.setDictLookup(this.dictLookup);
    try {
      let frame: ReaderEntry[] = [];
      let frameEnd = 0;
      for (;;) {
        let e: ReaderEntry | undefined;
        try {
          e = reader.next();
          if (e !== undefined && e.rid > maxRid) {
            // Only a log whose RID counter was restored too low at open has these: the run could not
            // tell such copies from new values after a crash, so the next run (counter raised) takes it.
            if (e.rid > this.ridCounter) this.ridCounter = e.rid;
            throw new ValueLogError('CORRUPT', `valuelog: ${name} holds RID ${e.rid} above the log's counter at the start of compaction; it is compacted by the next compact()`);
          }
          if (frame.length > 0 && (e === undefined || e.ptr.offset !== frame[0]!.ptr.offset)) {
            const raw = frame.every((x) => !this.garbage.isDead(x.ptr)) ? readVerifiedRecord(file, name, frame, frameEnd) : undefined;
            this.copyFrame(lane, frame, raw, pairs);
            frame = [];
          }
        } catch (err) {
          if (err instanceof CopyWriteError) throw err.cause;
          return asValueLogError(err, 'IO', `reading ${name} for compaction`);
        }
        if (e === undefined) return undefined;
        if (frame.length === 0) frameEnd = reader.offset;
        frame.push(e);
      }
    } finally {
      reader.close();
      file.close();
    }
  }

  /** Appends one record's live values: `raw` (the verified record) as it is, or the live ones re-framed. */
  private copyFrame(lane: Lane, frame: ReaderEntry[], raw: Uint8Array | undefined, pairs: Array<[ValuePtr, ValuePtr]>): void {
    try {
      if (raw !== undefined) {
        // Wholly live: every value keeps its sub-index and length hint.
        this.rotateIfFull(lane, raw.length);
        const copied = lane.writer.appendRawRecord(raw, frame[0]!.ptr.length);
        for (const e of frame) pairs.push([e.ptr, { offset: copied.offset, length: e.ptr.length, fileId: copied.fileId }]);
      } else {
        const live = frame.filter((e) => !this.garbage.isDead(e.ptr));
        if (live.length === 0) return;
        let bytes = HEADER_SIZE + framePrefixLength(live.length);
        for (const e of live) bytes += e.value!.length;
        this.rotateIfFull(lane, bytes);
        // Re-framed values are compressed as new ones are (with the current dictionary, if any).
        const ptrs = this.writeFrame(lane, live.map((e) => ({ rid: e.rid, value: e.value! })));
        live.forEach((e, i) => pairs.push([e.ptr, ptrs[i]!]));
      }
      lane.dirty = true;
    } catch (e) {
      throw new CopyWriteError(e);
    }
  }

  /** Marks a copy dead so that a later compaction reclaims it (a copy whose segment is gone is ignored). */
  private markCopyDead(ptr: ValuePtr): void {
    if (this.garbage.isDead(ptr)) return;
    try {
      // Copies are the writer's own pointers to records it wrote: only the file bounds them.
      const [d] = checkDeadPointers([ptr], () => Number.MAX_SAFE_INTEGER, (id, start, end) => this.manager.recordValues(id, start, end));
      this.garbage.mark(d!.ptr, d!.bytes);
    } catch {
      // Its segment was deleted or cannot be read: nothing is left to reclaim.
    }
  }

  /**
   * Undoes a run that failed before its remap was handed over: the .remap goes first (so it is never
   * rolled forward), then its copies are made durable and marked dead. If any step fails the run
   * stays on record and the next compact() finishes the job from what is on disk.
   */
  private async undoRun(intent: CompactionIntent | undefined, remap: CompactionIntent | undefined, copies: ValuePtr[]): Promise<void> {
    if (intent === undefined) return;
    try {
      if (remap !== undefined) await removeIntent(this.storage, intent.run, 'remap');
    } catch {
      this.leftovers.push({ run: intent.run, intent, remap }); // rolled forward: handed over again before anything is deleted
      return;
    }
    try {
      await this.commit();
      for (const p of copies) this.markCopyDead(p);
      await this.commit();
      await removeIntent(this.storage, intent.run, 'intent');
    } catch {
      this.leftovers.push({ run: intent.run, intent, remap: undefined });
    }
  }

  /**
   * Deals with runs an earlier process (or a failed earlier call) left unfinished. A run that never
   * wrote its .remap handed nothing over: its copies are found by position and RID and marked dead.
   * Runs with a .remap are returned, to be rolled forward by this call.
   */
  private async settleLeftovers(): Promise<CompactionIntent[]> {
    const undo = this.leftovers.filter((l) => l.remap === undefined);
    if (undo.length === 0) return this.leftovers.map((l) => l.remap!);
    await this.manager.refresh();
    for (const l of undo) if (l.intent !== undefined) await this.discardOrphans(l.intent);
    await this.commit();
    for (const l of undo) {
      await removeIntent(this.storage, l.run, 'remap'); // a torn one, never handed over
      await removeIntent(this.storage, l.run, 'intent');
    }
    this.leftovers = this.leftovers.filter((l) => l.remap !== undefined);
    return this.leftovers.map((l) => l.remap!);
  }

  /** Marks dead every copy a run made: values at or after its start in each lane with RIDs up to its maxRid. */
  private async discardOrphans(intent: CompactionIntent): Promise<void> {
    const ids = this.manager.segmentInfo().filter((s) => !s.zombie).map((s) => s.id);
    for (const t of intent.targets) {
      const from = decodeFileId(t.fileId);
      for (const id of ids) {
        const at = decodeFileId(id);
        if (at.lane !== from.lane || at.seq < from.seq) continue;
        let reader: Reader;
        try {
          reader = await Reader.open(this.storage, id);
        } catch {
          continue;
        }
        reader.disableValueDecode();
        try {
          for (let e = reader.next(); e !== undefined; e = reader.next()) {
            if (id === t.fileId && e.ptr.offset - 4 < t.offset) continue;
            if (e.rid <= intent.maxRid) this.markCopyDead(e.ptr);
          }
        } catch {
          // A damaged or torn tail: nothing after it is readable, so nothing after it was copied.
        } finally {
          reader.close();
        }
      }
    }
  }

  /** A source segment was deleted: a run whose sources are all gone no longer needs its .remap. */
  private async sourceDeleted(id: number): Promise<void> {
    for (const [run, p] of this.pendingRuns) if (p.left.delete(id) && p.left.size === 0) await this.settleRun(run);
  }

  private async settleRun(run: number): Promise<void> {
    this.pendingRuns.delete(run);
    // If it cannot be removed it rolls forward harmlessly later: its old pointers are gone.
    await removeIntent(this.storage, run, 'remap').catch(() => undefined);
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
    // The release may delete old segments of a handed-over run: a value dropped by its old pointer
    // after the handover must have its copy marked dead, durably, while the old mark still exists.
    if (this.pendingRuns.size > 0 && !this.closed) {
      let marked = false;
      for (const p of this.pendingRuns.values()) {
        for (const [o, n] of p.pairs) {
          if (this.garbage.isDead(o) && !this.garbage.isDead(n)) {
            this.markCopyDead(n);
            marked = true;
          }
        }
      }
      if (marked) await this.commit();
    }
    await this.manager.release(set);
  }

  /**
   * Hands every written lane's bytes to storage and waits until the segments created on their first
   * write exist (storage/deferred.ts), so that syncAll() can make them durable. A failed create
   * rejects (the bytes stay held, the next commit tries again); a failed write of held bytes stops
   * the log like any write failure.
   */
  private async createHeldSegments(): Promise<void> {
    const d = this.deferred;
    if (d === undefined) return;
    for (const l of this.lanes) {
      if (!l.dirty || !d.isHeld(segmentFileName(l.writer.fileId))) continue;
      try {
        l.writer.flush();
      } catch (e) {
        this.failStop(e);
      }
    }
    if (d.heldBytes() === 0) return;
    try {
      await d.settle();
    } catch (e) {
      // Bytes handed out as pointers did not reach the file: as after any failed write.
      if (d.writeFailure() !== undefined) this.failStop(e);
      throw e;
    }
  }

  private syncAll(): void {
    if (this.failure !== undefined) throw stoppedError(this.failure);
    if (this.backgroundError !== undefined) throw this.backgroundError;
    let synced = false;
    for (const l of this.lanes) {
      if (!l.dirty) continue;
      try {
        l.writer.sync();
      } catch (e) {
        this.failStop(e);
      }
      l.durableBytes = l.writer.size;
      l.dirty = false;
      synced = true;
    }
    if (synced) this.syncs++;
  }

  /** Records the first failure that may have lost bytes (a writer calls it through onFailure). */
  private noteFailure(err: unknown): ValueLogError {
    this.failure ??= asValueLogError(err, 'IO', 'writing');
    return this.failure;
  }

  /** Stops the log for good (see `failure`) and throws the IO error every later write gets. */
  private failStop(err: unknown): never {
    throw stoppedError(this.noteFailure(err));
  }

  /** checkOpen, and the log has not stopped after a failure. */

  private lane(lane: number | undefined): Lane {
    const i = lane ?? 0;
    const l = Number.isInteger(i) ? this.lanes[i] : undefined;
    if (l === undefined) throw invalidArgument(`lane ${String(lane)} is not open (lanes: 0..${this.lanes.length - 1})`);
    return l;
  }

  private ridCounter = 0n;
  /** The compaction running or last run: compact() calls queue behind it. */
  private compactions: Promise<void> = Promise.resolve();
  /** Highest compaction run number used or found on disk. */
  private compactRun = 0;
  /** Runs left unfinished (by an earlier process or a failed call), settled by the next compact(). */
  private leftovers: Leftover[] = [];
  /** Handed-over runs whose .remap stays until these source segments are deleted. */
  private readonly pendingRuns = new Map<number, { left: Set<number>; pairs: Array<[ValuePtr, ValuePtr]> }>();

  /** Reads the records of unfinished compaction runs (read only; compact() acts on them). */
  private async loadCompactionRecords(): Promise<void> {
    const byRun = new Map<number, Leftover>();
    for (const r of await readIntents(this.storage, await this.storage.list())) {
      if (r.run > this.compactRun) this.compactRun = r.run;
      const l = byRun.get(r.run) ?? { run: r.run, intent: undefined, remap: undefined };
      byRun.set(r.run, l);
      if (r.intent !== undefined) l[r.phase] = r.intent;
      // Values put from now on must never look like that run's copies.
      if (r.intent !== undefined && r.intent.maxRid > this.ridCounter) this.ridCounter = r.intent.maxRid;
    }
    this.leftovers = [...byRun.values()];
  }

  /**
   * Rotation keeps put() synchronous: the next segment is opened in the background once the active
   * one is a quarter full, and the writer switches to it when the next frame would cross the size limit.
   * If it is not open yet, the active segment grows past the limit until it is.
   */
  private rotateIfFull(lane: Lane, recordBytes: number): void {
    const size = lane.writer.size;
    const failed = lane.preopenFailed;
    if (lane.next === undefined && lane.ready === undefined && size >= this.opts.segmentSize * PREOPEN_AT && (failed === undefined || failed.atCommit !== this.commits)) this.preopen(lane);
    if (size === 0 || size + recordBytes <= this.opts.segmentSize) return;
    const held = this.deferred?.isHeld(segmentFileName(lane.writer.fileId)) === true;
    if (held) {
      // Sealing needs a sync, which needs the file: it grows past the limit until it is created.
      const failed = this.deferred!.createError();
      if (failed !== undefined && size + recordBytes > 2 * this.opts.segmentSize) {
        throw new ValueLogError('IO', `valuelog: lane ${lane.index} cannot rotate: creating its segment failed (${failed.message.replace(/^valuelog: /, '')})`, { cause: failed });
      }
      // Its bytes go to the held file so that its creation starts now (a create needs bytes to write).
      try {
        lane.writer.flush();
      } catch (e) {
        this.failStop(e);
      }
      this.deferred!.scheduleSettle();
      return;
    }
    if (lane.ready === undefined) {
      // Growing past the limit is fine while the successor is being opened; if opening it keeps
      // failing, the put that would take the segment past twice its size reports why.
      if (failed !== undefined && lane.next === undefined && size + recordBytes > 2 * this.opts.segmentSize) {
        throw new ValueLogError('IO', `valuelog: lane ${lane.index} cannot rotate: opening its next segment failed (${failed.err.message.replace(/^valuelog: /, '')})`, { cause: failed.err });
      }
      return;
    }
    const { file, seq } = lane.ready;
    lane.ready = undefined;
    try {
      lane.writer.switchTo(file, encodeFileId(lane.index, seq));
    } catch (e) {
      if (lane.writer.failure !== undefined) this.failStop(e);
      // Nothing was written: the spare is dropped and opened again later.
      try {
        file.close();
      } catch {
        // closing a handle we no longer use
      }
      throw e;
    }
    lane.seq = seq;
    lane.durableBytes = lane.writer.size;
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
      try {
        await this.manager.refresh();
      } catch (e) {
        file.close(); // retried later (see rotateIfFull)
        throw e;
      }
      return { file, seq };
    })();
    lane.next.then(
      (r) => {
        lane.next = undefined;
        lane.preopenFailed = undefined;
        if (this.closed) r.file.close();
        else lane.ready = r;
      },
      (e: unknown) => {
        // Nothing was lost: the pre-open is retried after the next commit (see rotateIfFull).
        lane.next = undefined;
        lane.preopenFailed = { err: asValueLogError(e, 'IO', 'opening the next segment'), atCommit: this.commits };
      },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: the log is closed');
  }

  /** checkOpen, the log was not opened read-only, and it has not stopped after a failure (fail-stop). */
  private checkWritable(op: string): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyLog(op);
    if (this.failure !== undefined) throw stoppedError(this.failure);
  }
}

function readOnlyLog(op: string): ValueLogError {
  return invalidArgument(`${op}: the log was opened read-only ({ readOnly: true })`);
}

/**
 * Lanes on disk beyond the `lanes` option get no writer, but one that must continue in a fresh
 * segment (a torn tail was cut, or the previous owner did not close the log) gets it created empty
 * now: a later open with more lanes then appends there, never at an offset a lost pointer names.
 */
async function createFreshSegments(storage: StorageBackend, plan: LaneRecovery): Promise<void> {
  let created = false;
  for (const lane of plan.extraLanes) {
    if (!plan.fresh[lane]) continue;
    (await storage.open(segmentFileName(encodeFileId(lane, plan.activeSeqs[lane]!)), { create: true })).close();
    created = true;
  }
  if (created) await storage.syncDir?.();
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
        if (opened.existing.has(name) || (parseSegmentFileName(name) === undefined && name !== DIRTY_MARKER)) continue;
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

/** A compaction run found unfinished: its valid .intent and .remap records, if any. */
interface Leftover {
  run: number;
  intent: CompactionIntent | undefined;
  remap: CompactionIntent | undefined;
}

/** Wraps a failure to write a copy, so that it is told apart from a source that reads back damaged. */
class CopyWriteError extends Error {
  constructor(cause: unknown) {
    super('copy write failed', { cause });
  }
}

/**
 * Reads the record the Reader just verified (it ends at `end`) and verifies the copy itself: its
 * byte count, checksum, length and RIDs must be those of the entries, or nothing of it is copied.
 */
function readVerifiedRecord(file: StorageFile, name: string, frame: ReaderEntry[], end: number): Uint8Array {
  const first = frame[0]!;
  const start = first.ptr.offset - 4;
  const raw = new Uint8Array(end - start);
  const got = file.read(raw, start);
  if (got !== raw.length) throw new ValueLogError('UNEXPECTED_EOF', `valuelog: reading the record at ${start} in ${name} for its copy gave ${got} of ${raw.length} bytes`);
  const where = `record at ${start} in ${name}, read again for its copy`;
  const h = decodeRecordHeader(raw);
  if (HEADER_SIZE + h.valueLen !== raw.length) throw corrupt(`${where}: length ${HEADER_SIZE + h.valueLen}, ${raw.length} expected`);
  verifyRecordChecksum(raw, 0, h.crc, raw.subarray(HEADER_SIZE));
  if (isGroupedRecord(h)) {
    const f = decodeFrame(raw.subarray(HEADER_SIZE));
    if (f.header.k !== frame.length || frame.some((e, i) => f.rids[i] !== e.rid)) throw corrupt(`${where}: not the record first read`);
  } else if (frame.length !== 1 || h.rid !== first.rid) {
    throw corrupt(`${where}: not the record first read`);
  }
  return raw;
}

/** Every option ValueLog.open knows (unknown keys are refused: a misspelling would silently change behaviour). */
const OPEN_OPTION_KEYS = ['segmentSize', 'lanes', 'compression', 'dictionary', 'dictionaries', 'salvage', 'readOnly', 'bufferSize', 'rawFrameBytes'] as const;
const DICTIONARY_OPTION_KEYS = ['size', 'sampleBytes', 'trainAfterBytes', 'level', 'entropy'] as const;
const PUT_OPTION_KEYS = ['lane'] as const;
const COMPACT_OPTION_KEYS = ['minGarbageRatio', 'maxBytes', 'onProgress', 'onRemap'] as const;
const COMPRESSION_MODES: readonly Compression[] = ['none', 'snappy', 'lz4', 'zstd-dict', 'auto'];
/** Largest staging buffer: one is allocated per lane, and a write of it must stay far below 2 GiB. */
const MAX_BUFFER = 256 * 1024 * 1024;

function normalizeOptions(options: unknown): NormalizedOptions {
  const o = checkOptionKeys(options, 'ValueLog.open options', OPEN_OPTION_KEYS);
  const what = 'options';
  const segmentSize = intOption(o, 'segmentSize', what, DEFAULT_SEGMENT_SIZE, 64 * 1024, Number.MAX_SAFE_INTEGER, 'bytes');
  const lanes = intOption(o, 'lanes', what, 1, 1, MAX_LANE + 1);
  const compression = (o.compression ?? 'none') as Compression;
  if (!COMPRESSION_MODES.includes(compression)) {
    throw invalidArgument(`options.compression must be 'none', 'snappy', 'lz4', 'zstd-dict' or 'auto', got ${describe(o.compression)}`);
  }
  const bufferSize = intOption(o, 'bufferSize', what, DEFAULT_BUFFER, 64 * 1024, MAX_BUFFER, 'bytes');
  const rawFrameBytes = intOption(o, 'rawFrameBytes', what, DEFAULT_RAW_FRAME_BYTES, 1, MAX_BUFFER, 'bytes');
  const salvage = booleanOption(o, 'salvage', what, false);
  const readOnly = booleanOption(o, 'readOnly', what, false);
  const d = checkOptionKeys(o.dictionary, 'options.dictionary', DICTIONARY_OPTION_KEYS);
  const dw = 'options.dictionary';
  const size = intOption(d, 'size', dw, DEFAULT_DICT_SIZE, 256, 16 * 1024 * 1024, 'bytes');
  const sampleBytes = intOption(d, 'sampleBytes', dw, DEFAULT_SAMPLE_BYTES, 1024, 256 * 1024 * 1024, 'bytes');
  const trainAfterBytes = intOption(d, 'trainAfterBytes', dw, DEFAULT_TRAIN_AFTER, 0, Number.MAX_SAFE_INTEGER);
  const level = intOption(d, 'level', dw, DEFAULT_DICT_LEVEL, 1, 19);
  const entropy = booleanOption(d, 'entropy', dw, true);
  const dictionaries = ForeignDictionaries.fromOption(o.dictionaries);
  return { segmentSize, lanes, compression, bufferSize, rawFrameBytes, salvage, readOnly, dictionary: { size, sampleBytes, trainAfterBytes, level, entropy }, dictionaries };
}

/** A storage backend is any object with list/open/remove: refuse a path string or a stray value early. */
function checkStorageBackend(storage: unknown): asserts storage is StorageBackend {
  const s = storage as Partial<StorageBackend> | null;
  if (s === null || typeof s !== 'object' || typeof s.list !== 'function' || typeof s.open !== 'function' || typeof s.remove !== 'function') {
    const hint = typeof storage === 'string' ? ` (for a directory, pass new NodeStorage(${JSON.stringify(storage)}))` : '';
    throw invalidArgument(`ValueLog.open expects a StorageBackend (an object with list, open and remove), got ${describe(storage)}${hint}`);
  }
}

const g = globalThis as unknown as { setImmediate?: (cb: () => void) => unknown; MessageChannel?: typeof MessageChannel };
let channel: MessageChannel | undefined;
const waiting: Array<() => void> = [];

/**
 * Resolves on a later macrotask: setImmediate where it exists (Node, Deno, Bun), else a
 * MessageChannel message (browsers; setTimeout would be clamped to >= 1-4 ms), else setTimeout 0.
 */
function macrotask(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof g.setImmediate === 'function') {
      g.setImmediate(resolve);
      return;
    }
    if (typeof g.MessageChannel === 'function') {
      if (channel === undefined) {
        channel = new g.MessageChannel();
        channel.port1.onmessage = () => waiting.shift()?.();
      }
      waiting.push(resolve);
      channel.port2.postMessage(0);
      return;
    }
    setTimeout(resolve, 0);
  });
}
