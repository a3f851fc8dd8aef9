// Deferred creation (docs/DESIGN.md, "Opening writes nothing"): a view of a backend in which named
// files that do not exist yet are created only once bytes are written to them. Until then they live
// in memory: they are listed, open (any number of handles share one file), readable, and take writes;
// the first write starts their creation in the background, and settle() waits for it. A sync of such
// a file before it exists fails (IO) rather than report bytes durable that are not on storage, so the
// owner settles before it syncs. Every other file and call goes straight to the backend.
//
// The bytes held are what was written before the backend's asynchronous create completed: what the
// owner wrote in the synchronous run before the event loop ran the creation. While creation fails the
// owner bounds them (the facade refuses to grow a held segment past twice its size). Storage knows
// nothing of records or frames; this only holds bytes.
import { asValueLogError, ValueLogError } from '../errors.js';
import { checkBuffer, checkFileName, checkPosition, closedError, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile, type StorageLock } from './types.js';

/** A backend view whose `hold()`-named files are created on their first write (see the file comment). */
export class DeferredCreationStorage implements StorageBackend {
  /** Files named by hold() and not created yet, in the order they were named. */
  private readonly held = new Map<string, HeldFile>();
  private creating: Promise<void> | undefined;
  /** Why the last creation failed (cleared by one that succeeds). */
  private lastError: ValueLogError | undefined;
  /** Makes creations and removals durable: the backend's own (absent when the backend has none). */
  readonly syncDir?: () => Promise<void>;
  /** The backend's ownership lock (absent when the backend has none). */
  readonly lock?: () => Promise<StorageLock>;

  constructor(private readonly inner: StorageBackend) {
    if (typeof inner.syncDir === 'function') this.syncDir = () => inner.syncDir!();
    if (typeof inner.lock === 'function') this.lock = () => inner.lock!();
  }

  /**
   * Names a file the caller knows does not exist: it is created on its first write. Holding a name
   * already held is a no-op.
   */
  hold(name: string): void {
    checkFileName(name);
    if (!this.held.has(name)) this.held.set(name, new HeldFile(name, this));
  }

  /** Whether a file named by hold() is still waiting for its first write (or its creation). */
  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  /** Bytes held in memory for files not created yet. */
  heldBytes(): number {
    let n = 0;
    for (const f of this.held.values()) n += f.length;
    return n;
  }

  /** The backend's files and the held ones. */
  async list(): Promise<string[]> {
    const names = await this.inner.list();
    for (const name of this.held.keys()) if (!names.includes(name)) names.push(name);
    return names;
  }

  /** A held file opens as a handle on its memory (create or not); any other goes to the backend. */
  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    const held = this.held.get(name);
    if (held !== undefined) return held.handle(opts.readOnly === true);
    return this.inner.open(name, opts);
  }

  /** Removing a held file forgets it (its handles keep working on what they hold). */
  async remove(name: string): Promise<void> {
    const held = this.held.get(name);
    if (held === undefined) return this.inner.remove(name);
    this.held.delete(name);
    held.forgotten = true;
  }

  /**
   * Creates every held file that has bytes and writes them; resolves when none is left. A failed
   * create rejects and leaves the file held (the next settle() tries again); a failed write of the
   * held bytes is final for that file (its handles throw it from then on, as after any write failure).
   */
  async settle(): Promise<void> {
    for (;;) {
      if (this.creating !== undefined) {
        await this.creating;
        continue;
      }
      const due = [...this.held.values()].filter((f) => f.length > 0);
      if (due.length === 0) return;
      const run = (async () => {
        try {
          for (const f of due) await this.create(f);
          this.lastError = undefined;
        } catch (e) {
          // Converted here, so that a settle() that joins this run sees the same error.
          this.lastError = asValueLogError(e, 'IO', 'creating a held file');
          throw this.lastError;
        } finally {
          this.creating = undefined;
        }
      })();
      this.creating = run;
      await run;
    }
  }

  /** A held file whose bytes could not be written once it was created, if any: final, see settle(). */
  writeFailure(): ValueLogError | undefined {
    for (const f of this.held.values()) if (f.failure !== undefined) return f.failure;
    return undefined;
  }

  /** Why the last creation of held files failed, if it did and none succeeded since. */
  createError(): ValueLogError | undefined {
    return this.lastError;
  }

  /** Starts settle() in the background after a first write (its failure is reported by the next settle()). */
  scheduleSettle(): void {
    if (this.creating === undefined) this.settle().catch(() => undefined);
  }

  private async create(f: HeldFile): Promise<void> {
    if (f.failure !== undefined) throw f.failure;
    if (f.forgotten || f.file !== undefined) return;
    // A create that fails leaves the file held with its bytes: nothing was written.
    const file = await this.inner.open(f.name, { create: true });
    if (f.forgotten) {
      // Removed while being created: it goes again, never having held a byte on storage.
      file.close();
      await this.inner.remove(f.name).catch(() => undefined);
      return;
    }
    f.created(file);
    this.held.delete(f.name);
  }
}

