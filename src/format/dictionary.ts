// The dictionary store's files (pure bytes; the store itself is src/dictionaries.ts). Dictionaries
// live beside the segments, one file each, and a small high-water file remembers the highest id ever
// allocated so that an id never comes back, even if its file disappears. Little-endian throughout.
//
// `dict-<id, 10 digits>.zdict`:
//    0..4   magic "VLZD" (56 4c 5a 44)
//    4      version (1)
//    5..8   reserved, zero
//    8..16  dictionary id, u64 (1..2^32-1; must equal the id in the file name)
//   16..20  length of the dictionary bytes, u32 (the file is exactly 28 + length bytes)
//   20..24  CRC-32C of the dictionary bytes
//   24..28  CRC-32C of bytes 0..24
//   28..    the zstd dictionary (for trained ones: magic 0xEC30A437, then its own 32-bit id = the id)
//
// `dict-highwater`: a sequence of 16-byte entries, appended (never rewritten in place) each time a
// higher id is allocated, so that a torn or failed write can only affect the entry being appended:
//    0..4   magic "VLZH" (56 4c 5a 48)
//    4..12  highest dictionary id allocated so far, u64
//   12..16  CRC-32C of bytes 0..12
// The high-water mark is the highest id of any sound entry. A torn last entry (shorter than 16 bytes
// or failing its checks) is what a crash during an append leaves: it is ignored and overwritten by
// the next append. An empty file holds no mark. A file of one entry is the original format.
import { crc32c } from '../codec/codecs.js';
import { corrupt, invalidArgument } from '../errors.js';

/** Size of a dictionary file's header: magic, version, dictionary id, length and two CRC-32Cs. */
export const DICT_FILE_HEADER_SIZE = 28;
export const DICT_FILE_VERSION = 1;
/** "VLZD" and "VLZH" as they appear on disk. */
export const DICT_FILE_MAGIC = Uint8Array.of(0x56, 0x4c, 0x5a, 0x44);
export const DICT_HIGHWATER_MAGIC = Uint8Array.of(0x56, 0x4c, 0x5a, 0x48);
/** Name of the dictionary store's high-water file. */
export const DICT_HIGHWATER_NAME = 'dict-highwater';
export const DICT_HIGHWATER_SIZE = 16;
/** zstd dictionary ids are 32-bit (the id is also written into the dictionary and its frames). */
export const MAX_DICT_ID = 0xffffffffn;
/** Largest dictionary the store accepts (the trainer's own limit). */
export const MAX_DICT_BYTES = 16 * 1024 * 1024;

const DICT_NAME = /^dict-([0-9]{1,20})\.zdict$/;

/** The file name of dictionary `id`: `dict-<id, zero-padded to 10 digits>.zdict`. */
export function dictFileName(id: bigint | number): string {
  const v = checkDictId(id);
  return `dict-${v.toString().padStart(10, '0')}.zdict`;
}

/** The id a dictionary file name carries (any digit count), or undefined for other names. */
export function parseDictFileName(name: string): bigint | undefined {
  const m = DICT_NAME.exec(name);
  if (m === null) return undefined;
  const id = BigInt(m[1]!);
  return id >= 1n && id <= MAX_DICT_ID ? id : undefined;
}

export function checkDictId(id: bigint | number): bigint {
  const v = typeof id === 'bigint' ? id : Number.isSafeInteger(id) ? BigInt(id) : -1n;
  if (v < 1n || v > MAX_DICT_ID) throw invalidArgument(`dictionary id must be an integer in 1..2^32-1, got ${String(id)}`);
  return v;
}

/** The whole file for a dictionary: header, then the bytes. */
export function encodeDictFile(id: bigint | number, dict: Uint8Array): Uint8Array {
  const v = checkDictId(id);
  if (!(dict instanceof Uint8Array) || dict.length === 0) throw invalidArgument('a dictionary must be non-empty bytes');
  if (dict.length > MAX_DICT_BYTES) throw invalidArgument(`a dictionary of ${dict.length} bytes exceeds ${MAX_DICT_BYTES}`);
  const out = new Uint8Array(DICT_FILE_HEADER_SIZE + dict.length);
  const dv = new DataView(out.buffer);
  out.set(DICT_FILE_MAGIC, 0);
  dv.setUint8(4, DICT_FILE_VERSION);
  dv.setBigUint64(8, v, true);
  dv.setUint32(16, dict.length, true);
  dv.setUint32(20, crc32c(dict), true);
  dv.setUint32(24, crc32c(out.subarray(0, 24)), true);
  out.set(dict, DICT_FILE_HEADER_SIZE);
  return out;
}

export interface DictFileHeader {
  id: bigint;
  length: number;
  crc: number;
}

