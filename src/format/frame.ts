// Grouped frames (docs/FORMAT.md, "Frames"): a 12-byte header (version, flags, K,
// reserved/codec id, dictId u64), K RIDs (u64), K+1 offsets (u32) into the decoded payload, then
// the stored payload: raw, zstd with dictionary, plain zstd, Snappy raw or LZ4 block.
import { lz4Compress, lz4Decompress, snappyCompress, snappyDecompress, zstdCompress, zstdDecompress } from '../codec/codecs.js';
import { putU32, putU64 } from './bytes.js';
import { asValueLogError, corrupt, invalidArgument, tooLarge, UnsupportedBlockCodecError, ValueLogError } from '../errors.js';
import { FRAME_FLAG_COMPRESSED, FRAME_HEADER_SIZE, FRAME_VERSION, HEADER_SIZE, limits, MAX_FRAME_K, effectiveMaxRecordSize } from '../limits.js';

/** Block codecs of frames without a dictionary; the id is stored in the frame header's reserved field. */
export enum BlockCodec {
  /** No block codec; as a setting of Writer.setBlockCompression it selects Snappy, as in Go. */
  None = 0,
  /** Snappy raw block format (no framing). */
  Snappy = 1,
  /** LZ4 block format (no frame header). */
  LZ4 = 2,
}

/** As in Go: anything other than Snappy or LZ4 (None included) selects Snappy. */
export function normalizeBlockCodec(codec: BlockCodec | number): BlockCodec {
  return codec === BlockCodec.LZ4 ? BlockCodec.LZ4 : BlockCodec.Snappy;
}

/** The 12-byte header at the start of a frame's body. */
export interface FrameHeader {
  /** Frame format version (FRAME_VERSION, 1). */
  version: number;
  /** Bit 0 (FRAME_FLAG_COMPRESSED): the payload is stored compressed. */
  flags: number;
  /** Number of values in the frame, 1..128. */
  k: number;
  /** Codec of a compressed frame without a dictionary: 0 plain zstd, 1 Snappy, 2 LZ4; 0 in other frames. */
  reserved: number;
  /** zstd dictionary id (0: none). Recorded even when the frame stays raw. */
  dictId: bigint;
}

/** One value to append and the record id (RID, a u64) the application tags it with. */
export interface LogRecord {
  /** Record id, a u64 the log stores but does not interpret. */
  rid: bigint | number;
  /** The value's bytes. */
  value: Uint8Array;
}

/** A frame body parsed by decodeFrame: header, RIDs, offsets and the stored payload. */
export interface DecodedFrame {
  /** The frame header. */
  header: FrameHeader;
  /** The K record ids. */
  rids: bigint[];
  /** K+1 offsets into the decoded payload: value i is payload[offsets[i], offsets[i+1]). */
  offsets: number[];
  /** The stored payload (a view into the body). */
  payload: Uint8Array;
}

/** Resolves a dictionary id to zstd dictionary bytes; undefined or empty means missing. */
export type DictLookup = (dictId: bigint) => Uint8Array | undefined;

/** Bytes before the stored payload: 12 + 8K + 4(K+1). */
export function framePrefixLength(k: number): number {
  return 16 + 12 * k;
}

const U64_MAX = 0xffffffffffffffffn;

/** Converts a caller's u64 (safe non-negative number or bigint) to bigint. */
export function toU64(x: bigint | number, what: string): bigint {
  if (typeof x === 'bigint') {
    if (x < 0n || x > U64_MAX) throw invalidArgument(`${what} ${x} is not a u64`);
    return x;
  }
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw invalidArgument(`${what} ${String(x)} must be a non-negative safe integer or a bigint`);
  return BigInt(x);
}

export interface CheckedRecords {
  rids: bigint[];
  values: Uint8Array[];
  rawLength: number;
}

/**
 * Validates a frame's records: 1..128 of them, non-zero u64 RIDs, Uint8Array values, and sizes that
 * fit the record limit. `ridZero` builds the error for a zero RID (CORRUPT for encodeFrame, as in Go;
 * INVALID_ARGUMENT "missing rid" for the writer).
 */
export function checkRecords(records: readonly LogRecord[], ridZero: () => ValueLogError): CheckedRecords {
  const rids: (bigint | number)[] = [];
  const values: Uint8Array[] = [];
  const rawLength = checkRecordsInto(records, ridZero, rids, values);
  for (let i = 0; i < rids.length; i++) rids[i] = BigInt(rids[i]!);
  return { rids: rids as bigint[], values, rawLength };
}

