// ValueLog: the application facade. It opens (recovering torn tails), checks every call, and hands
// the work to the module whose one job it is: the lanes with their writers, rotation and syncs
// (lanes.ts), the compression mode with its codec choice and dictionary training
// (compression-mode.ts), compaction and its remap (compactor.ts), dead values (garbage.ts), and the
// segments with their snapshots (manager.ts). commit() decides what is durable (docs/DESIGN.md).
import { DictionaryStore } from './dictionaries.js';
import { CompressionMode, uncompressedRecordBytes } from './compression-mode.js';
import { Compactor } from './compactor.js';
import { asValueLogError, invalidArgument, ValueLogError } from './errors.js';
import type { DictLookup } from './format/frame.js';
import { checkValuePtr, type ValuePtr } from './format/pointer.js';
import { decodeFileId, encodeFileId, parseSegmentFileName, segmentFileName } from './format/segment.js';
import { DICT_HIGHWATER_NAME, parseDictFileName } from './format/dictionary.js';
import { checkDeadPointers, GarbageTracker } from './garbage.js';
import { LaneSet } from './lanes.js';
import { checkStorageBackend, checkTrainOptions, normalizeCompactOptions, normalizeOptions, putLaneOption, type CompactOptions, type DictionaryTrainOptions, type NormalizedOptions, type PutOptions, type ValueLogOptions } from './log-options.js';
import { lastSegmentPerLane, segmentStats, type SegmentStats, type ValueLogStats } from './log-stats.js';
import { macrotask } from './macrotask.js';
import { Manager, type ValueSet } from './manager.js';
import { type Opened, undoOpen } from './opening.js';
import { describe } from './options.js';
import { Reader, type ReaderEntry } from './reader.js';
import { createFreshSegments, createReservedSegments, leftDirty, markClean, markDirty, recoverLanes, type SegmentRecovery } from './recovery.js';
import type { PointerRemap } from './remap.js';
import { checkedStorage } from './storage/checked.js';
import { DeferredCreationStorage } from './storage/deferred.js';
import type { StorageBackend, StorageLock } from './storage/types.js';
import { stoppedError, Writer } from './writer.js';

/** commit() gives the event loop a turn when this long passed since it last did. */
const YIELD_EVERY_MS = 2;

/** A pinned view of the segments that existed when it was taken. */
export class Snapshot {
  private released = false;
  /** @internal */
  constructor(
    private readonly log: ValueLog,
    private readonly set: ValueSet,
  ) {}

  /**
   * A copy of the value the pointer names; NOT_FOUND when its segment is not in the snapshot,
   * INVALID_ARGUMENT after release().
   */
  get(ptr: ValuePtr): Uint8Array {
    if (this.released) throw invalidArgument('read through a released snapshot');
    this.log.makeVisible(ptr);
    return this.set.read(ptr);
  }

  /**
   * Unpins the snapshot's segments (compacted ones are deleted once nothing holds them); releasing
   * twice is INVALID_ARGUMENT.
   */
  async release(): Promise<void> {
    if (this.released) throw invalidArgument('snapshot released twice');
    this.released = true;
    await this.log.releaseSet(this.set);
  }
}


/**
 * The application facade: a value log in a StorageBackend, with lanes and rotation, group commit,
 * compression modes and dictionary training, dead values, compaction and snapshots (see README and
 * docs/DESIGN.md).
 */
export class ValueLog {
  private closed = false;
  /** close() has begun. */
  private closing = false;
  private closeRun: Promise<void> | undefined;
  private puts = 0;
  private commits = 0;
  private pendingCommit: Promise<void> | undefined;
  /** When commit() last gave the event loop a turn. */
  private lastYield = 0;
  private readonly garbage = new GarbageTracker();
  private readonly compression: CompressionMode;
  private readonly lanes: LaneSet;
  private readonly compactor: Compactor;
  private readOnly = false;
  private lockHandle: StorageLock | undefined;
  /** Read-only: the dictionary file names the store was loaded from (reloaded when they change). */
  private dictNames = '';
  /** Resolves frames' dictionaries: the store, then options.dictionaries (see foreign-dictionaries.ts). */
  private readonly dictLookup: DictLookup;

