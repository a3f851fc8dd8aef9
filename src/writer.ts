// Writer (docs/DESIGN.md, "Writing"): appends grouped records to one segment. Records are laid
// out directly in a staging buffer inside the WebAssembly module's memory, checksummed there (no
// copy for the CRC) and reach storage in large writes from views of it (a storage call costs 30-80 µs
// on OPFS), or go straight to storage with writev when they are larger than the buffer. When the
// module's staging budget is spent the buffer is ordinary memory and the CRC copies, as before.
// Pointers are returned before the bytes are visible; flush() makes them visible, sync() durable.
import type { Clock, EncodeCostModel } from './clock.js';
import { asValueLogError, invalidArgument, corrupt, tooLarge, ValueLogError } from './errors.js';
import { BlockCodec, checkBodySize, checkRecordsInto, type FrameContent, framePrefixLength, type LogRecord, writeFrameBody, writeFramePrefix } from './format/frame.js';
import { groupedPtrLength, ptrRecordLength, type ValuePtr } from './format/pointer.js';
import { ModuleRegion } from './codec/module.js';
import { checkRecordSize, sealRecord, sealRecordInModule, writeRecordHeader } from './format/record.js';
import { checkFileId, segmentFileName } from './format/segment.js';
import { FramePreparer, rawFrameStats, type FrameStats } from './frame-preparer.js';
import { FRAME_HEADER_SIZE, FRAME_VERSION, HEADER_SIZE, MAX_FRAME_K, RECORD_FLAG_GROUPED } from './limits.js';
import { checkedStorage } from './storage/checked.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

/** Where a sink-backed writer's bytes go (VirtualSink fits; undefined discards). */
export interface ByteSink {
  /** Takes all of `p`; returns the number of bytes taken. */
  write(p: Uint8Array): number;
}

/** Options of Writer.open and Writer.fromSink. */
export interface WriterOptions {
  /** Staging buffer size in bytes (default 256 KiB, at least 64 KiB). Writes are this large when data allows. */
  bufferSize?: number;
}

/** Options of appending a frame. */
export interface AppendOptions {
  /** zstd dictionary id recorded in the frame (0 or absent: none). */
  dictId?: bigint | number;
  /** The dictionary's bytes: the frame is compressed with zstd when given. */
  dict?: Uint8Array;
}

/** Counts of the calls a writer made to storage. */
export interface WriterIoStats {
  /** Storage write() calls (or sink writes). */
  writes: number;
  /** Storage writev() calls. */
  writevs: number;
  /** Bytes handed to storage or the sink. */
  bytes: number;
  /** Durable syncs (file flush). */
  syncs: number;
}

/**
 * 256 KiB: large enough that OPFS's per-call cost (30-80 µs) is amortised, small enough to stay fast:
 * on the project's VM, 4 MiB writes into the page cache halved append throughput (bench/results/peers.md).
 */
export const DEFAULT_WRITER_BUFFER = 256 * 1024;
const MIN_WRITER_BUFFER = 64 * 1024;
/** writev batches stop below the kernel's IOV_MAX (1024) with headroom, as in Go. */
const MAX_IOVS = 1024 - 64;
const DEFAULT_WRITEV_MIN_BATCH = 8;

/**
 * Appends records and frames to one segment through a staging buffer. Pointers come back at once;
 * flush() hands bytes to storage (visible to readers), sync() makes them durable.
 */
