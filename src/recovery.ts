// Crash recovery. A crash can leave exactly one kind of damage: the record that was being appended
// when the process or the power went is torn (any prefix of it reached the file, possibly followed by
// zeros up to the end, or all of its length with a failing checksum), or the file ends in zeros.
// Recovery truncates that and nothing else. Everything else (bytes a crash cannot produce, damage
// followed by valid records) is refused with CORRUPT naming the file and offset and left as it is,
// unless the caller asks for salvage. I/O errors are IO and never end the valid prefix, and the
// record-size limit never applies to what is already on disk. See README, "Recovery".
import { crc32c } from './codec/codecs.js';
import { asValueLogError, ValueLogError } from './errors.js';
import { decodeFrame, decodeFramePrefix, framePrefixLength } from './format/frame.js';
import { decodeDirtyMarker, encodeDirtyMarker, MAX_DIRTY_MARKER_BYTES } from './format/dirty-marker.js';
import { decodeFileId, encodeFileId, MAX_SEQ, segmentFileName, segmentFiles } from './format/segment.js';
import { FRAME_HEADER_SIZE, HEADER_SIZE, MAX_FRAME_K, RECORD_FLAG_GROUPED, VERSION } from './limits.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

/** What recovery did (or, read-only, would do) to the tail of one segment. */
export interface SegmentRecovery {
  /** The segment's file name. */
  segment: string;
  /** The segment's file id. */
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

/** How recoverSegment treats a segment whose valid prefix ends before its end. */
export interface RecoverSegmentOptions {
  /** Truncate at the first invalid record whatever follows it (valid records after it are lost). */
  salvage?: boolean;
  /** Never write: report what would be truncated; the file is opened read-only. */
  readOnly?: boolean;
}

/** Read-ahead of the scan; records larger than this are checksummed in pieces of this size. */
const WINDOW = 1 << 20;
/** Largest frame prefix (header, K RIDs, K+1 offsets). */
const MAX_FRAME_PREFIX = framePrefixLength(MAX_FRAME_K);

/** Why the valid prefix ended: 'invalid' is a checksum-valid record that is malformed (never a crash). */
type FailureKind = 'short' | 'version' | 'checksum' | 'invalid';

interface Prefix {
  end: number;
  maxRid: bigint;
  failure: { kind: FailureKind; detail: string } | undefined;
}

/** Runs a storage call; anything but a ValueLogError becomes IO (a backend's error kept as cause). */
function io<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (e) {
    throw asValueLogError(e, 'IO', what);
  }
}

/** Fills dst from `at`; fewer bytes than the file's size promised is an I/O error, not a torn tail. */
function readExact(file: StorageFile, name: string, dst: Uint8Array, at: number): void {
  const got = io(() => file.read(dst, at), `recovery read of ${name} at ${at}`);
  if (got !== dst.length) throw new ValueLogError('IO', `valuelog: short read of ${name} at offset ${at}: ${got} of ${dst.length} bytes inside the file`);
}

/**
 * Scans a segment with checksums on and returns the end of its valid prefix, the largest RID in it
 * and why it ended there. Only the record-format checks the Reader makes end the prefix; the
 * record-size limit does not (see README), and storage errors propagate.
 */
