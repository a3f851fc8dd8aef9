// NodeStorage: the storage contract on node:fs, which Deno 2 and Bun 1 also provide. The data path
// uses synchronous positional calls only (readSync/writeSync/writevSync with an explicit, validated
// position: runtimes have turned NaN or negative positions into 0, or ignored them). Files are opened
// read-write and never in append mode (Linux ignores pwrite positions under O_APPEND), mode 0600;
// flush is fdatasync; the directory is fsynced after a file is created or removed.
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { lstat, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ValueLogError } from '../errors.js';
import { isLockFileName, lockDirectory } from './node-lock.js';
import { checkBuffer, checkFileName, checkPosition, closedError, notFound, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile, type StorageLock } from './types.js';

/** Largest single read/write handed to the OS (Linux caps one call just under 2 GiB). */
const MAX_IO = 1 << 30;
/** iovecs per writevSync call, at the POSIX IOV_MAX (libuv splits too; other runtimes may not). */
const IOV_BATCH = 1024;
/** fsync errors on a directory that mean "this platform cannot", not "the data is at risk". */
const DIR_SYNC_UNSUPPORTED = new Set(['EINVAL', 'EISDIR', 'EPERM', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

function errno(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Maps a Node error to ValueLogError: ENOENT → NOT_FOUND, anything else → IO naming op and path. */
function wrap(err: unknown, op: string, name: string, path: string): ValueLogError {
  if (err instanceof ValueLogError) return err;
  if (errno(err) === 'ENOENT') {
    const nf = notFound(name);
    nf.cause = err;
    return nf;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new ValueLogError('IO', `valuelog: ${op} ${path} failed: ${msg}`, { cause: err });
}

class NodeFile implements StorageFile {
  private fd: number | undefined;

  constructor(
    fd: number,
    readonly name: string,
    private readonly path: string,
    private readonly readOnly: boolean,
  ) {
    this.fd = fd;
  }

  private live(): number {
    if (this.fd === undefined) throw closedError(this.name);
    return this.fd;
  }

  private writable(): number {
    const fd = this.live();
    if (this.readOnly) throw readOnlyError(this.name);
    return fd;
  }

  /** Fills dst from `at`; short only at end of file. */
  read(dst: Uint8Array, at: number): number {
    const fd = this.live();
    checkBuffer(dst, 'dst');
    checkPosition(at);
    let done = 0;
    try {
      while (done < dst.length) {
        const n = readSync(fd, dst, done, Math.min(dst.length - done, MAX_IO), at + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw wrap(e, 'read', this.name, this.path);
    }
    return done;
  }

  write(src: Uint8Array, at: number): number {
    const fd = this.writable();
    checkBuffer(src, 'src');
    checkPosition(at);
    checkPosition(at + src.length, 'end of write');
    if (src.length === 0) return 0;
    let done = 0;
    try {
      while (done < src.length) {
        const n = writeSync(fd, src, done, Math.min(src.length - done, MAX_IO), at + done);
        if (!(n > 0)) throw new ValueLogError('IO', `valuelog: write ${this.path} failed: short write (${done} of ${src.length} bytes)`);
        done += n;
      }
    } catch (e) {
      throw wrap(e, 'write', this.name, this.path);
    }
    return done;
  }

  writev(srcs: Uint8Array[], at: number): number {
    const fd = this.writable();
    if (!Array.isArray(srcs)) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: writev expects an array of Uint8Array');
    let total = 0;
    for (const s of srcs) total += checkBuffer(s, 'src').length;
    checkPosition(at);
    checkPosition(at + total, 'end of write');
    if (total === 0) return 0;
    const bufs = srcs.filter((s) => s.length > 0);
    let i = 0;
    let pos = at;
    try {
      while (i < bufs.length) {
        let n = writevSync(fd, bufs.slice(i, i + IOV_BATCH), pos);
        if (!(n > 0)) throw new ValueLogError('IO', `valuelog: writev ${this.path} failed: short write (${pos - at} of ${total} bytes)`);
        pos += n;
        // A partial writev: skip the iovecs written in full, trim the one written in part.
        while (n > 0) {
          const b = bufs[i]!;
          if (n >= b.length) {
            n -= b.length;
            i++;
          } else {
            bufs[i] = b.subarray(n);
            n = 0;
          }
        }
      }
    } catch (e) {
      throw wrap(e, 'writev', this.name, this.path);
    }
    return total;
  }

  size(): number {
    const fd = this.live();
    try {
      return fstatSync(fd).size;
    } catch (e) {
      throw wrap(e, 'stat', this.name, this.path);
    }
  }

  truncate(size: number): void {
    const fd = this.writable();
    checkPosition(size, 'size');
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      throw wrap(e, 'truncate', this.name, this.path);
    }
  }

  /** fdatasync; a no-op on a read-only handle (nothing was written through it). */
  flush(): void {
    const fd = this.live();
    if (this.readOnly) return;
    try {
      fdatasyncSync(fd);
    } catch (e) {
      throw wrap(e, 'fdatasync', this.name, this.path);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch (e) {
      throw wrap(e, 'close', this.name, this.path);
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already failing; the first error is the one worth reporting
  }
}

/** Directory levels ensureDir creates at most (a path deeper than this is refused, never looped on). */
const MAX_DIR_DEPTH = 64;

/**
 * mkdir -p without `{ recursive: true }`: Node's recursive mkdir never settles for a path under
 * /proc (mkdir gives ENOENT although the parent exists, and it retries forever). Here each level is
 * made once; ENOENT with an existing parent is an IO error naming the path.
 */
async function ensureDir(dir: string, depth = 0): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = errno(e);
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw new ValueLogError('IO', `valuelog: ${dir} exists and is not a directory`, { cause: e });
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir || depth >= MAX_DIR_DEPTH) throw wrap(e, 'create directory', dir, dir);
    let parentExisted = true;
    try {
      await stat(parent);
    } catch {
      parentExisted = false;
    }
    if (parentExisted) throw new ValueLogError('IO', `valuelog: cannot create directory ${dir}: its parent exists but mkdir reports ENOENT (a virtual file system such as /proc?)`, { cause: e });
    await ensureDir(parent, depth + 1);
    try {
      await mkdir(dir);
    } catch (e2) {
      if (errno(e2) !== 'EEXIST') throw wrap(e2, 'create directory', dir, dir);
    }
  }
}

/**
 * The storage backend on `node:fs` (Node, Deno, Bun): one directory, created when its first file is,
 * with the directory lock `valuelog.lock`.
 */
export class NodeStorage implements StorageBackend {
  constructor(
    /** The directory the backend's files live in. */
    readonly dir: string,
  ) {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: NodeStorage needs a directory path');
  }

  /** Regular files in the directory, sorted, without the lock's files; a missing directory lists as empty. */
  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((e) => e.isFile() && !isLockFileName(e.name)).map((e) => e.name).sort();
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw wrap(e, 'list', this.dir, this.dir);
    }
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    checkFileName(name);
    const path = join(this.dir, name);
    const readOnly = opts.readOnly === true;
    let fd: number | undefined;
    if (opts.create === true) {
      try {
        await ensureDir(this.dir);
        fd = openSync(path, 'wx+', 0o600); // O_RDWR | O_CREAT | O_EXCL: we know we created it
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw wrap(e, 'create', name, path);
      }
      if (fd !== undefined) {
        try {
          await this.syncDir();
        } catch (e) {
          closeQuietly(fd);
          throw e;
        }
        return new NodeFile(fd, name, path, readOnly);
      }
    }
    try {
      fd = openSync(path, readOnly ? 'r' : 'r+');
    } catch (e) {
      throw wrap(e, 'open', name, path);
    }
    // 'r' succeeds on a directory on POSIX: accept regular files only.
    let isFile: boolean;
    try {
      isFile = fstatSync(fd).isFile();
    } catch (e) {
      closeQuietly(fd);
      throw wrap(e, 'stat', name, path);
    }
    if (!isFile) {
      closeQuietly(fd);
      throw new ValueLogError('IO', `valuelog: open ${path} failed: not a regular file`);
    }
    return new NodeFile(fd, name, path, readOnly);
  }

  /**
   * The directory's ownership lock: the file `valuelog.lock` (holder details as JSON), plus an OS
   * lock on it where the runtime has one (Deno, Bun; not Node). A dead holder's lock on this host is
   * taken over (tookOver: true); see src/storage/node-lock.ts and the README.
   */
  lock(): Promise<StorageLock> {
    return lockDirectory(this.dir, () => this.syncDir());
  }

  async remove(name: string): Promise<void> {
    checkFileName(name);
    const path = join(this.dir, name);
    try {
      // Deno's unlink also removes an empty directory; a storage file name never names one.
      if ((await lstat(path)).isDirectory()) throw Object.assign(new Error('EISDIR: is a directory'), { code: 'EISDIR' });
      await unlink(path);
    } catch (e) {
      throw wrap(e, 'remove', name, path);
    }
    await this.syncDir();
  }

  /**
   * fsync of the directory, so that creations and removals survive a crash. Platforms that cannot
   * fsync a directory (EINVAL, EISDIR, EPERM...) are ignored; a missing directory has nothing to sync.
   */
  async syncDir(): Promise<void> {
    let fd: number;
    try {
      fd = openSync(this.dir, 'r');
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || DIR_SYNC_UNSUPPORTED.has(code)) return;
      throw wrap(e, 'open directory', this.dir, this.dir);
    }
    try {
      fsyncSync(fd);
    } catch (e) {
      if (!DIR_SYNC_UNSUPPORTED.has(errno(e))) {
        closeQuietly(fd);
        throw wrap(e, 'fsync directory', this.dir, this.dir);
      }
    }
    try {
      closeSync(fd);
    } catch (e) {
      throw wrap(e, 'close directory', this.dir, this.dir);
    }
  }
}