export class Writer {
  private file: StorageFile | undefined;
  private storage: StorageBackend | undefined;
  private sink: ByteSink | undefined;
  private id: number;
  /** File offset where the staging buffer starts (everything before it was handed to storage). */
  private flushed: number;
  /** Staging buffer size in bytes. */
  private readonly cap: number;
  /**
   * The staging buffer, chosen on first use: a region of module memory (records are checksummed
   * where they lie), or, when the module's staging budget is spent, ordinary memory (jsStaging).
   * Views of the region are taken anew for each use (stagingView) and never kept across a call that
   * may grow the module's memory. Storage calls are synchronous, so a staged byte is never
   * overwritten before the write that hands it to storage has returned; after a failed write the
   * writer stops and never writes the buffer again.
   */
  private region: ModuleRegion | undefined;
  private jsStaging: Uint8Array | undefined;
  private pending = 0;
  private closed = false;
  private readonly preparer = new FramePreparer(true);
  private writevMinAvgBytes = 0;
  private writevMinBatchRecs = DEFAULT_WRITEV_MIN_BATCH;
  private readonly io: WriterIoStats = { writes: 0, writevs: 0, bytes: 0, syncs: 0 };
  private failed: ValueLogError | undefined;
  /**
   * Called once, with the first storage failure that makes the writer stop (see `failure`), so that
   * the owner (ValueLog) stops acknowledging too.
   */
  onFailure: ((err: ValueLogError) => void) | undefined;

  private constructor(fileId: number, size: number, bufferSize: number | undefined) {
    this.id = fileId;
    this.flushed = size;
    const cap = bufferSize === undefined ? DEFAULT_WRITER_BUFFER : bufferSize;
    if (!Number.isSafeInteger(cap) || cap < MIN_WRITER_BUFFER) throw invalidArgument(`bufferSize must be an integer >= ${MIN_WRITER_BUFFER}, got ${String(bufferSize)}`);
    this.cap = cap;
  }

  /** Opens (creating if needed) the segment for `fileId` and appends after its current end. */
  static async open(storage: StorageBackend, fileId: number, opts: WriterOptions = {}): Promise<Writer> {
    const id = checkFileId(fileId);
    const checked = checkedStorage(storage);
    const file = await openForAppend(checked, id);
    const w = new Writer(id, file.size(), opts.bufferSize);
    w.file = file;
    w.storage = checked;
    return w;
  }

  /** A writer whose bytes go to a sink (simulated I/O). sync() is a no-op; close() does not flush. */
  static fromSink(sink: ByteSink | undefined, fileId: number, opts: WriterOptions = {}): Writer {
    const w = new Writer(checkFileId(fileId), 0, opts.bufferSize);
    w.sink = sink ?? { write: (p) => p.length };
    return w;
  }

  /** The segment's file id. */
  get fileId(): number {
    return this.id;
  }

  /** Logical end of the segment, including bytes not yet flushed. */
  get size(): number {
    return this.flushed + this.pending;
  }

  /** Bytes already handed to storage: readers see everything below this offset. */
  get flushedSize(): number {
    return this.flushed;
  }

  /** Bytes staged in memory, not yet handed to storage. */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * The first write, writev or sync failure, if there was one. After it nothing the writer handed to
   * storage since the last successful sync can be trusted to be durable (a failed fsync may have
   * dropped those pages), so every later append, flush and sync throws IO until the log is reopened.
   */
  get failure(): ValueLogError | undefined {
    return this.failed;
  }

  /** Counts of storage calls so far (a copy). */
  ioStats(): WriterIoStats {
    return { ...this.io };
  }

  // ---------------------------------------------------------------------------------------------
  // Settings (forwarded to the frame preparer, which owns every compression decision)

