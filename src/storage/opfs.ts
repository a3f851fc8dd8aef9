// OpfsStorage: the storage contract on the Origin Private File System, for a dedicated worker (sync
// access handles exist only there). One FileSystemSyncAccessHandle per file, shared by every
// StorageFile this backend opens on that name (OPFS allows one read-write handle per file across the
// whole origin, so the Writer and the Manager reading the active segment must share it), reference
// counted and closed with the last StorageFile. At most `maxHandles` (default 64) are open at once:
// beyond that, the least recently used file that nobody has open for writing (a sealed segment) gives
// up its handle and is read from a File snapshot with FileReaderSync (slow, ~1 ms a read, but sync),
// and gets a handle back in the background once it is read often again. Files opened read-only get a
// 'read-only' handle where the browser supports modes, so that other tabs can read sealed segments; a
// file held by another context is a LOCKED error that says so.
import { invalidArgument, ValueLogError } from '../errors.js';
import { checkBuffer, checkFileName, checkPosition, closedError, notFound, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile, type StorageLock } from './types.js';

// The few OPFS shapes used here, declared locally: the DOM lib of TypeScript 5.9 lacks the handle
// modes, and the worker lib cannot be combined with the DOM lib in one program.
interface SyncAccessHandle {
  read(buffer: Uint8Array, options?: { at?: number }): number;
  write(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}
interface OpfsFileHandle {
  readonly kind: 'file';
  createSyncAccessHandle(options?: { mode?: HandleMode }): Promise<SyncAccessHandle>;
  getFile(): Promise<File>;
}
interface OpfsDirectoryHandle {
  readonly kind: 'directory';
  readonly name: string;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectoryHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterableIterator<string>;
  entries(): AsyncIterableIterator<[string, OpfsFileHandle | OpfsDirectoryHandle]>;
}
type HandleMode = 'readwrite' | 'read-only' | 'readwrite-unsafe';

/** writev joins its parts into one write up to this many bytes. */
const COALESCE_MAX = 1 << 20;

/** The default and the ceiling of open handles (Safari fails at about 252 per origin). */
export const OPFS_MAX_HANDLES = 64;

/** Options of OpfsStorage.open. */
export interface OpfsStorageOptions {
  /**
   * Most sync access handles open at once (default 64). Beyond it, sealed files read from snapshots;
   * opening one more file for writing when every handle belongs to a writer is an IO error.
   */
  maxHandles?: number;
}

function domName(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : '';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function lockedError(name: string, dir: string, what: string, cause: unknown): ValueLogError {
  return new ValueLogError(
    'LOCKED',
    `valuelog: ${what} OPFS file ${dir}/${name}: another tab, worker or an earlier instance of this page still holds it ` +
      `(OPFS allows one read-write handle per file per origin). Close that tab or let its worker finish; within one page, ` +
      `open the log once and share it (valuelog/browser elects one writer per origin)`,
    { cause },
  );
}

/** Maps a DOMException from OPFS to ValueLogError (NotFound → NOT_FOUND, NoModificationAllowed → LOCKED, else IO). */
function wrap(err: unknown, op: string, name: string, dir: string): ValueLogError {
  if (err instanceof ValueLogError) return err;
  const kind = domName(err);
  if (kind === 'NotFoundError') {
    const nf = notFound(name);
    nf.cause = err;
    return nf;
  }
  if (kind === 'NoModificationAllowedError' || kind === 'InvalidStateError') return lockedError(name, dir, op, err);
  if (kind === 'QuotaExceededError') {
    return new ValueLogError('IO', `valuelog: ${op} ${dir}/${name} failed: the origin's storage quota is exhausted (${message(err)}); free space or ask for navigator.storage.persist()`, { cause: err });
  }
  return new ValueLogError('IO', `valuelog: ${op} ${dir}/${name} failed: ${kind ? `${kind}: ` : ''}${message(err)}`, { cause: err });
}

/** One file opened by this backend, shared by every open StorageFile of the same name. */
interface Shared {
  readonly name: string;
  readonly fileHandle: OpfsFileHandle;
  /** The sync access handle; undefined while the file is demoted to `snapshot`. */
  handle: SyncAccessHandle | undefined;
  /** A File snapshot of a sealed file that gave its handle up (read with FileReaderSync). */
  snapshot: File | undefined;
  mode: HandleMode;
  refs: number;
  /** StorageFiles open for writing: a file with writers keeps its handle. */
  writers: number;
  /** Set when the backend closed the file under open StorageFiles. */
  closed: boolean;
  /** LRU clock of the last use. */
  lastUse: number;
  /** Reads served from the snapshot since the last promotion attempt. */
  snapshotReads: number;
  /** A demotion or promotion in flight. */
  moving: boolean;
}

/** Reads from a snapshot before the file asks for its handle back. */
const PROMOTE_AFTER_READS = 8;

class OpfsFile implements StorageFile {
  private shared: Shared | undefined;

  constructor(
    shared: Shared,
    private readonly readOnly: boolean,
    private readonly storage: OpfsStorage,
  ) {
    this.shared = shared;
  }

  get name(): string {
    return this.shared?.name ?? '';
  }

  private live(): Shared {
    const s = this.shared;
    if (s === undefined || s.closed) throw closedError(s?.name ?? '(closed OPFS file)');
    return s;
  }

  private writable(): Shared {
    const s = this.live();
    if (this.readOnly) throw readOnlyError(s.name);
    return s;
  }

  read(dst: Uint8Array, at: number): number {
    const s = this.live();
    checkBuffer(dst, 'dst');
    checkPosition(at);
    s.lastUse = this.storage.touch();
    const handle = s.handle;
    if (handle === undefined) return this.storage.readSnapshot(s, dst, at);
    try {
      let done = 0;
      while (done < dst.length) {
        const n = handle.read(dst.subarray(done), { at: at + done });
        if (n === 0) break;
        if (!(n > 0 && n <= dst.length - done)) throw new ValueLogError('IO', `valuelog: read of ${dst.length} bytes at ${at} from OPFS file ${this.storage.path}/${s.name} failed (the browser returned ${n})`);
        done += n;
      }
      return done;
    } catch (e) {
      throw wrap(e, 'read', s.name, this.storage.path);
    }
  }

  write(src: Uint8Array, at: number): number {
    const s = this.writable();
    checkBuffer(src, 'src');
    checkPosition(at);
    if (!Number.isSafeInteger(at + src.length)) throw invalidArgument(`write of ${src.length} bytes at ${at} passes the largest file position`);
    s.lastUse = this.storage.touch();
    const handle = s.handle!; // a file with writers is never demoted
    try {
      let done = 0;
      while (done < src.length) {
        const n = handle.write(src.subarray(done), { at: at + done });
        // Chromium reports a failed write (no space under the quota) as a count: a base::File error
        // code turned unsigned (2^32 - 8). Anything but a count within the request is a failure.
        if (!(n > 0 && n <= src.length - done)) throw new ValueLogError('IO', `valuelog: write of ${src.length} bytes at ${at} to OPFS file ${this.storage.path}/${s.name} failed after ${done} bytes (the browser returned ${n}; most likely the origin's storage quota is exhausted)`);
        done += n;
      }
    } catch (e) {
      throw wrap(e, 'write', s.name, this.storage.path);
    }
    return src.length;
  }

  /**
   * OPFS has no vectored write, and each sync-handle write is a call into the browser: parts up to
   * COALESCE_MAX in all are copied into one buffer and written at once; larger runs go part by part.
   */
  writev(srcs: Uint8Array[], at: number): number {
    this.writable();
    checkPosition(at);
    let total = 0;
    for (const src of srcs) total += checkBuffer(src, 'src').length;
    if (!Number.isSafeInteger(at + total)) throw invalidArgument(`writev ending at ${at + total} passes the largest file position`);
    if (srcs.length > 1 && total <= COALESCE_MAX) {
      const joined = this.storage.scratch(total);
      let off = 0;
      for (const src of srcs) {
        joined.set(src, off);
        off += src.length;
      }
      return this.write(joined, at);
    }
    let pos = at;
    for (const src of srcs) pos += this.write(src, pos);
    return pos - at;
  }

  size(): number {
    const s = this.live();
    try {
      return s.handle !== undefined ? s.handle.getSize() : s.snapshot!.size;
    } catch (e) {
      throw wrap(e, 'size of', s.name, this.storage.path);
    }
  }

  truncate(size: number): void {
    const s = this.writable();
    checkPosition(size, 'size');
    try {
      s.handle!.truncate(size);
    } catch (e) {
      throw wrap(e, 'truncate', s.name, this.storage.path);
    }
  }

  flush(): void {
    const s = this.live();
    if (this.readOnly) return; // nothing of ours to make durable; a read-only handle cannot flush
    try {
      s.handle!.flush();
    } catch (e) {
      throw wrap(e, 'flush', s.name, this.storage.path);
    }
  }

  close(): void {
    const s = this.shared;
    if (s === undefined) return;
    this.shared = undefined;
    this.storage.releaseShared(s, !this.readOnly);
  }
}

/**
 * The storage backend on the Origin Private File System, in a dedicated worker: one sync access handle
 * per open file, at most `maxHandles` at once (see README, "Browser").
 */
export class OpfsStorage implements StorageBackend {
  /** Names opened through this backend, with their one shared handle. */
  private readonly open_ = new Map<string, Shared>();
  /** Handle creations in flight, so that two concurrent opens of one name share one handle. */
  private readonly pending = new Map<string, Promise<Shared>>();
  private readonly maxHandles: number;
  private closed = false;

  private constructor(
    private readonly dir: OpfsDirectoryHandle,
    /** The directory's path below the OPFS root, for messages. */
    readonly path: string,
    opts: OpfsStorageOptions,
  ) {
    const max = opts.maxHandles ?? OPFS_MAX_HANDLES;
    if (!Number.isSafeInteger(max) || max < 1) throw invalidArgument(`maxHandles must be a positive integer, got ${String(max)}`);
    this.maxHandles = max;
  }

  /** Whether this context can use OpfsStorage (a dedicated worker of a secure origin). */
  static isSupported(): boolean {
    const g = globalThis as unknown as { navigator?: { storage?: { getDirectory?: unknown } }; FileSystemFileHandle?: { prototype?: object } };
    return typeof g.navigator?.storage?.getDirectory === 'function' && g.FileSystemFileHandle?.prototype !== undefined && 'createSyncAccessHandle' in g.FileSystemFileHandle.prototype;
  }

  /**
   * Opens (creating as needed) the directory `path` ('a/b', '' for the OPFS root) of this origin's
   * private file system. Must run in a dedicated worker: the page has no sync access handles.
   */
  static async open(path: string, opts: OpfsStorageOptions = {}): Promise<OpfsStorage> {
    if (typeof path !== 'string') throw invalidArgument('OPFS directory path must be a string');
    const g = globalThis as unknown as { navigator?: { storage?: { getDirectory?: () => Promise<OpfsDirectoryHandle> } } };
    const getDirectory = g.navigator?.storage?.getDirectory;
    if (typeof getDirectory !== 'function') throw new ValueLogError('IO', 'valuelog: OPFS is not available here (navigator.storage.getDirectory is missing; it needs a secure origin: https, localhost or 127.0.0.1)');
    if (!OpfsStorage.isSupported()) throw new ValueLogError('IO', 'valuelog: OpfsStorage needs a dedicated worker: FileSystemSyncAccessHandle does not exist in this context (use valuelog/browser from a page)');
    const parts = path.split('/').filter((p) => p.length > 0);
    for (const p of parts) checkFileName(p);
    let dir: OpfsDirectoryHandle;
    try {
      dir = await getDirectory.call(g.navigator!.storage);
      for (const p of parts) dir = await dir.getDirectoryHandle(p, { create: true });
    } catch (e) {
      throw wrap(e, 'open directory', parts.join('/'), '');
    }
    return new OpfsStorage(dir, parts.join('/'), opts);
  }

  private scratchBuffer = new Uint8Array(0);

  /** A reusable buffer of at least n bytes (n <= COALESCE_MAX), for writev. */
  scratch(n: number): Uint8Array {
    if (this.scratchBuffer.length < n) this.scratchBuffer = new Uint8Array(Math.min(COALESCE_MAX, Math.max(n, 64 * 1024)));
    return this.scratchBuffer.subarray(0, n);
  }

  private clock = 0;

  /** The LRU clock, advanced by every use of a file. */
  touch(): number {
    return ++this.clock;
  }

  /** Sync access handles this backend holds now (never more than maxHandles). */
  get openHandles(): number {
    let n = 0;
    for (const s of this.open_.values()) if (s.handle !== undefined) n++;
    return n + this.pending.size;
  }

  /** How this backend holds a file now: 'handle', 'snapshot' (demoted), or undefined (not open). */
  fileState(name: string): 'handle' | 'snapshot' | undefined {
    const s = this.open_.get(name);
    return s === undefined ? undefined : s.handle !== undefined ? 'handle' : 'snapshot';
  }

  /**
   * The directory's ownership lock: the Web Lock `valuelog-storage:<path>` (requested with
   * ifAvailable, held until release). The browser client's owner election uses another name
   * (`valuelog:<name>`), so a worker holding both never waits on itself. The browser releases the
   * lock of a closed tab or worker by itself, so tookOver is always false here.
   */
  async lock(): Promise<StorageLock> {
    type LockManager = { request(name: string, o: { ifAvailable: boolean }, cb: (lock: unknown) => Promise<void>): Promise<void> };
    const locks = (globalThis as unknown as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (typeof locks?.request !== 'function') throw new ValueLogError('IO', 'valuelog: Web Locks (navigator.locks) are not available here; OpfsStorage needs them to own a directory');
    const name = `valuelog-storage:${this.path}`;
    const since = new Date().toISOString();
    return new Promise<StorageLock>((resolve, reject) => {
      let held: Promise<void> | undefined;
      held = locks
        .request(name, { ifAvailable: true }, async (lock) => {
          if (lock === null) {
            reject(new ValueLogError('LOCKED', `valuelog: OPFS directory ${JSON.stringify(this.path)} is locked: another worker or tab of this origin has the log open (Web Lock ${name}); close it there first, or open with { readOnly: true }`));
            return;
          }
          await new Promise<void>((release) => {
            resolve({
              holder: `this worker since ${since} (Web Lock ${name})`,
              tookOver: false,
              release: async () => {
                release();
                await held;
              },
            });
          });
        })
        .catch((e: unknown) => reject(wrap(e, 'lock', '', this.path)));
    });
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const [name, h] of this.dir.entries()) if (h.kind === 'file') names.push(name);
    } catch (e) {
      throw wrap(e, 'list', '', this.path);
    }
    return names.sort();
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    checkFileName(name);
    if (this.closed) throw this.closedBackend();
    const readOnly = opts.readOnly === true;
    let shared = this.open_.get(name);
    if (shared === undefined) {
      let creating = this.pending.get(name);
      if (creating === undefined) {
        creating = this.createShared(name, opts.create === true, readOnly);
        this.pending.set(name, creating);
        creating.finally(() => this.pending.delete(name)).catch(() => {});
      }
      shared = await creating;
    }
    if (!readOnly) {
      if (shared.handle !== undefined && shared.mode === 'read-only') {
        throw new ValueLogError(
          'LOCKED',
          `valuelog: OPFS file ${this.path}/${name} is open read-only in this backend; close its read-only files before opening it for writing`,
        );
      }
      shared.writers++; // from here on it keeps (or regains) its handle
      if (shared.handle === undefined) {
        try {
          await this.promote(shared, true);
        } catch (e) {
          shared.writers--;
          throw e;
        }
      }
    }
    shared.refs++;
    shared.lastUse = this.touch();
    return new OpfsFile(shared, readOnly, this);
  }

  private async createShared(name: string, create: boolean, readOnly: boolean): Promise<Shared> {
    let fh: OpfsFileHandle;
    try {
      fh = await this.dir.getFileHandle(name, { create });
    } catch (e) {
      if (domName(e) === 'TypeMismatchError') throw new ValueLogError('IO', `valuelog: ${this.path}/${name} is a directory, not a file`, { cause: e });
      throw wrap(e, 'open', name, this.path);
    }
    const shared: Shared = { name, fileHandle: fh, handle: undefined, snapshot: undefined, mode: 'readwrite', refs: 0, writers: 0, closed: false, lastUse: this.touch(), snapshotReads: 0, moving: false };
    if (!(await this.makeRoom(name))) {
      // Every handle belongs to a file open for writing: a reader can still use a snapshot.
      if (!readOnly || !canReadSnapshots()) throw this.poolFull(name);
      try {
        shared.snapshot = await fh.getFile();
      } catch (e) {
        throw wrap(e, 'open for reading', name, this.path);
      }
    } else {
      const mode: HandleMode = readOnly ? 'read-only' : 'readwrite';
      let handle: SyncAccessHandle;
      try {
        handle = await fh.createSyncAccessHandle({ mode });
      } catch (e) {
        throw wrap(e, readOnly ? 'open for reading' : 'open for writing', name, this.path);
      }
      // Browsers without modes ignore the option and give an exclusive read-write handle, which
      // serves both kinds of open here.
      shared.handle = handle;
      shared.mode = readOnly && supportsModes(handle) ? 'read-only' : 'readwrite';
    }
    if (this.closed) {
      shared.handle?.close(); // the backend was closed while the file was being opened
      throw this.closedBackend();
    }
    this.open_.set(name, shared);
    return shared;
  }

  private poolFull(name: string): ValueLogError {
    return new ValueLogError('IO', `valuelog: cannot open OPFS file ${this.path}/${name}: all ${this.maxHandles} handles (maxHandles) belong to files open for writing; close some`);
  }

  /**
   * Frees a handle slot if the pool is full, by demoting the least recently used file that nobody
   * has open for writing to a File snapshot. False when no file can give its handle up.
   */
  private async makeRoom(forName: string): Promise<boolean> {
    // Counts the open being made (it is in `pending` while this runs).
    while (this.openHandles > this.maxHandles - (this.pending.has(forName) ? 0 : 1)) {
      let victim: Shared | undefined;
      for (const s of this.open_.values()) {
        if (s.handle !== undefined && s.writers === 0 && !s.moving && s.name !== forName && (victim === undefined || s.lastUse < victim.lastUse)) victim = s;
      }
      if (victim === undefined || !canReadSnapshots()) return false;
      await this.demote(victim);
    }
    return true;
  }

  /** Replaces a sealed file's handle by a File snapshot taken while the handle is still open. */
  private async demote(s: Shared): Promise<void> {
    s.moving = true;
    try {
      const snapshot = await s.fileHandle.getFile();
      if (s.closed || s.writers > 0 || s.handle === undefined) return; // someone else acted meanwhile
      s.snapshot = snapshot;
      s.snapshotReads = 0;
      const h = s.handle;
      s.handle = undefined;
      h.close();
    } finally {
      s.moving = false;
    }
  }

  /** Gives a demoted file a handle again (for a writer, or because it is read often). */
  private async promote(s: Shared, forWriting: boolean): Promise<void> {
    if (!(await this.makeRoom(s.name))) {
      if (forWriting) throw this.poolFull(s.name);
      return;
    }
    if (s.handle !== undefined || s.closed) return;
    s.moving = true;
    try {
      const mode: HandleMode = s.writers > 0 ? 'readwrite' : 'read-only';
      const handle = await s.fileHandle.createSyncAccessHandle({ mode });
      if (s.closed) {
        handle.close();
        return;
      }
      s.handle = handle;
      s.mode = mode === 'read-only' && supportsModes(handle) ? 'read-only' : 'readwrite';
      s.snapshot = undefined;
    } catch (e) {
      throw wrap(e, forWriting ? 'open for writing' : 'open for reading', s.name, this.path);
    } finally {
      s.moving = false;
    }
  }

  /** A read of a demoted file, from its snapshot; asks for the handle back when read often. */
  readSnapshot(s: Shared, dst: Uint8Array, at: number): number {
    const file = s.snapshot!;
    const end = Math.min(file.size, at + dst.length);
    if (end <= at) return 0;
    try {
      const bytes = new (globalThis as unknown as { FileReaderSync: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } }).FileReaderSync().readAsArrayBuffer(file.slice(at, end));
      dst.set(new Uint8Array(bytes));
    } catch (e) {
      throw wrap(e, 'read (snapshot of)', s.name, this.path);
    }
    if (++s.snapshotReads >= PROMOTE_AFTER_READS && !s.moving) {
      s.snapshotReads = 0;
      this.promote(s, false).catch(() => {}); // best effort: reads keep working from the snapshot
    }
    return end - at;
  }