  private constructor(
    private readonly storage: StorageBackend,
    private readonly manager: Manager,
    private readonly opts: NormalizedOptions,
    private readonly recovered: SegmentRecovery[],
    private dicts: DictionaryStore,
    makeLanes: (log: ValueLog) => LaneSet,
  ) {
    const foreign = opts.dictionaries;
    this.dictLookup = foreign ? foreign.lookupOver(() => this.dicts) : (id) => this.dicts.lookup(id);
    manager.setDictLookup(this.dictLookup);
    this.compression = new CompressionMode(opts, () => this.dicts);
    this.lanes = makeLanes(this);
    for (const l of this.lanes.all) this.compression.configure(l.writer);
    this.compactor = new Compactor(storage, manager, this.garbage, this.lanes, this.compression, this.dictLookup, {
      commit: () => this.commit(),
      checkWritable: (op) => this.checkWritable(op),
      segments: () => this.segmentStats(),
      closing: () => this.closing,
      closed: () => this.closed,
    });
  }

  /**
   * Opens (or creates) the log in `storage`. Recovery (see README, "Recovery") scans the segments
   * of each lane that may have been written last, truncates a torn tail and reports it; anything a
   * crash cannot leave is refused with CORRUPT and left untouched. A lane continues after its last
   * valid record, or in a fresh segment when a torn tail was cut or the previous owner did not close
   * the log, so that no offset handed out before the crash names another value later.
   * With { readOnly: true }: no lock, no recovery, no writes (see ValueLogOptions.readOnly). A
   * refused open leaves nothing behind: the lock is released and the segments it created are removed.
   */
  static async open(backend: StorageBackend, options: ValueLogOptions = {}): Promise<ValueLog> {
    checkStorageBackend(backend);
    const opts = normalizeOptions(options);
    // Every call the log makes goes through the checked wrapper (byte counts, error wrapping).
    const storage = checkedStorage(backend);
    if (opts.readOnly) return ValueLog.openReadOnly(storage, opts);
    // Ownership before anything else: nothing is created, truncated or written before the lock is ours.
    let lock: StorageLock | undefined;
    if (typeof storage.lock === 'function') {
      try {
        lock = await storage.lock();
      } catch (e) {
        throw asValueLogError(e, 'IO', 'taking the directory lock failed');
      }
    }
    const opened: Opened = { writers: [], manager: undefined, existing: undefined };
    try {
      opened.existing = new Set(await storage.list());
      return await ValueLog.openLocked(storage, opts, opened, lock);
    } catch (e) {
      await undoOpen(storage, opened, lock);
      throw e;
    }
  }

  /** A read-only view: every segment tracked, no lock, nothing written (see ValueLogOptions.readOnly). */
  private static async openReadOnly(storage: StorageBackend, opts: NormalizedOptions): Promise<ValueLog> {
    const manager = await Manager.open(storage);
    try {
      const dicts = await DictionaryStore.open(storage);
      opts.dictionaries?.checkAgainst(dicts);
      const log = new ValueLog(storage, manager, opts, [], dicts, (l) => new LaneSet([], [], storage, undefined, manager, opts.segmentSize, () => l.commits));
      log.readOnly = true;
      log.dictNames = dictionaryNames(await storage.list());
      for (const s of manager.segmentInfo()) await log.garbage.load(storage, s.id);
      return log;
    } catch (e) {
      await manager.close();
      throw e;
    }
  }

