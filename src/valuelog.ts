// ValueLog: the application facade. It recovers torn tails on open, keeps one writer per lane,
// rotates segments by size, batches concurrent commits into one sync (group commit), and hands out
// snapshots that pin the segments they can read.
import { invalidArgument, ValueLogError } from './errors.js';
import { BlockCodec, framePrefixLength } from './format/frame.js';
import { checkValuePtr, type ValuePtr } from './format/pointer.js';
import { decodeFileId, encodeFileId, MAX_LANE, MAX_SEQ, parseSegmentFileName, segmentFileName } from './format/segment.js';
import { HEADER_SIZE, MAX_FRAME_K } from './limits.js';
import { Manager, type ValueSet } from './manager.js';
import { chooseBlockGroupK } from './policy.js';
import { recoverSegment, type SegmentRecovery } from './recovery.js';
import type { StorageBackend, StorageFile } from './storage/types.js';
import { Writer } from './writer.js';

export type Compression = 'none' | 'snappy' | 'lz4';

export interface ValueLogOptions {
  /** Rotate a lane to a new segment once its active one reaches this many bytes (default 64 MiB). */
  segmentSize?: number;
  /** Number of lanes (independent writers and segment sequences), 1..256 (default 1). */
  lanes?: number;
  /** Block compression of frames (default 'none'). Dictionary modes come with the dictionary store. */
  compression?: Compression;
  /** Open despite damage followed by valid records, truncating the segment at the damage. */
  salvage?: boolean;
  /** Each writer's staging buffer (default 1 MiB). */
  bufferSize?: number;
}

export interface PutOptions {
  lane?: number;
}

export interface SegmentStats {
  name: string;
  fileId: number;
  lane: number;
  seq: number;
  bytes: number;
  active: boolean;
  /** Snapshots holding this segment. */
  pins: number;
}

export interface ValueLogStats {
  segments: SegmentStats[];
  totalBytes: number;
  /** What open() did to torn tails (empty when every segment was clean). */
  recovered: SegmentRecovery[];
  puts: number;
  commits: number;
  /** Durable syncs actually issued: fewer than commits when concurrent commits were grouped. */
  syncs: number;
}

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
const DEFAULT_BUFFER = 1024 * 1024;
/** The next segment is opened in the background once the active one passes this share of its size. */
const PREOPEN_AT = 0.25;
/** Raw frame size putMany aims for when it does not compress (a read verifies a whole frame). */
const RAW_FRAME_TARGET = 16 * 1024;

interface Lane {
  index: number;
  writer: Writer;
  seq: number;
  next: Promise<{ file: StorageFile; seq: number }> | undefined;
  ready: { file: StorageFile; seq: number } | undefined;
  dirty: boolean;
  ratio: number;
}

/** A pinned view of the segments that existed when it was taken. */
export class Snapshot {
  private released = false;
  /** @internal */
  constructor(
    private readonly log: ValueLog,
    private readonly set: ValueSet,
  ) {}

  get(ptr: ValuePtr): Uint8Array {
    if (this.released) throw invalidArgument('read through a released snapshot');
    this.log.makeVisible(ptr);
    return this.set.read(ptr);
  }

  async release(): Promise<void> {
    if (this.released) throw invalidArgument('snapshot released twice');
    this.released = true;
    await this.log.releaseSet(this.set);
  }
}

export class ValueLog {
  private lanes: Lane[] = [];
  private closed = false;
  private puts = 0;
  private commits = 0;
  private syncs = 0;
  private pendingCommit: Promise<void> | undefined;
  private backgroundError: unknown;

  private constructor(
    private readonly storage: StorageBackend,
    private readonly manager: Manager,
    private readonly opts: Required<Omit<ValueLogOptions, 'salvage'>>,
    private readonly recovered: SegmentRecovery[],
  ) {}