function scanPrefix(file: StorageFile, name: string, size: number): Prefix {
  const buf = new Uint8Array(Math.min(WINDOW, size));
  let bufStart = 0;
  let bufLen = 0;
  const view = (at: number, n: number): Uint8Array => {
    if (at < bufStart || at + n > bufStart + bufLen) {
      bufStart = at;
      bufLen = Math.min(buf.length, size - at);
      readExact(file, name, buf.subarray(0, bufLen), at);
    }
    return buf.subarray(at - bufStart, at - bufStart + n);
  };
  let pos = 0;
  let maxRid = 0n;
  const fail = (kind: FailureKind, detail: string): Prefix => ({ end: pos, maxRid, failure: { kind, detail } });
  while (pos < size) {
    if (size - pos < HEADER_SIZE) return fail('short', `${size - pos}-byte partial record header`);
    const head = view(pos, HEADER_SIZE);
    const dv = new DataView(head.buffer, head.byteOffset, HEADER_SIZE);
    const stored = dv.getUint32(0, true);
    const version = head[4]!;
    const grouped = (head[5]! & RECORD_FLAG_GROUPED) !== 0;
    const rid = dv.getBigUint64(8, true);
    const valueLen = dv.getUint32(16, true);
    if (version !== VERSION) return fail('version', `record version ${version}`);
    const len = HEADER_SIZE + valueLen;
    if (len > size - pos) return fail('short', `record of ${len} bytes, ${size - pos} present`);
    let crc: number;
    let body: Uint8Array; // the payload, or for records above WINDOW its first bytes (enough for a frame prefix)
    if (len <= buf.length) {
      const rec = view(pos, len);
      crc = crc32c(rec.subarray(4));
      body = rec.subarray(HEADER_SIZE);
    } else {
      crc = crc32c(head.subarray(4, HEADER_SIZE));
      body = new Uint8Array(Math.min(valueLen, MAX_FRAME_PREFIX));
      readExact(file, name, body, pos + HEADER_SIZE);
      for (let at = pos + HEADER_SIZE; at < pos + len; at += WINDOW) crc = crc32c(view(at, Math.min(WINDOW, pos + len - at)), crc);
    }
    if (crc >>> 0 !== stored) return fail('checksum', `checksum mismatch: stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${(crc >>> 0).toString(16).padStart(8, '0')}`);
    if (grouped) {
      let rids: bigint[];
      try {
        const f = len <= buf.length ? decodeFrame(body) : decodeFramePrefix(body);
        if (valueLen === framePrefixLength(f.header.k) && f.offsets[f.header.k] !== 0) throw new ValueLogError('CORRUPT', 'frame has an empty payload but a non-zero raw length');
        rids = f.rids;
      } catch (e) {
        if (e instanceof ValueLogError) return fail('invalid', e.message);
        throw e;
      }
      for (const r of rids) if (r > maxRid) maxRid = r;
    } else {
      if (rid === 0n) return fail('invalid', 'plain record with rid 0');
      if (rid > maxRid) maxRid = rid;
    }
    pos += len;
  }
  return { end: pos, maxRid, failure: undefined };
}

/** Offset of the last non-zero byte in [from, size), or -1 when it is all zeros. */
function lastNonZero(file: StorageFile, name: string, from: number, size: number): number {
  const chunk = new Uint8Array(Math.min(WINDOW, size - from));
  for (let hi = size; hi > from; ) {
    const lo = Math.max(from, hi - chunk.length);
    const b = chunk.subarray(0, hi - lo);
    readExact(file, name, b, lo);
    for (let i = b.length - 1; i >= 0; i--) if (b[i] !== 0) return lo + i;
    hi = lo;
  }
  return -1;
}

/**
 * Whether the bytes from `end` to the end of the file are a shape a crash can leave: zeros, or the
 * start of one record (its header fields as the writer writes them) followed only by zeros, at most
 * as long as the record's declared length. Returns undefined if so, else why not.
 */
function notATornTail(file: StorageFile, name: string, end: number, size: number): string | undefined {
  const last = lastNonZero(file, name, end, size);
  if (last < 0) return undefined;
  const present = last + 1 - end; // the written part; zeros after it may be unwritten space
  const head = new Uint8Array(Math.min(HEADER_SIZE, present));
  readExact(file, name, head, end);
  if (head.length > 4 && head[4] !== VERSION) return `its header has version ${head[4]} and non-zero bytes follow`;
  if (head.length > 5 && (head[5]! & ~RECORD_FLAG_GROUPED) !== 0) return `its header has flags 0x${head[5]!.toString(16)}`;
  if ((head.length > 6 && head[6] !== 0) || (head.length > 7 && head[7] !== 0)) return 'its header has non-zero reserved bytes';
  if (head.length === HEADER_SIZE) {
    const len = HEADER_SIZE + new DataView(head.buffer).getUint32(16, true);
    if (present > len) return `non-zero bytes follow the end of its ${len}-byte record, up to offset ${last}`;
  }
  return undefined;
}

