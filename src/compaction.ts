// Crash safety of compaction: each run leaves small CRC'd files beside the segments that say what it
// was doing, so that the next process can finish or undo it.
//
//   compact-<run>.intent  written (and synced) before the first copy: the source segments, where
//                         copies start in every lane, and the largest RID handed out so far. Copies
//                         keep their original RIDs, so a record at or after a lane's start with
//                         RID <= maxRid is a copy; a value put meanwhile always has a larger RID.
//   compact-<run>.remap   written (and synced) once every copy is durable, before the remap is handed
//                         to the caller: the same fields plus every old → new pointer pair.
//
// A run with a valid .remap is rolled forward by the next compact() (its pairs are handed over again,
// its sources deleted); a run with only an .intent never handed anything over, so its copies are
// orphans and are marked dead. The .intent goes once the remap was handed over; the .remap once every
// source segment is deleted.
//
// File layout, little-endian: "VLCI", u8 version (1), u8 phase (1 intent, 2 remap), u16 0,
// u32 payload length, u32 CRC-32C of the payload; payload: u64 maxRid, u32 n + n × u32 source file
// ids, u32 n + n × (u32 fileId, u32 0, u64 offset) copy starts, u32 n + n × 32-byte pointer pairs.
import { crc32c } from './codec/codecs.js';
import { asValueLogError, ValueLogError } from './errors.js';
import { decodeValuePtr, encodeValuePtr, type ValuePtr } from './format/pointer.js';
import type { StorageBackend } from './storage/types.js';

/** What one compaction run recorded about itself. */
export interface CompactionIntent {
  run: number;
  phase: 'intent' | 'remap';
  /** Largest RID handed out when the run started: copies keep RIDs at or below it. */
  maxRid: bigint;
  /** Segments whose live values the run copies. */
  sources: number[];
  /** Per lane: segment and byte offset where the run's copies start. */
  targets: Array<{ fileId: number; offset: number }>;
  /** Old → new pointer of every moved value ('remap' phase only). */
  pairs: Array<[ValuePtr, ValuePtr]>;
}

const MAGIC = [0x56, 0x4c, 0x43, 0x49]; // "VLCI"
const VERSION = 1;
const HEAD = 16;
const NAME = /^compact-(\d{6,})\.(intent|remap)$/;

/** The file name of a run's record in a phase. */
export function intentFileName(run: number, phase: 'intent' | 'remap'): string {
  return `compact-${String(run).padStart(6, '0')}.${phase}`;
}

/** Run and phase of a compaction record's file name, or undefined for any other name. */
export function parseIntentFileName(name: string): { run: number; phase: 'intent' | 'remap' } | undefined {
  const m = NAME.exec(name);
  return m ? { run: Number(m[1]), phase: m[2] as 'intent' | 'remap' } : undefined;
}

export function encodeIntent(it: CompactionIntent): Uint8Array {
  const len = 8 + 4 + 4 * it.sources.length + 4 + 16 * it.targets.length + 4 + 32 * it.pairs.length;
  const out = new Uint8Array(HEAD + len);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = it.phase === 'intent' ? 1 : 2;
  dv.setUint32(8, len, true);
  let at = HEAD;
  dv.setBigUint64(at, it.maxRid, true);
  at += 8;
  dv.setUint32(at, it.sources.length, true);
  at += 4;
  for (const s of it.sources) {
    dv.setUint32(at, s >>> 0, true);
    at += 4;
  }
  dv.setUint32(at, it.targets.length, true);
  at += 4;
  for (const t of it.targets) {
    dv.setUint32(at, t.fileId >>> 0, true);
    dv.setBigUint64(at + 8, BigInt(t.offset), true);
    at += 16;
  }
  dv.setUint32(at, it.pairs.length, true);
  at += 4;
  for (const [o, n] of it.pairs) {
    encodeValuePtr(o, out, at);
    encodeValuePtr(n, out, at + 16);
    at += 32;
  }
  dv.setUint32(12, crc32c(out.subarray(HEAD)), true);
  return out;
}

/** Decodes a record; undefined when it is torn, damaged or not one (it then never counts). */
export function decodeIntent(run: number, bytes: Uint8Array): CompactionIntent | undefined {
  if (bytes.length < HEAD || MAGIC.some((b, i) => bytes[i] !== b) || bytes[4] !== VERSION) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(8, true);
  if (bytes.length !== HEAD + len || dv.getUint32(12, true) !== crc32c(bytes.subarray(HEAD))) return undefined;
  const phase = bytes[5] === 1 ? 'intent' : bytes[5] === 2 ? 'remap' : undefined;
  if (phase === undefined) return undefined;
  try {
    let at = HEAD;
    const maxRid = dv.getBigUint64(at, true);
    at += 8;
    const sources: number[] = [];
    for (let n = dv.getUint32(at, true), i = (at += 4, 0); i < n; i++, at += 4) sources.push(dv.getUint32(at, true));
    const targets: CompactionIntent['targets'] = [];
    for (let n = dv.getUint32(at, true), i = (at += 4, 0); i < n; i++, at += 16) targets.push({ fileId: dv.getUint32(at, true), offset: Number(dv.getBigUint64(at + 8, true)) });
    const pairs: CompactionIntent['pairs'] = [];
    for (let n = dv.getUint32(at, true), i = (at += 4, 0); i < n; i++, at += 32) pairs.push([decodeValuePtr(bytes, at), decodeValuePtr(bytes, at + 16)]);
    if (at !== bytes.length) return undefined;
    return { run, phase, maxRid, sources, targets, pairs };
  } catch {
    return undefined; // counts that run past the end: not a record this code wrote
  }
}

/** Writes a record file completely and durably (the file, then the directory entry). */
export async function writeIntent(storage: StorageBackend, it: CompactionIntent): Promise<void> {
  const name = intentFileName(it.run, it.phase);
  const bytes = encodeIntent(it);
  try {
    const f = await storage.open(name, { create: true });
    try {
      const n = f.write(bytes, 0);
      if (n !== bytes.length) throw new ValueLogError('IO', `valuelog: short write of ${name}: ${n} of ${bytes.length} bytes`);
      f.truncate(bytes.length);
      f.flush();
    } finally {
      f.close();
    }
    await storage.syncDir?.();
  } catch (e) {
    throw asValueLogError(e, 'IO', `writing ${name}`);
  }
}

/** Reads every compaction record in the directory; torn or foreign ones come back as undefined. */
export async function readIntents(storage: StorageBackend, names: readonly string[]): Promise<Array<{ name: string; run: number; phase: 'intent' | 'remap'; intent: CompactionIntent | undefined }>> {
  const out = [];
  for (const name of names) {
    const p = parseIntentFileName(name);
    if (p === undefined) continue;
    const f = await storage.open(name, { readOnly: true });
    let intent: CompactionIntent | undefined;
    try {
      const buf = new Uint8Array(f.size());
      intent = f.read(buf, 0) === buf.length ? decodeIntent(p.run, buf) : undefined;
      if (intent !== undefined && intent.phase !== p.phase) intent = undefined;
    } finally {
      f.close();
    }
    out.push({ name, run: p.run, phase: p.phase, intent });
  }
  return out.sort((a, b) => a.run - b.run);
}

/** Removes a record file (a missing one is fine) and makes the removal durable. */
export async function removeIntent(storage: StorageBackend, run: number, phase: 'intent' | 'remap'): Promise<void> {
  try {
    await storage.remove(intentFileName(run, phase));
  } catch (e) {
    if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return;
    throw asValueLogError(e, 'IO', `removing ${intentFileName(run, phase)}`);
  }
  await storage.syncDir?.();
}
