// The ownership lock of a NodeStorage directory (Node, Deno, Bun): a lock file `valuelog.lock` whose
// content names its holder, created atomically, and taken over only when its holder is provably dead.
//
// Files (all hidden from NodeStorage.list()):
//   valuelog.lock                    the lock: JSON holder details (pid, host, runtime, since, token,
//                                    process start time, boot id). Present = held.
//   valuelog.lock.<host>-<pid>-<token>.tmp  (host: a hash of the hostname) a would-be holder's details, written and synced before it is
//                                    linked into place, so a lock (or claim) file is never seen partial.
//                                    Left over only by a crash; removed once its pid (on this host) is gone.
//   valuelog.lock.takeover.<token>   a claim: "I am replacing the file whose token is <token>" (a hard
//                                    link to the claimer's temp file, so it names the claimer).
//
// Taking the lock: link(temp, valuelog.lock). link() fails with EEXIST when the lock exists, so of
// any number of racers exactly one creates it. (File systems without hard links: an O_EXCL create, then the
// write; a reader gives a file that does not parse yet a moment before it believes it.)
//
// Takeover after a crash. A holder counts as dead only if it ran on this host (same hostname) and
// either the machine rebooted since (boot id differs), or kill(pid, 0) says ESRCH, or the pid now
// belongs to a process that started at another time (pid reuse; /proc/<pid>/stat start time). A
// lock from another host is never taken over. Where the runtime has an OS lock (Deno: FsFile.tryLock,
// Bun: flock(2) through bun:ffi) the holder also holds flock() on the lock file, and a lock file whose
// flock is still held counts as alive whatever the pid says. To replace a dead holder's file F
// (token T):
//   1. claim: link(temp, valuelog.lock.takeover.T). EEXIST means another process is replacing F:
//      if that claimer is alive we get LOCKED; if it is dead, its claim file is itself replaced by
//      the same procedure one level down (a claim on the claim's token), then we retry.
//   2. verify: re-read F; if its token is no longer T, someone finished a takeover before us (our
//      reading of T was stale): drop the claim and start over.
//   3. replace: rename(temp, F) (atomic; for a claim file being displaced, unlink(F)); drop the claim.
// Why two racers cannot both win: F's content changes only by (a) its holder releasing it (dead),
// (b) link() by a plain acquirer (fails while F exists), or (c) step 3 by the one process that holds
// the claim on F's current token. Holding claim T and seeing token T in F at step 2 therefore means
// F stays the stale file until our own step 3, and every other racer either fails to claim T (and
// gets LOCKED naming us) or claims T after we dropped it and fails step 2 (F's token is now ours,
// and we are alive). Reads of F are atomic because F only ever appears by link() or rename() of a
// complete, synced file.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ValueLogError } from '../errors.js';
import type { StorageLock } from './types.js';

/** Name of the lock file in a NodeStorage directory. */
export const LOCK_FILE_NAME = 'valuelog.lock';

/** Whether a file name belongs to the lock (the lock file, temp files, takeover claims). */
export function isLockFileName(name: string): boolean {
  return name === LOCK_FILE_NAME || name.startsWith(`${LOCK_FILE_NAME}.`);
}

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  runtime: string;
  since: string;
  token: string;
  /** Start time of the process (clock ticks after boot, /proc/<pid>/stat field 22), where known. */
  start?: string;
  /** /proc/sys/kernel/random/boot_id, where known. */
  boot?: string;
}

/** link() errors of file systems without hard links (FAT, exFAT, some network file systems). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Claims nested below this depth (each needs one more crash mid-takeover) give up with LOCKED. */
const MAX_CLAIM_DEPTH = 3;
const MAX_ATTEMPTS = 16;

function errno(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Start time of a process from /proc (undefined where there is no /proc). */
function processStart(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19]; // field 22 of the whole line
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version?: { deno?: string } }; Bun?: { version?: string } };
  if (g.Deno !== undefined) return `deno ${g.Deno.version?.deno ?? ''}`.trim();
  if (g.Bun !== undefined) return `bun ${g.Bun.version ?? ''}`.trim();
  return `node ${process.version}`;
}

