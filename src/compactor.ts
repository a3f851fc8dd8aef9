// Compaction of sealed segments: choosing them by garbage ratio, copying their live values into the
// lanes' active segments (whole records byte for byte after verifying them, others re-framed),
// handing the remap over, and finishing or undoing a run an earlier process or call left unfinished
// from its crash records (compaction.ts; docs/DESIGN.md, "Segment lifetime").
import { type CompactionIntent, readIntents, removeIntent, writeIntent } from './compaction.js';
import type { CompressionMode } from './compression-mode.js';
import { uncompressedRecordBytes } from './compression-mode.js';
import { asValueLogError, corrupt, ValueLogError } from './errors.js';
import { decodeFrame, type DictLookup } from './format/frame.js';
import type { ValuePtr } from './format/pointer.js';
import { decodeRecordHeader, isGroupedRecord, verifyRecordChecksum } from './format/record.js';
import { decodeFileId, segmentFileName } from './format/segment.js';
import { checkDeadPointers, type GarbageTracker } from './garbage.js';
import type { Lane, LaneSet } from './lanes.js';
import { HEADER_SIZE } from './limits.js';
import type { CompactOptions } from './log-options.js';
import type { SegmentStats } from './log-stats.js';
import type { Manager } from './manager.js';
import { Reader, type ReaderEntry } from './reader.js';
import { PointerRemap, type CompactionProblem } from './remap.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

/** @internal What compaction needs of the log it runs in. */
export interface CompactionHost {
  /** The log's commit(): makes the copies (and dead marks) durable. */
  commit(): Promise<void>;
  /** Throws when the log cannot write (closed, read-only, stopped after a failure). */
  checkWritable(op: string): void;
  /** Every segment's stats (stats().segments). */
  segments(): SegmentStats[];
  /** close() has begun. */
  closing(): boolean;
  /** The log is closed. */
  closed(): boolean;
}

/** @internal Runs compact() and settles what earlier runs left unfinished. */
export class Compactor {
  /** compact() is waiting for its onRemap. */
  inOnRemap = false;
  /** The compaction running or last run: compact() calls queue behind it. */
  private runs: Promise<void> = Promise.resolve();
  /** Highest compaction run number used or found on disk. */
  private compactRun = 0;
  /** Runs left unfinished (by an earlier process or a failed call), settled by the next compact(). */
  private leftovers: Leftover[] = [];
  /** Handed-over runs whose .remap stays until these source segments are deleted. */
  private readonly pendingRuns = new Map<number, { left: Set<number>; pairs: Array<[ValuePtr, ValuePtr]> }>();

  /** Reads the records of unfinished compaction runs (read only; compact() acts on them). */
  async load(): Promise<void> {
    const byRun = new Map<number, Leftover>();
    for (const r of await readIntents(this.storage, await this.storage.list())) {
      if (r.run > this.compactRun) this.compactRun = r.run;
      const l = byRun.get(r.run) ?? { run: r.run, intent: undefined, remap: undefined };
      byRun.set(r.run, l);
      if (r.intent !== undefined) l[r.phase] = r.intent;
      // Values put from now on must never look like that run's copies.
      if (r.intent !== undefined) this.lanes.raiseRid(r.intent.maxRid);
    }
    this.leftovers = [...byRun.values()];
  }


  constructor(
    private readonly storage: StorageBackend,
    private readonly manager: Manager,
    private readonly garbage: GarbageTracker,
    private readonly lanes: LaneSet,
    private readonly compression: CompressionMode,
    private readonly dictLookup: DictLookup,
    private readonly host: CompactionHost,
  ) {}