  /** Block compression of frames without a dictionary (None or an unknown id selects Snappy, as in Go). */
  setBlockCompression(codec: BlockCodec | number, enabled: boolean): void {
    this.preparer.setBlockCompression(codec, enabled);
  }
  /** The keep rule's costs (see FramePreparer.setKeepPolicy). */
  setKeepPolicy(ioNsPerStoredByte: number, encodeNsPerRawByte: number, safetyMargin: number): void {
    this.preparer.setKeepPolicy(ioNsPerStoredByte, encodeNsPerRawByte, safetyMargin);
  }
  /** 0 = never measure encode time, 1 = every attempt, n = every n-th attempt. */
  setEncodeSampleStride(n: number): void {
    this.preparer.setEncodeSampleStride(n);
  }
  /** Clock used to time sampled encodes (undefined or null: the real clock). */
  setClock(clock: Clock | undefined | null): void {
    this.preparer.setClock(clock);
  }
  /** Replaces measured encode times with a model (undefined or null: measure). */
  setEncodeCostModel(model: EncodeCostModel | undefined | null): void {
    this.preparer.setEncodeCostModel(model);
  }
  /** zstd level of dictionary frames (outside 1..19: fastest) and whether literals are entropy-coded. */
  setDictFrameEncoderOptions(level: number, enableEntropy: boolean): void {
    this.preparer.setDictFrameEncoderOptions(level, enableEntropy);
  }
  /** Forgets the compression backoff state. */
  resetCompressionHints(): void {
    this.preparer.resetCompressionHints();
  }
  /** Current compression backoff state (for tests and diagnostics). */
  compressionHints(): { noBenefit: number; skipRemain: number; skipDictId: bigint } {
    return this.preparer.compressionHints();
  }
  /** minAvgBytes < 0 → 0 (no floor); minBatchRecs <= 0 → 8. */
  setRawWritevStrategy(minAvgBytes: number, minBatchRecs: number): void {
    this.writevMinAvgBytes = minAvgBytes > 0 ? minAvgBytes : 0;
    this.writevMinBatchRecs = minBatchRecs > 0 ? Math.floor(minBatchRecs) : DEFAULT_WRITEV_MIN_BATCH;
  }

  // ---------------------------------------------------------------------------------------------
  // Appends

  /** Appends one value as a K=1 frame (compressed per the dictionary or block settings). */
  append(rid: bigint | number, value: Uint8Array, opts: AppendOptions = {}): ValuePtr {
    return this.appendFrame([{ rid, value }], opts).ptrs[0]!;
  }

  /** Appends 1..128 records as one frame; returns a pointer per record and the frame's stats. */
  appendFrame(records: readonly LogRecord[], opts: AppendOptions = {}): { ptrs: ValuePtr[]; stats: FrameStats } {
    this.checkOpen();
    if (Array.isArray(records) && records.length === 0) return { ptrs: [], stats: emptyStats() };
    if (this.preparer.storesRaw(opts.dictId)) {
      // What prepareParts would decide, without its BigInt RIDs and per-frame objects.
      const rids: (bigint | number)[] = [];
      const values: Uint8Array[] = [];
      const rawLength = checkRecordsInto(records, missingRid, rids, values);
      const ptrs = this.writeFrame({ flags: 0, reserved: 0, dictId: 0n, rids, values, stored: undefined }, framePrefixLength(rids.length) + rawLength);
      return { ptrs, stats: rawFrameStats(rids.length, rawLength) };
    }
    const p = this.preparer.prepareParts(opts.dictId ?? 0, opts.dict, records);
    return { ptrs: this.writeFrame(p, p.bodyLength), stats: p.stats };
  }

  /**
   * Appends a body made by encodeFrame or FramePreparer, unchanged (its RIDs and offsets are not
   * re-validated). k <= 0 appends nothing.
   */
  appendEncodedFrame(body: Uint8Array, k: number): ValuePtr[] {
    this.checkOpen();
    if (!Number.isInteger(k) || k <= 0) return [];
    if (k > MAX_FRAME_K) throw tooLarge(`frame of ${k} records exceeds ${MAX_FRAME_K}`);
    if (!(body instanceof Uint8Array)) throw invalidArgument('body must be a Uint8Array');
    if (body.length < FRAME_HEADER_SIZE || body[0] !== FRAME_VERSION || body[2] !== k) throw corrupt('encoded frame body does not match k');
    checkBodySize(body.length);
    const start = this.size;
    const at = this.stage(HEADER_SIZE + body.length);
    if (at < 0) this.writeRecordDirect([body]);
    else {
      this.stagingView().set(body, at + HEADER_SIZE);
      this.sealStaged(at, body.length);
    }
    return framePointers(start, body.length, k, this.id);
  }

