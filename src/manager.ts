// Manager and ValueSet (docs/DESIGN.md, "Segment lifetime"): tracks the segments of a directory, hands out
// reference-counted snapshot sets, and deletes a zombie segment exactly when the last set holding it
// is released. In place of mmap, a bounded cache of decoded frames serves repeated reads of a frame.
import { copyBytes } from './alloc.js';
import { invalidArgument, ValueLogError } from './errors.js';
import type { DictLookup } from './format/frame.js';
import { checkValuePtr, type ValuePtr } from './format/pointer.js';
import { duplicateSegment, segmentFileName, segmentFiles } from './format/segment.js';
import type { TemplateDecodeOptions, TemplateLookup } from './format/template.js';
import { limits } from './limits.js';
import { type CachedFrame, type FrameCache, makeTemplateContext, type PointerReadContext, readRecordValues, readValue, type RecordValues, type TemplateContext } from './reader.js';
import { checkedStorage } from './storage/checked.js';
import type { StorageBackend, StorageFile } from './storage/types.js';

/** One tracked segment file. */
export interface SegmentInfo {
  /** The segment's file id. */
  readonly id: number;
  /** The segment's file name. */
  readonly name: string;
  /** Number of live sets that contain this segment. */
  readonly refCount: number;
  /** Removed from the current set (compacted away); deleted once no set holds it. */
  readonly zombie: boolean;
  /** Current file size in bytes (0 once closed). */
  readonly bytes: number;
}

class Segment implements SegmentInfo {
  refCount = 0;
  zombie = false;
  closed = false;
  frameCache: SegmentFrameCache | undefined;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly file: StorageFile,
  ) {}
  get bytes(): number {
    return this.closed ? 0 : this.file.size();
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}

/** Total bytes of decoded frames the cache may hold, whatever limits.maxDeadMappings says. */
export const FRAME_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** One segment's share of the decoded-frame cache: record start → frame (the hot lookup). */
class SegmentFrameCache implements FrameCache {
  readonly frames = new Map<number, CachedFrame>();
  constructor(
    private readonly owner: DecodedFrameCache,
    readonly segmentId: number,
  ) {}
  get size(): number {
    return this.frames.size;
  }
  get(start: number, needVerified: boolean): CachedFrame | undefined {
    const e = this.frames.get(start);
    return e === undefined || (needVerified && !e.verified) ? undefined : e;
  }
  put(start: number, frame: CachedFrame): void {
    this.owner.put(this, start, frame);
  }
}

/**
 * Manager-wide cache of decoded frames (compressed frames, and verified frames of several values).
 * Capacity: `limits.maxDeadMappings` frames (default 64; <= 0 disables it) and at most
 * FRAME_CACHE_MAX_BYTES; the oldest insertion is evicted first. A "remap" is a frame decoded into
 * the cache, a "dead mapping" a frame evicted from it (views handed out by readUnsafe stay valid:
 * JavaScript keeps them alive).
 */
class DecodedFrameCache {
  private readonly order: Array<[SegmentFrameCache, number]> = [];
  private head = 0;
  private bytes = 0;
  remaps = 0;
  evictions = 0;

