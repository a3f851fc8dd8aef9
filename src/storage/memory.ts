// MemoryStorage: files as growable byte arrays, with the same semantics as the Node backend (holes
// read as zeros, short reads at the end, removal detaches the name while open handles keep working).
import { ValueLogError } from '../errors.js';
import { checkBuffer, checkFileName, checkPosition, closedError, notFound, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile } from './types.js';

class MemoryData {
  bytes = new Uint8Array(0);
  length = 0;

  /** Grows capacity by doubling so that appending n bytes costs O(n) overall. */
  ensure(n: number): void {
    if (n <= this.bytes.length) return;
    let cap = Math.max(this.bytes.length * 2, 4096);
    while (cap < n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  resize(n: number): void {
    if (n > this.length) {
      this.ensure(n);
      this.bytes.fill(0, this.length, n);
    }
    this.length = n;
  }
}

export interface MemoryStorageOptions {
  /** Called before every write (fault injection: throw to make the write fail with no effect). */
  onWrite?(name: string, at: number, length: number): void;
}

class MemoryFile implements StorageFile {
  private closed = false;
  /** Number of flush() calls (tests check durability calls). */
  flushCount = 0;

  constructor(
    private readonly name: string,
    private readonly data: MemoryData,
    private readonly readOnly: boolean,
    private readonly hooks: MemoryStorageOptions,
  ) {}

  private check(write: boolean): void {
    if (this.closed) throw closedError(this.name);
    if (write && this.readOnly) throw readOnlyError(this.name);
  }

  read(dst: Uint8Array, at: number): number {
    checkBuffer(dst, 'dst');
    checkPosition(at);
    this.check(false);
    if (at >= this.data.length || dst.length === 0) return 0;
    const n = Math.min(dst.length, this.data.length - at);
    dst.set(this.data.bytes.subarray(at, at + n));
    return n;
  }

  write(src: Uint8Array, at: number): number {
    return this.writev([checkBuffer(src, 'src')], at);
  }

  writev(srcs: Uint8Array[], at: number): number {
    if (!Array.isArray(srcs)) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: writev expects an array of Uint8Array');
    for (const s of srcs) checkBuffer(s, 'src');
    checkPosition(at);
    this.check(true);
    let total = 0;
    for (const s of srcs) total += s.length;
    checkPosition(at + total, 'end of write');
    if (total === 0) return 0;
    this.hooks.onWrite?.(this.name, at, total);
    if (at + total > this.data.length) this.data.resize(at + total);
    let p = at;
    for (const s of srcs) {
      this.data.bytes.set(s, p);
      p += s.length;
    }
    return total;
  }

  size(): number {
    this.check(false);
    return this.data.length;
  }

  truncate(size: number): void {
    checkPosition(size, 'size');
    this.check(true);
    this.data.resize(size);
  }

  flush(): void {
    this.check(false);
    this.flushCount++;
  }

  close(): void {
    this.closed = true;
  }
}

export class MemoryStorage implements StorageBackend {
  private readonly files = new Map<string, MemoryData>();

  constructor(private readonly options: MemoryStorageOptions = {}) {}

  async list(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    checkFileName(name);
    let data = this.files.get(name);
    if (data === undefined) {
      if (!opts.create) throw notFound(name);
      data = new MemoryData();
      this.files.set(name, data);
    }
    return new MemoryFile(name, data, Boolean(opts.readOnly), this.options);
  }

  async remove(name: string): Promise<void> {
    checkFileName(name);
    if (!this.files.delete(name)) throw notFound(name);
  }

  async syncDir(): Promise<void> {}
}
