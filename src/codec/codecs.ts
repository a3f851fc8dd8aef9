// The codecs and checksum of the WebAssembly module, with every declared size checked against the
// caller's expectation and the record-size limit before any memory is reserved for it.
import { corrupt, invalidArgument, tooLarge, ValueLogError } from '../errors.js';
import { effectiveMaxRecordSize } from '../limits.js';
import { copyOut, cString, heap, Scratch, wasm } from './module.js';

const input = new Scratch();
const output = new Scratch();

function release(): void {
  input.trim();
  output.trim();
}

function checkDeclaredSize(expected: number, what: string): void {
  if (!Number.isSafeInteger(expected) || expected < 0) throw invalidArgument(`${what}: expected length must be a non-negative integer`);
  if (expected > effectiveMaxRecordSize()) throw tooLarge(`${what}: declared ${expected} bytes exceeds limits.maxRecordSize`);
}

// ---------------------------------------------------------------------------------------------
// CRC-32C

/** Inputs are fed through a fixed window so that a checksum never grows module memory. */
const CRC_WINDOW = 64 * 1024;
let crcWindow = 0;

/**
 * Below this size a JavaScript slice-by-8 loop beats the cost of copying into WebAssembly memory
 * (16 B: ~25 ns vs ~65 ns on Node 20); every record checksum starts with a 16-byte header slice.
 */
export const CRC_JS_BELOW = 64;
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) for (let j = 1; j < 8; j++) t[j * 256 + i] = (t[(j - 1) * 256 + i]! >>> 8) ^ t[t[(j - 1) * 256 + i]! & 0xff]!;
  return t;
})();