function randomToken(): string {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A one-line description of a holder, used in messages and StorageLock.holder. */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host} (${h.runtime}) since ${h.since}`;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || !Number.isSafeInteger(h.pid) || h.pid <= 0) return undefined;
    if (typeof h.host !== 'string' || typeof h.token !== 'string' || !/^[0-9a-f]{8,64}$/.test(h.token)) return undefined;
    return { pid: h.pid, host: h.host, runtime: String(h.runtime ?? '?'), since: String(h.since ?? '?'), token: h.token, start: typeof h.start === 'string' ? h.start : undefined, boot: typeof h.boot === 'string' ? h.boot : undefined };
  } catch {
    return undefined;
  }
}

/** The file's holder; undefined if the file is gone; 'unreadable' if it is not a lock file. */
function readHolder(path: string): LockHolder | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw new ValueLogError('IO', `valuelog: read ${path} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return parseHolder(text) ?? 'unreadable';
}

// --- OS locks (flock semantics: per open file, released by the kernel when the holder dies) ------

interface OsLock {
  /** Tries to take an exclusive OS lock on an open path; returns a release function, or undefined if it is held. */
  tryLock(path: string): Promise<(() => void) | undefined>;
}

type DenoFile = { tryLock(exclusive: boolean): Promise<boolean>; close(): void };
type DenoNs = { open(path: string, o: { read: boolean; write: boolean }): Promise<DenoFile> };

