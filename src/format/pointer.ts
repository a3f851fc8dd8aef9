// Value pointers (docs/FORMAT.md, "Value pointer"): offset = record start + 4, a packed length word with
// the grouped flag and a 7-bit sub-index, and the marked file id; 16 bytes little-endian on disk.
import { corrupt, invalidArgument } from '../errors.js';
import { GROUPED_MAX_RECORD_LEN, MAX_FRAME_K, VALUE_PTR_SIZE } from '../limits.js';

/**
 * Where a value lives: 16 bytes on disk (docs/FORMAT.md, "Value pointer"). Keep it in your own index;
 * ptrToString gives a storable string.
 */
export interface ValuePtr {
  /** The segment's file id (lane, seq and the value-log mark bit; see encodeFileId). */
  fileId: number;
  /** File offset of the record plus 4 (just after its CRC). */
  offset: number;
  /**
   * Packed length word: the record length excluding the CRC, and for a grouped record the grouped flag
   * and the value's index in its frame.
   */
  length: number;
}

export const PTR_GROUPED = 0x40000000;
const PTR_BIT31 = 0x80000000;
const SUB_LOW4_SHIFT = 26;
const SUB_HIGH2_SHIFT = 24;
/** Bits that carry the sub-index of a grouped pointer: 24-25, 26-29 and 31. */
const GROUPED_SUB_MASK = 0xbf000000;

/** Packs the grouped flag and sub-index (0..127) into a record-length word. */
export function markGrouped(length: number, sub: number): number {
  if (!Number.isInteger(sub) || sub < 0 || sub >= MAX_FRAME_K) throw invalidArgument(`sub-index ${sub} out of range 0..${MAX_FRAME_K - 1}`);
  let v = (length & ~(GROUPED_SUB_MASK | 0x3f000000)) >>> 0;
  v |= PTR_GROUPED;
  v |= (sub & 0x0f) << SUB_LOW4_SHIFT;
  v |= ((sub >>> 5) & 0x03) << SUB_HIGH2_SHIFT;
  if (sub & 0x10) v |= PTR_BIT31;
  return v >>> 0;
}

/** The pointer length for value `sub` of a grouped record whose length excluding CRC is recordLen. */
export function groupedPtrLength(recordLen: number, sub: number): number {
  return markGrouped(recordLen > GROUPED_MAX_RECORD_LEN ? 0 : recordLen, sub);
}

/** Whether the pointer names a value inside a grouped record (a frame). */
export function isGroupedPtr(ptr: ValuePtr): boolean {
  return (ptr.length & PTR_GROUPED) !== 0;
}

/** Index of the value in its frame (0..127); 0 for a pointer that is not grouped. */
export function ptrSubIndex(ptr: ValuePtr): number {
  const l = ptr.length >>> 0;
  if ((l & PTR_GROUPED) === 0) return 0;
  return ((l >>> SUB_LOW4_SHIFT) & 0x0f) | (((l >>> SUB_HIGH2_SHIFT) & 0x03) << 5) | ((l & PTR_BIT31) !== 0 ? 0x10 : 0);
}

/** Record length excluding CRC (16 + ValueLen) carried by the pointer; 0 means "not recorded". */
export function ptrRecordLength(ptr: ValuePtr): number {
  const l = ptr.length >>> 0;
  return (l & PTR_GROUPED) !== 0 ? l & 0x00ffffff : l & 0x03ffffff;
}

/** Legacy flag of non-grouped pointers; the v0.3.0 reader ignores it. */
export function isCompressedPtr(ptr: ValuePtr): boolean {
  return (ptr.length & PTR_GROUPED) === 0 && (ptr.length & PTR_BIT31) !== 0;
}

