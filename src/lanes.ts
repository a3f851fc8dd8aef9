// The lanes of a read-write log: one Writer per lane, the RIDs they hand out, rotation to the next
// segment (opened ahead in the background), the segments created on their first write, and the sync
// that makes them durable. ValueLog.commit() decides when (docs/DESIGN.md, "Durability"): a value is
// durable once a makeDurable() covered its lane, and the first write or sync failure stops the log
// for good (fail-stop).
import { asValueLogError, invalidArgument, ValueLogError } from './errors.js';
import type { ValuePtr } from './format/pointer.js';
import { encodeFileId, MAX_SEQ, segmentFileName } from './format/segment.js';
import type { Manager } from './manager.js';
import type { DeferredCreationStorage } from './storage/deferred.js';
import type { StorageBackend, StorageFile } from './storage/types.js';
import { stoppedError, type Writer } from './writer.js';

/** The next segment is opened in the background once the active one passes this share of its size. */
const PREOPEN_AT = 0.25;

/** @internal One lane: its writer on the active segment and its successor being opened. */
export interface Lane {
  index: number;
  writer: Writer;
  seq: number;
  next: Promise<{ file: StorageFile; seq: number }> | undefined;
  ready: { file: StorageFile; seq: number } | undefined;
  /** The last background pre-open failed (at this commit count): retried after the next commit. */
  preopenFailed: { err: ValueLogError; atCommit: number } | undefined;
  /** Written since the last sync. */
  dirty: boolean;
  /** Observed stored/raw ratio of its compressed frames (chooses how many values a frame holds). */
  ratio: number;
  /** Bytes of the active segment a sync covered: markDead accepts only values below this. */
  durableBytes: number;
}

/** @internal The lanes of a log (none for a read-only one) and their fail-stop state. */
export class LaneSet {
  /** The lanes, by index. */
  readonly all: Lane[];
  /** Durable syncs issued (a group commit issues one for all its lanes). */
  syncs = 0;
  /** The largest RID handed out (or found on disk): the next value gets the one after it. */
  lastRid = 0n;
  /**
   * Fail-stop state: the first write, writev, truncate or sync failure that may have lost bytes not
   * yet durable. From then on nothing is acknowledged (commit, put, markDead, compact throw IO,
   * "reopen to recover"); reopening recovers from what is durable. Set only by noteFailure() (which
   * the lane writers call on their first failure) and failStop().
   */
  private failureError: ValueLogError | undefined;
  /** Lane sequence numbers ran out: commits fail with it (nothing was lost). */
  private backgroundError: unknown;
  private closed = false;

  /**
   * `writers[i]` appends to lane i's active segment, whose sequence number is `seqs[i]`;
   * `commits()` counts commit() calls (a failed pre-open is retried after the next one).
   */
  constructor(
    writers: Writer[],
    seqs: readonly number[],
    private readonly storage: StorageBackend,
    private readonly deferred: DeferredCreationStorage | undefined,
    private readonly manager: Manager,
    private readonly segmentSize: number,
    private readonly commits: () => number,
  ) {
    this.all = writers.map((writer, index) => {
      writer.onFailure = (e) => this.noteFailure(e);
      // What recovery left on disk is what the log holds: durable as far as this process can tell.
      return { index, writer, seq: seqs[index]!, next: undefined, ready: undefined, preopenFailed: undefined, dirty: false, ratio: 0.5, durableBytes: writer.size };
    });
  }

  /** The failure that stopped the log, if one did. */
  get failure(): ValueLogError | undefined {
    return this.failureError;
  }

  /** The lane put() names (default 0); INVALID_ARGUMENT for one that is not open. */
  lane(lane: number | undefined): Lane {
    const i = lane ?? 0;
    const l = Number.isInteger(i) ? this.all[i] : undefined;
    if (l === undefined) throw invalidArgument(`lane ${String(lane)} is not open (lanes: 0..${this.all.length - 1})`);
    return l;
  }

