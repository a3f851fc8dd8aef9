// FaultStorage: a StorageBackend for tests that models power loss and fails storage calls on purpose
// (in the spirit of SQLite's crash/IO-error test VFS and RocksDB's FaultInjectionTestFS). Runtime
// neutral (no node:* imports): it runs in Node, Deno, Bun and Chromium.
//
// Durability model (what a Linux file system guarantees to a careful application):
// - Each file has a volatile image (what reads see) and a durable image (what the last successful
//   flush() covered). crash() returns a fresh backend holding only durable state; with `torn`, a
//   prefix of the bytes appended after the durable end survives too (a torn tail).
// - A failed flush drops the dirty bytes, as Linux writeback does after an fsync error ("fsyncgate"):
//   the volatile image reverts to the durable one, so a retried flush "succeeds" with the data gone.
// - Directory entries: a creation is durable at once (NodeStorage fsyncs the directory when it
//   creates a file); a removal becomes durable at the next syncDir() (until then a crash brings the
//   file back with its durable contents).
//
// Faults: `arm(kind, n)` fails the n-th call (0-based) to which `kind` applies, counting every call
// of the backend and its files (open, list, remove, syncDir, read, write, writev, flush, truncate,
// size; close is not counted). Kinds:
//   eio                 the call throws a plain Error with code 'EIO' (any call); a failed flush drops
//                       the dirty bytes.
//   enospc              the call throws code 'ENOSPC' (write, writev, growing truncate, creating open,
//                       flush: delayed allocation fails at fsync, dropping the dirty bytes).
//   short-write         write/writev writes the first half and reports that count.
//   short-write-silent  write/writev writes the first half but reports the full count. Nothing above
//                       the backend can detect this (a lying disk): the only requirement is that no
//                       read returns wrong bytes and nothing crashes.
//   short-read          read fills only the first half of what it could and reports that count.
//   flip-read           read returns the right count with one bit flipped.
//   crash               power is lost just before the call: the durable state (with a torn tail) is
//                       captured as `crashImage`, and this and every later call throws 'EIO'.
// Injected errors are plain Errors (not ValueLogError), as a custom backend's would be.
import { ValueLogError, type OpenOptions, type StorageBackend, type StorageFile } from '../src/index.js';

/** The shape of a backend's directory lock (StorageLock), forwarded as it is. */
interface HeldLock {
  readonly holder: string;
  readonly tookOver: boolean;
  release(): Promise<void>;
}

export type FaultKind = 'eio' | 'enospc' | 'short-write' | 'short-write-silent' | 'short-read' | 'flip-read' | 'crash';

export const FAULT_KINDS: readonly FaultKind[] = ['eio', 'enospc', 'short-write', 'short-write-silent', 'short-read', 'flip-read', 'crash'];

type CallKind = 'open' | 'create' | 'list' | 'remove' | 'syncDir' | 'read' | 'read-eof' | 'write' | 'writev' | 'flush' | 'truncate-grow' | 'truncate' | 'size';

const APPLIES: Record<FaultKind, ReadonlySet<CallKind>> = {
  eio: new Set<CallKind>(['open', 'create', 'list', 'remove', 'syncDir', 'read', 'read-eof', 'write', 'writev', 'flush', 'truncate-grow', 'truncate', 'size']),
  enospc: new Set<CallKind>(['create', 'write', 'writev', 'flush', 'truncate-grow']),
  'short-write': new Set<CallKind>(['write', 'writev']),
  'short-write-silent': new Set<CallKind>(['write', 'writev']),
  'short-read': new Set<CallKind>(['read']),
  'flip-read': new Set<CallKind>(['read']),
  crash: new Set<CallKind>(['open', 'create', 'list', 'remove', 'syncDir', 'read', 'read-eof', 'write', 'writev', 'flush', 'truncate-grow', 'truncate', 'size']),
};