/** Whether a whole, checksum-valid record starts at `at` (any size: limits do not apply here). */
function validRecordAt(file: StorageFile, name: string, at: number, size: number, head: Uint8Array): boolean {
  if (head[4] !== VERSION || (head[5]! & ~RECORD_FLAG_GROUPED) !== 0) return false;
  const valueLen = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(16, true);
  const len = HEADER_SIZE + valueLen;
  if (len > size - at) return false;
  const grouped = (head[5]! & RECORD_FLAG_GROUPED) !== 0;
  if (grouped && (valueLen < FRAME_HEADER_SIZE || head[HEADER_SIZE] !== 1 || head[HEADER_SIZE + 2]! === 0 || head[HEADER_SIZE + 2]! > MAX_FRAME_K)) return false;
  const rec = new Uint8Array(len);
  readExact(file, name, rec, at);
  if (crc32c(rec.subarray(4)) >>> 0 !== new DataView(rec.buffer).getUint32(0, true)) return false;
  if (!grouped) return true;
  try {
    decodeFrame(rec.subarray(HEADER_SIZE));
    return true;
  } catch {
    return false; // decodeFrame is pure: only a malformed frame gets here
  }
}

/** Offsets of valid records in [from, size), found by trying every offset (for damage triage). */
function validRecordsAfter(file: StorageFile, name: string, from: number, size: number, stopAtFirst: boolean): number[] {
  const found: number[] = [];
  const win = new Uint8Array(WINDOW + 64);
  for (let base = from; base + HEADER_SIZE <= size; base += WINDOW) {
    const n = Math.min(win.length, size - base);
    readExact(file, name, win.subarray(0, n), base);
    for (let i = 0; i < Math.min(WINDOW, n) && base + i + HEADER_SIZE <= size; i++) {
      if (win[i + 4] !== VERSION) continue;
      const at = base + i;
      let head = win.subarray(i, i + 64);
      if (i + 64 > n) {
        head = new Uint8Array(Math.min(64, size - at));
        readExact(file, name, head, at);
      }
      if (validRecordAt(file, name, at, size, head)) {
        found.push(at);
        if (stopAtFirst) return found;
      }
    }
  }
  return found;
}

/**
 * Recovers one segment. Clean: nothing happens. A torn tail (see the file comment) is truncated. A
 * segment whose valid prefix ends in anything else throws CORRUPT naming it and the offset and is
 * left untouched, unless `salvage` is set: then it is truncated at that offset and the records lost
 * are counted. `readOnly` never writes: the result says what would be truncated. I/O errors are IO.
 */
export async function recoverSegment(storage: StorageBackend, fileId: number, opts: RecoverSegmentOptions = {}): Promise<SegmentRecovery & { clean: boolean }> {
  const name = segmentFileName(fileId);
  const file = await storage.open(name, { readOnly: true }).catch((e: unknown) => {
    throw asValueLogError(e, 'IO', `recovery open of ${name}`);
  });
  let end: number;
  let size: number;
  let dropped = 1;
  let maxRid: bigint;
  try {
    size = io(() => file.size(), `size of ${name}`);
    const prefix = scanPrefix(file, name, size);
    ({ end, maxRid } = prefix);
    if (prefix.failure === undefined) return { segment: name, fileId, validBytes: end, droppedBytes: 0, droppedRecords: 0, maxRid, clean: true };
    const { kind, detail } = prefix.failure;
    const shape = kind === 'invalid' ? `it is a checksum-valid but malformed record (${detail})` : notATornTail(file, name, end, size);
    const after = validRecordsAfter(file, name, end + 1, size, opts.salvage !== true);
    if (opts.salvage === true) {
      dropped += after.length;
    } else if (after.length > 0) {
      throw new ValueLogError(
        'CORRUPT',
        `valuelog: corrupt record in ${name} at offset ${end} (${detail}), followed by a valid record at offset ${after[0]}: ` +
          'this is damage, not a torn tail; the file is left as it is; open with { salvage: true } to truncate the segment at the damage',
      );
    } else if (shape !== undefined) {
      throw new ValueLogError(
        'CORRUPT',
        `valuelog: ${name} at offset ${end} is not a torn tail (${detail}; ${shape}): a crash cannot leave these bytes, so the file is ` +
          `left as it is; open with { salvage: true } to truncate it at offset ${end} (${size - end} bytes)`,
      );
    }
  } finally {
    file.close();
  }
  if (opts.readOnly !== true && end < size) {
    // Truncation destroys bytes, so the verdict must not rest on one read: a read that returned a
    // flipped bit or stale bytes once would make a committed last record look torn. A second, fresh
    // scan must find the same end; if it does not, the reads disagree and nothing is truncated.
    const again = await storage.open(name, { readOnly: true }).catch((e: unknown) => {
      throw asValueLogError(e, 'IO', `recovery open of ${name}`);
    });
    try {
      const size2 = io(() => again.size(), `size of ${name}`);
      const second = scanPrefix(again, name, size2);
      if (size2 !== size || second.end !== end) {
        throw new ValueLogError('IO', `valuelog: two reads of ${name} disagree (its valid prefix ended at ${end}, then at ${second.end} of ${size2} bytes): a failing read, nothing truncated; retry the open`);
      }
    } finally {
      again.close();
    }
    const w = await storage.open(name).catch((e: unknown) => {
      throw asValueLogError(e, 'IO', `recovery open of ${name}`);
    });
    try {
      io(() => w.truncate(end), `truncate ${name} to ${end}`);
      io(() => w.flush(), `sync ${name}`);
    } finally {
      w.close();
    }
  }
  return { segment: name, fileId, validBytes: end, droppedBytes: size - end, droppedRecords: dropped, maxRid, clean: false };
}

