// ValueLog: the application facade. It recovers torn tails on open, keeps one writer per lane,
// rotates segments by size, batches concurrent commits into one sync (group commit), and hands out
// snapshots that pin the segments they can read.
import { invalidArgument, ValueLogError } from './errors.js';
import { BlockCodec, framePrefixLength } from './format/frame.js';
import { checkValuePtr, ptrKey, type ValuePtr } from './format/pointer.js';
import { decodeFileId, encodeFileId, MAX_LANE, MAX_SEQ, parseSegmentFileName, segmentFileName } from './format/segment.js';
import { HEADER_SIZE, MAX_FRAME_K } from './limits.js';
import { Manager, type ValueSet } from './manager.js';
import { chooseBlockGroupK } from './policy.js';
import { GarbageTracker } from './garbage.js';
import { Reader, type ReaderEntry } from './reader.js';
import { recoverSegment, type SegmentRecovery } from './recovery.js';
import type { StorageBackend, StorageFile } from './storage/types.js';
import { DEFAULT_WRITER_BUFFER, Writer } from './writer.js';

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
  /** Each writer's staging buffer (default 256 KiB). */
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
  /** Bytes of values marked dead (each value's share of its record), and what that leaves live. */
  deadBytes: number;
  liveBytes: number;
  /** deadBytes / bytes (0 for an empty segment). */
  garbageRatio: number;
  deadValues: number;
  /** Compacted away; deleted when the last snapshot holding it is released. */
  zombie: boolean;
}

export interface CompactOptions {
  /** Compact sealed segments whose garbage ratio is at least this (default 0.5). */
  minGarbageRatio?: number;
  /** Stop after segments totalling this many bytes (default: no limit). */
  maxBytes?: number;
}

/** Old pointer → new pointer for every live value that compaction moved; looked up by pointer value. */
export class PointerRemap implements Iterable<[ValuePtr, ValuePtr]> {
  private readonly map = new Map<string, [ValuePtr, ValuePtr]>();
  /** Segments whose live values were copied (now zombies). */
  readonly compactedSegments: number[] = [];
  /** @internal */
  set(oldPtr: ValuePtr, newPtr: ValuePtr): void {
    this.map.set(ptrKey(oldPtr), [oldPtr, newPtr]);
  }
  get(oldPtr: ValuePtr): ValuePtr | undefined {
    return this.map.get(ptrKey(oldPtr))?.[1];
  }
  get size(): number {
    return this.map.size;
  }
  [Symbol.iterator](): Iterator<[ValuePtr, ValuePtr]> {
    return this.map.values();
  }
}

