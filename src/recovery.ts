// Crash recovery of a segment: find the end of its valid prefix and tell a torn tail (a partial or
// checksum-failing last write with nothing valid after it, which is truncated) from damage followed
// by valid records (which is refused unless the caller asks for salvage).
import { allocBytes } from './alloc.js';
import { ValueLogError } from './errors.js';
import { decodeFrame } from './format/frame.js';
import { decodeRecordHeader, verifyRecordChecksum } from './format/record.js';
import { segmentFileName } from './format/segment.js';
import { FRAME_VERSION, HEADER_SIZE, MAX_FRAME_K, RECORD_FLAG_GROUPED, VERSION, effectiveMaxRecordSize } from './limits.js';
import { Reader } from './reader.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

export interface SegmentRecovery {
  segment: string;
  fileId: number;
  /** End of the valid prefix: where the segment was (or would be) truncated. */
  validBytes: number;
  /** Bytes removed from the end. */
  droppedBytes: number;
  /** Records removed: the torn or damaged one, plus any valid ones after damage (salvage only). */
  droppedRecords: number;
  /** Largest RID seen in the valid prefix (0n if none). */
  maxRid: bigint;
}

/** Scans a segment with checksums on; returns its valid prefix and the largest RID in it. */
async function scan(storage: StorageBackend, fileId: number): Promise<{ end: number; maxRid: bigint; error: ValueLogError | undefined }> {
  const r = await Reader.open(storage, fileId);
  r.disableValueDecode();
  let maxRid = 0n;
  try {
    for (;;) {
      const e = r.next();
      if (e === undefined) return { end: r.offset, maxRid, error: undefined };
      if (e.rid > maxRid) maxRid = e.rid;
    }
  } catch (err) {
    if (!(err instanceof ValueLogError)) throw err;
    return { end: r.offset, maxRid, error: err };
  } finally {
    r.close();
  }
}

const WINDOW = 4 * 1024 * 1024;

/** Whether a whole, checksum-valid record starts at `at`. */
function validRecordAt(file: StorageFile, at: number, size: number, head: Uint8Array): boolean {
  if (head[4] !== VERSION || (head[5]! & ~RECORD_FLAG_GROUPED) !== 0) return false;
  const valueLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(16, true);
  const len = HEADER_SIZE + valueLen;
  if (len > size - at || len > effectiveMaxRecordSize()) return false;
  const grouped = (head[5]! & RECORD_FLAG_GROUPED) !== 0;
  if (grouped && (valueLen < 16 + 12 || head[HEADER_SIZE] !== FRAME_VERSION || head[HEADER_SIZE + 2]! === 0 || head[HEADER_SIZE + 2]! > MAX_FRAME_K)) return false;
  const rec = allocBytes(len);
  if (file.read(rec, at) !== len) return false;
  try {
    const h = decodeRecordHeader(rec);
    verifyRecordChecksum(rec, 0, h.crc, rec.subarray(HEADER_SIZE));
    if (grouped) decodeFrame(rec.subarray(HEADER_SIZE));
    return true;
  } catch {
    return false;
  }
}

/** Offsets of valid records in [from, size), found by trying every offset (for damage triage). */
function validRecordsAfter(file: StorageFile, from: number, size: number, stopAtFirst: boolean): number[] {
  const found: number[] = [];
  const win = new Uint8Array(WINDOW + 64);
  for (let base = from; base + HEADER_SIZE <= size; base += WINDOW) {
    const n = file.read(win, base);
    for (let i = 0; i < Math.min(WINDOW, n) && base + i + HEADER_SIZE <= size; i++) {
      if (win[i + 4] !== VERSION) continue;
      const at = base + i;
      const head = i + 64 <= n ? win.subarray(i, i + 64) : readHead(file, at);
      if (validRecordAt(file, at, size, head)) {
        found.push(at);
        if (stopAtFirst) return found;
      }
    }
  }
  return found;
}

function readHead(file: StorageFile, at: number): Uint8Array {
  const b = new Uint8Array(64);
  file.read(b, at);
  return b;
}

/**
 * Recovers one segment: returns undefined when it is clean. A torn tail is truncated; damage with
 * valid records after it throws CORRUPT naming segment and offset, unless `salvage` is set, in
 * which case the segment is truncated at the damage and the lost records are counted.
 */
export async function recoverSegment(storage: StorageBackend, fileId: number, salvage: boolean): Promise<SegmentRecovery & { clean: boolean }> {
  const name = segmentFileName(fileId);
  const { end, maxRid, error } = await scan(storage, fileId);
  const file = await storage.open(name);
  try {
    const size = file.size();
    if (error === undefined && end === size) return { segment: name, fileId, validBytes: end, droppedBytes: 0, droppedRecords: 0, maxRid, clean: true };
    const after = validRecordsAfter(file, end + 1, size, !salvage);
    if (after.length > 0 && !salvage) {
      throw new ValueLogError(
        'CORRUPT',
        `valuelog: corrupt record in ${name} at offset ${end} (${error?.message ?? 'unreadable'}), followed by a valid record at offset ${after[0]}: ` +
          'this is damage, not a torn tail; open with { salvage: true } to truncate the segment at the damage',
        { cause: error },
      );
    }
    file.truncate(end);
    file.flush();
    return { segment: name, fileId, validBytes: end, droppedBytes: size - end, droppedRecords: 1 + after.length, maxRid, clean: false };
  } finally {
    file.close();
  }
}