  /**
   * Appends a complete record (CRC included) verbatim, e.g. copied from another segment. `length`
   * is returned unchanged in the pointer; its record-length part, if non-zero, must match the record.
   */
  appendRawRecord(raw: Uint8Array, length: number): ValuePtr {
    this.checkOpen();
    if (!(raw instanceof Uint8Array) || raw.length < 4) throw invalidArgument('empty record');
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw invalidArgument(`pointer length ${String(length)} is not a u32`);
    const recLen = ptrRecordLength({ offset: 4, length, fileId: this.id });
    if (recLen !== 0 && recLen !== raw.length - 4) throw invalidArgument('raw record size mismatch');
    checkRecordSize(raw.length - HEADER_SIZE);
    const start = this.size;
    this.writeBytes(raw);
    return { offset: start + 4, length: length >>> 0, fileId: this.id };
  }

  /**
   * Appends records as raw frames of k (the last may be shorter). When the batch is large enough and
   * the storage has writev, frames go straight to storage without staging copies; otherwise
   * each chunk is appended like appendFrame (block compression applies there).
   */
  appendRawFrames(records: readonly LogRecord[], k: number): { ptrs: ValuePtr[]; stats: FrameStats } {
    this.checkOpen();
    if (!Number.isInteger(k) || k <= 0 || k > MAX_FRAME_K) throw tooLarge(`k must be 1..${MAX_FRAME_K}, got ${String(k)}`);
    if (!Array.isArray(records)) throw invalidArgument('records must be an array');
    if (records.length === 0) return { ptrs: [], stats: emptyStats() };
    if (this.rawWritevDecision(records, k)) return this.appendRawFramesWritev(records, k);
    const ptrs: ValuePtr[] = [];
    const stats = emptyStats();
    for (let i = 0; i < records.length; i += k) {
      const r = this.appendFrame(records.slice(i, i + k));
      ptrs.push(...r.ptrs);
      addStats(stats, r.stats);
    }
    return { ptrs, stats };
  }

  /** Whether appendRawFrames would take the writev path for these records (the Go writer's rule). */
  rawWritevDecision(records: readonly LogRecord[], k: number): boolean {
    if (this.file === undefined || typeof this.file.writev !== 'function') return false;
    if (records.length < this.writevMinBatchRecs) return false;
    if (this.writevMinAvgBytes > 0) {
      let total = 0;
      for (const r of records) total += r.value.length;
      if (total / records.length < this.writevMinAvgBytes) return false;
    }
    const maxBytes = this.cap;
    // Predicted storage calls with writev: each frame needs 2 + K iovecs (header, prefix, values).
    let writevCalls = 0;
    let iovs = 0;
    let bytes = 0;
    // Predicted calls through the staging buffer, starting from what it already holds.
    let fallbackCalls = 0;
    let pending = this.pending;
    for (let i = 0; i < records.length; i += k) {
      const chunk = records.slice(i, i + k);
      let raw = 0;
      for (const r of chunk) raw += r.value.length;
      const frameBytes = HEADER_SIZE + framePrefixLength(chunk.length) + raw;
      const frameIovs = 2 + chunk.length;
      if (iovs > 0 && (iovs + frameIovs > MAX_IOVS || bytes + frameBytes > maxBytes)) {
        writevCalls++;
        iovs = 0;
        bytes = 0;
      }
      iovs += frameIovs;
      bytes += frameBytes;
      if (frameBytes >= maxBytes) {
        if (pending > 0) fallbackCalls++;
        fallbackCalls++;
        pending = 0;
      } else {
        if (pending + frameBytes > maxBytes) {
          fallbackCalls++;
          pending = 0;
        }
        pending += frameBytes;
        if (pending >= maxBytes) {
          fallbackCalls++;
          pending = 0;
        }
      }
    }
    if (iovs > 0) writevCalls++;
    if (pending > 0) fallbackCalls++;
    return writevCalls <= fallbackCalls;
  }

