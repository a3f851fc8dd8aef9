// Record header (docs/FORMAT.md, "Record header"): CRC u32 | version u8 | flags u8 | reserved u16 |
// RID u64 | ValueLen u32, little-endian, followed by ValueLen payload bytes. The CRC-32C covers
// header[4:20] and the payload.
import { crc32c, crc32cInModule } from '../codec/codecs.js';
import { heap } from '../codec/module.js';
import { corrupt, tooLarge } from '../errors.js';
import { putU32, putU64 } from './bytes.js';
import { HEADER_SIZE, limits, RECORD_FLAG_GROUPED, VERSION } from '../limits.js';

/** The 20-byte record header, decoded. */
export interface RecordHeader {
  /** CRC-32C over header bytes 4..20 and the payload. */
  crc: number;
  /** Record version (VERSION, 1). */
  version: number;
  /** Bit 0 (RECORD_FLAG_GROUPED): the payload is a frame. */
  flags: number;
  /** Reserved, written as 0. */
  reserved: number;
  /** Record id; 0 in a grouped record, whose values carry their RIDs in the frame. */
  rid: bigint;
  /** Payload length in bytes. */
  valueLen: number;
}

/** Rejects a record whose on-disk size 20 + valueLen exceeds limits.maxRecordSize (when enabled). */
export function checkRecordSize(valueLen: number): void {
  if (valueLen > 0xffffffff) throw tooLarge(`payload of ${valueLen} bytes does not fit u32`);
  const max = limits.maxRecordSize;
  if (max > 0 && HEADER_SIZE + valueLen > max) throw tooLarge(`record of ${HEADER_SIZE + valueLen} bytes exceeds limits.maxRecordSize ${max}`);
}

/**
 * Decodes the 20-byte header at `at`; validates the version and the size limit, as every reader does
 * before it reads (or allocates for) the payload. The caller guarantees 20 bytes are present.
 */
export function decodeRecordHeader(buf: Uint8Array, at = 0): RecordHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, HEADER_SIZE);
  const h: RecordHeader = {
    crc: dv.getUint32(0, true),
    version: dv.getUint8(4),
    flags: dv.getUint8(5),
    reserved: dv.getUint16(6, true),
    rid: dv.getBigUint64(8, true),
    valueLen: dv.getUint32(16, true),
  };
  if (h.version !== VERSION) throw corrupt(`record version ${h.version}`);
  checkRecordSize(h.valueLen);
  return h;
}

export function isGroupedRecord(h: RecordHeader): boolean {
  return (h.flags & RECORD_FLAG_GROUPED) !== 0;
}

/** CRC-32C of header[4:20] then the payload parts, as stored in header[0:4]. */
export function recordChecksum(header: Uint8Array, headerAt: number, payload: readonly Uint8Array[]): number {
  let c = crc32c(header.subarray(headerAt + 4, headerAt + HEADER_SIZE));
  for (const part of payload) c = crc32c(part, c);
  return c;
}

/**
 * Writes a complete header (CRC included) at dst[at..at+20) for a payload given as parts whose
 * concatenation is the payload.
 */
export function writeRecordHeader(dst: Uint8Array, at: number, flags: number, rid: bigint | number, payload: readonly Uint8Array[]): void {
  let len = 0;
  for (const p of payload) len += p.length;
  writeHeaderFields(dst, at, flags, rid, len);
  putU32(dst, at, recordChecksum(dst, at, payload));
}

/**
 * Writes a complete header at dst[at..at+20) for the `payloadLength` bytes that already follow it in
 * dst: header[4:20] and the payload are contiguous, so the CRC is one pass over dst[at+4..].
 */
export function sealRecord(dst: Uint8Array, at: number, flags: number, rid: bigint | number, payloadLength: number): void {
  writeHeaderFields(dst, at, flags, rid, payloadLength);
  putU32(dst, at, crc32c(dst.subarray(at + 4, at + HEADER_SIZE + payloadLength)));
}

/**
 * sealRecord for a record laid out in the WebAssembly module's memory at address `p` (header, then
 * `payloadLength` payload bytes): the CRC is computed where the bytes lie, without copying them.
 */
export function sealRecordInModule(p: number, flags: number, rid: bigint | number, payloadLength: number): void {
  writeHeaderFields(heap(), p, flags, rid, payloadLength);
  // The CRC call cannot grow memory, so the view taken after it is on the same buffer.
  const crc = crc32cInModule(p + 4, HEADER_SIZE - 4 + payloadLength);
  putU32(heap(), p, crc);
}

/** header[4:20]: version, flags, reserved, RID, ValueLen (after the size check). */
function writeHeaderFields(dst: Uint8Array, at: number, flags: number, rid: bigint | number, len: number): void {
  checkRecordSize(len);
  dst[at + 4] = VERSION;
  dst[at + 5] = flags;
  dst[at + 6] = 0;
  dst[at + 7] = 0;
  putU64(dst, at + 8, rid);
  putU32(dst, at + 16, len);
}

/** A whole record (header + payload) as one new array. */
export function encodeRecord(flags: number, rid: bigint, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  out.set(payload, HEADER_SIZE);
  writeRecordHeader(out, 0, flags, rid, [payload]);
  return out;
}

/** Verifies the stored CRC of a record whose header and payload are given. */
export function verifyRecordChecksum(header: Uint8Array, headerAt: number, stored: number, payload: Uint8Array): void {
  checkStoredCrc(stored, recordChecksum(header, headerAt, [payload]));
}

/** verifyRecordChecksum for a record in the WebAssembly module's memory at address `p`, checked where it lies. */
export function verifyRecordInModule(p: number, stored: number, payloadLength: number): void {
  checkStoredCrc(stored, crc32cInModule(p + 4, HEADER_SIZE - 4 + payloadLength));
}

function checkStoredCrc(stored: number, actual: number): void {
  if (actual !== stored) throw corrupt(`checksum mismatch: stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}`);
}