/** A growable byte array. */
class Bytes {
  buf = new Uint8Array(256);
  len = 0;
  ensure(n: number): void {
    if (n <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  setLength(n: number): void {
    if (n < this.len) this.buf.fill(0, n, this.len);
    else this.ensure(n);
    this.len = n;
  }
  copy(): Bytes {
    const b = new Bytes();
    b.ensure(this.len);
    b.buf.set(this.buf.subarray(0, this.len));
    b.len = this.len;
    return b;
  }
}

/** One file (an inode): its volatile and durable images and the ranges written since the last flush. */
class Inode {
  data = new Bytes();
  durable = new Bytes();
  /** [start, end) ranges written since the last successful flush. */
  dirty: Array<[number, number]> = [];
  sizeDirty = false;

  write(src: Uint8Array, at: number): void {
    const end = at + src.length;
    if (end > this.data.len) this.data.setLength(end);
    this.data.buf.set(src, at);
    if (src.length > 0) this.dirty.push([at, end]);
  }

  truncate(size: number): void {
    this.data.setLength(size);
    this.sizeDirty = true;
  }

  /** A successful flush: the durable image becomes the volatile one (only dirty ranges are copied). */
  sync(): void {
    if (this.sizeDirty) {
      // A truncate happened: simplest to take the whole image.
      this.durable = this.data.copy();
      this.dirty = [];
      this.sizeDirty = false;
      return;
    }
    this.durable.setLength(this.data.len);
    for (const [s, e] of this.dirty) {
      const end = Math.min(e, this.data.len);
      if (end > s) this.durable.buf.set(this.data.buf.subarray(s, end), s);
    }
    this.dirty = [];
    this.sizeDirty = false;
  }

  /** A failed flush: the dirty bytes are dropped, the volatile image reverts to the durable one. */
  dropDirty(): void {
    this.data = this.durable.copy();
    this.dirty = [];
    this.sizeDirty = false;
  }

  /** The image after power loss: durable bytes plus `tornBytes` of what was appended after them. */
  crashImage(tornBytes: number): Inode {
    const n = new Inode();
    n.data = this.durable.copy();
    const extra = Math.max(0, Math.min(tornBytes, this.data.len - this.durable.len));
    if (extra > 0) {
      const at = this.durable.len;
      n.data.setLength(at + extra);
      n.data.buf.set(this.data.buf.subarray(at, at + extra), at);
    }
    n.durable = n.data.copy();
    return n;
  }

  /** Bytes appended after the durable end (what a torn tail can keep). */
  get unsyncedTail(): number {
    return Math.max(0, this.data.len - this.durable.len);
  }
}

/** Deterministic xorshift32. */
class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.x ^= this.x << 13;
    this.x >>>= 0;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    this.x >>>= 0;
    return this.x;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

export interface FaultStorageOptions {
  /** Seed for torn-tail lengths and flipped bits (default 1). */
  seed?: number;
  /** A backend whose lock() this one forwards (if it has one). */
  lockFrom?: StorageBackend;
}

function injected(code: 'EIO' | 'ENOSPC', what: string): Error {
  return Object.assign(new Error(`${code}: injected fault (${what})`), { code });
}

export class FaultStorage implements StorageBackend {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private rng: Rng;
  private armed: { kind: FaultKind; n: number; match: ((what: string) => boolean) | undefined } | undefined;
  private seen = 0;
  private dead = false;
  /** Storage calls made so far (close excluded). */
  calls = 0;
  /** Calls counted per fault kind (the calls that kind could have failed). */
  readonly applicable: Record<FaultKind, number> = { eio: 0, enospc: 0, 'short-write': 0, 'short-write-silent': 0, 'short-read': 0, 'flip-read': 0, crash: 0 };
  /** What was injected, if anything ("kind at call#i: op name"). */
  fired: string | undefined;
  /** For the crash kind: the durable state at the moment power was lost. */
  crashImage: FaultStorage | undefined;
  readonly lock?: () => Promise<HeldLock>;

  constructor(private readonly options: FaultStorageOptions = {}) {
    this.rng = new Rng(options.seed ?? 1);
    const from = options.lockFrom as { lock?: () => Promise<HeldLock> } | undefined;
    if (from !== undefined && typeof from.lock === 'function') this.lock = () => from.lock!.call(from);
  }

  /** Fails the n-th (0-based) call to which `kind` applies (see the file comment). */
  arm(kind: FaultKind, n: number): this {
    this.armed = { kind, n, match: undefined };
    this.seen = 0;
    return this;
  }

  /**
   * Fails the n-th (0-based) call to which `kind` applies among those whose description matches
   * (descriptions look like "flush value-l0-000001.log", "write dict-highwater@0+16", "open x").
   */
  armWhen(kind: FaultKind, match: RegExp | ((what: string) => boolean), n = 0): this {
    this.armed = { kind, n, match: typeof match === 'function' ? match : (w) => match.test(w) };
    this.seen = 0;
    return this;
  }

  /** Power loss now: a new backend with only the durable state (and, with `torn`, torn tails). */
  crash(torn = true): FaultStorage {
    const next = new FaultStorage({ seed: this.rng.next() });
    for (const [name, node] of this.durableNames) {
      const keep = torn && node.unsyncedTail > 0 ? this.rng.below(node.unsyncedTail + 1) : 0;
      const image = node.crashImage(keep);
      next.names.set(name, image);
      next.durableNames.set(name, image);
    }
    return next;
  }

  /**
   * Counts a call and decides its fault: 'fault' means the caller applies `kind`'s effect
   * (throws were already done here for eio/enospc/crash).
   */
  private call(kind: CallKind, what: string, onFail?: () => void): FaultKind | undefined {
    if (this.dead) throw injected('EIO', `${what} after power loss`);
    const index = this.calls++;
    let hit: FaultKind | undefined;
    for (const k of FAULT_KINDS) {
      if (!APPLIES[k].has(kind)) continue;
      this.applicable[k]++;
      if (this.armed?.kind === k && (this.armed.match === undefined || this.armed.match(what)) && this.seen++ === this.armed.n) hit = k;
    }
    if (hit === undefined) return undefined;
    this.armed = undefined;
    this.fired = `${hit} at call #${index}: ${what}`;
    if (hit === 'crash') {
      this.crashImage = this.crash(true);
      this.dead = true;
      throw injected('EIO', `power lost at ${what}`);
    }
    if (hit === 'eio' || hit === 'enospc') {
      onFail?.();
      throw injected(hit === 'eio' ? 'EIO' : 'ENOSPC', what);
    }
    return hit;
  }

  /** Random bits for flipped reads. */
  pick(n: number): number {
    return this.rng.below(n);
  }

  async list(): Promise<string[]> {
    this.call('list', 'list');
    return [...this.names.keys()].sort();
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    const exists = this.names.get(name);
    this.call(exists === undefined && opts.create === true ? 'create' : 'open', `open ${name}`);
    let node = exists;
    if (node === undefined) {
      if (opts.create !== true) throw new ValueLogError('NOT_FOUND', `valuelog: file ${name} not found`);
      node = new Inode();
      this.names.set(name, node);
      this.durableNames.set(name, node); // created files are durable at once (see the file comment)
    }
    return new FaultFile(this, name, node, opts.readOnly === true);
  }

  async remove(name: string): Promise<void> {
    this.call('remove', `remove ${name}`);
    if (!this.names.delete(name)) throw new ValueLogError('NOT_FOUND', `valuelog: file ${name} not found`);
  }

  async syncDir(): Promise<void> {
    this.call('syncDir', 'syncDir');
    this.durableNames = new Map(this.names);
  }

  /** @internal for FaultFile */
  fileCall(kind: CallKind, what: string, onFail?: () => void): FaultKind | undefined {
    return this.call(kind, what, onFail);
  }
}

class FaultFile implements StorageFile {
  private closed = false;

  constructor(
    private readonly fs: FaultStorage,
    private readonly name: string,
    private readonly node: Inode,
    private readonly readOnly: boolean,
  ) {}

  private check(write: boolean): void {
    if (this.closed) throw new ValueLogError('CLOSED', `valuelog: file ${this.name} is closed`);
    if (write && this.readOnly) throw new ValueLogError('INVALID_ARGUMENT', `valuelog: file ${this.name} was opened read-only`);
  }

  read(dst: Uint8Array, at: number): number {
    this.check(false);
    const avail = Math.max(0, Math.min(dst.length, this.node.data.len - at));
    const fault = avail >= 1 ? this.fs.fileCall('read', `read ${this.name}@${at}+${dst.length}`) : this.fs.fileCall('read-eof', `read ${this.name}@${at} (at the end)`);
    let n = avail;
    if (fault === 'short-read') n = avail >> 1;
    dst.set(this.node.data.buf.subarray(at, at + n));
    if (fault === 'flip-read' && n > 0) dst[this.fs.pick(n)]! ^= 1 << this.fs.pick(8);
    return n;
  }

  write(src: Uint8Array, at: number): number {
    this.check(true);
    if (src.length === 0) return 0;
    const fault = this.fs.fileCall('write', `write ${this.name}@${at}+${src.length}`);
    if (fault === 'short-write' || fault === 'short-write-silent') {
      const half = src.length >> 1;
      this.node.write(src.subarray(0, half), at);
      return fault === 'short-write' ? half : src.length;
    }
    this.node.write(src, at);
    return src.length;
  }

  writev(srcs: Uint8Array[], at: number): number {
    this.check(true);
    let total = 0;
    for (const s of srcs) total += s.length;
    if (total === 0) return 0;
    const fault = this.fs.fileCall('writev', `writev ${this.name}@${at}+${total}`);
    const limit = fault === 'short-write' || fault === 'short-write-silent' ? total >> 1 : total;
    let pos = at;
    for (const s of srcs) {
      const k = Math.min(s.length, at + limit - pos);
      if (k <= 0) break;
      this.node.write(s.subarray(0, k), pos);
      pos += k;
    }
    return fault === 'short-write' ? limit : total;
  }

  size(): number {
    this.check(false);
    this.fs.fileCall('size', `size ${this.name}`);
    return this.node.data.len;
  }

  truncate(size: number): void {
    this.check(true);
    this.fs.fileCall(size > this.node.data.len ? 'truncate-grow' : 'truncate', `truncate ${this.name} to ${size}`);
    this.node.truncate(size);
  }

  flush(): void {
    this.check(false);
    this.fs.fileCall('flush', `flush ${this.name}`, () => this.node.dropDirty());
    this.node.sync();
  }

  close(): void {
    this.closed = true;
  }
}
