// Reading values back: the sequential scan (Reader) and the read of one value by pointer
// (docs/DESIGN.md, "Reading"), which Manager and ValueSet share. Both return values the caller owns.
import { allocBytes, copyBytes } from './alloc.js';
import { crc32c } from './codec/codecs.js';
import { heap, ModuleRegion, Scratch } from './codec/module.js';
import { corrupt, invalidArgument, ValueLogError } from './errors.js';
import { decodeFrame, decodeFramePayload, decodeFramePrefix, type DecodedFrame, type DictLookup, frameRawLength, framePrefixLength, frameValue, validateFrameDict } from './format/frame.js';
import { checkValuePtr, groupedPtrLength, isGroupedPtr, ptrRecordLength, ptrSubIndex, type ValuePtr } from './format/pointer.js';
import { decodeRecordHeader, isGroupedRecord, type RecordHeader, verifyRecordChecksum, verifyRecordInModule } from './format/record.js';
import { checkFileId, segmentFileName } from './format/segment.js';
import { decodeTemplateValue, isTemplateEncoded, TemplateDefCache, type TemplateDecodeOptions, type TemplateLookup } from './format/template.js';
import { FRAME_FLAG_COMPRESSED, FRAME_HEADER_SIZE, HEADER_SIZE } from './limits.js';
import { checkedStorage } from './storage/checked.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

/** One value of a segment scan. */
export interface ReaderEntry {
  /** The value's record id. */
  rid: bigint;
  /** The value; undefined only when value decoding is disabled. */
  value: Uint8Array | undefined;
  /** The value's pointer, as the writer returned it. */
  ptr: ValuePtr;
}

/** Template decoding state: a lookup, its options, and the definition cache it fills. */
export interface TemplateContext {
  lookup: TemplateLookup;
  opts: TemplateDecodeOptions;
  cache: TemplateDefCache | undefined;
}

export function makeTemplateContext(lookup: TemplateLookup | undefined, opts: TemplateDecodeOptions = {}): TemplateContext | undefined {
  if (lookup === undefined) return undefined;
  const size = opts.defCacheSize ?? 0;
  return { lookup, opts, cache: size > 0 ? new TemplateDefCache(size) : undefined };
}

/** Applies the template transform when configured and the value is template-encoded. */
export function applyTemplate(value: Uint8Array, t: TemplateContext | undefined): Uint8Array {
  if (t === undefined || !isTemplateEncoded(value)) return value;
  return decodeTemplateValue(value, t.lookup, t.cache, t.opts, crc32c);
}

/** Whether a frame body says it is compressed (read before decoding it; decodeFrame validates the rest). */
function isCompressedBody(body: Uint8Array): boolean {
  return body.length >= FRAME_HEADER_SIZE && (body[1]! & FRAME_FLAG_COMPRESSED) !== 0;
}

function eof(what: string): ValueLogError {
  return new ValueLogError('UNEXPECTED_EOF', `valuelog: unexpected end of file (${what})`);
}

/** Options of Reader.open. */
export interface ReaderOptions {
  /** Read-ahead size in bytes (default 1 MiB). */
  bufferSize?: number;
}

/** Scans a segment from the start, one record (and each value of a frame) at a time. */
export class Reader implements Iterable<ReaderEntry> {
  private verify = true;
  private decode = true;
  private checkDicts = false;
  private dictLookup: DictLookup | undefined;
  private template: TemplateContext | undefined;
  private pos = 0;
  private queue: ReaderEntry[] = [];
  private qi = 0;
  /**
   * The read-ahead buffer: a region of module memory when the staging budget allows (records are
   * then checked where they lie, and values copied out once), otherwise ordinary memory (jsBuf).
   * Views of the region are taken anew for each record and not kept across a call that may grow
   * the module's memory.
   */
  private readonly region: ModuleRegion | undefined;
  private readonly jsBuf: Uint8Array | undefined;
  private readonly bufSize: number;
  private bufStart = 0;
  private bufLen = 0;
  private closed = false;

  private constructor(
    private readonly file: StorageFile,
    /** The segment's file id. */
    readonly fileId: number,
    bufferSize: number,
  ) {
    this.bufSize = bufferSize;
    this.region = ModuleRegion.acquire(bufferSize, this);
    if (this.region === undefined) this.jsBuf = new Uint8Array(bufferSize);
  }

  private buffer(): Uint8Array {
    return this.region !== undefined ? this.region.view() : this.jsBuf!;
  }