/** How recoverLanes treats the directory. */
export interface RecoverLanesOptions extends RecoverSegmentOptions {
  /**
   * The previous owner stopped without close() (the directory lock's `tookOver`): pointers of puts
   * it never committed may have been handed out with no byte of them on disk, so every lane
   * continues in a fresh segment.
   */
  uncleanShutdown?: boolean;
}

/** Where each lane continues after recovery. */
export interface LaneRecovery {
  /**
   * Per lane (indexed by lane: 0..lanes-1 and every lane with a segment on disk, so it may have
   * holes): the segment sequence number a writer appends to (a fresh one is not created here).
   */
  activeSeqs: number[];
  /** Per lane, as activeSeqs: whether that segment is a fresh one after the lane's last segment. */
  fresh: boolean[];
  /** Lanes on disk at or above `lanes` (recovered all the same; the caller opens no writer for them). */
  extraLanes: number[];
  /** Segments whose tails were truncated (or, read-only, would be). */
  recovered: SegmentRecovery[];
  /** Largest RID in the segments scanned. */
  maxRid: bigint;
}

/**
 * Recovers the lanes 0..lanes-1 of a directory and every other lane that has a segment. In each lane the segments that may have been
 * written last are scanned: the highest one, and below it while the one scanned holds no valid
 * record (empty segments are opened ahead of rotation and as fresh segments). A lane continues in
 * its highest segment, or in a fresh one after it when a torn tail was truncated, the previous
 * owner did not close the log, or the highest is a legacy-named file (read, never written).
 * Two files naming one segment id are refused with CORRUPT before anything is touched.
 */