/** One held file: its bytes until created, then the created file, shared by all its handles. */
class HeldFile {
  bytes = new Uint8Array(0);
  length = 0;
  /** The file on storage once created. */
  file: StorageFile | undefined;
  /** Writing the held bytes to the created file failed: final (see settle()). */
  failure: ValueLogError | undefined;
  /** remove() forgot it before it was created. */
  forgotten = false;
  private handles = 0;

  constructor(
    readonly name: string,
    private readonly owner: DeferredCreationStorage,
  ) {}

  handle(readOnly: boolean): StorageFile {
    this.handles++;
    return new HeldHandle(this, readOnly);
  }

  /** Called by the last handle's close(). */
  released(): void {
    if (--this.handles === 0 && this.file !== undefined) this.file.close();
  }

  /** The backend created the file: the held bytes go there in one write and memory is given back. */
  created(file: StorageFile): void {
    try {
      if (this.length > 0) {
        const n = file.write(this.bytes.subarray(0, this.length), 0);
        if (n !== this.length) throw new ValueLogError('IO', `valuelog: writing the ${this.length} held bytes of ${this.name} wrote ${String(n)}`);
      }
    } catch (e) {
      this.failure = asValueLogError(e, 'IO', `writing the held bytes of ${this.name}`);
      try {
        file.close();
      } catch {
        // the write failure is the one to report
      }
      throw this.failure;
    }
    this.file = file;
    this.bytes = new Uint8Array(0);
    if (this.handles === 0) file.close();
  }

  write(src: Uint8Array, at: number): number {
    const end = at + src.length;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, Math.min(2 * this.bytes.length, end + 64 * 1024 * 1024), 64 * 1024));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    // A hole before `at` reads as zeros: the buffer past `length` is zero or was cut by truncate.
    this.bytes.set(src, at);
    const first = this.length === 0 && end > 0;
    if (end > this.length) this.length = end;
    if (first) this.owner.scheduleSettle();
    return src.length;
  }

  truncate(size: number): void {
    if (size < this.length) this.bytes.fill(0, size, this.length);
    else if (size > this.bytes.length) {
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const first = this.length === 0 && size > 0;
    this.length = size;
    if (first) this.owner.scheduleSettle();
  }
}

/** A handle on a held file: memory until the file is created, the created file after. */
class HeldHandle implements StorageFile {
  private closed = false;

  constructor(
    private readonly f: HeldFile,
    private readonly readOnly: boolean,
  ) {}

  private live(): StorageFile | undefined {
    if (this.closed) throw closedError(this.f.name);
    if (this.f.failure !== undefined) throw this.f.failure;
    return this.f.file;
  }

  private writable(): StorageFile | undefined {
    const file = this.live();
    if (this.readOnly) throw readOnlyError(this.f.name);
    return file;
  }

  read(dst: Uint8Array, at: number): number {
    checkBuffer(dst, 'dst');
    checkPosition(at);
    const file = this.live();
    if (file !== undefined) return file.read(dst, at);
    if (at >= this.f.length) return 0;
    const n = Math.min(dst.length, this.f.length - at);
    dst.set(this.f.bytes.subarray(at, at + n));
    return n;
  }

  write(src: Uint8Array, at: number): number {
    checkBuffer(src, 'src');
    checkPosition(at);
    const file = this.writable();
    if (file !== undefined) return file.write(src, at);
    return this.f.write(src, at);
  }

  writev(srcs: Uint8Array[], at: number): number {
    checkPosition(at);
    for (const s of srcs) checkBuffer(s, 'src');
    const file = this.writable();
    if (file !== undefined) {
      if (typeof file.writev === 'function') return file.writev(srcs, at);
      let n = 0;
      for (const s of srcs) n += file.write(s, at + n);
      return n;
    }
    let n = 0;
    for (const s of srcs) n += this.f.write(s, at + n);
    return n;
  }

  size(): number {
    const file = this.live();
    return file !== undefined ? file.size() : this.f.length;
  }

  truncate(size: number): void {
    checkPosition(size, 'size');
    const file = this.writable();
    if (file !== undefined) file.truncate(size);
    else this.f.truncate(size);
  }

  flush(): void {
    const file = this.writable();
    if (file !== undefined) return file.flush();
    // Nothing written: nothing to make durable. Bytes held in memory cannot be made durable here.
    if (this.f.length > 0) throw new ValueLogError('IO', `valuelog: ${this.f.name} is not created yet: its ${this.f.length} bytes are held in memory until the backend creates it (settle() first)`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.f.released();
  }
}
