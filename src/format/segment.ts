// Segment and file ids (docs/FORMAT.md, "Segment files"): 8-bit lane, 23-bit seq, bit 31 marks a
// value-log file id. Names are `value-l<lane>-<seq, 6+ digits>.log`; legacy `value-<seq>.log` is lane 0.
import { invalidArgument, ValueLogError } from '../errors.js';

export const LANE_BITS = 8;
export const SEQ_BITS = 31 - LANE_BITS;
/** Largest lane number (255). */
export const MAX_LANE = (1 << LANE_BITS) - 1;
/** Largest sequence number in a lane (2^23 - 1). */
export const MAX_SEQ = (1 << SEQ_BITS) - 1;
export const FILE_ID_MARK = 0x80000000;

function rangeError(lane: number, seq: number): ValueLogError {
  return new ValueLogError('SEGMENT_ID_RANGE', `valuelog: segment id out of range (lane ${lane}, seq ${seq})`);
}

/**
 * The segment id of (lane, seq): lane in bits 23..30, seq in bits 0..22; SEGMENT_ID_RANGE when either
 * is out of range.
 */
export function encodeSegmentId(lane: number, seq: number): number {
  if (!Number.isInteger(lane) || !Number.isInteger(seq)) throw rangeError(lane, seq);
  if (lane < 0 || lane > MAX_LANE || seq < 0 || seq > MAX_SEQ) throw rangeError(lane, seq);
  return ((lane << SEQ_BITS) | seq) >>> 0;
}

/** Lane and seq of a segment id. */
export function decodeSegmentId(id: number): { lane: number; seq: number } {
  const v = id >>> 0;
  return { lane: (v >>> SEQ_BITS) & MAX_LANE, seq: v & MAX_SEQ };
}

/** The file id of (lane, seq): the segment id with bit 31 set (what pointers and Writer/Reader take). */
export function encodeFileId(lane: number, seq: number): number {
  return (encodeSegmentId(lane, seq) | FILE_ID_MARK) >>> 0;
}

/** Lane and seq of a file id. */
export function decodeFileId(fileId: number): { lane: number; seq: number } {
  return decodeSegmentId((fileId & ~FILE_ID_MARK) >>> 0);
}

/** Whether bit 31 (the value-log mark) is set. */
export function isValueLogFileId(id: number): boolean {
  return ((id >>> 0) & FILE_ID_MARK) !== 0;
}

/** Validates a file id given by a caller: a u32 with the value-log mark set. */
export function checkFileId(fileId: number): number {
  if (!Number.isInteger(fileId) || fileId < 0 || fileId > 0xffffffff || !isValueLogFileId(fileId)) {
    throw invalidArgument(`not a value-log file id: ${String(fileId)} (use encodeFileId(lane, seq))`);
  }
  return fileId >>> 0;
}

/** The segment file name of a file id: `value-l<lane>-<seq, at least 6 digits>.log`. */
export function segmentFileName(fileId: number): string {
  const { lane, seq } = decodeFileId(fileId);
  return `value-l${lane}-${String(seq).padStart(6, '0')}.log`;
}

const DECIMAL = /^[0-9]+$/;

function parseU32(s: string): number | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

/** File id of a segment file name, or undefined for any other name (never throws). */
export function parseSegmentFileName(name: string): number | undefined {
  if (!name.startsWith('value-') || !name.endsWith('.log')) return undefined;
  const core = name.slice('value-'.length, name.length - '.log'.length);
  if (core.startsWith('l')) {
    const dash = core.indexOf('-');
    if (dash < 0) return undefined;
    const lane = parseU32(core.slice(1, dash));
    const seq = parseU32(core.slice(dash + 1));
    if (lane === undefined || seq === undefined || lane > MAX_LANE || seq > MAX_SEQ) return undefined;
    return encodeFileId(lane, seq);
  }
  const seq = parseU32(core);
  if (seq === undefined || seq > MAX_SEQ) return undefined;
  return (seq | FILE_ID_MARK) >>> 0;
}

/**
 * The segment files among directory entries, by file id. Two names that map to one id (a legacy
 * `value-<seq>.log` beside `value-l0-<seq>.log`, or a seq written with more leading zeros) would
 * make one of them unreachable, so they are refused with CORRUPT naming both.
 */
export function segmentFiles(names: Iterable<string>): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of names) {
    const id = parseSegmentFileName(name);
    if (id === undefined) continue;
    const other = out.get(id);
    if (other !== undefined) throw duplicateSegment(id, other, name);
    out.set(id, name);
  }
  return out;
}

/** CORRUPT for two files that name the same segment id. */
export function duplicateSegment(id: number, a: string, b: string): ValueLogError {
  const [x, y] = [a, b].sort();
  return new ValueLogError('CORRUPT', `valuelog: ${x} and ${y} both name segment ${id >>> 0} (${segmentFileName(id)}): remove or rename one of them`);
}