async function loadOsLock(): Promise<OsLock | undefined> {
  const g = globalThis as { Deno?: DenoNs; Bun?: unknown };
  if (g.Deno !== undefined && typeof g.Deno.open === 'function') {
    const deno = g.Deno;
    return {
      async tryLock(path) {
        const f = await deno.open(path, { read: true, write: true });
        let ok = false;
        try {
          ok = await f.tryLock(true);
        } finally {
          if (!ok) f.close();
        }
        return ok ? () => f.close() : undefined;
      },
    };
  }
  if (g.Bun !== undefined) {
    try {
      const spec = 'bun:ffi'; // kept out of static analysis: only Bun has it
      const ffi = (await import(spec)) as { dlopen(lib: string, s: Record<string, { args: string[]; returns: string }>): { symbols: { flock(fd: number, op: number): number } } };
      const lib = ffi.dlopen(process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6', { flock: { args: ['i32', 'i32'], returns: 'i32' } });
      const LOCK_EX = 2, LOCK_NB = 4;
      return {
        async tryLock(path) {
          const fd = openSync(path, 'r+');
          if (lib.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
            closeSync(fd);
            return undefined;
          }
          return () => closeSync(fd);
        },
      };
    } catch {
      return undefined; // no libc to bind: the lock file alone
    }
  }
  return undefined; // Node has no file-lock API
}

let osLockPromise: Promise<OsLock | undefined> | undefined;

/** Whether this runtime holds a real OS lock beside the lock file (Deno, Bun on Linux/macOS). */
export function osLockAvailable(): Promise<boolean> {
  osLockPromise ??= loadOsLock();
  return osLockPromise.then((l) => l !== undefined);
}

// --- The lock ---------------------------------------------------------------------------------------

type Verdict = 'dead' | 'alive' | 'self' | 'foreign';

class DirectoryLock {
  readonly lockPath: string;
  readonly me: LockHolder;
  private readonly tmp: string;
  private readonly myHost = hostname();
  private readonly myBoot = readText('/proc/sys/kernel/random/boot_id');

  constructor(
    private readonly dir: string,
    private readonly os: OsLock | undefined,
    private readonly syncDir: () => Promise<void>,
  ) {
    this.lockPath = join(dir, LOCK_FILE_NAME);
    const token = randomToken();
    this.me = { pid: process.pid, host: this.myHost, runtime: runtimeName(), since: new Date().toISOString(), token, start: processStart(process.pid), boot: this.myBoot };
    this.tmp = join(dir, `${LOCK_FILE_NAME}.${hostTag(this.myHost)}-${process.pid}-${token}.tmp`);
  }

  private locked(detail: string): ValueLogError {
    return new ValueLogError('LOCKED', `valuelog: ${this.dir} is locked: ${detail}`);
  }

  private heldBy(h: LockHolder, verdict: Verdict): ValueLogError {
    if (verdict === 'self') {
      return this.locked(`it is already open in this process (${describeHolder(h)}); close that ValueLog first, or open with { readOnly: true } to read beside it`);
    }
    if (verdict === 'foreign') {
      return this.locked(`the log is open on another host: ${describeHolder(h)}. A lock from another host is never taken over automatically; if no process there uses the log, delete ${this.lockPath}`);
    }
    return this.locked(`the log is open in ${describeHolder(h)}; close it there first (one read-write owner per log), or open with { readOnly: true } to read beside it`);
  }

  /** Whether the holder of a lock (or claim) file is alive, by pid, start time, boot id and OS lock. */
  private async judge(h: LockHolder, path: string): Promise<Verdict> {
    if (h.host !== this.myHost) return 'foreign';
    if (h.pid === process.pid && h.start === this.me.start) return 'self';
    let dead = h.boot !== undefined && this.myBoot !== undefined && h.boot !== this.myBoot;
    if (!dead) {
      try {
        process.kill(h.pid, 0);
        const start = processStart(h.pid);
        dead = h.start !== undefined && start !== undefined && start !== h.start; // pid reused
      } catch (e) {
        dead = errno(e) === 'ESRCH'; // EPERM: it exists, run by another user
      }
    }
    if (dead && this.os !== undefined) {
      // The pid says dead; a held OS lock says otherwise (another pid namespace sharing the hostname).
      let release: (() => void) | undefined;
      try {
        release = await this.os.tryLock(path);
      } catch (e) {
        if (errno(e) === 'ENOENT') return 'dead';
        return 'alive';
      }
      if (release === undefined) return 'alive';
      release();
    }
    return dead ? 'dead' : 'alive';
  }

  async acquire(): Promise<StorageLock> {
    try {
      mkdirSync(this.dir, { recursive: true });
      const fd = openSync(this.tmp, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(this.me));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      this.removeQuietly(this.tmp);
      throw new ValueLogError('IO', `valuelog: cannot create the lock file in ${this.dir}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      const tookOver = await this.take();
      await this.syncDir();
      const osRelease = this.os ? await this.os.tryLock(this.lockPath).catch(() => undefined) : undefined;
      this.cleanLeftovers();
      return this.handle(tookOver, osRelease);
    } finally {
      this.removeQuietly(this.tmp);
    }
  }

  /** Installs our lock file; returns whether a dead holder's lock was taken over. */
  private async take(): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (this.createExclusive(this.lockPath)) return false;
      const cur = await this.readSettled(this.lockPath);
      if (cur === undefined) continue; // released meanwhile
      if (cur === 'unreadable') throw this.locked(`${this.lockPath} exists but is not a valuelog lock file this version can read; if no process uses the log, delete it`);
      const verdict = await this.judge(cur, this.lockPath);
      if (verdict !== 'dead') throw this.heldBy(cur, verdict);
      if (await this.replace(this.lockPath, cur.token, true, 0)) return true;
    }
    throw this.locked('the lock file kept changing while this process tried to take it; try again');
  }

  /**
   * Replaces (install) or removes the file at `path` if it still holds `staleToken`, under the claim
   * on that token (see the comment at the top). Returns false if the file changed meanwhile.
   */
  private async replace(path: string, staleToken: string, install: boolean, depth: number): Promise<boolean> {
    const claim = join(this.dir, `${LOCK_FILE_NAME}.takeover.${staleToken}`);
    for (let attempt = 0; ; attempt++) {
      if (this.createExclusive(claim)) break;
      const c = await this.readSettled(claim);
      if (c === undefined && attempt < MAX_ATTEMPTS) continue; // the claimer finished meanwhile
      if (c === undefined || c === 'unreadable') throw this.locked(`another process is taking over the lock (${claim}); try again`);
      const verdict = depth < MAX_CLAIM_DEPTH && attempt < MAX_ATTEMPTS ? await this.judge(c, claim) : 'alive';
      if (verdict !== 'dead') throw this.locked(`its holder died and ${describeHolder(c)} is taking the lock over; try again`);
      await this.replace(claim, c.token, false, depth + 1); // the claimer died mid-takeover: remove its claim
    }
    try {
      const cur = readHolder(path);
      if (cur === undefined || cur === 'unreadable' || cur.token !== staleToken) return false;
      if (install) renameSync(this.tmp, path);
      else unlinkSync(path);
      return true;
    } finally {
      this.removeQuietly(claim);
    }
  }

  /**
   * Creates `path` with our holder details unless it exists (false then). Normally link() of the
   * synced temp file, so the file appears complete; where the file system has no hard links, an
   * O_EXCL create followed by the write (readers then wait for it to settle, see readSettled).
   */
  private createExclusive(path: string): boolean {
    try {
      linkSync(this.tmp, path);
      return true;
    } catch (e) {
      if (errno(e) === 'EEXIST') return false;
      if (!NO_HARD_LINKS.has(errno(e))) throw new ValueLogError('IO', `valuelog: cannot create ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if (errno(e) === 'EEXIST') return false;
      throw new ValueLogError('IO', `valuelog: cannot create ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      writeSync(fd, JSON.stringify(this.me));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** readHolder, giving a file that does not parse (yet) a moment to be completed by its creator. */
  private async readSettled(path: string): Promise<LockHolder | 'unreadable' | undefined> {
    for (let i = 0; ; i++) {
      const h = readHolder(path);
      if (h !== 'unreadable' || i >= 5) return h;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Temp files of dead processes (a crash between writing and linking them). Judged by the pid in
   * the name, never by the content: a live racer's temp file may still be empty.
   */
  private cleanLeftovers(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^valuelog\.lock\.([0-9a-f]{8})-(\d+)-[0-9a-f]+\.tmp$/.exec(name);
      if (m === null || m[1] !== hostTag(this.myHost) || Number(m[2]) === process.pid || pidAlive(Number(m[2]))) continue;
      this.removeQuietly(join(this.dir, name));
    }
  }

  private handle(tookOver: boolean, osRelease: (() => void) | undefined): StorageLock {
    let released = false;
    const holder = describeHolder(this.me);
    return {
      holder,
      tookOver,
      release: async () => {
        if (released) return;
        released = true;
        try {
          // Only our own file: never remove a lock that is not ours.
          const cur = readHolder(this.lockPath);
          if (cur !== undefined && cur !== 'unreadable' && cur.token === this.me.token) unlinkSync(this.lockPath);
        } catch (e) {
          throw new ValueLogError('IO', `valuelog: cannot remove ${this.lockPath}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        } finally {
          osRelease?.();
        }
        await this.syncDir();
      },
    };
  }

  private removeQuietly(path: string): void {
    try {
      unlinkSync(path);
    } catch {
      // gone already, or not ours to worry about
    }
  }
}

/** 8 hex digits naming a host in temp file names (FNV-1a of the hostname). */
function hostTag(host: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < host.length; i++) h = Math.imul(h ^ host.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) !== 'ESRCH';
  }
}

/** Takes the ownership lock of a directory (see the comment at the top of this file). */
export async function lockDirectory(dir: string, syncDir: () => Promise<void>): Promise<StorageLock> {
  osLockPromise ??= loadOsLock();
  return new DirectoryLock(dir, await osLockPromise, syncDir).acquire();
}