  /** Called by OpfsFile.close: the handle closes with the file's last StorageFile. */
  releaseShared(s: Shared, writer: boolean): void {
    if (writer) s.writers--;
    if (--s.refs > 0 || s.closed) return;
    s.closed = true;
    s.snapshot = undefined;
    if (this.open_.get(s.name) === s) this.open_.delete(s.name);
    try {
      s.handle?.close();
    } catch {
      // Closing a handle whose file went away cannot lose data: every write already reached it.
    }
    s.handle = undefined;
  }

  /** Removal of a file open anywhere (here or in another context) is LOCKED, as OPFS refuses it. */
  async remove(name: string): Promise<void> {
    checkFileName(name);
    if (this.open_.has(name) || this.pending.has(name)) {
      throw new ValueLogError('LOCKED', `valuelog: cannot remove OPFS file ${this.path}/${name}: it is still open in this backend (OPFS cannot remove an open file); close it first`);
    }
    try {
      await this.dir.removeEntry(name);
    } catch (e) {
      if (domName(e) === 'NoModificationAllowedError' || domName(e) === 'InvalidModificationError') throw lockedError(name, this.path, 'remove', e);
      throw wrap(e, 'remove', name, this.path);
    }
  }

  /** OPFS makes directory changes durable by itself. */
  async syncDir(): Promise<void> {}

  private closedBackend(): ValueLogError {
    return new ValueLogError('CLOSED', `valuelog: the OPFS storage ${this.path} was closed`);
  }

  /** Closes every handle this backend holds (open StorageFiles then throw CLOSED; so does open()). */
  close(): void {
    this.closed = true;
    for (const s of [...this.open_.values()]) {
      s.refs = 0;
      this.releaseShared(s, false);
    }
  }
}

/** FileReaderSync exists in dedicated workers: the synchronous way to read a File snapshot. */
function canReadSnapshots(): boolean {
  return typeof (globalThis as { FileReaderSync?: unknown }).FileReaderSync === 'function';
}

/** Chromium 121+ accepts handle modes and reports them on the handle; older engines do neither. */
function supportsModes(handle: SyncAccessHandle): boolean {
  return (handle as { mode?: unknown }).mode === 'read-only';
}
