// The checked storage wrapper: the one place where what a backend returns is validated before the
// log relies on it. Every file the log opens (segments, sidecars, dictionary files) goes through it.
// - Byte counts: write/writev must report 0..requested; a short count is completed by writing the
//   remainder (no progress at all is IO). A count outside that range is IO. read must report
//   0..dst.length; a short read before the end of the file is completed by reading on, so callers
//   see either a full buffer or the end of the file. size() must be a non-negative safe integer.
// - Errors: anything a custom backend throws that is not a ValueLogError becomes IO naming the
//   operation and the file, with the original kept as `cause`.
// It cannot detect a backend that reports bytes it did not write; checksums catch that on read.
import { ValueLogError } from '../errors.js';
import type { OpenOptions, StorageBackend, StorageFile } from './types.js';

/** What a backend's optional lock() resolves to (the shape of StorageLock in ./types.ts). */
interface HeldLock {
  readonly holder: string;
  readonly tookOver: boolean;
  release(): Promise<void>;
}

const CHECKED = Symbol('valuelog.checked');

/** Wraps a backend so that every call is validated (see the file comment); idempotent. */
export function checkedStorage(inner: StorageBackend): StorageBackend {
  if ((inner as { [CHECKED]?: true })[CHECKED] === true) return inner;
  return new CheckedStorage(inner);
}

function ioError(op: string, name: string | undefined, err: unknown): ValueLogError {
  if (err instanceof ValueLogError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ValueLogError('IO', `valuelog: ${op}${name === undefined ? '' : ` ${name}`} failed: ${msg}`, { cause: err });
}

function badCount(op: string, name: string, got: unknown, max: number): ValueLogError {
  return new ValueLogError('IO', `valuelog: ${op} ${name} returned an invalid byte count ${String(got)} (expected 0..${max})`);
}

class CheckedStorage implements StorageBackend {
  readonly [CHECKED] = true;
  readonly syncDir?: () => Promise<void>;
  readonly lock?: () => Promise<HeldLock>;

  constructor(private readonly inner: StorageBackend) {
    if (typeof inner.syncDir === 'function') {
      this.syncDir = async () => {
        try {
          await inner.syncDir!();
        } catch (e) {
          throw ioError('syncing the directory', undefined, e);
        }
      };
    }
    const lock = (inner as { lock?: () => Promise<HeldLock> }).lock;
    if (typeof lock === 'function') {
      this.lock = async () => {
        try {
          return await lock.call(inner);
        } catch (e) {
          throw ioError('locking the directory', undefined, e);
        }
      };
    }
  }

  async list(): Promise<string[]> {
    let names: unknown;
    try {
      names = await this.inner.list();
    } catch (e) {
      throw ioError('listing the directory', undefined, e);
    }
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new ValueLogError('IO', 'valuelog: the storage backend listed something other than file names');
    return names as string[];
  }

  async open(name: string, opts?: OpenOptions): Promise<StorageFile> {
    let f: StorageFile;
    try {
      f = await this.inner.open(name, opts);
    } catch (e) {
      throw ioError(opts?.create === true ? 'creating' : 'opening', name, e);
    }
    return new CheckedFile(f, name);
  }

  async remove(name: string): Promise<void> {
    try {
      await this.inner.remove(name);
    } catch (e) {
      throw ioError('removing', name, e);
    }
  }
}

class CheckedFile implements StorageFile {
  readonly writev?: (srcs: Uint8Array[], at: number) => number;

  constructor(
    private readonly inner: StorageFile,
    private readonly name: string,
  ) {
    if (typeof inner.writev === 'function') this.writev = (srcs, at) => this.checkedWritev(srcs, at);
  }

  read(dst: Uint8Array, at: number): number {
    let done = 0;
    while (done < dst.length) {
      const want = dst.length - done;
      let n: unknown;
      try {
        n = this.inner.read(done === 0 ? dst : dst.subarray(done), at + done);
      } catch (e) {
        throw ioError('reading', this.name, e);
      }
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > want) throw badCount('read of', this.name, n, want);
      if (n === 0) break; // the end of the file
      done += n;
    }
    return done;
  }

  write(src: Uint8Array, at: number): number {
    let done = 0;
    while (done < src.length) {
      const want = src.length - done;
      let n: unknown;
      try {
        n = this.inner.write(done === 0 ? src : src.subarray(done), at + done);
      } catch (e) {
        throw ioError('writing', this.name, e);
      }
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > want) throw badCount('write to', this.name, n, want);
      if (n === 0) throw new ValueLogError('IO', `valuelog: write to ${this.name} made no progress (${done} of ${src.length} bytes written)`);
      done += n;
    }
    return src.length;
  }

  private checkedWritev(srcs: Uint8Array[], at: number): number {
    let total = 0;
    for (const s of srcs) total += s.length;
    let n: unknown;
    try {
      n = this.inner.writev!(srcs, at);
    } catch (e) {
      throw ioError('writing', this.name, e);
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > total) throw badCount('writev to', this.name, n, total);
    if (n === total) return total;
    if (n === 0) throw new ValueLogError('IO', `valuelog: writev to ${this.name} made no progress (0 of ${total} bytes written)`);
    // A short writev: write what is left of the arrays one by one (each completed or IO).
    let skip = n;
    let pos = at + n;
    for (const s of srcs) {
      if (skip >= s.length) {
        skip -= s.length;
        continue;
      }
      const rest = skip > 0 ? s.subarray(skip) : s;
      skip = 0;
      this.write(rest, pos);
      pos += rest.length;
    }
    return total;
  }

  size(): number {
    let n: unknown;
    try {
      n = this.inner.size();
    } catch (e) {
      throw ioError('reading the size of', this.name, e);
    }
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ValueLogError('IO', `valuelog: size of ${this.name} is invalid (${String(n)})`);
    return n;
  }

  truncate(size: number): void {
    try {
      this.inner.truncate(size);
    } catch (e) {
      throw ioError('truncating', this.name, e);
    }
  }

  flush(): void {
    try {
      this.inner.flush();
    } catch (e) {
      throw ioError('syncing', this.name, e);
    }
  }

  close(): void {
    try {
      this.inner.close();
    } catch (e) {
      throw ioError('closing', this.name, e);
    }
  }
}