  /** Opens segment `fileId` read-only for a scan from its start; NOT_FOUND when it does not exist. */
  static async open(storage: StorageBackend, fileId: number, opts: ReaderOptions = {}): Promise<Reader> {
    const id = checkFileId(fileId);
    const size = opts.bufferSize ?? 1 << 20;
    if (!Number.isSafeInteger(size) || size < 4096) throw invalidArgument(`bufferSize must be an integer >= 4096, got ${String(opts.bufferSize)}`);
    const file = await checkedStorage(storage).open(segmentFileName(id), { readOnly: true });
    return new Reader(file, id, size);
  }

  /** File offset of the next record to read: after an error, the end of the valid prefix. */
  get offset(): number {
    return this.pos;
  }

  /** Skips CRC checks (for inspecting damaged segments; values may then be wrong). */
  disableChecksum(): void {
    this.verify = false;
  }
  /** Values come back undefined; frames are still parsed (and dictionaries checked with validateDicts). */
  disableValueDecode(): void {
    this.decode = false;
  }
  /** With decoding disabled, still require every compressed frame's dictionary to resolve. */
  validateDicts(): void {
    this.checkDicts = true;
  }
  /** How compressed frames find their dictionaries by id. */
  setDictLookup(fn: DictLookup | undefined): void {
    this.dictLookup = fn;
  }
  /** The reader keeps its own definition cache of `opts.defCacheSize` entries. */
  setTemplateLookup(fn: TemplateLookup | undefined, opts: TemplateDecodeOptions = {}): void {
    this.template = makeTemplateContext(fn, opts);
  }

  /** Closes the segment file; closing twice is a no-op. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.region?.release();
    this.file.close();
  }

  /**
   * The segment's values in log order. A torn or damaged record throws (UNEXPECTED_EOF, CORRUPT);
   * `offset` then says where the valid prefix ends.
   */
  [Symbol.iterator](): Iterator<ReaderEntry> {
    return { next: () => {
      const e = this.next();
      return e === undefined ? { value: undefined, done: true } : { value: e, done: false };
    } };
  }

  /** The next value; undefined at a clean end; UNEXPECTED_EOF on a torn tail; CORRUPT on damage. */
  next(): ReaderEntry | undefined {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: reader is closed');
    if (this.qi < this.queue.length) return this.queue[this.qi++];
    this.queue = [];
    this.qi = 0;
    const start = this.pos;
    const first = this.view(start, HEADER_SIZE);
    if (first.length === 0) return undefined;
    if (first.length < HEADER_SIZE) throw eof(`${first.length}-byte record header at ${start} in ${segmentFileName(this.fileId)}`);
    const h = decodeRecordHeader(first);
    // Header and payload in one view: a refill for the payload must not overwrite the header.
    const record = this.view(start, HEADER_SIZE + h.valueLen);
    const payload = record.subarray(HEADER_SIZE);
    if (payload.length < h.valueLen) throw eof(`record at ${start} in ${segmentFileName(this.fileId)} needs ${h.valueLen} payload bytes, ${payload.length} present`);
    // A record in the module's memory is checked where it lies (heap views start at address 0).
    const inModule = this.region !== undefined && record.buffer === heap().buffer;
    if (this.verify) {
      if (inModule) verifyRecordInModule(record.byteOffset, h.crc, h.valueLen);
      else verifyRecordChecksum(record, 0, h.crc, payload);
    }
    const entries = this.entries(start, h, payload, inModule);
    this.pos = start + HEADER_SIZE + h.valueLen;
    this.queue = entries;
    this.qi = 1;
    return entries[0];
  }

  /** The record's values, copied out of the read-ahead buffer; `inModule`: it is module memory. */
  private entries(start: number, h: RecordHeader, payload: Uint8Array, inModule: boolean): ReaderEntry[] {
    const offset = start + 4;
    if (!isGroupedRecord(h)) {
      if (h.rid === 0n) throw corrupt(`legacy record at ${start} has rid 0`);
      const value = this.decode ? applyTemplate(copyBytes(payload), this.template) : undefined;
      return [{ rid: h.rid, value, ptr: { offset, length: (16 + h.valueLen) >>> 0, fileId: this.fileId } }];
    }
    // Decoding may grow the module's memory, which would detach a view of it: copy a compressed payload first.
    const compressed = isCompressedBody(payload);
    const frame = decodeFrame(inModule && compressed ? copyBytes(payload) : payload);
    frameRawLength(frame);
    let decoded: Uint8Array | undefined;
    if (this.decode) {
      decoded = decodeFramePayload(frame, this.dictLookup);
      // Raw payloads are views of the read-ahead buffer: copy once so the caller owns the values.
      if ((frame.header.flags & FRAME_FLAG_COMPRESSED) === 0) decoded = copyBytes(decoded);
    } else if (this.checkDicts) {
      validateFrameDict(frame, this.dictLookup);
    }
    const recordLen = 16 + h.valueLen;
    const out: ReaderEntry[] = new Array<ReaderEntry>(frame.header.k);
    for (let i = 0; i < frame.header.k; i++) {
      out[i] = {
        rid: frame.rids[i]!,
        value: decoded === undefined ? undefined : applyTemplate(frameValue(decoded, frame.offsets, i), this.template),
        ptr: { offset, length: groupedPtrLength(recordLen, i), fileId: this.fileId },
      };
    }
    return out;
  }