/**
 * checkRecords without the BigInt conversion: appends each record's RID (as given, once checked) and
 * value to `rids` and `values`, and returns the raw payload length. writeFramePrefix takes either form.
 */
export function checkRecordsInto(records: readonly LogRecord[], ridZero: () => ValueLogError, rids: (bigint | number)[], values: Uint8Array[]): number {
  if (!Array.isArray(records)) throw invalidArgument('records must be an array');
  if (records.length === 0) throw corrupt('frame with zero records');
  if (records.length > MAX_FRAME_K) throw tooLarge(`frame of ${records.length} records exceeds ${MAX_FRAME_K}`);
  let raw = 0;
  for (const r of records) {
    if (r === null || typeof r !== 'object' || !(r.value instanceof Uint8Array)) throw invalidArgument('each record needs { rid, value: Uint8Array }');
    const rid = r.rid;
    if (typeof rid === 'number' && rid > 0 && Number.isSafeInteger(rid)) rids.push(rid); // the common case, without a BigInt
    else if (toU64(rid, 'rid') === 0n) throw ridZero();
    else rids.push(rid);
    values.push(r.value);
    raw += r.value.length;
  }
  if (raw > 0xffffffff) throw tooLarge(`frame payload of ${raw} bytes does not fit u32`);
  if (limits.maxRecordSize > 0 && raw > limits.maxRecordSize) throw tooLarge(`frame payload of ${raw} bytes exceeds limits.maxRecordSize`);
  checkBodySize(framePrefixLength(records.length) + raw);
  return raw;
}

/** Rejects a body whose record (20 + body) would exceed the record limit. */
export function checkBodySize(bodyLength: number): void {
  if (bodyLength > 0xffffffff) throw tooLarge(`frame body of ${bodyLength} bytes does not fit u32`);
  if (limits.maxRecordSize > 0 && HEADER_SIZE + bodyLength > limits.maxRecordSize) {
    throw tooLarge(`record of ${HEADER_SIZE + bodyLength} bytes exceeds limits.maxRecordSize ${limits.maxRecordSize}`);
  }
}

/** A frame as decided: header fields, the records' RIDs and values, and the stored payload if compressed. */
export interface FrameContent {
  /** Frame header flags (FRAME_FLAG_COMPRESSED when the stored payload is compressed). */
  flags: number;
  /** Codec of a compressed frame without a dictionary (0 plain zstd, 1 Snappy, 2 LZ4); 0 otherwise. */
  reserved: number;
  /** zstd dictionary id (0: none). */
  dictId: bigint;
  rids: readonly (bigint | number)[];
  values: readonly Uint8Array[];
  /** Compressed payload when compression was kept; otherwise the values are stored raw. */
  stored: Uint8Array | undefined;
}

/** Writes the frame header, RIDs and offsets (from the value lengths) at dst[at..]; returns the end. */
export function writeFramePrefix(dst: Uint8Array, at: number, f: FrameContent): number {
  const { rids, values } = f;
  const k = rids.length;
  dst[at] = FRAME_VERSION;
  dst[at + 1] = f.flags;
  dst[at + 2] = k;
  dst[at + 3] = f.reserved;
  putU64(dst, at + 4, f.dictId === 0n ? 0 : f.dictId);
  let p = at + FRAME_HEADER_SIZE;
  for (let i = 0; i < k; i++, p += 8) putU64(dst, p, rids[i]!);
  let off = 0;
  putU32(dst, p, 0);
  p += 4;
  for (let i = 0; i < k; i++, p += 4) {
    off += values[i]!.length;
    putU32(dst, p, off);
  }
  return p;
}

/** Writes the whole body at dst[at..]: the prefix, then the stored payload or the raw values; returns the end. */
export function writeFrameBody(dst: Uint8Array, at: number, f: FrameContent): number {
  let p = writeFramePrefix(dst, at, f);
  if (f.stored) return (dst.set(f.stored, p), p + f.stored.length);
  for (let i = 0; i < f.values.length; i++) {
    dst.set(f.values[i]!, p);
    p += f.values[i]!.length;
  }
  return p;
}