  private appendRawFramesWritev(records: readonly LogRecord[], k: number): { ptrs: ValuePtr[]; stats: FrameStats } {
    this.flush();
    const file = this.file!;
    const ptrs: ValuePtr[] = [];
    const stats = emptyStats();
    let queue: Uint8Array[] = [];
    let queueBytes = 0;
    const maxBytes = this.cap;
    const drain = () => {
      if (queue.length === 0) return;
      this.countedWritev(file, queue, this.flushed, queueBytes);
      this.flushed += queueBytes;
      queue = [];
      queueBytes = 0;
    };
    let at = this.flushed;
    for (let i = 0; i < records.length; i += k) {
      const chunk = records.slice(i, i + k);
      const rids: (bigint | number)[] = [];
      const values: Uint8Array[] = [];
      const rawLength = checkRecordsInto(chunk, missingRid, rids, values);
      const bodyLength = framePrefixLength(rids.length) + rawLength;
      checkBodySize(bodyLength);
      const frameIovs = 2 + values.length;
      const frameBytes = HEADER_SIZE + bodyLength;
      if (queue.length > 0 && (queue.length + frameIovs > MAX_IOVS || queueBytes + frameBytes > maxBytes)) drain();
      const head = new Uint8Array(HEADER_SIZE + framePrefixLength(rids.length));
      writeFramePrefix(head, HEADER_SIZE, { flags: 0, reserved: 0, dictId: 0n, rids, values, stored: undefined });
      const prefix = head.subarray(HEADER_SIZE);
      writeRecordHeader(head, 0, RECORD_FLAG_GROUPED, 0n, [prefix, ...values]);
      queue.push(head.subarray(0, HEADER_SIZE), prefix, ...values);
      queueBytes += frameBytes;
      ptrs.push(...framePointers(at, bodyLength, rids.length, this.id));
      at += frameBytes;
      addStats(stats, rawFrameStats(rids.length, rawLength));
    }
    drain(); // always, so that the caller's arrays are not retained
    return { ptrs, stats };
  }

  // ---------------------------------------------------------------------------------------------
  // Durability

  /** Hands staged bytes to storage (or the sink). Not durable until sync(). */
  flush(): void {
    if (this.closed) return;
    this.flushStaging();
  }

  /** flush() and make the segment durable (no-op for sink-backed writers). */
  sync(): void {
    this.checkOpen();
    this.flushStaging();
    if (this.file) {
      this.storageCall(this.file, (f) => f.flush());
      this.io.syncs++;
    }
  }

  /**
   * Seals the current segment (flush + sync) and continues in segment `fileId` (created if needed,
   * appending after its current end). A sink-backed writer becomes storage-backed on `storage`.
   */
  async rotateTo(fileId: number, storage?: StorageBackend): Promise<void> {
    this.checkOpen();
    const id = checkFileId(fileId);
    const target = storage === undefined ? this.storage : checkedStorage(storage);
    if (target === undefined) throw invalidArgument('rotateTo on a sink-backed writer needs a storage backend');
    this.flushStaging();
    const next = await openForAppend(target, id);
    this.storage = target;
    this.switchTo(next, id);
  }

  /**
   * Synchronous half of rotateTo, for callers that opened the next segment ahead of time: flushes
   * and syncs the current segment, continues in `file` (after its current end) and closes the old one.
   */
  switchTo(file: StorageFile, fileId: number): void {
    this.checkOpen();
    const id = checkFileId(fileId);
    const size = file.size(); // before anything is written: a failure here loses nothing
    this.flushStaging();
    const old = this.file;
    if (old) {
      this.storageCall(old, (f) => f.flush());
      this.io.syncs++;
    }
    this.file = file;
    this.sink = undefined;
    this.id = id;
    this.flushed = size;
    this.pending = 0;
    if (old) old.close();
  }