  /** Up to n bytes at `at` (fewer at end of file), served from the read-ahead buffer. */
  private view(at: number, n: number): Uint8Array {
    if (at >= this.bufStart && at + n <= this.bufStart + this.bufLen) return this.buffer().subarray(at - this.bufStart, at - this.bufStart + n);
    if (n > this.bufSize) {
      const big = new Uint8Array(n);
      const got = this.file.read(big, at);
      return big.subarray(0, got);
    }
    this.bufStart = at;
    this.bufLen = this.file.read(this.buffer(), at);
    return this.buffer().subarray(0, Math.min(n, this.bufLen));
  }
}

// -----------------------------------------------------------------------------------------------
// Reading one value by pointer

export interface PointerReadContext {
  verify: boolean;
  dictLookup: DictLookup | undefined;
  template: TemplateContext | undefined;
  /** Decoded-frame cache of the segment (see FrameCache), if any. */
  cache: FrameCache | undefined;
}

/** A decoded (or checksum-verified raw) frame payload with its offsets. */
export interface CachedFrame {
  /** Length of the record the frame came from, excluding its CRC (16 + ValueLen): pointers are checked against it. */
  recordLen: number;
  decoded: Uint8Array;
  offsets: number[];
  k: number;
  verified: boolean;
}

/** The cache a segment's pointer reads consult; keyed by record start. */
export interface FrameCache {
  /** Entries held (reads skip the lookup when it is 0). */
  readonly size: number;
  get(recordStart: number, needVerified: boolean): CachedFrame | undefined;
  put(recordStart: number, frame: CachedFrame): void;
}

/** Records up to this body size are read whole in one call even without checksum verification. */
const SMALL_RECORD_BODY = 256 * 1024;

/**
 * Checksummed pointer reads of records up to this size (header included) land in module memory
 * (readArea), are checked where they lie, and only the value is copied out; larger ones are read
 * into a fresh array and checksummed through the CRC window, as before. This bounds what reads add
 * to the module's memory (which never shrinks) to 1 MiB.
 */
export const MODULE_READ_MAX = 1024 * 1024;
/** Where checksummed pointer reads land; reads are synchronous, so one area serves them all. */
const readArea = new Scratch();

function readFully(file: StorageFile, at: number, n: number, what: () => string): Uint8Array {
  const b = allocBytes(n);
  const got = file.read(b, at);
  if (got < n) throw eof(`${what()}: ${got} of ${n} bytes`);
  return b;
}

/**
 * The value a pointer names, as a view the caller may keep only while it does not mutate it: a
 * fresh array for uncached reads, or a view of a cached decoded frame (readUnsafe's contract).
 * Callers that promise ownership copy views of cached frames.
 */