export function checkValuePtr(ptr: ValuePtr): void {
  if (ptr === null || typeof ptr !== 'object') throw invalidArgument('value pointer must be an object');
  const { fileId, offset, length } = ptr;
  if (!Number.isInteger(fileId) || fileId < 0 || fileId > 0xffffffff) throw invalidArgument(`pointer fileId ${String(fileId)} is not a u32`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`pointer offset ${String(offset)} is not a non-negative safe integer`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw invalidArgument(`pointer length ${String(length)} is not a u32`);
  if (offset < 4) throw corrupt(`pointer offset ${offset} < 4`);
}

/**
 * Writes the 16-byte on-disk form (offset u64, length u32, file id u32, little-endian) into `dst` at
 * `at` and returns `dst`.
 */
export function encodeValuePtr(ptr: ValuePtr, dst = new Uint8Array(VALUE_PTR_SIZE), at = 0): Uint8Array {
  if (!Number.isSafeInteger(ptr.offset) || ptr.offset < 0) throw invalidArgument(`pointer offset ${String(ptr.offset)} is not a non-negative safe integer`);
  if (!Number.isInteger(ptr.length) || ptr.length < 0 || ptr.length > 0xffffffff) throw invalidArgument(`pointer length ${String(ptr.length)} is not a u32`);
  if (!Number.isInteger(ptr.fileId) || ptr.fileId < 0 || ptr.fileId > 0xffffffff) throw invalidArgument(`pointer fileId ${String(ptr.fileId)} is not a u32`);
  if (at < 0 || at + VALUE_PTR_SIZE > dst.length) throw invalidArgument('destination too small for a value pointer');
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  dv.setBigUint64(at, BigInt(ptr.offset), true);
  dv.setUint32(at + 8, ptr.length >>> 0, true);
  dv.setUint32(at + 12, ptr.fileId >>> 0, true);
  return dst;
}

/** Reads the 16-byte on-disk form at `at`; CORRUPT when there are not 16 bytes or the offset passes 2^53. */
export function decodeValuePtr(bytes: Uint8Array, at = 0): ValuePtr {
  if (!(bytes instanceof Uint8Array)) throw invalidArgument('decodeValuePtr expects a Uint8Array');
  if (!Number.isSafeInteger(at) || at < 0 || at + VALUE_PTR_SIZE > bytes.length) throw corrupt(`value pointer needs ${VALUE_PTR_SIZE} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const off = dv.getBigUint64(at, true);
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`value pointer offset ${off} beyond 2^53`);
  return { offset: Number(off), length: dv.getUint32(at + 8, true), fileId: dv.getUint32(at + 12, true) };
}

/** Stable string key of a pointer (for maps keyed by pointer value). */
export function ptrKey(ptr: ValuePtr): string {
  return `${ptr.fileId >>> 0}:${ptr.offset}:${ptr.length >>> 0}`;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Characters of a pointer's string form: 16 bytes in unpadded base64url. */
export const PTR_STRING_LENGTH = 22;

/**
 * The pointer as a compact, URL-safe string (22 characters: its 16-byte encodeValuePtr form in
 * unpadded base64url), for storing in another database or using as a Map key: two pointers to the
 * same value give the same string. ptrFromString turns it back, exactly.
 */
export function ptrToString(ptr: ValuePtr): string {
  checkValuePtr(ptr);
  const b = encodeValuePtr(ptr);
  let s = '';
  for (let i = 0; i < 15; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!;
  }
  return s + B64URL[b[15]! >>> 2]! + B64URL[(b[15]! & 3) << 4]!;
}

/** The pointer a ptrToString string names; INVALID_ARGUMENT for anything that is not exactly such a string. */
export function ptrFromString(s: string): ValuePtr {
  if (typeof s !== 'string' || s.length !== PTR_STRING_LENGTH) throw invalidArgument(`a pointer string has ${PTR_STRING_LENGTH} characters, got ${typeof s === 'string' ? `${s.length}` : typeof s}`);
  const b = new Uint8Array(VALUE_PTR_SIZE);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64URL.indexOf(s[i]!);
    if (v < 0) throw invalidArgument(`a pointer string is base64url; ${JSON.stringify(s[i])} at ${i} is not`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o < VALUE_PTR_SIZE) b[o++] = (acc >>> bits) & 0xff;
    }
  }
  // 22 characters carry 132 bits; the 4 beyond the 16 bytes must be zero, so each pointer has one string.
  if ((acc & ((1 << bits) - 1)) !== 0) throw invalidArgument(`${JSON.stringify(s)} is not the canonical string of a pointer (trailing bits set)`);
  let ptr: ValuePtr;
  try {
    ptr = decodeValuePtr(b);
    checkValuePtr(ptr);
  } catch (e) {
    throw invalidArgument(`${JSON.stringify(s)} does not name a pointer: ${(e as Error).message.replace(/^valuelog: /, '')}`);
  }
  return ptr;
}