  /** Flushes (storage-backed) and closes. No sync: call sync() first for durability. Sink writers are not flushed. */
  close(): void {
    if (this.closed) return;
    let err: unknown;
    if (this.file) {
      try {
        if (this.failed === undefined) this.flushStaging();
      } catch (e) {
        err = e;
      }
      this.file.close();
    }
    this.closed = true;
    this.region?.release();
    this.region = undefined;
    this.jsStaging = undefined;
    if (err !== undefined) throw err;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', `valuelog: writer for ${segmentFileName(this.id)} is closed`);
    if (this.failed !== undefined) throw stoppedError(this.failed);
  }

  /**
   * Runs a write, writev or sync on a file; a failure stops the writer for good (fail-stop): the
   * bytes of that call, and for a sync every byte written since the last good one, may be lost.
   */
  private storageCall<T>(file: StorageFile, op: (f: StorageFile) => T): T {
    try {
      return op(file);
    } catch (e) {
      if (this.failed === undefined) {
        this.failed = asValueLogError(e, 'IO', `writing ${segmentFileName(this.id)}`);
        this.onFailure?.(this.failed);
      }
      throw stoppedError(this.failed);
    }
  }

  /**
   * Writes a decided frame as one grouped record and returns its pointers: laid out
   * and checksummed in place in the staging buffer when it fits, otherwise straight to storage.
   */
  private writeFrame(frame: FrameContent, bodyLength: number): ValuePtr[] {
    const start = this.size;
    const at = this.stage(HEADER_SIZE + bodyLength);
    if (at < 0) {
      const prefix = new Uint8Array(framePrefixLength(frame.rids.length));
      writeFramePrefix(prefix, 0, frame);
      this.writeRecordDirect(frame.stored ? [prefix, frame.stored] : [prefix, ...frame.values]);
    } else {
      writeFrameBody(this.stagingView(), at + HEADER_SIZE, frame);
      this.sealStaged(at, bodyLength);
    }
    return framePointers(start, bodyLength, frame.rids.length, this.id);
  }

  /**
   * Makes room for a record of `total` bytes in the staging buffer and returns where it starts there,
   * or -1 when it is larger than the buffer (it then goes to storage with writeRecordDirect).
   */
  private stage(total: number): number {
    if (total > this.cap) return -1;
    this.chooseStaging();
    if (this.pending + total > this.cap) this.flushStaging();
    return this.pending;
  }

  /** Picks the staging buffer on first use (the region's allocation may grow module memory). */
  private chooseStaging(): void {
    if (this.region !== undefined || this.jsStaging !== undefined) return;
    this.region = ModuleRegion.acquire(this.cap, this);
    if (this.region === undefined) this.jsStaging = new Uint8Array(this.cap);
  }

  /** The staging buffer as a view valid until the next call that may grow module memory. */
  private stagingView(): Uint8Array {
    return this.region !== undefined ? this.region.view() : this.jsStaging!;
  }

  /** Writes the header of the grouped record whose body was laid out after staging[at + 20] and keeps it. */
  private sealStaged(at: number, bodyLength: number): void {
    if (this.region !== undefined) sealRecordInModule(this.region.ptr + at, RECORD_FLAG_GROUPED, 0, bodyLength);
    else sealRecord(this.jsStaging!, at, RECORD_FLAG_GROUPED, 0, bodyLength);
    this.pending += HEADER_SIZE + bodyLength;
  }

  /** A grouped record larger than the buffer: its header and body go to storage, in one writev where possible. */
  private writeRecordDirect(body: Uint8Array[]): void {
    const header = new Uint8Array(HEADER_SIZE);
    writeRecordHeader(header, 0, RECORD_FLAG_GROUPED, 0, body);
    let total = HEADER_SIZE;
    for (const b of body) total += b.length;
    this.flushStaging();
    this.writeDirect([header, ...body], total);
  }

  /** Appends bytes as they are (a raw record copy). */
  private writeBytes(raw: Uint8Array): void {
    if (raw.length <= this.cap) {
      this.chooseStaging();
      if (this.pending + raw.length > this.cap) this.flushStaging();
      this.stagingView().set(raw, this.pending);
      this.pending += raw.length;
      return;
    }
    this.flushStaging();
    this.writeDirect([raw], raw.length);
  }

