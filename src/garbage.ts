// Dead-value accounting for compaction. Segment files stay byte-compatible with the Go v0.3.0 format;
// what is dead lives beside them in a sidecar per segment, `value-l<lane>-<seq>.dead`:
//
//   an append-only run of 24-byte entries, little-endian:
//     0..16   the dead value's pointer (encodeValuePtr: offset u64, length u32, fileId u32)
//     16..20  u32 bytes of the segment the value accounts for (its share of its record, rounded)
//     20..24  u32 CRC-32C of bytes 0..20
//
// Loading stops at the first short or checksum-failing entry (a torn append); entries are idempotent.
import { crc32c } from './codec/codecs.js';
import { checkValuePtr, decodeValuePtr, encodeValuePtr, ptrKey, ptrSubIndex, type ValuePtr } from './format/pointer.js';
import { segmentFileName } from './format/segment.js';
import type { RecordValues } from './reader.js';
import type { StorageBackend } from './storage/types.js';
import { ValueLogError } from './errors.js';

/** Size of one dead-value sidecar entry: the 16-byte pointer, the value's byte share (u32) and a CRC-32C of both. */
export const DEAD_ENTRY_SIZE = 24;

/** Name of the dead-value sidecar of a segment: its name with `.log` replaced by `.dead`. */
export function sidecarName(fileId: number): string {
  return segmentFileName(fileId).replace(/\.log$/, '.dead');
}

function encodeEntry(ptr: ValuePtr, bytes: number): Uint8Array {
  const e = new Uint8Array(DEAD_ENTRY_SIZE);
  encodeValuePtr(ptr, e, 0);
  const dv = new DataView(e.buffer);
  dv.setUint32(16, Math.min(0xffffffff, Math.round(bytes)), true);
  dv.setUint32(20, crc32c(e.subarray(0, 20)), true);
  return e;
}

interface SegmentGarbage {
  dead: Set<string>;
  deadBytes: number;
  pending: Uint8Array[];
  /** End of the sidecar's valid entries, once loaded or written. */
  end: number | undefined;
}

export class GarbageTracker {
  private readonly segs = new Map<number, SegmentGarbage>();

  private seg(id: number): SegmentGarbage {
    let g = this.segs.get(id);
    if (g === undefined) {
      g = { dead: new Set(), deadBytes: 0, pending: [], end: undefined };
      this.segs.set(id, g);
    }
    return g;
  }

  /** Records a dead value once (a repeated mark is ignored); returns whether it was new. */
  mark(ptr: ValuePtr, bytes: number): boolean {
    const g = this.seg(ptr.fileId >>> 0);
    const key = ptrKey(ptr);
    if (g.dead.has(key)) return false;
    g.dead.add(key);
    g.deadBytes += bytes;
    g.pending.push(encodeEntry(ptr, bytes));
    return true;
  }

  isDead(ptr: ValuePtr): boolean {
    return this.segs.get(ptr.fileId >>> 0)?.dead.has(ptrKey(ptr)) ?? false;
  }

  deadBytes(id: number): number {
    return Math.round(this.segs.get(id >>> 0)?.deadBytes ?? 0);
  }

  deadValues(id: number): number {
    return this.segs.get(id >>> 0)?.dead.size ?? 0;
  }

  /** Reads the sidecar of a segment, if it has one. */
  async load(storage: StorageBackend, id: number): Promise<void> {
    let f;
    try {
      f = await storage.open(sidecarName(id), { readOnly: true });
    } catch (e) {
      if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return;
      throw e;
    }
    try {
      const buf = new Uint8Array(f.size());
      f.read(buf, 0);
      const g = this.seg(id);
      const dv = new DataView(buf.buffer);
      let at = 0;
      for (; at + DEAD_ENTRY_SIZE <= buf.length; at += DEAD_ENTRY_SIZE) {
        if (dv.getUint32(at + 20, true) !== crc32c(buf.subarray(at, at + 20))) break;
        const key = ptrKey(decodeValuePtr(buf, at));
        if (g.dead.has(key)) continue;
        g.dead.add(key);
        g.deadBytes += dv.getUint32(at + 16, true);
      }
      g.end = at;
    } finally {
      f.close();
    }
  }