/** Validates a header (magic, version, reserved bytes, header CRC, id range, length bound). */
export function decodeDictFileHeader(head: Uint8Array): DictFileHeader {
  if (head.length < DICT_FILE_HEADER_SIZE) throw corrupt(`dictionary file header needs ${DICT_FILE_HEADER_SIZE} bytes, got ${head.length}`);
  const dv = new DataView(head.buffer, head.byteOffset, DICT_FILE_HEADER_SIZE);
  for (let i = 0; i < 4; i++) if (head[i] !== DICT_FILE_MAGIC[i]) throw corrupt('dictionary file: bad magic');
  if (dv.getUint32(24, true) !== crc32c(head.subarray(0, 24))) throw corrupt('dictionary file: header checksum mismatch');
  if (head[4] !== DICT_FILE_VERSION) throw corrupt(`dictionary file: unknown version ${head[4]}`);
  if (head[5] !== 0 || head[6] !== 0 || head[7] !== 0) throw corrupt('dictionary file: reserved bytes are not zero');
  const id = dv.getBigUint64(8, true);
  if (id < 1n || id > MAX_DICT_ID) throw corrupt(`dictionary file: id ${id} out of range`);
  const length = dv.getUint32(16, true);
  if (length === 0 || length > MAX_DICT_BYTES) throw corrupt(`dictionary file: length ${length} out of range`);
  return { id, length, crc: dv.getUint32(20, true) };
}

/**
 * Validates a whole dictionary file (`fileSize` bytes, read in full into `file`) and returns its
 * dictionary bytes (a view of `file`). The id must match `expectedId` (the one in the file name).
 */
export function decodeDictFile(file: Uint8Array, expectedId: bigint): Uint8Array {
  const h = decodeDictFileHeader(file);
  if (h.id !== expectedId) throw corrupt(`dictionary file: holds id ${h.id}, its name says ${expectedId}`);
  if (file.length !== DICT_FILE_HEADER_SIZE + h.length) throw corrupt(`dictionary file: ${file.length} bytes, header declares ${DICT_FILE_HEADER_SIZE + h.length}`);
  const dict = file.subarray(DICT_FILE_HEADER_SIZE);
  if (crc32c(dict) !== h.crc) throw corrupt('dictionary file: checksum mismatch (torn or damaged)');
  return dict;
}

export function encodeHighWater(id: bigint): Uint8Array {
  const out = new Uint8Array(DICT_HIGHWATER_SIZE);
  const dv = new DataView(out.buffer);
  out.set(DICT_HIGHWATER_MAGIC, 0);
  dv.setBigUint64(4, id, true);
  dv.setUint32(12, crc32c(out.subarray(0, 12)), true);
  return out;
}

/** One high-water entry (16 bytes), or a CORRUPT error naming what is wrong with it. */
export function decodeHighWater(b: Uint8Array): bigint {
  if (b.length !== DICT_HIGHWATER_SIZE) throw corrupt(`dictionary high-water entry: ${b.length} bytes, expected ${DICT_HIGHWATER_SIZE}`);
  for (let i = 0; i < 4; i++) if (b[i] !== DICT_HIGHWATER_MAGIC[i]) throw corrupt('dictionary high-water entry: bad magic');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  if (dv.getUint32(12, true) !== crc32c(b.subarray(0, 12))) throw corrupt('dictionary high-water entry: checksum mismatch');
  const id = dv.getBigUint64(4, true);
  if (id > MAX_DICT_ID) throw corrupt(`dictionary high-water entry: id ${id} out of range`);
  return id;
}

/** What a whole high-water file says (see the layout above). */
export interface HighWaterLog {
  /** Highest id of the sound entries (0 when there are none). */
  id: bigint;
  /** Where the next entry is appended: after the last sound entry (a torn tail is overwritten). */
  end: number;
  /** Set when an entry before the last sound one fails its checks (damage, not a torn append). */
  damage: string | undefined;
}

/** Reads a high-water file of appended entries; a torn last entry is ignored, never an error. */
export function decodeHighWaterLog(b: Uint8Array): HighWaterLog {
  let id = 0n;
  let end = 0;
  let damage: string | undefined;
  let firstBad: string | undefined;
  for (let at = 0; at + DICT_HIGHWATER_SIZE <= b.length; at += DICT_HIGHWATER_SIZE) {
    try {
      const v = decodeHighWater(b.subarray(at, at + DICT_HIGHWATER_SIZE));
      if (v > id) id = v;
      if (firstBad !== undefined) damage ??= `${firstBad} at offset ${end}`;
      end = at + DICT_HIGHWATER_SIZE;
    } catch (e) {
      firstBad ??= e instanceof Error ? e.message.replace(/^valuelog: corrupt record \((.*)\)$/, '$1') : String(e);
    }
  }
  return { id, end, damage };
}

const ZSTD_DICT_MAGIC = Uint8Array.of(0x37, 0xa4, 0x30, 0xec);

/**
 * Whether two dictionaries have the same content. zstd-format dictionaries carry their own id at
 * bytes 4..8; two that differ only there (the same training under another id) count as the same.
 */
export function sameDictionaryContent(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const zstdFormat = a.length >= 8 && [0, 1, 2, 3].every((i) => a[i] === ZSTD_DICT_MAGIC[i] && b[i] === ZSTD_DICT_MAGIC[i]);
  for (let i = 0; i < a.length; i++) {
    if (zstdFormat && i >= 4 && i < 8) continue;
    if (a[i] !== b[i]) return false;
  }
  return true;
}
