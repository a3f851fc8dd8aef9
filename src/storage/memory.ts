// MemoryStorage: the storage contract in memory, with the same semantics as NodeStorage (holes read as
// zeros, short reads at the end, truncate shrinks or extends with zeros, removal detaches the name
// while open handles keep working). A file is a sparse run of 1 MiB pages, each a growable byte array
// whose capacity doubles: appends cost O(n) overall, and a write at 2^32 does not allocate 4 GiB.
import { asValueLogError, ValueLogError } from '../errors.js';
import { checkBuffer, checkFileName, checkPosition, closedError, notFound, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile, type StorageLock } from './types.js';

const PAGE = 1 << 20;
const MIN_CAPACITY = 64;

/** The bytes of one file. Invariant: every stored byte at or beyond `length` is zero. */
class MemoryData {
  private readonly pages = new Map<number, Uint8Array>();
  length = 0;

  read(dst: Uint8Array, at: number): number {
    const n = Math.min(dst.length, this.length - at);
    let done = 0;
    while (done < n) {
      const pos = at + done;
      const idx = Math.floor(pos / PAGE);
      const off = pos - idx * PAGE;
      const k = Math.min(n - done, PAGE - off);
      const page = this.pages.get(idx);
      const have = page === undefined ? 0 : Math.max(0, Math.min(k, page.length - off));
      if (have > 0) dst.set(page!.subarray(off, off + have), done);
      if (have < k) dst.fill(0, done + have, done + k);
      done += k;
    }
    return Math.max(n, 0);
  }

  /** Writes up to `limit` bytes of srcs back to back at `at` (positions already validated). */
  write(srcs: readonly Uint8Array[], at: number, limit: number): void {
    let pos = at;
    for (const src of srcs) {
      let done = 0;
      while (done < src.length && pos < at + limit) {
        const idx = Math.floor(pos / PAGE);
        const off = pos - idx * PAGE;
        const k = Math.min(src.length - done, PAGE - off, at + limit - pos);
        this.page(idx, off + k).set(src.subarray(done, done + k), off);
        done += k;
        pos += k;
      }
    }
    if (pos > at && pos > this.length) this.length = pos; // nothing written extends nothing
  }

  truncate(size: number): void {
    if (size < this.length) {
      const idx = Math.floor(size / PAGE);
      const off = size - idx * PAGE;
      for (const k of [...this.pages.keys()]) if (k > idx || (k === idx && off === 0)) this.pages.delete(k);
      const page = this.pages.get(idx);
      if (page !== undefined && off < page.length) page.fill(0, off);
    }
    this.length = size;
  }

  private page(idx: number, need: number): Uint8Array {
    const cur = this.pages.get(idx);
    if (cur !== undefined && cur.length >= need) return cur;
    let cap = cur === undefined ? MIN_CAPACITY : cur.length;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(Math.min(cap, PAGE));
    if (cur !== undefined) next.set(cur);
    this.pages.set(idx, next);
    return next;
  }
}

/** Options of MemoryStorage (fault injection for tests). */
export interface MemoryStorageOptions {
  /**
   * Fault injection, called before every non-empty write or writev with the total length. Throwing
   * makes the call fail with the file unchanged (a non-ValueLogError is wrapped as IO). Returning a
   * number n < length simulates a torn write: the first n bytes land, then the call throws IO.
   */
  onWrite?(name: string, at: number, length: number): void | number;
}

export class MemoryFile implements StorageFile {
  private closed = false;
  /** Number of flush() calls (tests check that durability was asked for). */
  flushCount = 0;

  constructor(
    readonly name: string,
    private readonly data: MemoryData,
    private readonly readOnly: boolean,
    private readonly options: MemoryStorageOptions,
  ) {}

  private live(): void {
    if (this.closed) throw closedError(this.name);
  }

  private writable(): void {
    this.live();
    if (this.readOnly) throw readOnlyError(this.name);
  }