  private writeDirect(parts: Uint8Array[], total: number): void {
    if (this.file) {
      if (typeof this.file.writev === 'function' && parts.length > 1) this.countedWritev(this.file, parts, this.flushed, total);
      else {
        let at = this.flushed;
        for (const p of parts) {
          this.writeAt(this.file, p, at);
          at += p.length;
          this.io.writes++;
        }
        this.io.bytes += total;
      }
    } else {
      for (const p of parts) this.sinkWrite(p);
    }
    this.flushed += total;
  }

  /** One write whose count is checked: a short or bogus count is a failure (fail-stop). */
  private writeAt(file: StorageFile, src: Uint8Array, at: number): void {
    const n = this.storageCall(file, (f) => f.write(src, at));
    if (n !== src.length) this.storageCall(file, () => { throw new ValueLogError('IO', `valuelog: short write (${String(n)} of ${src.length} bytes)`); });
  }

  private countedWritev(file: StorageFile, parts: Uint8Array[], at: number, total: number): void {
    const n = this.storageCall(file, (f) => f.writev!(parts, at));
    if (n !== total) this.storageCall(file, () => { throw new ValueLogError('IO', `valuelog: short writev (${n} of ${total} bytes)`); });
    this.io.writevs++;
    this.io.bytes += total;
  }

  private sinkWrite(p: Uint8Array): void {
    const n = this.sink!.write(p);
    if (n !== p.length) throw new ValueLogError('IO', `valuelog: short write to sink (${n} of ${p.length} bytes)`);
    this.io.writes++;
    this.io.bytes += p.length;
  }

  private flushStaging(): void {
    if (this.failed !== undefined) throw stoppedError(this.failed);
    if (this.pending === 0) return;
    // A view taken just before the write: the write cannot grow module memory.
    const data = this.stagingView().subarray(0, this.pending);
    if (this.file) {
      this.writeAt(this.file, data, this.flushed);
      this.io.writes++;
      this.io.bytes += data.length;
    } else {
      this.sinkWrite(data);
    }
    // Only after the write succeeded (a failed one stops the writer: see `failure`).
    this.flushed += this.pending;
    this.pending = 0;
  }
}

async function openForAppend(storage: StorageBackend, fileId: number): Promise<StorageFile> {
  const name = segmentFileName(fileId);
  try {
    return await storage.open(name);
  } catch (e) {
    if (!(e instanceof ValueLogError) || e.code !== 'NOT_FOUND') throw e;
  }
  // A new segment: the backend makes its directory entry durable when it creates the file.
  return storage.open(name, { create: true });
}

/** The error every call gets once a writer stopped: names the first failure, keeps it as cause. */
export function stoppedError(first: ValueLogError): ValueLogError {
  return new ValueLogError('IO', `valuelog: writes stopped after a storage failure (${first.message.replace(/^valuelog: /, '')}); reopen to recover`, { cause: first });
}

function missingRid(): ValueLogError {
  return invalidArgument('missing rid');
}

function framePointers(recordStart: number, bodyLength: number, k: number, fileId: number): ValuePtr[] {
  const ptrs: ValuePtr[] = new Array<ValuePtr>(k);
  for (let i = 0; i < k; i++) ptrs[i] = { offset: recordStart + 4, length: groupedPtrLength(16 + bodyLength, i), fileId };
  return ptrs;
}

function emptyStats(): FrameStats {
  return { records: 0, rawPayloadBytes: 0, storedPayloadBytes: 0, attempted: false, kept: false, encodeNs: 0 };
}

function addStats(into: FrameStats, s: FrameStats): void {
  into.records += s.records;
  into.rawPayloadBytes += s.rawPayloadBytes;
  into.storedPayloadBytes += s.storedPayloadBytes;
  into.attempted ||= s.attempted;
  into.kept ||= s.kept;
  into.encodeNs += s.encodeNs;
}
