// The options ValueLog's methods take, their defaults, and their checking. Every option object is
// checked here, before the log acts on it: unknown keys and wrong types are INVALID_ARGUMENT naming
// the option (see options.ts for why).
import { invalidArgument } from './errors.js';
import { ForeignDictionaries, type DictionarySource } from './foreign-dictionaries.js';
import { MAX_LANE } from './format/segment.js';
import { booleanOption, checkOptionKeys, describe, functionOption, intOption, numberOption } from './options.js';
import type { PointerRemap } from './remap.js';
import type { StorageBackend } from './storage/types.js';
import { DEFAULT_WRITER_BUFFER } from './writer.js';

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
  /**
   * Once there is a dictionary, putMany groups values into frames of up to this many bytes before
   * compression (default 2 KiB; 1 gives every value its own frame; at least one value per frame, at
   * most 128). A random read decodes its whole frame, and a trained dictionary compresses even one
   * small value well, so small frames keep most of the ratio and read several times faster
   * (bench/results/dict-frames.md).
   */
  frameBytes?: number;
}

/** Options of ValueLog.trainDictionary. */
export interface DictionaryTrainOptions {
  /** Samples to train from (default: the recent values the log has sampled). At least 8. */
  samples?: Uint8Array[];
  /** Dictionary size in bytes (default: the log's dictionary.size). */
  size?: number;
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

/** @internal ValueLogOptions with every default filled in. */
export type NormalizedOptions = Required<Omit<ValueLogOptions, 'dictionary' | 'dictionaries'>> & { dictionary: Required<DictionaryOptions>; dictionaries: ForeignDictionaries | undefined };

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Raw frame size putMany aims for when it does not compress (a read verifies a whole frame). */
const DEFAULT_RAW_FRAME_BYTES = 1024;
const DEFAULT_DICT_SIZE = 32 * 1024;
const DEFAULT_SAMPLE_BYTES = 1024 * 1024;
const DEFAULT_TRAIN_AFTER = 256 * 1024;
const DEFAULT_DICT_LEVEL = 3;
/** Raw bytes of a dictionary frame: see DictionaryOptions.frameBytes. */
const DEFAULT_DICT_FRAME_BYTES = 2 * 1024;
/** Largest staging buffer: one is allocated per lane, and a write of it must stay far below 2 GiB. */
const MAX_BUFFER = 256 * 1024 * 1024;
/** Dictionary sizes trainDictionary accepts (the trainer's own limits). */
const MIN_DICT_SIZE = 256;
const MAX_DICT_SIZE = 16 * 1024 * 1024;

/** Every option ValueLog.open knows (unknown keys are refused: a misspelling would silently change behaviour). */
const OPEN_OPTION_KEYS = ['segmentSize', 'lanes', 'compression', 'dictionary', 'dictionaries', 'salvage', 'readOnly', 'bufferSize', 'rawFrameBytes'] as const;
const DICTIONARY_OPTION_KEYS = ['size', 'sampleBytes', 'trainAfterBytes', 'level', 'entropy', 'frameBytes'] as const;
const PUT_OPTION_KEYS = ['lane'] as const;
const COMPACT_OPTION_KEYS = ['minGarbageRatio', 'maxBytes', 'onProgress', 'onRemap'] as const;
const TRAIN_OPTION_KEYS = ['samples', 'size'] as const;
const COMPRESSION_MODES: readonly Compression[] = ['none', 'snappy', 'lz4', 'zstd-dict', 'auto'];

/** @internal Checks ValueLog.open's options and fills in the defaults. */
export function normalizeOptions(options: unknown): NormalizedOptions {
  const o = checkOptionKeys(options, 'ValueLog.open options', OPEN_OPTION_KEYS);
  const what = 'options';
  const segmentSize = intOption(o, 'segmentSize', what, DEFAULT_SEGMENT_SIZE, 64 * 1024, Number.MAX_SAFE_INTEGER, 'bytes');
  const lanes = intOption(o, 'lanes', what, 1, 1, MAX_LANE + 1);
  const compression = (o.compression ?? 'none') as Compression;
  if (!COMPRESSION_MODES.includes(compression)) {
    throw invalidArgument(`options.compression must be 'none', 'snappy', 'lz4', 'zstd-dict' or 'auto', got ${describe(o.compression)}`);
  }
  const bufferSize = intOption(o, 'bufferSize', what, DEFAULT_WRITER_BUFFER, 64 * 1024, MAX_BUFFER, 'bytes');
  const rawFrameBytes = intOption(o, 'rawFrameBytes', what, DEFAULT_RAW_FRAME_BYTES, 1, MAX_BUFFER, 'bytes');
  const salvage = booleanOption(o, 'salvage', what, false);
  const readOnly = booleanOption(o, 'readOnly', what, false);
  const d = checkOptionKeys(o.dictionary, 'options.dictionary', DICTIONARY_OPTION_KEYS);
  const dw = 'options.dictionary';
  const size = intOption(d, 'size', dw, DEFAULT_DICT_SIZE, MIN_DICT_SIZE, MAX_DICT_SIZE, 'bytes');
  const sampleBytes = intOption(d, 'sampleBytes', dw, DEFAULT_SAMPLE_BYTES, 1024, 256 * 1024 * 1024, 'bytes');
  const trainAfterBytes = intOption(d, 'trainAfterBytes', dw, DEFAULT_TRAIN_AFTER, 0, Number.MAX_SAFE_INTEGER);
  const level = intOption(d, 'level', dw, DEFAULT_DICT_LEVEL, 1, 19);
  const entropy = booleanOption(d, 'entropy', dw, true);
  const frameBytes = intOption(d, 'frameBytes', dw, DEFAULT_DICT_FRAME_BYTES, 1, MAX_BUFFER, 'bytes');
  const dictionaries = ForeignDictionaries.fromOption(o.dictionaries);
  return { segmentSize, lanes, compression, bufferSize, rawFrameBytes, salvage, readOnly, dictionary: { size, sampleBytes, trainAfterBytes, level, entropy, frameBytes }, dictionaries };
}

/** @internal The lane put and putMany name (checked against the open lanes by the caller). */
export function putLaneOption(opts: unknown): number | undefined {
  return checkOptionKeys(opts, 'put options', PUT_OPTION_KEYS).lane as number | undefined;
}

/** @internal compact()'s options checked, with the defaults of minGarbageRatio (0.5) and maxBytes (no limit). */
export function normalizeCompactOptions(opts: unknown): { minRatio: number; maxBytes: number } {
  const o = checkOptionKeys(opts, 'compact options', COMPACT_OPTION_KEYS);
  const minRatio = numberOption(o, 'minGarbageRatio', 'compact options', 0.5, 0, 1);
  const maxBytes = numberOption(o, 'maxBytes', 'compact options', Infinity, 1, Infinity, true);
  functionOption<NonNullable<CompactOptions['onProgress']>>(o, 'onProgress', 'compact options');
  functionOption<NonNullable<CompactOptions['onRemap']>>(o, 'onRemap', 'compact options');
  return { minRatio, maxBytes };
}

/** @internal trainDictionary()'s options checked (samples are checked where they are used). */
export function checkTrainOptions(opts: unknown): void {
  const o = checkOptionKeys(opts, 'trainDictionary options', TRAIN_OPTION_KEYS);
  if (o.size !== undefined) intOption(o, 'size', 'trainDictionary options', 0, MIN_DICT_SIZE, MAX_DICT_SIZE, 'bytes');
}

/** @internal A storage backend is any object with list/open/remove: refuse a path string or a stray value early. */
export function checkStorageBackend(storage: unknown): asserts storage is StorageBackend {
  const s = storage as Partial<StorageBackend> | null;
  if (s === null || typeof s !== 'object' || typeof s.list !== 'function' || typeof s.open !== 'function' || typeof s.remove !== 'function') {
    const hint = typeof storage === 'string' ? ` (for a directory, pass new NodeStorage(${JSON.stringify(storage)}))` : '';
    throw invalidArgument(`ValueLog.open expects a StorageBackend (an object with list, open and remove), got ${describe(storage)}${hint}`);
  }
}