export function readValue(file: StorageFile, fileId: number, ptr: ValuePtr, ctx: PointerReadContext): { value: Uint8Array; shared: boolean } {
  checkValuePtr(ptr);
  const start = ptr.offset - 4;
  const hint = ptrRecordLength(ptr);
  const grouped = isGroupedPtr(ptr);
  const where = () => `record at ${start} in ${segmentFileName(fileId)}`;
  if (grouped && ctx.cache !== undefined && ctx.cache.size > 0) {
    const hit = ctx.cache.get(start, ctx.verify);
    if (hit) {
      // The same checks as a read from the file: a pointer that does not fit the record fails warm too.
      if (hint !== 0 && hint !== hit.recordLen) throw corrupt(`pointer length hint ${hint} != record length ${hit.recordLen} (${where()})`);
      const sub = ptrSubIndex(ptr);
      if (sub >= hit.k) throw corrupt(`sub-index ${sub} >= K ${hit.k} (${where()})`);
      return { value: applyTemplate(frameValue(hit.decoded, hit.offsets, sub), ctx.template), shared: true };
    }
  }
  // A hint is 16 + ValueLen: anything below 16 cannot name a record.
  if (hint !== 0 && hint < 16) throw corrupt(`pointer length hint ${hint} < 16 (${where()})`);
  if (hint !== 0 && ctx.verify && hint + 4 <= MODULE_READ_MAX) return readInModule(file, start, hint, grouped, ptr, ctx, where);
  // With a length hint the whole record comes back in one read; without one, header first.
  let record: Uint8Array;
  let h: RecordHeader;
  if (hint !== 0 && (ctx.verify || hint + 4 <= HEADER_SIZE + SMALL_RECORD_BODY)) {
    record = readFully(file, start, hint + 4, where);
    h = decodeRecordHeader(record);
  } else {
    const head = readFully(file, start, HEADER_SIZE, where);
    h = decodeRecordHeader(head);
    record = head;
  }
  checkRecordKind(h, hint, grouped, where);
  // Without checksum, a large uncompressed frame is read piecemeal (prefix, then the one value).
  if (grouped && !ctx.verify && h.valueLen > SMALL_RECORD_BODY) {
    const fast = readUncompressedValue(file, start, h, ptr, where);
    if (fast !== undefined) return { value: applyTemplate(fast, ctx.template), shared: false };
  }
  const payload = record.length >= HEADER_SIZE + h.valueLen ? record.subarray(HEADER_SIZE, HEADER_SIZE + h.valueLen) : readFully(file, start + HEADER_SIZE, h.valueLen, where);
  if (ctx.verify) verifyRecordChecksum(record, 0, h.crc, payload);
  return valueOfPayload(payload, false, h, start, ptr, ctx, where);
}

/** The pointer's length hint and kind (grouped or plain) against the record header. */
function checkRecordKind(h: RecordHeader, hint: number, grouped: boolean, where: () => string): void {
  if (hint !== 0 && hint !== 16 + h.valueLen) throw corrupt(`pointer length hint ${hint} != record length ${16 + h.valueLen} (${where()})`);
  if (isGroupedRecord(h) !== grouped) throw corrupt(`${grouped ? 'grouped' : 'plain'} pointer to a ${grouped ? 'plain' : 'grouped'} record (${where()})`);
}

/**
 * readValue with a length hint and checksum for a record of at most MODULE_READ_MAX bytes: the
 * record is read into module memory, its CRC computed there, and the value copied out once into an
 * array the caller owns (the caller never gets a view of module memory).
 */
function readInModule(file: StorageFile, start: number, hint: number, grouped: boolean, ptr: ValuePtr, ctx: PointerReadContext, where: () => string): { value: Uint8Array; shared: boolean } {
  const n = hint + 4;
  const p = readArea.reserve(n); // may grow module memory: every view below is taken after it
  const got = file.read(heap().subarray(p, p + n), start);
  if (got < n) throw eof(`${where()}: ${got} of ${n} bytes`);
  const record = heap().subarray(p, p + n);
  const h = decodeRecordHeader(record);
  checkRecordKind(h, hint, grouped, where);
  verifyRecordInModule(p, h.crc, h.valueLen);
  return valueOfPayload(record.subarray(HEADER_SIZE), true, h, start, ptr, ctx, where);
}

/**
 * The value a pointer names in a (checked) record payload. `inModule`: the payload is a view of
 * module memory, so whatever the caller or the frame cache keeps is copied out first, and a
 * compressed payload is copied before it is decoded (the decoder's buffers may grow the module's
 * memory, which detaches the view).
 */
function valueOfPayload(payload: Uint8Array, inModule: boolean, h: RecordHeader, start: number, ptr: ValuePtr, ctx: PointerReadContext, where: () => string): { value: Uint8Array; shared: boolean } {
  if (!isGroupedRecord(h)) {
    if (h.rid === 0n) throw corrupt(`legacy record has rid 0 (${where()})`);
    return { value: applyTemplate(inModule ? copyBytes(payload) : payload, ctx.template), shared: false };
  }
  const compressed = isCompressedBody(payload);
  const frame = decodeFrame(inModule && compressed ? copyBytes(payload) : payload);
  const sub = ptrSubIndex(ptr);
  if (sub >= frame.header.k) throw corrupt(`sub-index ${sub} >= K ${frame.header.k} (${where()})`);
  let decoded = decodeFramePayload(frame, ctx.dictLookup);
  if (ctx.cache && (frame.header.k > 1 || compressed)) {
    if (inModule && !compressed) decoded = copyBytes(decoded);
    ctx.cache.put(start, { recordLen: 16 + h.valueLen, decoded, offsets: frame.offsets, k: frame.header.k, verified: ctx.verify });
    return { value: applyTemplate(frameValue(decoded, frame.offsets, sub), ctx.template), shared: true };
  }
  const value = frameValue(decoded, frame.offsets, sub);
  return { value: applyTemplate(inModule && !compressed ? copyBytes(value) : value, ctx.template), shared: false };
}