  /**
   * The read-write open under the lock; `lock?.tookOver` says the previous owner died without
   * closing, and then every lane continues in a fresh segment.
   */
  private static async openLocked(storage: StorageBackend, opts: NormalizedOptions, opened: Opened, lock: StorageLock | undefined): Promise<ValueLog> {
    const unclean = lock?.tookOver === true || (await leftDirty(storage));
    // Segments the crashed owner reserved but never created are created now, so the lanes go past them.
    // They count as existing: a refused open must not remove them (its marker no longer names them).
    if (unclean) for (const id of await createReservedSegments(storage)) opened.existing?.add(segmentFileName(id));
    const plan = await recoverLanes(storage, opts.lanes, { salvage: opts.salvage, uncleanShutdown: unclean });
    // The lanes' segments that do not exist yet are created on their first write (storage/deferred.ts):
    // opening writes nothing but the marker (and the lock), which reserves them durably before the
    // first pointer into them is handed out (see DIRTY_MARKER).
    const held: number[] = [];
    for (let lane = 0; lane < opts.lanes; lane++) {
      const id = encodeFileId(lane, plan.activeSeqs[lane]!);
      if (opened.existing?.has(segmentFileName(id)) === false) held.push(id);
    }
    await markDirty(storage, held); // durable before anything is written or handed out
    await createFreshSegments(storage, plan);
    const deferred = new DeferredCreationStorage(storage);
    for (const id of held) deferred.hold(segmentFileName(id));
    const writers = opened.writers;
    for (let lane = 0; lane < opts.lanes; lane++) writers.push(await Writer.open(deferred, encodeFileId(lane, plan.activeSeqs[lane]!), { bufferSize: opts.bufferSize }));
    const manager = (opened.manager = await Manager.open(deferred));
    const dicts = await DictionaryStore.open(storage);
    opts.dictionaries?.checkAgainst(dicts);
    const log = new ValueLog(deferred, manager, opts, plan.recovered, dicts, (l) => new LaneSet(writers, plan.activeSeqs, deferred, deferred, manager, opts.segmentSize, () => l.commits));
    log.lockHandle = lock;
    log.lanes.raiseRid(plan.maxRid); // RIDs continue after the largest one in the segments recovery scanned
    await log.compactor.load();
    const tracked = new Set(manager.segmentInfo().map((x) => x.id));
    for (const name of await storage.list()) {
      const id = name.endsWith('.dead') ? parseSegmentFileName(name.replace(/\.dead$/, '.log')) : undefined;
      if (id === undefined) continue;
      if (tracked.has(id)) await log.garbage.load(storage, id);
      else await storage.remove(name); // its segment was deleted before the sidecar could be
    }
    manager.onSegmentDeleted = async (id) => {
      await log.garbage.drop(storage, id);
      await log.compactor.sourceDeleted(id);
    };
    return log;
  }

  /** Appends one value; the pointer is valid at once, durable after the next commit(). */
  put(value: Uint8Array, opts: PutOptions = {}): ValuePtr {
    this.checkWritable('put');
    return this.putMany([value], opts)[0]!;
  }

  /** Appends values in frames of up to 128 (sized for the codec); returns one pointer per value. */
  putMany(values: readonly Uint8Array[], opts: PutOptions = {}): ValuePtr[] {
    this.checkWritable('putMany');
    if (!Array.isArray(values)) throw invalidArgument('putMany expects an array of Uint8Array');
    for (const v of values) if (!(v instanceof Uint8Array)) throw invalidArgument('every value must be a Uint8Array');
    const lane = this.lanes.lane(putLaneOption(opts));
    const ptrs: ValuePtr[] = [];
    let i = 0;
    while (i < values.length) {
      const k = this.compression.valuesInFrame(values, i, lane);
      this.lanes.rotateIfFull(lane, uncompressedRecordBytes(values, i, k));
      const records = [];
      for (let j = 0; j < k; j++) records.push({ rid: this.lanes.nextRid(), value: values[i + j]! });
      for (const p of this.compression.writeFrame(lane, records)) ptrs.push(p);
      i += k;
    }
    lane.dirty = true;
    this.puts += values.length;
    this.compression.sample(values);
    return ptrs;
  }

  /**
   * Trains a dictionary from the recent values the log has sampled (or from `opts.samples`), stores
   * it durably beside the segments and makes it the one new frames use. Returns its id; training
   * content the store already holds returns that dictionary's id instead of a duplicate.
   */
  async trainDictionary(opts: DictionaryTrainOptions = {}): Promise<bigint> {
    this.checkWritable('trainDictionary');
    checkTrainOptions(opts);
    return this.compression.trainOnRequest(opts.samples, opts.size);
  }