/** CRC-32C in JavaScript (slice-by-8); same semantics as crc32c. */
export function crc32cTable(b: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n = b.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    c = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + b[i + 4]!]! ^ t[512 + b[i + 5]!]! ^ t[256 + b[i + 6]!]! ^ t[b[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC-32C (Castagnoli) with Go `crc32.Update` semantics: `crc32c(b, crc32c(a)) === crc32c(a ‖ b)`.
 * Returns an unsigned 32-bit number. Needs `await init()` like every codec.
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  const ex = wasm();
  const n = data.length;
  if (n < CRC_JS_BELOW) return crc32cTable(data, crc);
  if (crcWindow === 0) {
    crcWindow = ex.vl_malloc(CRC_WINDOW);
    if (crcWindow === 0) throw new ValueLogError('IO', 'valuelog: cannot reserve the CRC window');
  }
  if (n <= CRC_WINDOW) {
    heap().set(data, crcWindow);
    return ex.vl_crc32c(crc >>> 0, crcWindow, n) >>> 0;
  }
  let c = crc >>> 0;
  for (let off = 0; off < n; off += CRC_WINDOW) {
    const chunk = data.subarray(off, Math.min(off + CRC_WINDOW, n));
    heap().set(chunk, crcWindow);
    c = ex.vl_crc32c(c, crcWindow, chunk.length);
  }
  return c >>> 0;
}

/**
 * CRC-32C (crc32c's semantics) of the n bytes already in module memory at address p: no copy. The
 * caller guarantees the bytes are there (a ModuleRegion or a Scratch it reserved).
 */
export function crc32cInModule(p: number, n: number, crc = 0): number {
  return wasm().vl_crc32c(crc >>> 0, p, n) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// LZ4 block and Snappy raw

/**
 * Compresses into a raw LZ4 block. Returns undefined when the result would exceed `maxOutput`
 * (default: the worst-case bound, so only a failure to fit at all returns undefined).
 */
export function lz4Compress(src: Uint8Array, maxOutput?: number): Uint8Array | undefined {
  const ex = wasm();
  const cap = maxOutput ?? ex.vl_lz4_compress_bound(src.length);
  if (cap <= 0) return undefined;
  const s = input.put(src);
  const d = output.reserve(cap);
  const n = ex.vl_lz4_compress(s, src.length, d, cap);
  const result = n > 0 ? copyOut(d, n) : undefined;
  release();
  return result;
}

/**
 * Largest output a well-formed input of n bytes can produce: an LZ4 length byte adds at most 255
 * bytes; a Snappy element of 2-5 bytes copies at most 64. A claim beyond it is corrupt, and is
 * rejected before an output buffer is reserved for it.
 */
const LZ4_MAX_EXPANSION = 255;
const SNAPPY_MAX_EXPANSION = 22;

function checkExpansion(srcLength: number, expectedLength: number, factor: number, what: string): void {
  if (expectedLength > srcLength * factor + 64) throw corrupt(`${what}: ${srcLength} bytes cannot decode to ${expectedLength}`);
}

/** Decodes a raw LZ4 block that must produce exactly `expectedLength` bytes. */
export function lz4Decompress(src: Uint8Array, expectedLength: number): Uint8Array {
  checkDeclaredSize(expectedLength, 'lz4');
  checkExpansion(src.length, expectedLength, LZ4_MAX_EXPANSION, 'lz4');
  const ex = wasm();
  const s = input.put(src);
  const d = output.reserve(expectedLength);
  const n = ex.vl_lz4_decompress(s, src.length, d, expectedLength);
  if (n !== expectedLength) {
    release();
    throw corrupt(n < 0 ? 'malformed lz4 block' : `lz4 block decoded to ${n} bytes, expected ${expectedLength}`);
  }
  const result = copyOut(d, n);
  release();
  return result;
}

/** Compresses into the raw Snappy format; undefined when the result would exceed `maxOutput`. */
export function snappyCompress(src: Uint8Array, maxOutput?: number): Uint8Array | undefined {
  const ex = wasm();
  const cap = maxOutput ?? ex.vl_snappy_max_compressed(src.length);
  if (cap <= 0) return undefined;
  const s = input.put(src);
  const d = output.reserve(cap);
  const n = ex.vl_snappy_compress(s, src.length, d, cap);
  const result = n > 0 ? copyOut(d, n) : undefined;
  release();
  return result;
}

/** Decodes raw Snappy that must declare and produce exactly `expectedLength` bytes. */
export function snappyDecompress(src: Uint8Array, expectedLength: number): Uint8Array {
  checkDeclaredSize(expectedLength, 'snappy');
  checkExpansion(src.length, expectedLength, SNAPPY_MAX_EXPANSION, 'snappy');
  const ex = wasm();
  const s = input.put(src);
  const declared = ex.vl_snappy_uncompressed_length(s, src.length);
  if (declared !== BigInt(expectedLength)) {
    release();
    throw corrupt(declared < 0n ? 'malformed snappy length' : `snappy declares ${declared} bytes, expected ${expectedLength}`);
  }
  const d = output.reserve(expectedLength);
  const n = ex.vl_snappy_decompress(s, src.length, d, expectedLength);
  if (n !== expectedLength) {
    release();
    throw corrupt('malformed snappy data');
  }
  const result = copyOut(d, n);
  release();
  return result;
}

// ---------------------------------------------------------------------------------------------
// zstd

/** Named levels of the Go package's encoder, mapped to zstd levels. */
export const ZstdLevel = { Fastest: 1, Default: 3, Better: 7, Best: 11 } as const;

/** Levels 1..19 are used as given; anything else (0, negatives, NaN, > 19) means Fastest, as in Go. */
export function normalizeZstdLevel(level: number | undefined): number {
  return level !== undefined && Number.isInteger(level) && level >= 1 && level <= 19 ? level : ZstdLevel.Fastest;
}

const ZSTD_ERROR_DST_TOO_SMALL = 70;
const ZSTD_ERROR_MEMORY = 64;

function zstdErrorName(neg: number): string {
  return cString(wasm().vl_zstd_error_name(neg));
}

/** A zstd dictionary digested for compression (per level) and decompression, owned by a cache. */
class PreparedDictionary {
  private cdicts = new Map<number, number>();
  private ddict = 0;
  constructor(
    readonly dictId: bigint,
    readonly bytes: Uint8Array,
    readonly checksum: number,
  ) {}

  private withBytes<T>(fn: (p: number, n: number) => T): T {
    const p = input.put(this.bytes);
    try {
      return fn(p, this.bytes.length);
    } finally {
      release();
    }
  }

  cdict(level: number): number {
    let c = this.cdicts.get(level);
    if (c === undefined) {
      c = this.withBytes((p, n) => wasm().vl_zstd_create_cdict(p, n, level));
      if (c === 0) throw new ValueLogError('MISSING_DICT', `valuelog: dictionary ${this.dictId} cannot be prepared for compression`);
      this.cdicts.set(level, c);
    }
    return c;
  }

  ddictPtr(): number {
    if (this.ddict === 0) {
      this.ddict = this.withBytes((p, n) => wasm().vl_zstd_create_ddict(p, n));
      if (this.ddict === 0) throw new ValueLogError('MISSING_DICT', `valuelog: dictionary ${this.dictId} cannot be prepared for decompression`);
    }
    return this.ddict;
  }

  free(): void {
    const ex = wasm();
    for (const c of this.cdicts.values()) ex.vl_zstd_free_cdict(c);
    this.cdicts.clear();
    if (this.ddict !== 0) ex.vl_zstd_free_ddict(this.ddict);
    this.ddict = 0;
  }
}

/** Prepared dictionaries by id, least recently used evicted first (the Go package keeps 64). */
export const DICT_CACHE_CAPACITY = 64;
const dictCache = new Map<bigint, PreparedDictionary>();

/**
 * Returns the prepared form of (dictId, bytes). A cached entry is reused only for the same bytes:
 * if a caller presents different bytes under a known id, the entry is rebuilt rather than trusted.
 */
let lastPrepared: PreparedDictionary | undefined;

function prepared(dictId: bigint, bytes: Uint8Array): PreparedDictionary {
  // The same dictionary as the previous call (the common case) skips the LRU bookkeeping.
  if (lastPrepared !== undefined && lastPrepared.bytes === bytes && lastPrepared.dictId === dictId) return lastPrepared;
  if (bytes.length === 0) throw new ValueLogError('MISSING_DICT', `valuelog: missing dict bytes for dictionary ${dictId}`);
  let entry = dictCache.get(dictId);
  if (entry !== undefined && entry.bytes !== bytes) {
    if (entry.bytes.length !== bytes.length || entry.checksum !== crc32c(bytes)) {
      if (entry === lastPrepared) lastPrepared = undefined;
      entry.free();
      dictCache.delete(dictId);
      entry = undefined;
    }
  }
  if (entry === undefined) {
    entry = new PreparedDictionary(dictId, bytes, crc32c(bytes));
    if (dictCache.size >= DICT_CACHE_CAPACITY) {
      const oldest = dictCache.keys().next().value as bigint;
      const evicted = dictCache.get(oldest)!;
      if (evicted === lastPrepared) lastPrepared = undefined;
      evicted.free();
      dictCache.delete(oldest);
    }
  } else {
    dictCache.delete(dictId);
  }
  dictCache.set(dictId, entry);
  lastPrepared = entry;
  return entry;
}

/** Number of prepared dictionaries currently held (for tests and stats). */
export function preparedDictionaryCount(): number {
  return dictCache.size;
}

/** Options of zstdCompress. */
export interface ZstdCompressOptions {
  /** zstd level; anything outside 1..19 means the fastest level. */
  level?: number;
  /** Entropy-code literals; the Go writer's default is off ("no entropy"). */
  entropy?: boolean;
  /** A dictionary to compress with: its id (recorded in the frame) and bytes. */
  dict?: { id: bigint; bytes: Uint8Array };
  /** Give up (return undefined) when the output would exceed this many bytes. */
  maxOutput?: number;
}

/** Compresses one standard zstd frame (no checksum, content size recorded). */
export function zstdCompress(src: Uint8Array, opts: ZstdCompressOptions = {}): Uint8Array | undefined {
  const ex = wasm();
  const level = normalizeZstdLevel(opts.level);
  const cdict = opts.dict ? prepared(opts.dict.id, opts.dict.bytes).cdict(level) : 0;
  const cap = opts.maxOutput ?? ex.vl_zstd_compress_bound(src.length);
  if (cap <= 0) return undefined;
  const s = input.put(src);
  const d = output.reserve(cap);
  const n = ex.vl_zstd_compress(s, src.length, d, cap, cdict, level, opts.entropy ? 1 : 0);
  if (n < 0) {
    release();
    if (-n === ZSTD_ERROR_DST_TOO_SMALL) return undefined;
    if (-n === ZSTD_ERROR_MEMORY) throw tooLarge('zstd ran out of WebAssembly memory');
    throw new ValueLogError('INVALID_ARGUMENT', `valuelog: zstd compression failed: ${zstdErrorName(n)}`);
  }
  const result = copyOut(d, n);
  release();
  return result;
}

/**
 * Decodes one zstd frame that must produce exactly `expectedLength` bytes. A frame header that
 * declares any other content size is rejected before decoding.
 */
export function zstdDecompress(src: Uint8Array, expectedLength: number, dict?: { id: bigint; bytes: Uint8Array }): Uint8Array {
  checkDeclaredSize(expectedLength, 'zstd');
  const ex = wasm();
  const ddict = dict ? prepared(dict.id, dict.bytes).ddictPtr() : 0;
  const s = input.put(src);
  const declared = ex.vl_zstd_frame_content_size(s, src.length);
  if (declared === -2n || (declared >= 0n && declared !== BigInt(expectedLength))) {
    release();
    throw corrupt(declared === -2n ? 'malformed zstd frame header' : `zstd frame declares ${declared} bytes, expected ${expectedLength}`);
  }
  // One spare byte: a frame that would produce more than expected fails instead of fitting exactly.
  const d = output.reserve(expectedLength + 1);
  const n = ex.vl_zstd_decompress(s, src.length, d, expectedLength + 1, ddict);
  if (n !== expectedLength) {
    const why = n < 0 ? zstdErrorName(n) : `decoded ${n} bytes, expected ${expectedLength}`;
    release();
    throw corrupt(`zstd: ${why}`);
  }
  const result = copyOut(d, n);
  release();
  return result;
}

/** The dictionary id a zstd frame header names (0 when absent). */
export function zstdFrameDictId(src: Uint8Array): number {
  const p = input.put(src);
  const id = wasm().vl_zstd_frame_dict_id(p, src.length);
  release();
  return id >>> 0;
}

/** The id stored in a zstd-format dictionary's header (0 for raw-content dictionaries). */
export function zstdDictionaryId(dict: Uint8Array): number {
  const p = input.put(dict);
  const id = wasm().vl_zstd_dict_id(p, dict.length);
  release();
  return id >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Dictionary training

/** Options of trainDictionary. */
export interface TrainDictionaryOptions {
  /** Maximum dictionary size in bytes (256 B .. 16 MiB). */
  size: number;
  /** Id written into the dictionary header and into every frame compressed with it (1 .. 2^32-1). */
  dictId: number | bigint;
  /** Compression level the entropy tables are tuned for (default 3). */
  level?: number;
}

/** Upper bound on the sample bytes handed to the trainer: keeps the module's memory bounded. */
export const MAX_TRAINING_BYTES = 256 * 1024 * 1024;
const MIN_DICT_SIZE = 256;
const MAX_DICT_SIZE = 16 * 1024 * 1024;

/** Trains a standard zstd dictionary (readable by `zstd -D`) from sample values. */
export function trainDictionary(samples: Uint8Array[], opts: TrainDictionaryOptions): Uint8Array {
  const ex = wasm();
  const id = typeof opts.dictId === 'bigint' ? opts.dictId : Number.isSafeInteger(opts.dictId) ? BigInt(opts.dictId) : -1n;
  if (id < 1n || id > 0xffffffffn) throw invalidArgument(`trainDictionary: dictId must be an integer in 1..2^32-1, got ${String(opts.dictId)}`);
  if (!Number.isSafeInteger(opts.size) || opts.size < MIN_DICT_SIZE || opts.size > MAX_DICT_SIZE) {
    throw invalidArgument(`trainDictionary: size must be an integer in ${MIN_DICT_SIZE}..${MAX_DICT_SIZE}, got ${opts.size}`);
  }
  if (!Array.isArray(samples) || samples.length < 8) throw invalidArgument('trainDictionary: at least 8 samples are needed');
  let total = 0;
  for (const s of samples) {
    if (!(s instanceof Uint8Array)) throw invalidArgument('trainDictionary: every sample must be a Uint8Array');
    total += s.length;
  }
  if (total > MAX_TRAINING_BYTES) throw invalidArgument(`trainDictionary: ${total} sample bytes exceed the ${MAX_TRAINING_BYTES}-byte limit`);
  const level = opts.level === undefined ? 3 : normalizeZstdLevel(opts.level);
  const sizesBytes = samples.length * 4;
  const block = ex.vl_malloc(total + sizesBytes + opts.size);
  if (block === 0) throw tooLarge('trainDictionary: WebAssembly memory exhausted');
  try {
    const h = heap();
    let off = block;
    for (const s of samples) {
      h.set(s, off);
      off += s.length;
    }
    const sizesPtr = block + total;
    const dv = new DataView(h.buffer);
    samples.forEach((s, i) => dv.setUint32(sizesPtr + 4 * i, s.length, true));
    const dictPtr = sizesPtr + sizesBytes;
    const n = ex.vl_zdict_train(dictPtr, opts.size, block, sizesPtr, samples.length, Number(id), level);
    if (n <= 0) throw invalidArgument('trainDictionary: training failed (too few, too small or too uniform samples)');
    return copyOut(dictPtr, n);
  } finally {
    ex.vl_free(block);
  }
}