/**
 * Reads and validates the prefix (header, RIDs, offsets) of the grouped record at `start` and checks
 * the pointer's sub-index against K. With `skipCompressed`, returns undefined for a compressed frame
 * after reading only its 12-byte header.
 */
function readFramePrefixAt(
  file: StorageFile,
  start: number,
  h: RecordHeader,
  ptr: ValuePtr,
  where: () => string,
  skipCompressed: boolean,
): { frame: DecodedFrame; prefixLen: number; sub: number } | undefined {
  const fh = readFully(file, start + HEADER_SIZE, Math.min(FRAME_HEADER_SIZE, h.valueLen), where);
  if (fh.length < FRAME_HEADER_SIZE) throw corrupt(`frame body of ${h.valueLen} bytes (${where()})`);
  if (skipCompressed && (fh[1]! & FRAME_FLAG_COMPRESSED) !== 0) return undefined;
  const k = fh[2]!;
  const prefixLen = framePrefixLength(k);
  if (k === 0 || prefixLen > h.valueLen) {
    decodeFramePrefix(fh); // raises the precise CORRUPT
    throw corrupt(`frame prefix of ${prefixLen} bytes exceeds the ${h.valueLen}-byte body (${where()})`);
  }
  const frame = decodeFramePrefix(readFully(file, start + HEADER_SIZE, prefixLen, where));
  const sub = ptrSubIndex(ptr);
  if (sub >= k) throw corrupt(`sub-index ${sub} >= K ${k} (${where()})`);
  return { frame, prefixLen, sub };
}

/**
 * Fast path without checksum for an uncompressed frame: reads only the prefix and the one value.
 * Returns undefined for compressed frames (the caller decodes the whole payload).
 */
function readUncompressedValue(file: StorageFile, start: number, h: RecordHeader, ptr: ValuePtr, where: () => string): Uint8Array | undefined {
  const p = readFramePrefixAt(file, start, h, ptr, where, true);
  if (p === undefined) return undefined;
  const raw = frameRawLength(p.frame);
  if (p.prefixLen + raw !== h.valueLen) throw corrupt(`frame prefix ${p.prefixLen} + raw ${raw} != body ${h.valueLen} (${where()})`);
  const from = p.frame.offsets[p.sub]!;
  const to = p.frame.offsets[p.sub + 1]!;
  return readFully(file, start + HEADER_SIZE + p.prefixLen + from, to - from, where);
}


/** A checksum-verified record as markDead sees it: the canonical pointer length and share of each value. */
export interface RecordValues {
  /** The pointer length word of each value, as the writer hands it out. */
  lengths: number[];
  /** The on-disk bytes each value accounts for: the whole record, or its share of the frame's raw payload (1/K of it for empty frames). */
  shares: number[];
}

/**
 * Reads the record at `start` whole, checks its CRC and frame, and returns its values' pointer
 * lengths and shares. The record must end at or below `limit`; otherwise, and for anything that is
 * not a valid record, it throws (CORRUPT, UNEXPECTED_EOF or RECORD_TOO_LARGE; IO from storage).
 */
export function readRecordValues(file: StorageFile, fileId: number, start: number, limit: number): RecordValues {
  const where = () => `record at ${start} in ${segmentFileName(fileId)}`;
  if (start + HEADER_SIZE > limit) throw eof(`${where()}: its header ends beyond ${limit}`);
  const h = decodeRecordHeader(readFully(file, start, HEADER_SIZE, where));
  const recordBytes = HEADER_SIZE + h.valueLen;
  if (start + recordBytes > limit) throw eof(`${where()}: its ${recordBytes} bytes end beyond ${limit}`);
  const record = readFully(file, start, recordBytes, where);
  const payload = record.subarray(HEADER_SIZE);
  verifyRecordChecksum(record, 0, h.crc, payload);
  const recordLen = 16 + h.valueLen;
  if (!isGroupedRecord(h)) {
    if (h.rid === 0n) throw corrupt(`legacy record has rid 0 (${where()})`);
    return { lengths: [recordLen >>> 0], shares: [recordBytes] };
  }
  const frame = decodeFrame(payload);
  const k = frame.header.k;
  const raw = frame.offsets[k]!;
  const lengths: number[] = [];
  const shares: number[] = [];
  for (let i = 0; i < k; i++) {
    lengths.push(groupedPtrLength(recordLen, i));
    shares.push(raw === 0 ? recordBytes / k : (recordBytes * (frame.offsets[i + 1]! - frame.offsets[i]!)) / raw);
  }
  return { lengths, shares };
}