  /** The RID of the next value. */
  nextRid(): bigint {
    return ++this.lastRid;
  }

  /** Values from now on get RIDs above `rid`. */
  raiseRid(rid: bigint): void {
    if (rid > this.lastRid) this.lastRid = rid;
  }

  /**
   * Rotation keeps put() synchronous: the next segment is opened in the background once the active
   * one is a quarter full, and the writer switches to it when the next record would cross the size
   * limit. If it is not open yet, the active segment grows past the limit until it is.
   */
  rotateIfFull(lane: Lane, recordBytes: number): void {
    const size = lane.writer.size;
    const failed = lane.preopenFailed;
    if (lane.next === undefined && lane.ready === undefined && size >= this.segmentSize * PREOPEN_AT && (failed === undefined || failed.atCommit !== this.commits())) this.preopen(lane);
    if (size === 0 || size + recordBytes <= this.segmentSize) return;
    const held = this.deferred?.isHeld(segmentFileName(lane.writer.fileId)) === true;
    if (held) {
      // Sealing needs a sync, which needs the file: it grows past the limit until it is created.
      const failed = this.deferred!.createError();
      if (failed !== undefined && size + recordBytes > 2 * this.segmentSize) {
        throw new ValueLogError('IO', `valuelog: lane ${lane.index} cannot rotate: creating its segment failed (${failed.message.replace(/^valuelog: /, '')})`, { cause: failed });
      }
      // Its bytes go to the held file so that its creation starts now (a create needs bytes to write).
      try {
        lane.writer.flush();
      } catch (e) {
        this.failStop(e);
      }
      this.deferred!.scheduleSettle();
      return;
    }
    if (lane.ready === undefined) {
      // Growing past the limit is fine while the successor is being opened; if opening it keeps
      // failing, the put that would take the segment past twice its size reports why.
      if (failed !== undefined && lane.next === undefined && size + recordBytes > 2 * this.segmentSize) {
        throw new ValueLogError('IO', `valuelog: lane ${lane.index} cannot rotate: opening its next segment failed (${failed.err.message.replace(/^valuelog: /, '')})`, { cause: failed.err });
      }
      return;
    }
    const { file, seq } = lane.ready;
    lane.ready = undefined;
    try {
      lane.writer.switchTo(file, encodeFileId(lane.index, seq));
    } catch (e) {
      if (lane.writer.failure !== undefined) this.failStop(e);
      // Nothing was written: the spare is dropped and opened again later.
      try {
        file.close();
      } catch {
        // closing a handle we no longer use
      }
      throw e;
    }
    lane.seq = seq;
    lane.durableBytes = lane.writer.size;
    lane.dirty = true;
  }

  /**
   * Makes every lane written since the last call durable: hands the bytes of lanes whose segment is
   * created on its first write to storage and waits for the creation (storage/deferred.ts), then
   * syncs every written lane. A failed create rejects (the bytes stay held, the next call tries
   * again); a failed write or sync stops the log.
   */
  async makeDurable(): Promise<void> {
    await this.createHeldSegments();
    this.syncAll();
  }

  /**
   * After a commit: a lane already past its segment size waits for its successor here (retrying a
   * failed pre-open), so that a put + commit loop still rotates (bounded overshoot).
   */
  async catchUpRotation(): Promise<void> {
    for (const l of this.all) if (l.next === undefined && l.ready === undefined && l.preopenFailed !== undefined && l.writer.size >= this.segmentSize) this.preopen(l);
    const behind = this.all.filter((l) => l.next !== undefined && l.writer.size >= this.segmentSize);
    if (behind.length > 0) await Promise.all(behind.map((l) => l.next!.catch(() => {})));
  }

  /** Successors being opened in the background (idle() waits for them). */
  pending(): Array<Promise<unknown>> {
    return this.all.flatMap((l) => (l.next === undefined ? [] : [l.next]));
  }

  /** The writer appending to a segment, if a lane appends to it. */
  writerOf(fileId: number): Writer | undefined {
    return this.all.find((l) => l.writer.fileId === fileId)?.writer;
  }