  /**
   * Queues a compaction behind the one running (calls are serialised; see ValueLog.compact), with
   * its options already checked.
   */
  run(opts: CompactOptions, minRatio: number, maxBytes: number): Promise<PointerRemap> {
    const run = this.runs.then(() => this.runNow(opts, minRatio, maxBytes));
    this.runs = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once the compaction running (and those queued) ended, however they ended. */
  idle(): Promise<void> {
    return this.runs;
  }

  /**
   * Before a snapshot's release may delete old segments of a handed-over run: a value dropped by its
   * old pointer after the handover gets its copy marked dead, durably, while the old mark still exists.
   */
  async beforeRelease(): Promise<void> {
    if (this.pendingRuns.size === 0 || this.host.closed()) return;
    let marked = false;
    for (const p of this.pendingRuns.values()) {
      for (const [o, n] of p.pairs) {
        if (this.garbage.isDead(o) && !this.garbage.isDead(n)) {
          this.markCopyDead(n);
          marked = true;
        }
      }
    }
    if (marked) await this.host.commit();
  }

  private async runNow(opts: CompactOptions, minRatio: number, maxBytes: number): Promise<PointerRemap> {
    this.host.checkWritable('compact');
    await this.host.commit();
    const rolled = await this.settleLeftovers();
    // Zombies whose deletion failed earlier: try again (a failure stays reported in the next remap).
    const retry: CompactionProblem[] = [];
    for (const s of this.manager.segmentInfo()) {
      if (!s.zombie || s.refCount !== 0) continue;
      try {
        await this.manager.removeSegment(s.id);
      } catch (e) {
        retry.push({ fileId: s.id, segment: s.name, error: asValueLogError(e, 'IO', `deleting ${s.name}`) });
      }
    }
    const remap = new PointerRemap();
    remap.deleteErrors.push(...retry);
    for (const r of rolled) {
      for (const [o, n] of r.pairs) {
        if (this.garbage.isDead(n)) continue; // the caller already applied the move and dropped the value
        remap.set(o, n);
      }
    }
    const rolledSources = new Set(rolled.flatMap((r) => r.sources).filter((id) => this.manager.isLive(id)));
    const candidates = this.host
      .segments()
      .filter((x) => !x.active && !x.zombie && x.bytes > 0 && x.garbageRatio >= minRatio && !this.lanes.isSpare(x.fileId) && !rolledSources.has(x.fileId))
      .sort((a, b) => b.garbageRatio - a.garbageRatio);
    const chosen: SegmentStats[] = [];
    let budget = maxBytes;
    for (const seg of candidates) {
      if (seg.bytes > budget && chosen.length > 0) break;
      budget -= seg.bytes;
      chosen.push(seg);
    }
    const total = chosen.reduce((a, x) => a + x.bytes, 0);
    let intent: CompactionIntent | undefined;
    if (chosen.length > 0) {
      // Captured in one synchronous step: values put from here on get RIDs above maxRid.
      intent = {
        run: ++this.compactRun,
        phase: 'intent',
        maxRid: this.lanes.lastRid,
        sources: chosen.map((s) => s.fileId),
        targets: this.lanes.all.map((l) => ({ fileId: l.writer.fileId, offset: l.writer.size })),
        pairs: [],
      };
      await writeIntent(this.storage, intent);
    }
    const runPairs: Array<[ValuePtr, ValuePtr]> = [];
    const discard: ValuePtr[] = [];
    const compacted: number[] = [];
    let remapRecord: CompactionIntent | undefined;
    try {
      let done = 0;
      opts.onProgress?.(0, total);
      for (const seg of chosen) {
        const pairs: Array<[ValuePtr, ValuePtr]> = [];
        const problem = await this.compactSegment(seg.fileId, this.lanes.all[seg.lane] ?? this.lanes.all[0]!, pairs, intent!.maxRid);
        if (problem === undefined) {
          compacted.push(seg.fileId);
          runPairs.push(...pairs);
        } else {
          for (const [, n] of pairs) discard.push(n);
          remap.skippedSegments.push({ fileId: seg.fileId, segment: seg.name, error: problem });
        }
        done += seg.bytes;
        opts.onProgress?.(done, total);
      }
      await this.host.commit(); // every copy durable before anything refers to it
      if (intent !== undefined && discard.length > 0) {
        for (const p of discard) this.markCopyDead(p);
        await this.host.commit();
      }
      if (intent !== undefined && compacted.length > 0) {
        const record: CompactionIntent = { ...intent, phase: 'remap', sources: compacted, pairs: runPairs };
        await writeIntent(this.storage, record);
        remapRecord = record;
      }
      for (const [o, n] of runPairs) remap.set(o, n);
      remap.compactedSegments.push(...compacted, ...rolledSources);
      if (opts.onRemap !== undefined) {
        this.inOnRemap = true;
        try {
          await opts.onRemap(remap);
        } finally {
          this.inOnRemap = false;
        }
      }
    } catch (e) {
      // A close() that began while onRemap ran has closed the log: the run's records stay on disk
      // for the next compact() to roll back or forward, as after a crash.
      if (!this.host.closing()) await this.undoRun(intent, remapRecord, [...runPairs.map((p) => p[1]), ...discard]);
      throw asValueLogError(e, 'IO', 'compaction failed, nothing was deleted');
    }
    if (this.host.closing()) return remap; // closed from inside onRemap: nothing deleted; the .remap record rolls it forward next time
    // Handed over: from here on nothing throws, so the caller always gets the remap.
    // A value the caller dropped while the run was copying it (or, for a run rolled forward, before):
    // its copy is garbage too.
    let marked = false;
    for (const [o, n] of remap) {
      if (this.garbage.isDead(o) && !this.garbage.isDead(n)) {
        this.markCopyDead(n);
        marked = true;
      }
    }
    if (marked) {
      // Durable before the old segment (and with it the old mark) goes; if that fails, the old
      // segments stay live and the run on record, so the next compact() redoes this.
      try {
        await this.host.commit();
      } catch (e) {
        const error = asValueLogError(e, 'IO', 'persisting dead marks of copies');
        for (const id of remap.compactedSegments) remap.deleteErrors.push({ fileId: id, segment: segmentFileName(id), error });
        if (remapRecord !== undefined) this.leftovers.push({ run: intent!.run, intent, remap: remapRecord });
        return remap;
      }
    }
    if (intent !== undefined) {
      if (compacted.length > 0) this.pendingRuns.set(intent.run, { left: new Set(compacted), pairs: runPairs });
      try {
        await removeIntent(this.storage, intent.run, 'intent'); // if it stays, a .remap rolls forward
      } catch {
        // Only copies already marked dead: the next run scans for them again.
        if (compacted.length === 0) this.leftovers.push({ run: intent.run, intent, remap: undefined });
      }
    }
    for (const r of rolled) {
      this.leftovers = this.leftovers.filter((l) => l.run !== r.run);
      this.pendingRuns.set(r.run, { left: new Set(r.sources.filter((id) => rolledSources.has(id))), pairs: r.pairs });
      await removeIntent(this.storage, r.run, 'intent').catch(() => undefined);
    }
    for (const id of remap.compactedSegments) {
      this.manager.markZombie(id);
      // Unpinned: delete now; pinned: the last release of a snapshot deletes it.
      if (this.manager.segmentInfo().find((x) => x.id === id)?.refCount !== 0) continue;
      try {
        await this.manager.removeSegment(id);
      } catch (e) {
        remap.deleteErrors.push({ fileId: id, segment: segmentFileName(id), error: asValueLogError(e, 'IO', `deleting ${segmentFileName(id)}`) });
      }
    }
    for (const [run, p] of this.pendingRuns) if (p.left.size === 0) await this.settleRun(run);
    return remap;
  }

  /**
   * Copies the live values of one segment into `lane`, adding old → new pairs. Returns the problem
   * when the source cannot be read back verified (its copies so far are in `pairs`); a failure to
   * write the copies throws.
   */
  private async compactSegment(id: number, lane: Lane, pairs: Array<[ValuePtr, ValuePtr]>, maxRid: bigint): Promise<ValueLogError | undefined> {
    const name = segmentFileName(id);
    let reader: Reader | undefined;
    let file: StorageFile | undefined;
    try {
      reader = await Reader.open(this.storage, id);
      file = await this.storage.open(name, { readOnly: true });
    } catch (e) {
      reader?.close();
      return asValueLogError(e, 'IO', `opening ${name} for compaction`);
    }
    reader.setDictLookup(this.dictLookup);
    try {
      let frame: ReaderEntry[] = [];
      let frameEnd = 0;
      for (;;) {
        let e: ReaderEntry | undefined;
        try {
          e = reader.next();
          if (e !== undefined && e.rid > maxRid) {
            // Only a log whose RID counter was restored too low at open has these: the run could not
            // tell such copies from new values after a crash, so the next run (counter raised) takes it.
            this.lanes.raiseRid(e.rid);
            throw new ValueLogError('CORRUPT', `valuelog: ${name} holds RID ${e.rid} above the log's counter at the start of compaction; it is compacted by the next compact()`);
          }
          if (frame.length > 0 && (e === undefined || e.ptr.offset !== frame[0]!.ptr.offset)) {
            const raw = frame.every((x) => !this.garbage.isDead(x.ptr)) ? readVerifiedRecord(file, name, frame, frameEnd) : undefined;
            this.copyFrame(lane, frame, raw, pairs);
            frame = [];
          }
        } catch (err) {
          if (err instanceof CopyWriteError) throw err.cause;
          return asValueLogError(err, 'IO', `reading ${name} for compaction`);
        }
        if (e === undefined) return undefined;
        if (frame.length === 0) frameEnd = reader.offset;
        frame.push(e);
      }
    } finally {
      reader.close();
      file.close();
    }
  }

  /** Appends one record's live values: `raw` (the verified record) as it is, or the live ones re-framed. */
  private copyFrame(lane: Lane, frame: ReaderEntry[], raw: Uint8Array | undefined, pairs: Array<[ValuePtr, ValuePtr]>): void {
    try {
      if (raw !== undefined) {
        // Wholly live: every value keeps its sub-index and length hint.
        this.lanes.rotateIfFull(lane, raw.length);
        const copied = lane.writer.appendRawRecord(raw, frame[0]!.ptr.length);
        for (const e of frame) pairs.push([e.ptr, { offset: copied.offset, length: e.ptr.length, fileId: copied.fileId }]);
      } else {
        const live = frame.filter((e) => !this.garbage.isDead(e.ptr));
        if (live.length === 0) return;
        const values = live.map((e) => e.value!);
        this.lanes.rotateIfFull(lane, uncompressedRecordBytes(values));
        const records = live.map((e, i) => ({ rid: e.rid, value: values[i]! }));
        // Re-framed values are compressed as new ones are (with the current dictionary, if any).
        const ptrs = this.compression.writeFrame(lane, records);
        live.forEach((e, i) => pairs.push([e.ptr, ptrs[i]!]));
      }
      lane.dirty = true;
    } catch (e) {
      throw new CopyWriteError(e);
    }
  }

  /** Marks a copy dead so that a later compaction reclaims it (a copy whose segment is gone is ignored). */
  private markCopyDead(ptr: ValuePtr): void {
    if (this.garbage.isDead(ptr)) return;
    try {
      // Copies are the writer's own pointers to records it wrote: only the file bounds them.
      const [d] = checkDeadPointers([ptr], () => Number.MAX_SAFE_INTEGER, (id, start, end) => this.manager.recordValues(id, start, end));
      this.garbage.mark(d!.ptr, d!.bytes);
    } catch {
      // Its segment was deleted or cannot be read: nothing is left to reclaim.
    }
  }

  /**
   * Undoes a run that failed before its remap was handed over: the .remap goes first (so it is never
   * rolled forward), then its copies are made durable and marked dead. If any step fails the run
   * stays on record and the next compact() finishes the job from what is on disk.
   */
  private async undoRun(intent: CompactionIntent | undefined, remap: CompactionIntent | undefined, copies: ValuePtr[]): Promise<void> {
    if (intent === undefined) return;
    try {
      if (remap !== undefined) await removeIntent(this.storage, intent.run, 'remap');
    } catch {
      this.leftovers.push({ run: intent.run, intent, remap }); // rolled forward: handed over again before anything is deleted
      return;
    }
    try {
      await this.host.commit();
      for (const p of copies) this.markCopyDead(p);
      await this.host.commit();
      await removeIntent(this.storage, intent.run, 'intent');
    } catch {
      this.leftovers.push({ run: intent.run, intent, remap: undefined });
    }
  }

  /**
   * Deals with runs an earlier process (or a failed earlier call) left unfinished. A run that never
   * wrote its .remap handed nothing over: its copies are found by position and RID and marked dead.
   * Runs with a .remap are returned, to be rolled forward by this call.
   */
  private async settleLeftovers(): Promise<CompactionIntent[]> {
    const undo = this.leftovers.filter((l) => l.remap === undefined);
    if (undo.length === 0) return this.leftovers.map((l) => l.remap!);
    await this.manager.refresh();
    for (const l of undo) if (l.intent !== undefined) await this.discardOrphans(l.intent);
    await this.host.commit();
    for (const l of undo) {
      await removeIntent(this.storage, l.run, 'remap'); // a torn one, never handed over
      await removeIntent(this.storage, l.run, 'intent');
    }
    this.leftovers = this.leftovers.filter((l) => l.remap !== undefined);
    return this.leftovers.map((l) => l.remap!);
  }

  /** Marks dead every copy a run made: values at or after its start in each lane with RIDs up to its maxRid. */
  private async discardOrphans(intent: CompactionIntent): Promise<void> {
    const ids = this.manager.segmentInfo().filter((s) => !s.zombie).map((s) => s.id);
    for (const t of intent.targets) {
      const from = decodeFileId(t.fileId);
      for (const id of ids) {
        const at = decodeFileId(id);
        if (at.lane !== from.lane || at.seq < from.seq) continue;
        let reader: Reader;
        try {
          reader = await Reader.open(this.storage, id);
        } catch {
          continue;
        }
        reader.disableValueDecode();
        try {
          for (let e = reader.next(); e !== undefined; e = reader.next()) {
            if (id === t.fileId && e.ptr.offset - 4 < t.offset) continue;
            if (e.rid <= intent.maxRid) this.markCopyDead(e.ptr);
          }
        } catch {
          // A damaged or torn tail: nothing after it is readable, so nothing after it was copied.
        } finally {
          reader.close();
        }
      }
    }
  }

  /** A source segment was deleted: a run whose sources are all gone no longer needs its .remap. */
  async sourceDeleted(id: number): Promise<void> {
    for (const [run, p] of this.pendingRuns) if (p.left.delete(id) && p.left.size === 0) await this.settleRun(run);
  }

  private async settleRun(run: number): Promise<void> {
    this.pendingRuns.delete(run);
    // If it cannot be removed it rolls forward harmlessly later: its old pointers are gone.
    await removeIntent(this.storage, run, 'remap').catch(() => undefined);
  }
}

/** A compaction run found unfinished: its valid .intent and .remap records, if any. */
interface Leftover {
  run: number;
  intent: CompactionIntent | undefined;
  remap: CompactionIntent | undefined;
}

/** Wraps a failure to write a copy, so that it is told apart from a source that reads back damaged. */
class CopyWriteError extends Error {
  constructor(cause: unknown) {
    super('copy write failed', { cause });
  }
}

/**
 * Reads the record the Reader just verified (it ends at `end`) and verifies the copy itself: its
 * byte count, checksum, length and RIDs must be those of the entries, or nothing of it is copied.
 */
function readVerifiedRecord(file: StorageFile, name: string, frame: ReaderEntry[], end: number): Uint8Array {
  const first = frame[0]!;
  const start = first.ptr.offset - 4;
  const raw = new Uint8Array(end - start);
  const got = file.read(raw, start);
  if (got !== raw.length) throw new ValueLogError('UNEXPECTED_EOF', `valuelog: reading the record at ${start} in ${name} for its copy gave ${got} of ${raw.length} bytes`);
  const where = `record at ${start} in ${name}, read again for its copy`;
  const h = decodeRecordHeader(raw);
  if (HEADER_SIZE + h.valueLen !== raw.length) throw corrupt(`${where}: length ${HEADER_SIZE + h.valueLen}, ${raw.length} expected`);
  verifyRecordChecksum(raw, 0, h.crc, raw.subarray(HEADER_SIZE));
  if (isGroupedRecord(h)) {
    const f = decodeFrame(raw.subarray(HEADER_SIZE));
    if (f.header.k !== frame.length || frame.some((e, i) => f.rids[i] !== e.rid)) throw corrupt(`${where}: not the record first read`);
  } else if (frame.length !== 1 || h.rid !== first.rid) {
    throw corrupt(`${where}: not the record first read`);
  }
  return raw;
}

