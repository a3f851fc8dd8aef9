// The dirty marker's content (docs/FORMAT.md, "Dirty marker"): the segment files an open may hand
// out pointers into before they exist. Empty (as every earlier version wrote it): none. Otherwise
//   magic "vldirty" 0x01 (8 bytes) | count u32 | count file ids u32 | CRC-32C u32 of all before it
// all little-endian.
import { crc32c } from '../codec/codecs.js';
import { invalidArgument } from '../errors.js';
import { checkFileId } from './segment.js';

const MAGIC = [0x76, 0x6c, 0x64, 0x69, 0x72, 0x74, 0x79, 0x01];
/** More ids than lanes exist (256) is no marker this library wrote. */
const MAX_RESERVED = 256;

/** The marker's bytes for `reserved` file ids (empty when there are none). */
export function encodeDirtyMarker(reserved: readonly number[]): Uint8Array {
  if (reserved.length > MAX_RESERVED) throw invalidArgument(`at most ${MAX_RESERVED} reserved segments, got ${reserved.length}`);
  if (reserved.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(8 + 4 + 4 * reserved.length + 4);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(8, reserved.length, true);
  reserved.forEach((id, i) => v.setUint32(12 + 4 * i, checkFileId(id), true));
  v.setUint32(out.length - 4, crc32c(out.subarray(0, out.length - 4)), true);
  return out;
}

/**
 * The reserved file ids in a marker's bytes, or undefined when they are not a complete marker. An
 * incomplete one is what a crash while an open wrote it leaves; that open never returned, so it
 * handed out no pointer and its reservations do not matter.
 */
export function decodeDirtyMarker(bytes: Uint8Array): number[] | undefined {
  if (bytes.length === 0) return [];
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = v.getUint32(8, true);
  if (count === 0 || count > MAX_RESERVED || bytes.length !== 16 + 4 * count) return undefined;
  if (v.getUint32(bytes.length - 4, true) !== crc32c(bytes.subarray(0, bytes.length - 4))) return undefined;
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = v.getUint32(12 + 4 * i, true);
    try {
      ids.push(checkFileId(id));
    } catch {
      return undefined;
    }
  }
  return ids;
}

/** Longest marker: what a reader reads at most. */
export const MAX_DIRTY_MARKER_BYTES = 16 + 4 * MAX_RESERVED;