  /** Bytes of a segment known durable: a sync covered them (active segments) or it is sealed. */
  committedBytes(fileId: number): number {
    for (const l of this.all) {
      if (l.writer.fileId === fileId) return l.durableBytes;
      if (l.ready !== undefined && encodeFileId(l.index, l.ready.seq) === fileId) return 0;
    }
    return this.manager.segmentInfo().find((x) => x.id === fileId)?.bytes ?? 0;
  }

  /** A lane's successor, opened ahead and not yet written: not a segment to compact. */
  isSpare(id: number): boolean {
    return this.all.some((l) => l.ready !== undefined && encodeFileId(l.index, l.ready.seq) === id);
  }

  /** Flushes the writer whose unflushed bytes a pointer names, so that reads see them. */
  makeVisible(ptr: ValuePtr): void {
    for (const l of this.all) {
      if (l.writer.fileId === ptr.fileId >>> 0 && ptr.offset - 4 >= l.writer.flushedSize) {
        l.writer.flush();
        return;
      }
    }
  }

  /** Flushes every lane, so that a scan of the segments sees everything put. */
  flushAll(): void {
    for (const l of this.all) l.writer.flush();
  }

  /** Closes every writer and successor; throws the first error after closing them all. */
  async close(): Promise<void> {
    this.closed = true;
    let err: unknown;
    for (const l of this.all) {
      try {
        l.writer.close();
      } catch (e) {
        err ??= e;
      }
      const spare = l.ready ?? (l.next ? await l.next.catch(() => undefined) : undefined);
      spare?.file.close();
    }
    if (err !== undefined) throw err;
  }

  /** Records the first failure that may have lost bytes (a writer calls it through onFailure). */
  noteFailure(err: unknown): ValueLogError {
    this.failureError ??= asValueLogError(err, 'IO', 'writing');
    return this.failureError;
  }

  /** Throws the IO error of a stopped log, if it stopped. */
  checkNotStopped(): void {
    if (this.failureError !== undefined) throw stoppedError(this.failureError);
  }

  /** Stops the log for good (see `failure`) and throws the IO error every later write gets. */
  private failStop(err: unknown): never {
    throw stoppedError(this.noteFailure(err));
  }

  private async createHeldSegments(): Promise<void> {
    const d = this.deferred;
    if (d === undefined) return;
    for (const l of this.all) {
      if (!l.dirty || !d.isHeld(segmentFileName(l.writer.fileId))) continue;
      try {
        l.writer.flush();
      } catch (e) {
        this.failStop(e);
      }
    }
    if (d.heldBytes() === 0) return;
    try {
      await d.settle();
    } catch (e) {
      // Bytes handed out as pointers did not reach the file: as after any failed write.
      if (d.writeFailure() !== undefined) this.failStop(e);
      throw e;
    }
  }

  private syncAll(): void {
    this.checkNotStopped();
    if (this.backgroundError !== undefined) throw this.backgroundError;
    let synced = false;
    for (const l of this.all) {
      if (!l.dirty) continue;
      try {
        l.writer.sync();
      } catch (e) {
        this.failStop(e);
      }
      l.durableBytes = l.writer.size;
      l.dirty = false;
      synced = true;
    }
    if (synced) this.syncs++;
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
      try {
        await this.manager.refresh();
      } catch (e) {
        file.close(); // retried later (see rotateIfFull)
        throw e;
      }
      return { file, seq };
    })();
    lane.next.then(
      (r) => {
        lane.next = undefined;
        lane.preopenFailed = undefined;
        if (this.closed) r.file.close();
        else lane.ready = r;
      },
      (e: unknown) => {
        // Nothing was lost: the pre-open is retried after the next commit (see rotateIfFull).
        lane.next = undefined;
        lane.preopenFailed = { err: asValueLogError(e, 'IO', 'opening the next segment'), atCommit: this.commits() };
      },
    );
  }
}