  /**
   * Opens (or creates) the log in `storage`: the active segment of each lane is scanned, a torn
   * tail is truncated and reported, and writing continues after the last valid record.
   */
  static async open(storage: StorageBackend, options: ValueLogOptions = {}): Promise<ValueLog> {
    const opts = normalizeOptions(options);
    const byLane = new Map<number, number[]>();
    for (const name of await storage.list()) {
      const id = parseSegmentFileName(name);
      if (id === undefined || name !== segmentFileName(id)) continue; // legacy names are read, not written
      const { lane, seq } = decodeFileId(id);
      if (!byLane.has(lane)) byLane.set(lane, []);
      byLane.get(lane)!.push(seq);
    }
    const recovered: SegmentRecovery[] = [];
    const active: number[] = [];
    let maxRid = 0n;
    for (let lane = 0; lane < opts.lanes; lane++) {
      const seqs = (byLane.get(lane) ?? []).sort((a, b) => a - b);
      const seq = seqs.length > 0 ? seqs[seqs.length - 1]! : 1;
      active.push(seq);
      if (seqs.length === 0) continue;
      // The highest segment may be an empty one opened ahead of rotation: then the one before it was
      // still being written when the process stopped, and its tail needs recovery too.
      const scanSeqs = [seq];
      const last = await recoverSegment(storage, encodeFileId(lane, seq), options.salvage === true);
      const reports = [last];
      if (last.validBytes === 0 && seqs.length > 1) {
        scanSeqs.unshift(seqs[seqs.length - 2]!);
        reports.unshift(await recoverSegment(storage, encodeFileId(lane, scanSeqs[0]!), options.salvage === true));
      }
      for (const r of reports) {
        if (r.maxRid > maxRid) maxRid = r.maxRid;
        if (!r.clean) {
          const { clean: _clean, ...report } = r;
          recovered.push(report);
        }
      }
    }
    const writers: Writer[] = [];
    for (let lane = 0; lane < opts.lanes; lane++) writers.push(await Writer.open(storage, encodeFileId(lane, active[lane]!), { bufferSize: opts.bufferSize }));
    const manager = await Manager.open(storage);
    const log = new ValueLog(storage, manager, opts, recovered);
    log.ridCounter = maxRid; // RIDs continue after the largest one in the active segments
    log.lanes = writers.map((writer, index) => {
      if (opts.compression !== 'none') writer.setBlockCompression(opts.compression === 'lz4' ? BlockCodec.LZ4 : BlockCodec.Snappy, true);
      return { index, writer, seq: active[index]!, next: undefined, ready: undefined, dirty: false, ratio: 0.5 };
    });
    return log;
  }

  /** Appends one value; the pointer is valid at once, durable after the next commit(). */
  put(value: Uint8Array, opts: PutOptions = {}): ValuePtr {
    return this.putMany([value], opts)[0]!;
  }

  /** Appends values in frames of up to 128 (sized for the codec); returns one pointer per value. */
  putMany(values: readonly Uint8Array[], opts: PutOptions = {}): ValuePtr[] {
    this.checkOpen();
    if (!Array.isArray(values)) throw invalidArgument('putMany expects an array of Uint8Array');
    for (const v of values) if (!(v instanceof Uint8Array)) throw invalidArgument('every value must be a Uint8Array');
    const lane = this.lane(opts.lane);
    const ptrs: ValuePtr[] = [];
    let i = 0;
    while (i < values.length) {
      const rest = values.length - i;
      let raw = 0;
      const probe = Math.min(rest, MAX_FRAME_K);
      for (let j = 0; j < probe; j++) raw += values[i + j]!.length;
      const k = this.opts.compression === 'none'
        ? Math.max(1, Math.min(probe, Math.floor(RAW_FRAME_TARGET / Math.max(1, raw / probe))))
        : chooseBlockGroupK(probe, raw, 0, lane.ratio);
      this.rotateIfFull(lane, values, i, k);
      const records = [];
      for (let j = 0; j < k; j++) records.push({ rid: ++this.ridCounter, value: values[i + j]! });
      const { ptrs: framePtrs, stats } = lane.writer.appendFrame(records);
      if (stats.attempted && stats.rawPayloadBytes > 0) lane.ratio = 0.8 * lane.ratio + 0.2 * (stats.storedPayloadBytes / stats.rawPayloadBytes);
      ptrs.push(...framePtrs);
      i += k;
    }
    lane.dirty = true;
    this.puts += values.length;
    return ptrs;
  }

  /** A copy of the value a pointer names (values put but not yet committed included). */
  get(ptr: ValuePtr): Uint8Array {
    this.checkOpen();
    this.makeVisible(ptr);
    return this.manager.read(ptr);
  }