/** The length of a frame's body: prefix and stored payload. */
export function frameBodyLength(f: FrameContent): number {
  let stored = 0;
  if (f.stored) stored = f.stored.length;
  else for (const v of f.values) stored += v.length;
  return framePrefixLength(f.rids.length) + stored;
}

/** Builds a frame body as a new array, or in `dst`'s buffer when it is large enough. */
export function assembleFrameBody(f: FrameContent, dst?: Uint8Array): Uint8Array {
  const total = frameBodyLength(f);
  const body = dst !== undefined && dst.buffer.byteLength - dst.byteOffset >= total ? new Uint8Array(dst.buffer, dst.byteOffset, total) : new Uint8Array(total);
  writeFrameBody(body, 0, f);
  return body;
}

/** Parses and validates a frame body's prefix (structure only; the payload is not decoded). */
export function decodeFrame(body: Uint8Array): DecodedFrame {
  const frame = decodeFramePrefix(body);
  if (frame.payload.length === 0 && frame.offsets[frame.header.k] !== 0) throw corrupt('frame has an empty payload but a non-zero raw length');
  return frame;
}

/**
 * The header, RIDs and offsets of a frame from bytes that hold at least its prefix (the payload may
 * be absent: readers that fetch one value read only the prefix).
 */
export function decodeFramePrefix(body: Uint8Array): DecodedFrame {
  if (!(body instanceof Uint8Array)) throw invalidArgument('decodeFrame expects a Uint8Array');
  if (body.length < FRAME_HEADER_SIZE) throw corrupt(`frame body of ${body.length} bytes is shorter than its header`);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const header: FrameHeader = {
    version: dv.getUint8(0),
    flags: dv.getUint8(1),
    k: dv.getUint8(2),
    reserved: dv.getUint8(3),
    dictId: dv.getBigUint64(4, true),
  };
  if (header.version !== FRAME_VERSION) throw corrupt(`frame version ${header.version}`);
  if (header.k === 0 || header.k > MAX_FRAME_K) throw corrupt(`frame K ${header.k} outside 1..${MAX_FRAME_K}`);
  const prefix = framePrefixLength(header.k);
  if (body.length < prefix) throw corrupt(`frame body of ${body.length} bytes is shorter than its ${prefix}-byte prefix`);
  const rids: bigint[] = new Array<bigint>(header.k);
  let p = FRAME_HEADER_SIZE;
  for (let i = 0; i < header.k; i++, p += 8) {
    const rid = dv.getBigUint64(p, true);
    if (rid === 0n) throw corrupt(`frame rid ${i} is zero`);
    rids[i] = rid;
  }
  const offsets: number[] = new Array<number>(header.k + 1);
  let prev = 0;
  for (let i = 0; i <= header.k; i++, p += 4) {
    const off = dv.getUint32(p, true);
    if (i > 0 && off < prev) throw corrupt(`frame offsets decrease at ${i}`);
    offsets[i] = off;
    prev = off;
  }
  return { header, rids, offsets, payload: body.subarray(prefix) };
}