  read(dst: Uint8Array, at: number): number {
    this.live();
    checkBuffer(dst, 'dst');
    checkPosition(at);
    return this.data.read(dst, at);
  }

  write(src: Uint8Array, at: number): number {
    this.writable();
    checkBuffer(src, 'src');
    return this.put([src], at, src.length);
  }

  writev(srcs: Uint8Array[], at: number): number {
    this.writable();
    if (!Array.isArray(srcs)) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: writev expects an array of Uint8Array');
    let total = 0;
    for (const s of srcs) total += checkBuffer(s, 'src').length;
    return this.put(srcs, at, total);
  }

  private put(srcs: readonly Uint8Array[], at: number, total: number): number {
    checkPosition(at);
    checkPosition(at + total, 'end of write');
    if (total === 0) return 0;
    let torn: number | void;
    try {
      torn = this.options.onWrite?.(this.name, at, total);
    } catch (e) {
      throw asValueLogError(e, 'IO', `write ${this.name}`);
    }
    if (typeof torn === 'number' && torn < total) {
      this.data.write(srcs, at, Math.max(0, Math.floor(torn)));
      throw new ValueLogError('IO', `valuelog: write ${this.name}: injected torn write after ${torn} of ${total} bytes`);
    }
    this.data.write(srcs, at, total);
    return total;
  }

  size(): number {
    this.live();
    return this.data.length;
  }

  truncate(size: number): void {
    this.writable();
    checkPosition(size, 'size');
    this.data.truncate(size);
  }

  flush(): void {
    this.live();
    this.flushCount++;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * A storage backend in memory, in every runtime: for tests (fault injection, a lock that can be
 * abandoned as by a dead process) and as the model the other backends are checked against.
 */
export class MemoryStorage implements StorageBackend {
  private readonly files = new Map<string, MemoryData>();
  /** Number of syncDir() calls. */
  syncDirCount = 0;
  private lockedSince: string | undefined;
  private lockEpoch = 0;
  private abandoned = false;

  constructor(private readonly options: MemoryStorageOptions = {}) {}

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  async open(name: string, opts: OpenOptions = {}): Promise<MemoryFile> {
    checkFileName(name);
    let data = this.files.get(name);
    if (data === undefined) {
      if (opts.create !== true) throw notFound(name);
      data = new MemoryData();
      this.files.set(name, data);
    }
    return new MemoryFile(name, data, opts.readOnly === true, this.options);
  }

  /** Detaches the name: open handles keep the data, a later create starts a fresh file. */
  async remove(name: string): Promise<void> {
    checkFileName(name);
    if (!this.files.delete(name)) throw notFound(name);
  }

  async syncDir(): Promise<void> {
    this.syncDirCount++;
  }

  /** An in-process lock: a second read-write ValueLog on this storage gets LOCKED until the first closes. */
  async lock(): Promise<StorageLock> {
    if (this.lockedSince !== undefined) {
      throw new ValueLogError('LOCKED', `valuelog: this MemoryStorage is locked: a ValueLog opened on it at ${this.lockedSince} is still open; close it first, or open with { readOnly: true } to read beside it`);
    }
    const since = new Date().toISOString();
    const epoch = ++this.lockEpoch;
    const tookOver = this.abandoned;
    this.abandoned = false;
    this.lockedSince = since;
    return {
      holder: `a ValueLog in this process since ${since}`,
      tookOver,
      release: async () => {
        if (this.lockEpoch === epoch) this.lockedSince = undefined;
      },
    };
  }

  /**
   * For crash tests: forgets the current lock holder as if its process had died, so that the next
   * lock() succeeds with tookOver: true. The abandoned ValueLog must not be used any more.
   */
  abandonLock(): void {
    if (this.lockedSince === undefined) return;
    this.lockedSince = undefined;
    this.lockEpoch++;
    this.abandoned = true;
  }
}