export async function recoverLanes(storage: StorageBackend, lanes: number, opts: RecoverLanesOptions = {}): Promise<LaneRecovery> {
  const byLane = new Map<number, Array<{ seq: number; legacy: boolean }>>();
  const names = await storage.list().catch((e: unknown) => {
    throw asValueLogError(e, 'IO', 'recovery listing of the directory');
  });
  for (const [id, name] of segmentFiles(names)) {
    const { lane, seq } = decodeFileId(id);
    if (!byLane.has(lane)) byLane.set(lane, []);
    byLane.get(lane)!.push({ seq, legacy: name !== segmentFileName(id) });
  }
  const out: LaneRecovery = { activeSeqs: [], fresh: [], extraLanes: [], recovered: [], maxRid: 0n };
  // Every lane on disk is recovered, whatever `lanes` says: a torn tail of a lane this open does
  // not write must still go, and its RIDs count for the counter.
  out.extraLanes = [...byLane.keys()].filter((l) => l >= lanes).sort((a, b) => a - b);
  for (const lane of [...Array.from({ length: lanes }, (_, i) => i), ...out.extraLanes]) {
    const segs = (byLane.get(lane) ?? []).sort((a, b) => a.seq - b.seq);
    if (segs.length === 0) {
      out.activeSeqs[lane] = 1;
      out.fresh[lane] = false;
      continue;
    }
    const reports: SegmentRecovery[] = [];
    for (let i = segs.length - 1; i >= 0 && !segs[i]!.legacy; i--) {
      const r = await recoverSegment(storage, encodeFileId(lane, segs[i]!.seq), opts);
      if (r.maxRid > out.maxRid) out.maxRid = r.maxRid;
      if (!r.clean) {
        const { clean: _clean, ...report } = r;
        reports.unshift(report);
      }
      if (r.validBytes > 0) break;
    }
    out.recovered.push(...reports);
    const torn = reports.length > 0;
    const top = segs[segs.length - 1]!;
    const fresh = torn || opts.uncleanShutdown === true || top.legacy;
    if (fresh && top.seq >= MAX_SEQ) throw new ValueLogError('SEGMENT_ID_RANGE', `valuelog: lane ${lane} has no sequence numbers left for a fresh segment after recovery`);
    out.activeSeqs[lane] = fresh ? top.seq + 1 : top.seq;
    out.fresh[lane] = fresh;
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// Clean and unclean shutdown

/**
 * A file that exists while a read-write owner has the log open and is removed by a clean close().
 * Found at open, it says the previous owner crashed or stopped after a storage failure (fail-stop
 * closes leave it): pointers it handed out for values never committed may name offsets its segments
 * do not hold, so every lane then continues in a fresh segment and no such offset names another
 * value later. It works on every backend, unlike a lock that knows its holder died.
 */
export const DIRTY_MARKER = 'valuelog.dirty';

/** Whether the previous read-write owner left the log without a clean close. */
export async function leftDirty(storage: StorageBackend): Promise<boolean> {
  try {
    (await storage.open(DIRTY_MARKER, { readOnly: true })).close();
    return true;
  } catch (e) {
    if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return false;
    throw asValueLogError(e, 'IO', `looking for ${DIRTY_MARKER}`);
  }
}

/**
 * Creates (or rewrites) the marker durably, before a read-write open hands out its first pointer.
 * `reserved` names the segment files the open may hand out pointers into before they exist (they
 * are created on their first write, see storage/deferred.ts): a crash before then leaves no file, and
 * the next open must still never give those ids to other values (createReservedSegments).
 */
export async function markDirty(storage: StorageBackend, reserved: readonly number[] = []): Promise<void> {
  const bytes = encodeDirtyMarker(reserved);
  const f = await storage.open(DIRTY_MARKER, { create: true });
  try {
    if (f.size() !== bytes.length || bytes.length > 0) {
      f.truncate(0);
      if (bytes.length > 0) f.write(bytes, 0);
      f.flush();
    }
  } finally {
    f.close();
  }
  await storage.syncDir?.();
}

/**
 * After an unclean shutdown: the segment files the marker reserves that do not exist are created
 * (empty, durably) before recovery plans the lanes, so that each lane continues after them and no
 * pointer the crashed owner handed out names another value later. A marker that is not complete was
 * being written when the owner crashed inside open(): it reserved nothing that was handed out.
 */
export async function createReservedSegments(storage: StorageBackend): Promise<number[]> {
  let bytes: Uint8Array;
  try {
    const f = await storage.open(DIRTY_MARKER, { readOnly: true });
    try {
      const size = f.size();
      if (size > MAX_DIRTY_MARKER_BYTES) return [];
      bytes = new Uint8Array(size);
      if (f.read(bytes, 0) !== size) return [];
    } finally {
      f.close();
    }
  } catch (e) {
    if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return [];
    throw asValueLogError(e, 'IO', `reading ${DIRTY_MARKER}`);
  }
  const reserved = decodeDirtyMarker(bytes) ?? [];
  const present = new Set(segmentFiles(await storage.list()).keys());
  const created: number[] = [];
  for (const id of reserved) {
    if (present.has(id)) continue;
    (await storage.open(segmentFileName(id), { create: true })).close();
    created.push(id);
  }
  if (created.length > 0) await storage.syncDir?.();
  return created;
}

/** Removes the marker durably; called by a close() that made everything durable. */
export async function markClean(storage: StorageBackend): Promise<void> {
  try {
    await storage.remove(DIRTY_MARKER);
  } catch (e) {
    if (!(e instanceof ValueLogError && e.code === 'NOT_FOUND')) throw e;
  }
  await storage.syncDir?.();
}

/**
 * Lanes on disk beyond the `lanes` option get no writer, but one that must continue in a fresh
 * segment (a torn tail was cut, or the previous owner did not close the log) gets it created empty
 * now: a later open with more lanes then appends there, never at an offset a lost pointer names.
 */
export async function createFreshSegments(storage: StorageBackend, plan: LaneRecovery): Promise<void> {
  let created = false;
  for (const lane of plan.extraLanes) {
    if (!plan.fresh[lane]) continue;
    (await storage.open(segmentFileName(encodeFileId(lane, plan.activeSeqs[lane]!)), { create: true })).close();
    created = true;
  }
  if (created) await storage.syncDir?.();
}