  /**
   * Makes everything put so far durable (flush + sync of every lane written since the last commit).
   * Commits issued while one is pending share its single sync (group commit).
   */
  commit(): Promise<void> {
    this.checkOpen();
    this.commits++;
    this.pendingCommit ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        this.pendingCommit = undefined;
        try {
          this.syncAll();
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
    return this.pendingCommit;
  }

  /** Pins the current segments; reads through it keep working until release(). */
  async snapshot(): Promise<Snapshot> {
    this.checkOpen();
    return new Snapshot(this, await this.manager.currentSet());
  }

  stats(): ValueLogStats {
    const infos = this.manager.segmentInfo();
    const activeIds = new Set(this.lanes.map((l) => l.writer.fileId));
    const segments: SegmentStats[] = infos.map((s) => {
      const { lane, seq } = decodeFileId(s.id);
      const writer = this.lanes.find((l) => l.writer.fileId === s.id)?.writer;
      return { name: s.name, fileId: s.id, lane, seq, bytes: writer ? writer.size : s.bytes, active: activeIds.has(s.id), pins: s.refCount };
    });
    for (const l of this.lanes) {
      if (!segments.some((s) => s.fileId === l.writer.fileId)) {
        segments.push({ name: segmentFileName(l.writer.fileId), fileId: l.writer.fileId, lane: l.index, seq: l.seq, bytes: l.writer.size, active: true, pins: 0 });
      }
    }
    segments.sort((a, b) => a.fileId - b.fileId);
    return {
      segments,
      totalBytes: segments.reduce((a, s) => a + s.bytes, 0),
      recovered: this.recovered.map((r) => ({ ...r })),
      puts: this.puts,
      commits: this.commits,
      syncs: this.syncs,
    };
  }

  /** Commits, then closes every writer and segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pendingCommit) await this.pendingCommit.catch(() => undefined);
    let err: unknown;
    try {
      this.syncAll();
    } catch (e) {
      err = e;
    }
    this.closed = true;
    for (const l of this.lanes) {
      try {
        l.writer.close();
      } catch (e) {
        err ??= e;
      }
      const spare = l.ready ?? (l.next ? await l.next.catch(() => undefined) : undefined);
      spare?.file.close();
    }
    await this.manager.close();
    if (err !== undefined) throw err;
  }

  // ---------------------------------------------------------------------------------------------

  /** @internal Flushes the writer whose unflushed bytes a pointer names, so that reads see them. */
  makeVisible(ptr: ValuePtr): void {
    checkValuePtr(ptr);
    for (const l of this.lanes) {
      if (l.writer.fileId === ptr.fileId >>> 0 && ptr.offset - 4 >= l.writer.flushedSize) {
        l.writer.flush();
        return;
      }
    }
  }

  /** @internal */
  async releaseSet(set: ValueSet): Promise<void> {
    await this.manager.release(set);
  }

  private syncAll(): void {
    if (this.backgroundError !== undefined) throw this.backgroundError;
    let synced = false;
    for (const l of this.lanes) {
      if (!l.dirty) continue;
      l.writer.sync();
      l.dirty = false;
      synced = true;
    }
    if (synced) this.syncs++;
  }

  private lane(lane: number | undefined): Lane {
    const i = lane ?? 0;
    const l = Number.isInteger(i) ? this.lanes[i] : undefined;
    if (l === undefined) throw invalidArgument(`lane ${String(lane)} is not open (lanes: 0..${this.lanes.length - 1})`);
    return l;
  }

  private ridCounter = 0n;

  /**
   * Rotation keeps put() synchronous: the next segment is opened in the background once the active
   * one is a quarter full, and the writer switches to it when the next frame would cross the size limit.
   * If it is not open yet, the active segment grows past the limit until it is.
   */
  private rotateIfFull(lane: Lane, values: readonly Uint8Array[], from: number, k: number): void {
    const size = lane.writer.size;
    if (lane.next === undefined && lane.ready === undefined && size >= this.opts.segmentSize * PREOPEN_AT) this.preopen(lane);
    let frame = HEADER_SIZE + framePrefixLength(k);
    for (let j = 0; j < k; j++) frame += values[from + j]!.length;
    if (size === 0 || size + frame <= this.opts.segmentSize || lane.ready === undefined) return;
    const { file, seq } = lane.ready;
    lane.ready = undefined;
    lane.writer.switchTo(file, encodeFileId(lane.index, seq));
    lane.seq = seq;
    lane.dirty = true;
  }

  private preopen(lane: Lane): void {
    const seq = lane.seq + 1;
    if (seq > MAX_SEQ) {
      this.backgroundError = new ValueLogError('SEGMENT_ID_RANGE', `valuelog: lane ${lane.index} has no sequence numbers left`);
      return;
    }
    const id = encodeFileId(lane.index, seq);
    lane.next = (async () => {
      const file = await this.storage.open(segmentFileName(id), { create: true });
      await this.manager.refresh();
      return { file, seq };
    })();
    lane.next.then(
      (r) => {
        lane.next = undefined;
        if (this.closed) r.file.close();
        else lane.ready = r;
      },
      (e: unknown) => {
        lane.next = undefined;
        this.backgroundError = e;
      },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: the log is closed');
  }
}

function normalizeOptions(o: ValueLogOptions): Required<Omit<ValueLogOptions, 'salvage'>> {
  const segmentSize = o.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isSafeInteger(segmentSize) || segmentSize < 64 * 1024) throw invalidArgument(`segmentSize must be an integer >= 64 KiB, got ${String(o.segmentSize)}`);
  const lanes = o.lanes ?? 1;
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANE + 1) throw invalidArgument(`lanes must be 1..${MAX_LANE + 1}, got ${String(o.lanes)}`);
  const compression = o.compression ?? 'none';
  if (compression !== 'none' && compression !== 'snappy' && compression !== 'lz4') {
    throw invalidArgument(`compression ${JSON.stringify(compression)} is not available yet (use 'none', 'snappy' or 'lz4'; dictionary modes need the dictionary store)`);
  }
  const bufferSize = o.bufferSize ?? DEFAULT_BUFFER;
  return { segmentSize, lanes, compression, bufferSize };
}