  put(seg: SegmentFrameCache, start: number, frame: CachedFrame): void {
    const cap = limits.maxDeadMappings;
    if (cap <= 0 || frame.decoded.length > FRAME_CACHE_MAX_BYTES) return;
    const old = seg.frames.get(start);
    if (old) this.bytes -= old.decoded.length;
    else this.order.push([seg, start]);
    seg.frames.set(start, frame);
    this.bytes += frame.decoded.length;
    this.remaps++;
    while (this.order.length - this.head > cap || this.bytes > FRAME_CACHE_MAX_BYTES) {
      const [s, k] = this.order[this.head++]!;
      const v = s.frames.get(k);
      if (v !== undefined) {
        s.frames.delete(k);
        this.bytes -= v.decoded.length;
        this.evictions++;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  dropSegment(seg: SegmentFrameCache): void {
    for (const v of seg.frames.values()) this.bytes -= v.decoded.length;
    seg.frames.clear();
    // Their queue slots are skipped when reached (the frame is no longer in the map).
  }
}

function notFoundError(id: number, inSnapshot: boolean): ValueLogError {
  return new ValueLogError('NOT_FOUND', `valuelog file ${id >>> 0} (${segmentFileName(id)}) not found${inSnapshot ? ' in snapshot' : ''}`);
}

/** An immutable snapshot of the segment universe, pinned until released. */
export class ValueSet {
  /** @internal */ released = false;
  /** @internal */ count = 1;

  /** @internal */
  constructor(
    private readonly manager: Manager,
    private readonly segments: ReadonlyMap<number, Segment>,
    private readonly verify: boolean,
  ) {}

  /** The segments this set pins, by file id. */
  get files(): ReadonlyMap<number, SegmentInfo> {
    return this.segments;
  }

  /** Holders of this set (acquire adds one, release removes one). */
  get refCount(): number {
    return this.count;
  }

  /** A copy of the value the pointer names; NOT_FOUND if its segment is not in this set. */
  read(ptr: ValuePtr): Uint8Array {
    const r = this.manager.readFrom(this.segmentFor(ptr), ptr, this.verify);
    return r.shared ? copyBytes(r.value) : r.value;
  }

  /** The value, in `dst` when it fits (a view of dst), otherwise in a new array. */
  readInto(ptr: ValuePtr, dst: Uint8Array): Uint8Array {
    return copyInto(this.manager.readFrom(this.segmentFor(ptr), ptr, this.verify).value, dst);
  }

  /** A view that may alias an internal cache: do not mutate or keep it. */
  readUnsafe(ptr: ValuePtr): Uint8Array {
    return this.manager.readFrom(this.segmentFor(ptr), ptr, this.verify).value;
  }

  private segmentFor(ptr: ValuePtr): Segment {
    if (this.released) throw invalidArgument('read through a released ValueSet');
    checkValuePtr(ptr);
    const s = this.segments.get(ptr.fileId >>> 0);
    if (s === undefined) throw notFoundError(ptr.fileId, true);
    return s;
  }
}

function copyInto(value: Uint8Array, dst: Uint8Array): Uint8Array {
  if (!(dst instanceof Uint8Array)) throw invalidArgument('dst must be a Uint8Array');
  if (value.length > dst.length) return copyBytes(value);
  dst.set(value);
  return dst.subarray(0, value.length);
}

/**
 * Tracks the segments of a directory and hands out ValueSets: pinned views that keep their segments
 * from being deleted while they are held. Reads by pointer go through it or a set.
 */
export class Manager {
  private readonly segments = new Map<number, Segment>();
  private disableChecksum = false;
  private dictLookup: DictLookup | undefined;
  private template: TemplateContext | undefined;
  private readonly cache = new DecodedFrameCache();
  private closed = false;

  private constructor(private readonly storage: StorageBackend) {}

  /** Opens a manager over the storage's directory and tracks every segment in it. */
  static async open(storage: StorageBackend): Promise<Manager> {
    const m = new Manager(checkedStorage(storage));
    await m.refresh();
    return m;
  }

  /**
   * Tracks segments that appeared since the last scan (opened read-only, in id order). Segments that
   * vanished from the directory stay tracked; one that vanishes between the listing and its open is
   * skipped. Any other open failure aborts the scan with its error; two files naming one segment id
   * are CORRUPT, naming both.
   */
  async refresh(): Promise<void> {
    this.checkOpen();
    // Legacy names (`value-<seq>.log`) map to lane 0 ids; each file is opened by the name on disk.
    // Two names for one id are refused (segmentFiles): reads must never pick one of them silently.
    const found: Array<[number, string]> = [];
    for (const [id, name] of segmentFiles(await this.storage.list())) {
      const tracked = this.segments.get(id);
      if (tracked === undefined) found.push([id, name]);
      else if (tracked.name !== name) throw duplicateSegment(id, tracked.name, name);
    }
    found.sort((a, b) => a[0] - b[0]);
    for (const [id, name] of found) {
      if (this.segments.has(id)) continue; // tracked meanwhile by a concurrent refresh
      let file: StorageFile;
      try {
        file = await this.storage.open(name, { readOnly: true });
      } catch (e) {
        // Listed, then gone: another process (the writer beside a read-only open) deleted it in
        // between, after compacting it. Nothing can point into it any more; it is not tracked.
        if (e instanceof ValueLogError && e.code === 'NOT_FOUND') continue;
        throw e;
      }
      const tracked = this.segments.get(id);
      if (tracked === undefined) this.segments.set(id, new Segment(id, name, file));
      else {
        file.close();
        if (tracked.name !== name) throw duplicateSegment(id, tracked.name, name);
      }
    }
  }

  /** Tracked segments (zombies included). */
  segmentInfo(): SegmentInfo[] {
    return [...this.segments.values()].sort((a, b) => a.id - b.id);
  }

  /** A new set of every tracked, non-zombie segment (after a refresh whose errors are ignored). */
  async currentSet(): Promise<ValueSet> {
    this.checkOpen();
    try {
      await this.refresh();
    } catch {
      // As in Go: a failed scan still yields a set of what is tracked.
    }
    const members = new Map<number, Segment>();
    for (const [id, s] of this.segments) {
      if (s.zombie) continue;
      s.refCount++;
      members.set(id, s);
    }
    return new ValueSet(this, members, !this.disableChecksum);
  }

  /** Adds a holder to a set: it stays pinned until released once more. */
  acquire(set: ValueSet): void {
    if (!(set instanceof ValueSet)) throw invalidArgument('acquire expects a ValueSet');
    if (set.released) throw invalidArgument('acquire of a released ValueSet');
    set.count++;
  }

  /**
   * Drops one reference. When the set's last reference goes, every segment it holds loses one pin,
   * and a zombie segment with no pins left is closed and deleted. Releasing a set that is already
   * fully released is an error, never a second decrement. A deletion that fails leaves the segment
   * tracked as a zombie (retried by removeSegment or the next release) and the error is thrown.
   */
  async release(set: ValueSet): Promise<void> {
    if (!(set instanceof ValueSet)) throw invalidArgument('release expects a ValueSet');
    if (set.released) throw invalidArgument('ValueSet released twice');
    set.count--;
    if (set.count > 0) return;
    set.released = true;
    let firstError: unknown;
    for (const s of set.files.values() as Iterable<Segment>) {
      s.refCount--;
      if (s.refCount === 0 && s.zombie && this.segments.get(s.id) === s) {
        try {
          await this.deleteSegment(s);
        } catch (e) {
          firstError ??= e;
        }
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Excludes a segment from future sets; it is deleted when the last set holding it is released. */
  markZombie(id: number): void {
    const s = this.segments.get(id >>> 0);
    if (s === undefined) throw notFoundError(id, false);
    s.zombie = true;
  }

  /** Deletes an unpinned segment now (unknown ids are ignored); PINNED while a set holds it. */
  async removeSegment(id: number): Promise<void> {
    const s = this.segments.get(id >>> 0);
    if (s === undefined) return;
    if (s.refCount !== 0) throw new ValueLogError('PINNED', `valuelog: cannot remove valuelog file ${id >>> 0} (${s.name}): still pinned by ${s.refCount} set(s)`);
    await this.deleteSegment(s);
  }

  /** Deletes a segment whatever pins it (recovery cleanup before any snapshot exists). */
  async removeSegmentForce(id: number): Promise<void> {
    const s = this.segments.get(id >>> 0);
    if (s === undefined) return;
    await this.deleteSegment(s);
  }

  /** Forgets and closes an unpinned segment, leaving the file on disk; PINNED while a set holds it. */
  evictSegment(id: number): void {
    const s = this.segments.get(id >>> 0);
    if (s === undefined) return;
    if (s.refCount !== 0) throw new ValueLogError('PINNED', `valuelog: cannot evict valuelog file ${id >>> 0} (${s.name}): still pinned by ${s.refCount} set(s)`);
    this.forget(s);
  }

  private forget(s: Segment): void {
    this.segments.delete(s.id);
    if (s.frameCache) this.cache.dropSegment(s.frameCache);
    s.close();
  }

  private async deleteSegment(s: Segment): Promise<void> {
    s.close();
    if (s.frameCache) this.cache.dropSegment(s.frameCache);
    try {
      await this.storage.remove(s.name);
    } catch (e) {
      if (!(e instanceof ValueLogError && e.code === 'NOT_FOUND')) throw e;
    }
    if (this.segments.get(s.id) === s) this.segments.delete(s.id);
    await this.onSegmentDeleted?.(s.id);
  }

  /** Called after a segment file was deleted (the facade removes the segment's sidecar). */
  onSegmentDeleted: ((id: number) => Promise<void>) | undefined;

  /** @internal The values of the record at `start` of a tracked segment (see readRecordValues); NOT_FOUND if untracked. */
  recordValues(fileId: number, start: number, limit: number): RecordValues {
    this.checkOpen();
    const s = this.segments.get(fileId >>> 0);
    if (s === undefined) throw notFoundError(fileId, false);
    if (s.closed) throw new ValueLogError('CLOSED', `valuelog: segment ${s.name} was closed (removed or evicted)`);
    return readRecordValues(s.file, s.id, start, limit);
  }

  /** Whether a segment is tracked and not a zombie. */
  isLive(id: number): boolean {
    const s = this.segments.get(id >>> 0);
    return s !== undefined && !s.zombie;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /** A copy of the value. The segment must be tracked (call refresh() after new segments appear). */
  read(ptr: ValuePtr): Uint8Array {
    const r = this.readFrom(this.segmentFor(ptr), ptr, !this.disableChecksum);
    return r.shared ? copyBytes(r.value) : r.value;
  }

  /** The value, in `dst` when it fits (a view of dst), otherwise in a new array. */
  readInto(ptr: ValuePtr, dst: Uint8Array): Uint8Array {
    return copyInto(this.readFrom(this.segmentFor(ptr), ptr, !this.disableChecksum).value, dst);
  }

  /** A view that may alias an internal cache: do not mutate or keep it. */
  readUnsafe(ptr: ValuePtr): Uint8Array {
    return this.readFrom(this.segmentFor(ptr), ptr, !this.disableChecksum).value;
  }

  /** @internal */
  readFrom(s: Segment, ptr: ValuePtr, verify: boolean): { value: Uint8Array; shared: boolean } {
    if (s.closed) throw new ValueLogError('CLOSED', `valuelog: segment ${s.name} was closed (removed or evicted)`);
    s.frameCache ??= new SegmentFrameCache(this.cache, s.id);
    const ctx: PointerReadContext = { verify, dictLookup: this.dictLookup, template: this.template, cache: s.frameCache };
    return readValue(s.file, s.id, ptr, ctx);
  }

  private segmentFor(ptr: ValuePtr): Segment {
    this.checkOpen();
    checkValuePtr(ptr);
    const s = this.segments.get(ptr.fileId >>> 0);
    if (s === undefined) throw notFoundError(ptr.fileId, false);
    return s;
  }

  /**
   * How compressed frames find their dictionaries by id (undefined: frames that need one fail with
   * MISSING_DICT).
   */
  setDictLookup(fn: DictLookup | undefined): void {
    this.dictLookup = fn;
  }

  /** Installs a template lookup with a fresh shared definition cache of `opts.defCacheSize` entries. */
  setTemplateLookup(fn: TemplateLookup | undefined, opts: TemplateDecodeOptions = {}): void {
    this.template = makeTemplateContext(fn, opts);
  }

  /** Applies to Manager reads now and to sets created from now on (existing sets keep theirs). */
  setDisableReadChecksum(disable: boolean): void {
    this.disableChecksum = Boolean(disable);
  }

  /** Hit, miss and size counts of the template definition cache. */
  templateDefCacheStats(): { hits: number; misses: number; entries: number; capacity: number } {
    return this.template?.cache?.stats() ?? { hits: 0, misses: 0, entries: 0, capacity: 0 };
  }

  /** { remaps: frames decoded into the frame cache, deadMappings: frames evicted from it }. */
  remapStats(): { remaps: number; deadMappings: number } {
    return { remaps: this.cache.remaps, deadMappings: this.cache.evictions };
  }

  /** Closes every tracked segment. Sets still held become unreadable (CLOSED). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.segments.values()) s.close();
    this.segments.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new ValueLogError('CLOSED', 'valuelog: manager is closed');
  }
}