  /** Appends the marks made since the last call to their sidecars and makes them durable. */
  async persist(storage: StorageBackend): Promise<void> {
    for (const [id, g] of this.segs) {
      if (g.pending.length === 0) continue;
      const entries = g.pending;
      const f = await storage.open(sidecarName(id), { create: true });
      try {
        // Continue after the last valid entry: a torn or damaged tail from a crash is overwritten.
        let at = g.end ?? Math.floor(f.size() / DEAD_ENTRY_SIZE) * DEAD_ENTRY_SIZE;
        for (const e of entries) {
          f.write(e, at);
          at += e.length;
        }
        f.truncate(at);
        f.flush();
        g.end = at;
      } finally {
        f.close();
      }
      g.pending = g.pending.slice(entries.length);
    }
  }

  /** Forgets a segment and deletes its sidecar (after the segment itself was deleted). */
  async drop(storage: StorageBackend, id: number): Promise<void> {
    this.segs.delete(id >>> 0);
    try {
      await storage.remove(sidecarName(id));
    } catch (e) {
      if (!(e instanceof ValueLogError && e.code === 'NOT_FOUND')) throw e;
    }
  }
}


/** A value markDead may mark: the canonical pointer and the bytes it accounts for. */
export interface DeadValue {
  ptr: ValuePtr;
  bytes: number;
}

/**
 * Checks a batch of pointers for markDead before any is marked: each must name a value boundary of
 * a committed record of this log (a tracked segment, a checksum-valid record that ends within the
 * synced part of the segment, the pointer's length word exactly as the writer handed it out: hint,
 * grouped flag, sub-index < K). `committedBytes(fileId)` is how much of a segment is synced;
 * `recordValues` reads one record (one call per distinct record). Throws INVALID_ARGUMENT (NOT_FOUND
 * for an untracked segment, IO from storage) naming the first bad pointer.
 */
export function checkDeadPointers(
  ptrs: readonly ValuePtr[],
  committedBytes: (fileId: number) => number,
  recordValues: (fileId: number, start: number, limit: number) => RecordValues,
): DeadValue[] {
  const records = new Map<string, RecordValues>();
  const out: DeadValue[] = [];
  for (const ptr of ptrs) {
    const bad = (why: string, cause?: unknown) => new ValueLogError('INVALID_ARGUMENT', `valuelog: markDead: pointer ${describe(ptr)} does not name a committed value of this log: ${why}`, { cause });
    try {
      checkValuePtr(ptr);
    } catch (e) {
      throw bad(e instanceof Error ? e.message : String(e), e);
    }
    const fileId = ptr.fileId >>> 0;
    const start = ptr.offset - 4;
    const key = `${fileId}:${start}`;
    let rec = records.get(key);
    if (rec === undefined) {
      try {
        rec = recordValues(fileId, start, committedBytes(fileId));
      } catch (e) {
        if (e instanceof ValueLogError && (e.code === 'NOT_FOUND' || e.code === 'IO' || e.code === 'CLOSED')) throw e;
        throw bad(e instanceof Error ? e.message : String(e), e);
      }
      records.set(key, rec);
    }
    const sub = ptrSubIndex(ptr);
    if (sub >= rec.lengths.length) throw bad(`sub-index ${sub} >= ${rec.lengths.length} values in the record`);
    const want = rec.lengths[sub]!;
    if (ptr.length >>> 0 !== want) throw bad(`length word 0x${(ptr.length >>> 0).toString(16)} != 0x${want.toString(16)} of the record's value ${sub}`);
    out.push({ ptr: { fileId, offset: ptr.offset, length: want }, bytes: rec.shares[sub]! });
  }
  return out;
}

function describe(ptr: ValuePtr): string {
  try {
    return JSON.stringify(ptr);
  } catch {
    return String(ptr);
  }
}