export interface ValueLogStats {
  segments: SegmentStats[];
  totalBytes: number;
  deadBytes: number;
  /** What open() did to torn tails (empty when every segment was clean). */
  recovered: SegmentRecovery[];
  puts: number;
  commits: number;
  /** Durable syncs actually issued: fewer than commits when concurrent commits were grouped. */
  syncs: number;
}

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
const DEFAULT_BUFFER = DEFAULT_WRITER_BUFFER;
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
  private readonly garbage = new GarbageTracker();

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
    const tracked = new Set(manager.segmentInfo().map((x) => x.id));
    for (const name of await storage.list()) {
      const id = name.endsWith('.dead') ? parseSegmentFileName(name.replace(/\.dead$/, '.log')) : undefined;
      if (id === undefined) continue;
      if (tracked.has(id)) await log.garbage.load(storage, id);
      else await storage.remove(name); // its segment was deleted before the sidecar could be
    }
    manager.onSegmentDeleted = (id) => log.garbage.drop(storage, id);
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
      let frameBytes = HEADER_SIZE + framePrefixLength(k);
      for (let j = 0; j < k; j++) frameBytes += values[i + j]!.length;
      this.rotateIfFull(lane, frameBytes);
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
    this.pendingCommit ??= (async () => {
      await Promise.resolve(); // let the commits issued in this turn join
      this.pendingCommit = undefined;
      await this.garbage.persist(this.storage);
      this.syncAll();
      // A lane already past its segment size waits for its pre-opened successor here, so that a loop
      // of put + commit that never yields to the event loop still rotates (bounded overshoot).
      const behind = this.lanes.filter((l) => l.next !== undefined && l.writer.size >= this.opts.segmentSize);
      if (behind.length > 0) await Promise.all(behind.map((l) => l.next!.catch(() => {})));
    })();
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
      return this.segmentStats(s.name, s.id, lane, seq, writer ? writer.size : s.bytes, activeIds.has(s.id), s.refCount, s.zombie);
    });
    for (const l of this.lanes) {
      if (!segments.some((s) => s.fileId === l.writer.fileId)) {
        segments.push(this.segmentStats(segmentFileName(l.writer.fileId), l.writer.fileId, l.index, l.seq, l.writer.size, true, 0, false));
      }
    }
    segments.sort((a, b) => a.fileId - b.fileId);
    return {
      segments,
      totalBytes: segments.reduce((a, s) => a + s.bytes, 0),
      deadBytes: segments.reduce((a, s) => a + s.deadBytes, 0),
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
      await this.garbage.persist(this.storage);
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

  /**
   * Records that values are no longer referenced. Their bytes count as garbage of their segment
   * (stats().segments[].garbageRatio) and compact() leaves them behind. Marking a value twice is
   * harmless. The marks become durable with the next commit(). Returns how many marks were new.
   */
  markDead(ptrs: ValuePtr | readonly ValuePtr[]): number {
    this.checkOpen();
    const list = Array.isArray(ptrs) ? ptrs : [ptrs as ValuePtr];
    let added = 0;
    for (const ptr of list) {
      if (this.garbage.isDead(ptr)) continue;
      this.makeVisible(ptr);
      if (this.garbage.mark(ptr, this.manager.valueBytes(ptr))) added++;
    }
    return added;
  }

  /**
   * Copies the live values of sealed segments whose garbage ratio is at least `minGarbageRatio` into
   * the active segment of their lane (a record whose values are all live is copied byte for byte;
   * others are re-framed), makes the copies durable, and returns old → new pointers for the caller's
   * index. The old segments become zombies: deleted as soon as no snapshot holds them. Take a
   * snapshot before compacting and release it once your index durably points at the new pointers.
   */
  async compact(opts: CompactOptions = {}): Promise<PointerRemap> {
    this.checkOpen();
    const minRatio = opts.minGarbageRatio ?? 0.5;
    const maxBytes = opts.maxBytes ?? Infinity;
    if (!(minRatio >= 0 && minRatio <= 1)) throw invalidArgument(`minGarbageRatio must be in 0..1, got ${String(opts.minGarbageRatio)}`);
    if (!(maxBytes > 0)) throw invalidArgument(`maxBytes must be positive, got ${String(opts.maxBytes)}`);
    await this.commit();
    const candidates = this.stats()
      .segments.filter((x) => !x.active && !x.zombie && x.bytes > 0 && x.garbageRatio >= minRatio && !this.isSpare(x.fileId))
      .sort((a, b) => b.garbageRatio - a.garbageRatio);
    const remap = new PointerRemap();
    let budget = maxBytes;
    for (const seg of candidates) {
      if (seg.bytes > budget && remap.compactedSegments.length > 0) break;
      budget -= seg.bytes;
      await this.compactSegment(seg.fileId, this.lanes[seg.lane] ?? this.lanes[0]!, remap);
      remap.compactedSegments.push(seg.fileId);
    }
    await this.commit();
    for (const id of remap.compactedSegments) {
      this.manager.markZombie(id);
      // Unpinned: delete now; pinned: the last release of a snapshot deletes it.
      if (this.manager.segmentInfo().find((x) => x.id === id)?.refCount === 0) await this.manager.removeSegment(id);
    }
    return remap;
  }

  private async compactSegment(id: number, lane: Lane, remap: PointerRemap): Promise<void> {
    const reader = await Reader.open(this.storage, id);
    const file = await this.storage.open(segmentFileName(id), { readOnly: true });
    try {
      let frame: ReaderEntry[] = [];
      const flush = () => {
        if (frame.length === 0) return;
        const live = frame.filter((e) => !this.garbage.isDead(e.ptr));
        if (live.length === frame.length) {
          // Wholly live: copy the record byte for byte; every value keeps its sub-index and hint.
          const first = frame[0]!.ptr;
          const head = new Uint8Array(HEADER_SIZE);
          file.read(head, first.offset - 4);
          const len = HEADER_SIZE + new DataView(head.buffer).getUint32(16, true);
          const raw = new Uint8Array(len);
          file.read(raw, first.offset - 4);
          this.rotateIfFull(lane, len);
          const copied = lane.writer.appendRawRecord(raw, first.length);
          for (const e of frame) remap.set(e.ptr, { offset: copied.offset, length: e.ptr.length, fileId: copied.fileId });
        } else if (live.length > 0) {
          let bytes = HEADER_SIZE + framePrefixLength(live.length);
          for (const e of live) bytes += e.value!.length;
          this.rotateIfFull(lane, bytes);
          const { ptrs } = lane.writer.appendFrame(live.map((e) => ({ rid: e.rid, value: e.value! })));
          live.forEach((e, i) => remap.set(e.ptr, ptrs[i]!));
        }
        lane.dirty = true;
        frame = [];
      };
      for (const e of reader) {
        if (frame.length > 0 && e.ptr.offset !== frame[0]!.ptr.offset) flush();
        frame.push(e);
      }
      flush();
    } finally {
      reader.close();
      file.close();
    }
  }

  private isSpare(id: number): boolean {
    return this.lanes.some((l) => l.ready !== undefined && encodeFileId(l.index, l.ready.seq) === id);
  }

  private segmentStats(name: string, fileId: number, lane: number, seq: number, bytes: number, active: boolean, pins: number, zombie: boolean): SegmentStats {
    const deadBytes = Math.min(bytes, this.garbage.deadBytes(fileId));
    return {
      name, fileId, lane, seq, bytes, active, pins, zombie,
      deadBytes,
      liveBytes: bytes - deadBytes,
      garbageRatio: bytes > 0 ? deadBytes / bytes : 0,
      deadValues: this.garbage.deadValues(fileId),
    };
  }

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
  private rotateIfFull(lane: Lane, recordBytes: number): void {
    const size = lane.writer.size;
    if (lane.next === undefined && lane.ready === undefined && size >= this.opts.segmentSize * PREOPEN_AT) this.preopen(lane);
    if (size === 0 || size + recordBytes <= this.opts.segmentSize || lane.ready === undefined) return;
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
