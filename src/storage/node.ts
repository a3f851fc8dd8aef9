// NodeStorage: the storage contract on node:fs (also Deno and Bun). Positional synchronous calls for
// the data path; files opened read-write and never in append mode (Linux ignores positions for
// O_APPEND); fdatasync for flush; the directory fsynced when a file is created or removed.
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { mkdir, open as openAsync, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ValueLogError } from '../errors.js';
import { checkBuffer, checkFileName, checkPosition, closedError, notFound, readOnlyError, type OpenOptions, type StorageBackend, type StorageFile } from './types.js';

function ioError(err: unknown, op: string, name: string): ValueLogError {
  if (err instanceof ValueLogError) return err;
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ENOENT') return notFound(name);
  const msg = err instanceof Error ? err.message : String(err);
  return new ValueLogError('IO', `valuelog: ${op} ${name}: ${msg}`, { cause: err });
}

/** Largest single read/write handed to the OS (Linux caps one call at about 2 GiB). */
const MAX_IO = 1 << 30;

class NodeFile implements StorageFile {
  private fd: number | undefined;

  constructor(
    fd: number,
    private readonly name: string,
    private readonly readOnly: boolean,
  ) {
    this.fd = fd;
  }

  private handle(write: boolean): number {
    if (this.fd === undefined) throw closedError(this.name);
    if (write && this.readOnly) throw readOnlyError(this.name);
    return this.fd;
  }

  read(dst: Uint8Array, at: number): number {
    checkBuffer(dst, 'dst');
    checkPosition(at);
    const fd = this.handle(false);
    let done = 0;
    try {
      while (done < dst.length) {
        const n = readSync(fd, dst, done, Math.min(dst.length - done, MAX_IO), at + done);
        if (n === 0) break; // end of file
        done += n;
      }
    } catch (e) {
      throw ioError(e, 'read', this.name);
    }
    return done;
  }

  write(src: Uint8Array, at: number): number {
    checkBuffer(src, 'src');
    checkPosition(at);
    checkPosition(at + src.length, 'end of write');
    const fd = this.handle(true);
    let done = 0;
    try {
      while (done < src.length) {
        const n = writeSync(fd, src, done, Math.min(src.length - done, MAX_IO), at + done);
        if (n <= 0) throw new ValueLogError('IO', `valuelog: short write to ${this.name}`);
        done += n;
      }
    } catch (e) {
      throw ioError(e, 'write', this.name);
    }
    return done;
  }

  writev(srcs: Uint8Array[], at: number): number {
    if (!Array.isArray(srcs)) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: writev expects an array of Uint8Array');
    let total = 0;
    for (const s of srcs) total += checkBuffer(s, 'src').length;
    checkPosition(at);
    checkPosition(at + total, 'end of write');
    const fd = this.handle(true);
    if (total === 0) return 0;
    let parts = srcs.filter((s) => s.length > 0);
    let pos = at;
    try {
      while (parts.length > 0) {
        let n = writevSync(fd, parts, pos);
        if (n <= 0) throw new ValueLogError('IO', `valuelog: short writev to ${this.name}`);
        pos += n;
        // Partial writev: skip what was written and continue with the rest.
        let i = 0;
        while (i < parts.length && n >= parts[i]!.length) n -= parts[i++]!.length;
        parts = parts.slice(i);
        if (n > 0) parts[0] = parts[0]!.subarray(n);
      }
    } catch (e) {
      throw ioError(e, 'writev', this.name);
    }
    return total;
  }

  size(): number {
    const fd = this.handle(false);
    try {
      return fstatSync(fd).size;
    } catch (e) {
      throw ioError(e, 'stat', this.name);
    }
  }

  truncate(size: number): void {
    checkPosition(size, 'size');
    const fd = this.handle(true);
    try {
      ftruncateSync(fd, size);
    } catch (e) {
      throw ioError(e, 'truncate', this.name);
    }
  }

  flush(): void {
    const fd = this.handle(false);
    if (this.readOnly) return;
    try {
      fdatasyncSync(fd);
    } catch (e) {
      throw ioError(e, 'fdatasync', this.name);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch (e) {
      throw ioError(e, 'close', this.name);
    }
  }
}

/** Errors from fsync on a directory that mean "this platform cannot", not "the data is at risk". */
const DIR_SYNC_UNSUPPORTED = new Set(['EINVAL', 'EISDIR', 'EPERM', 'EBADF', 'ENOTSUP']);

export class NodeStorage implements StorageBackend {
  constructor(readonly dir: string) {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: NodeStorage needs a directory path');
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw ioError(e, 'list', this.dir);
    }
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    checkFileName(name);
    const path = join(this.dir, name);
    const readOnly = Boolean(opts.readOnly);
    if (opts.create && !readOnly) {
      try {
        await mkdir(this.dir, { recursive: true });
        // O_EXCL first: only a file this call created needs its directory entry synced.
        const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
        await this.syncDir();
        return new NodeFile(fd, name, false);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw ioError(e, 'create', name);
      }
    }
    try {
      const fd = openSync(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
      if (!fstatSync(fd).isFile()) {
        closeSync(fd);
        throw new ValueLogError('IO', `valuelog: ${name} is not a regular file`);
      }
      return new NodeFile(fd, name, readOnly);
    } catch (e) {
      throw ioError(e, 'open', name);
    }
  }

  async remove(name: string): Promise<void> {
    checkFileName(name);
    try {
      await unlink(join(this.dir, name));
    } catch (e) {
      throw ioError(e, 'remove', name);
    }
    await this.syncDir();
  }

  /** fsync of the directory, so that creations and removals survive a crash. */
  async syncDir(): Promise<void> {
    let handle;
    try {
      handle = await openAsync(this.dir, 'r');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return;
      throw ioError(e, 'open directory', this.dir);
    }
    try {
      await handle.sync();
    } catch (e) {
      if (!DIR_SYNC_UNSUPPORTED.has((e as { code?: string }).code ?? '')) throw ioError(e, 'fsync directory', this.dir);
    } finally {
      await handle.close();
    }
  }
}

