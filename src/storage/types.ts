// The storage contract every backend implements (Node fs, memory, OPFS). Directory operations are
// async because OPFS's are; the data path is synchronous and positional because Node's fs and OPFS
// sync access handles both are. Storage knows nothing of records or frames.
import { invalidArgument, ValueLogError } from '../errors.js';

/** Options of StorageBackend.open. */
export interface OpenOptions {
  /** Create the file if it does not exist (default false: a missing file is NOT_FOUND). */
  create?: boolean;
  /** Open for reading only; writes, truncate and flush-for-write then throw INVALID_ARGUMENT. */
  readOnly?: boolean;
}

/**
 * A directory of files: what the log needs of a file system. Implemented by NodeStorage, OpfsStorage
 * and MemoryStorage; storage knows nothing of records or frames.
 */
export interface StorageBackend {
  /** Names of the files in the backend's directory (a missing directory lists as empty). */
  list(): Promise<string[]>;
  /** Opens (or creates) a file. A missing file without `create` is NOT_FOUND. */
  open(name: string, opts?: OpenOptions): Promise<StorageFile>;
  /** Removes a file; open handles keep working on the removed data. Missing → NOT_FOUND. */
  remove(name: string): Promise<void>;
  /** Makes creations and removals in the directory durable (fsync of the directory). */
  syncDir?(): Promise<void>;
  /**
   * Takes the exclusive ownership lock of the directory: at most one read-write ValueLog (in any
   * process) may use it at a time. Rejects with LOCKED, naming the holder, while another owner holds
   * it. A backend without it gives no protection against a second writer (see README, "One owner per log").
   */
  lock?(): Promise<StorageLock>;
}

/** The ownership lock of a storage directory, held from ValueLog.open until close(). */
export interface StorageLock {
  /** Who holds the lock (this process): pid, host, runtime and since when, for messages. */
  readonly holder: string;
  /** The previous holder died without releasing it (an unclean shutdown): its lock was taken over. */
  readonly tookOver: boolean;
  /** Gives the lock up; releasing twice is a no-op. */
  release(): Promise<void>;
}

/**
 * An open file: synchronous positional reads and writes, as Node's fs and OPFS sync access handles
 * provide.
 */
export interface StorageFile {
  /** Reads up to dst.length bytes at `at`; returns the count (short at end of file, 0 past it). */
  read(dst: Uint8Array, at: number): number;
  /** Writes all of src at `at` (a hole before it reads as zeros); returns src.length. */
  write(src: Uint8Array, at: number): number;
  /** Writes the arrays back to back starting at `at`; returns the total length. */
  writev?(srcs: Uint8Array[], at: number): number;
  /** Current length of the file in bytes. */
  size(): number;
  /** Cuts (or extends with zeros) the file to `size` bytes. */
  truncate(size: number): void;
  /** Makes written data durable (fdatasync, OPFS flush). */
  flush(): void;
  /** Releases the handle; later calls throw CLOSED. Closing twice is a no-op. */
  close(): void;
}

/**
 * Validates a file position or length: runtimes have silently turned NaN, negative or fractional
 * positions into 0, which overwrites data, so every backend checks before calling down.
 */
export function checkPosition(at: number, what = 'position'): number {
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) {
    throw invalidArgument(`${what} must be a non-negative safe integer, got ${String(at)}`);
  }
  return at;
}

export function checkBuffer(b: Uint8Array, what = 'buffer'): Uint8Array {
  if (!(b instanceof Uint8Array)) throw invalidArgument(`${what} must be a Uint8Array`);
  return b;
}

const BAD_NAME = /[/\\\0]/;

/** File names are flat: no separators, no NUL, not empty, not `.` or `..`, at most 255 bytes. */
export function checkFileName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..' || BAD_NAME.test(name) || new TextEncoder().encode(name).length > 255) {
    throw invalidArgument(`invalid file name ${JSON.stringify(name)}`);
  }
  return name;
}

export function closedError(name: string): ValueLogError {
  return new ValueLogError('CLOSED', `valuelog: file ${name} is closed`);
}

export function readOnlyError(name: string): ValueLogError {
  return invalidArgument(`file ${name} was opened read-only`);
}

export function notFound(name: string): ValueLogError {
  return new ValueLogError('NOT_FOUND', `valuelog: file ${name} not found`);
}