  /** Waits for background work: a policy training in flight and segments being opened ahead. */
  async idle(): Promise<void> {
    for (;;) {
      const training = this.compression.training;
      const pending = [...(training === undefined ? [] : [training]), ...this.lanes.pending()];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  /** A copy of the value a pointer names (values put but not yet committed included). */
  get(ptr: ValuePtr): Uint8Array {
    this.checkOpen();
    this.makeVisible(ptr);
    return this.manager.read(ptr);
  }

  /**
   * Whether markDead marked the value a pointer names (looked up by pointer value: any object with
   * the same fileId, offset and length). A value compaction moved is not dead under its new pointer.
   */
  isDead(ptr: ValuePtr): boolean {
    this.checkOpen();
    checkValuePtr(ptr);
    return this.garbage.isDead(ptr);
  }

  /**
   * The live values of the log with their pointers, in log order (by segment id, then offset), values
   * marked dead skipped; values put and not yet committed included. The segments are pinned by a
   * snapshot for the whole iteration (released when it ends, also by `break`), so compaction meanwhile
   * deletes nothing it still has to read. Async because opening segment files is.
   */
  async *values(): AsyncGenerator<{ ptr: ValuePtr; value: Uint8Array }, void, undefined> {
    this.checkOpen();
    this.lanes.flushAll();
    const set = await this.manager.currentSet();
    try {
      for (const id of [...set.files.keys()].sort((a, b) => a - b)) {
        const reader = await Reader.open(this.storage, id);
        reader.setDictLookup(this.dictLookup);
        try {
          for (;;) {
            let e: ReaderEntry | undefined;
            try {
              e = reader.next();
            } catch (err) {
              // Read-only: an incomplete last record (torn, or being written beside us) is where the data ends.
              if (this.readOnly && err instanceof ValueLogError && err.code === 'UNEXPECTED_EOF') break;
              throw err;
            }
            if (e === undefined) break;
            if (!this.garbage.isDead(e.ptr)) yield { ptr: e.ptr, value: e.value! };
          }
        } finally {
          reader.close();
        }
      }
    } finally {
      await this.manager.release(set);
    }
  }

  /**
   * Makes everything put so far durable (flush + sync of every lane written since the last commit).
   * Commits issued while one is pending share its single sync (group commit).
   */
  commit(): Promise<void> {
    this.checkOpen();
    if (this.lanes.failure !== undefined) return Promise.reject(stoppedError(this.lanes.failure));
    if (this.readOnly) return Promise.reject(readOnlyLog('commit'));
    this.commits++;
    this.pendingCommit ??= (async () => {
      await Promise.resolve(); // let the commits issued in this turn join
      this.pendingCommit = undefined;
      // A failed sidecar write is retried whole by the next commit (it rewrites from the last
      // durable entry), so it rejects this commit without stopping the log.
      await this.garbage.persist(this.storage);
      await this.lanes.makeDurable();
      await this.lanes.catchUpRotation();
      await this.yieldToEventLoop();
    })();
    return this.pendingCommit;
  }

  /**
   * Gives the event loop a turn (a macrotask: background pre-opens and dictionary training run
   * there), at most about every 2 ms, so that a tight put + commit loop is not slowed down.
   */
  private async yieldToEventLoop(): Promise<void> {
    const now = Date.now();
    if (now - this.lastYield < YIELD_EVERY_MS) return;
    await macrotask();
    this.lastYield = Date.now();
  }

  /** Pins the current segments; reads through it keep working until release(). */
  async snapshot(): Promise<Snapshot> {
    this.checkOpen();
    if (this.readOnly) await this.refresh();
    return new Snapshot(this, await this.manager.currentSet());
  }

  /**
   * Read-only logs: picks up what the writer beside this reader added since open or the last
   * refresh: new segments, new (or until now incomplete) dictionary files and dead marks. Records
   * appended to segments already tracked are readable without it. A no-op on a read-write log,
   * which sees its own writes.
   */
  async refresh(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) return;
    await besideWriter(() => this.manager.refresh());
    const names = dictionaryNames(await this.storage.list());
    // A dictionary file being written shows as damaged until it is complete: look again then too.
    if (names !== this.dictNames || this.dicts.damaged().length > 0) {
      const dicts = await DictionaryStore.open(this.storage);
      this.opts.dictionaries?.checkAgainst(dicts);
      this.dicts = dicts;
      this.manager.setDictLookup(this.dictLookup);
      this.dictNames = names;
    }
    for (const s of this.manager.segmentInfo()) await this.garbage.load(this.storage, s.id);
  }

  /** Segments, counters, compression, dictionaries and recovery, as plain JSON (no bigint). */
  stats(): ValueLogStats {
    const segments = this.segmentStats();
    return {
      segments,
      totalBytes: segments.reduce((a, s) => a + s.bytes, 0),
      deadBytes: segments.reduce((a, s) => a + s.deadBytes, 0),
      recovered: this.recovered.map((r) => ({ ...r, maxRid: r.maxRid.toString() })),
      puts: this.puts,
      commits: this.commits,
      syncs: this.lanes.syncs,
      compression: this.compression.compressionStats(),
      dictionaries: this.compression.dictionaryStats(),
      readOnly: this.readOnly,
      lock: this.lockHandle ? { holder: this.lockHandle.holder, tookOver: this.lockHandle.tookOver } : undefined,
    };
  }

  /** Every tracked segment and every lane's active one (created on its first write or not), in id order. */
  private segmentStats(): SegmentStats[] {
    const infos = this.manager.segmentInfo();
    const lanes = this.lanes.all;
    const activeIds = this.readOnly ? lastSegmentPerLane(infos.map((s) => s.id)) : new Set(lanes.map((l) => l.writer.fileId));
    const segments: SegmentStats[] = infos.map((s) => {
      const { lane, seq } = decodeFileId(s.id);
      const writer = this.lanes.writerOf(s.id);
      return segmentStats(this.garbage, { name: s.name, fileId: s.id, lane, seq, bytes: writer ? writer.size : s.bytes, active: activeIds.has(s.id), pins: s.refCount, zombie: s.zombie });
    });
    for (const l of lanes) {
      if (!segments.some((s) => s.fileId === l.writer.fileId)) {
        segments.push(segmentStats(this.garbage, { name: segmentFileName(l.writer.fileId), fileId: l.writer.fileId, lane: l.index, seq: l.seq, bytes: l.writer.size, active: true, pins: 0, zombie: false }));
      }
    }
    return segments.sort((a, b) => a.fileId - b.fileId);
  }

  /** Commits, then closes every writer and segment, and releases the directory lock. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closeRun ??= this.closeNow();
    return this.closeRun;
  }

  private async closeNow(): Promise<void> {
    // A compaction in progress finishes (or fails) first, unless it is waiting for its onRemap (which
    // may be what called close(): waiting would never end). Then the compaction stops where it is,
    // copies durable and nothing deleted, and its .remap record is rolled forward by the next compact().
    const duringOnRemap = this.compactor.inOnRemap;
    this.closing = true;
    if (!duringOnRemap) await this.compactor.idle();
    if (this.readOnly) {
      this.closed = true;
      await this.manager.close();
      return;
    }
    try {
      await this.closeWritable();
      // Everything is durable: the next open may continue in the same segments.
      await markClean(this.storage);
    } finally {
      // Released even when the last sync failed: this process is done with the log either way.
      const lock = this.lockHandle;
      this.lockHandle = undefined;
      await lock?.release();
    }
  }

  private async closeWritable(): Promise<void> {
    if (this.compression.training) await this.compression.training;
    if (this.pendingCommit) await this.pendingCommit.catch(() => undefined);
    let err: unknown;
    if (this.lanes.failure !== undefined) err = stoppedError(this.lanes.failure); // nothing more can be made durable
    else {
      try {
        await this.garbage.persist(this.storage);
        await this.lanes.makeDurable();
      } catch (e) {
        err = e;
      }
    }
    this.closed = true;
    this.compression.stop();
    try {
      await this.lanes.close();
    } catch (e) {
      err ??= e;
    }
    await this.manager.close();
    if (err !== undefined) throw err;
  }

  /**
   * Records that values are no longer referenced. Their bytes count as garbage of their segment
   * (stats().segments[].garbageRatio) and compact() leaves them behind. Marking a value twice is
   * harmless. The marks become durable with the next commit(). Returns how many marks were new.
   * Only pointers this log handed out for committed values are accepted: a pointer of another log,
   * to the middle of a record, with a length word that does not match its record, or to bytes not
   * yet committed is INVALID_ARGUMENT (NOT_FOUND for an unknown segment), and then nothing of the
   * batch is marked.
   */
  markDead(ptrs: ValuePtr | readonly ValuePtr[]): number {
    this.checkWritable('markDead');
    if (ptrs === null || typeof ptrs !== 'object') throw invalidArgument(`markDead expects a value pointer or an array of them, got ${describe(ptrs)}`);
    const list = Array.isArray(ptrs) ? ptrs : [ptrs as ValuePtr];
    const committed = new Map<number, number>();
    const limit = (id: number) => committed.get(id) ?? committed.set(id, this.lanes.committedBytes(id)).get(id)!;
    const dead = checkDeadPointers(list, limit, (id, start, end) => this.manager.recordValues(id, start, end));
    let added = 0;
    for (const { ptr, bytes } of dead) if (this.garbage.mark(ptr, bytes)) added++;
    return added;
  }

  /**
   * Copies the live values of sealed segments whose garbage ratio is at least `minGarbageRatio` into
   * the active segment of their lane (a record whose values are all live is copied byte for byte,
   * after its checksum is verified on the copy itself; others are re-framed), makes the copies
   * durable, hands the remap to `onRemap` (if given) and returns it. Only then do the old segments
   * become zombies, deleted as soon as no snapshot holds them. Without onRemap, take a snapshot before
   * compacting and release it once your index durably points at the new pointers. A segment that
   * cannot be read back verified is skipped (remap.skippedSegments). Calls are serialised: a second
   * compact() waits for the first, then runs on what is left. A run cut short by a crash is finished
   * or undone by the next compact() (see README).
   */
  async compact(opts: CompactOptions = {}): Promise<PointerRemap> {
    this.checkWritable('compact');
    const { minRatio, maxBytes } = normalizeCompactOptions(opts);
    return this.compactor.run(opts, minRatio, maxBytes);
  }

  /** @internal Flushes the writer whose unflushed bytes a pointer names, so that reads see them. */
  makeVisible(ptr: ValuePtr): void {
    checkValuePtr(ptr);
    this.lanes.makeVisible(ptr);
  }

  /** @internal Releases a snapshot's set (see Compactor.beforeRelease for what comes first). */
  async releaseSet(set: ValueSet): Promise<void> {
    await this.compactor.beforeRelease();
    await this.manager.release(set);
  }

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: the log is closed');
  }

  /** checkOpen, the log was not opened read-only, and it has not stopped after a failure (fail-stop). */
  private checkWritable(op: string): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyLog(op);
    this.lanes.checkNotStopped();
  }
}

function readOnlyLog(op: string): ValueLogError {
  return invalidArgument(`${op}: the log was opened read-only ({ readOnly: true })`);
}
/**
 * Runs a read-only log's directory scan again when a file it listed was deleted before it could be
 * opened (the writer beside it compacted a segment away meanwhile). The manager keeps what the
 * failed scan tracked, so a retry only adds the rest.
 */
async function besideWriter<T>(scan: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scan();
    } catch (e) {
      if (!(e instanceof ValueLogError && e.code === 'NOT_FOUND') || attempt >= 5) throw e;
    }
  }
}

/** Dictionary store file names, joined (to notice a change). */
function dictionaryNames(names: string[]): string {
  return names.filter((n) => n === DICT_HIGHWATER_NAME || parseDictFileName(n) !== undefined).join('/');
}