function lookupDict(dictId: bigint, lookup: DictLookup | undefined): Uint8Array {
  if (lookup === undefined) throw new ValueLogError('MISSING_DICT', `valuelog: missing dict bytes (no dictionary lookup for dictionary ${dictId})`);
  let bytes: Uint8Array | undefined;
  try {
    bytes = lookup(dictId);
  } catch (err) {
    throw asValueLogError(err, 'MISSING_DICT', `dictionary lookup for ${dictId} failed`);
  }
  if (bytes === undefined || bytes === null || !(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ValueLogError('MISSING_DICT', `valuelog: missing dict bytes for dictionary ${dictId}`);
  }
  return bytes;
}

/** Checks that a compressed frame's dictionary resolves to non-empty bytes (Reader.validateDicts). */
export function validateFrameDict(frame: DecodedFrame, lookup: DictLookup | undefined): void {
  const { flags, dictId } = frame.header;
  if ((flags & FRAME_FLAG_COMPRESSED) !== 0 && dictId !== 0n) lookupDict(dictId, lookup);
}

/** The raw length of a frame (Off[K]), checked against the record limit before anything is decoded. */
export function frameRawLength(frame: DecodedFrame): number {
  const raw = frame.offsets[frame.header.k]!;
  if (raw > effectiveMaxRecordSize()) throw tooLarge(`frame declares ${raw} raw bytes, above limits.maxRecordSize`);
  return raw;
}

/**
 * The frame's decoded payload (the K values end to end, Off[K] bytes). Raw frames return a view of
 * the body; compressed frames are decoded into a new array of exactly the expected length.
 */
export function decodeFramePayload(frame: DecodedFrame, lookup?: DictLookup): Uint8Array {
  const raw = frameRawLength(frame);
  const { flags, dictId, reserved } = frame.header;
  if ((flags & FRAME_FLAG_COMPRESSED) === 0) {
    if (frame.payload.length !== raw) throw corrupt(`raw frame payload of ${frame.payload.length} bytes, offsets say ${raw}`);
    return frame.payload;
  }
  if (dictId !== 0n) {
    const dict = lookupDict(dictId, lookup);
    return zstdDecompress(frame.payload, raw, { id: dictId, bytes: dict });
  }
  switch (reserved) {
    case 0:
      return zstdDecompress(frame.payload, raw);
    case BlockCodec.Snappy:
      return snappyDecompress(frame.payload, raw);
    case BlockCodec.LZ4:
      return lz4Decompress(frame.payload, raw);
    default:
      throw new UnsupportedBlockCodecError(reserved);
  }
}

/** Value i of a decoded payload (a view). */
export function frameValue(decoded: Uint8Array, offsets: readonly number[], i: number): Uint8Array {
  return decoded.subarray(offsets[i]!, offsets[i + 1]!);
}

/** Every value of a frame, in order (views into the decoded payload). */
export function decodeFrameValues(body: Uint8Array, lookup?: DictLookup): { frame: DecodedFrame; values: Uint8Array[] } {
  const frame = decodeFrame(body);
  const decoded = decodeFramePayload(frame, lookup);
  const values: Uint8Array[] = [];
  for (let i = 0; i < frame.header.k; i++) values.push(frameValue(decoded, frame.offsets, i));
  return { frame, values };
}

/** Concatenates values into one array (the compressor's input). */
export function concatValues(values: readonly Uint8Array[], total: number): Uint8Array {
  if (values.length === 1) return values[0]!;
  const out = new Uint8Array(total);
  let p = 0;
  for (const v of values) {
    out.set(v, p);
    p += v.length;
  }
  return out;
}

/** Compresses with a block codec; undefined when the result is not strictly smaller than the input. */
export function blockCompress(codec: BlockCodec, raw: Uint8Array): Uint8Array | undefined {
  if (raw.length < 2) return undefined;
  return codec === BlockCodec.LZ4 ? lz4Compress(raw, raw.length - 1) : snappyCompress(raw, raw.length - 1);
}

/** Options of encodeFrame. */
export interface EncodeFrameOptions {
  /** zstd level (Go: Fastest 1, Default 3, Better 7, Best 11); anything outside 1..19 means Fastest. */
  level?: number;
  /** Entropy-code literals (default false, the Go writer's "no entropy" default). */
  entropy?: boolean;
}

/**
 * The Go package's EncodeFrameWithOptions: compresses with zstd only when a dictionary is given
 * and keeps the result only if strictly smaller than the raw payload. The dictionary id is stored
 * even when the frame stays raw.
 */
export function encodeFrame(
  dictId: bigint | number,
  dict: Uint8Array | undefined,
  records: readonly LogRecord[],
  opts: EncodeFrameOptions = {},
): { body: Uint8Array; header: FrameHeader } {
  const id = toU64(dictId, 'dictId');
  const { rids, values, rawLength } = checkRecords(records, () => corrupt('frame rid is zero'));
  if (id !== 0n && (dict === undefined || dict.length === 0)) throw new ValueLogError('MISSING_DICT', `valuelog: missing dict bytes for dictionary ${id}`);
  let stored: Uint8Array | undefined;
  if (id !== 0n && rawLength > 0) {
    const raw = concatValues(values, rawLength);
    stored = zstdCompress(raw, { level: opts.level ?? 1, entropy: opts.entropy ?? false, dict: { id, bytes: dict! }, maxOutput: rawLength - 1 });
  }
  const flags = stored ? FRAME_FLAG_COMPRESSED : 0;
  const body = assembleFrameBody({ flags, reserved: 0, dictId: id, rids, values, stored });
  checkBodySize(body.length);
  return { body, header: { version: FRAME_VERSION, flags, k: rids.length, reserved: 0, dictId: id } };
}
