// valuelog/browser: the log for pages. OPFS sync access handles exist only in dedicated workers and
// OPFS allows one writer per file per origin, so one tab owns the log: it wins a Web Lock named after
// the log, starts a worker that opens the log on OpfsStorage, and answers the other tabs' calls over a
// BroadcastChannel. Every other tab routes its calls to the owner. When the owner leaves (close(),
// pagehide, or a crash that frees its lock) the next tab in the lock's queue opens the log, recovering
// any torn tail, and announces itself; calls in flight to the old owner fail with LOCKED (they may or
// may not have been applied; put is not idempotent, so the caller decides), later calls go to the new one.
import { asValueLogError, invalidArgument, ValueLogError } from '../errors.js';
import type { ValuePtr } from '../format/pointer.js';
import { remapFromWire, type PointerRemap, type WireRemap } from '../remap.js';
import type { CompactOptions, PutOptions, ValueLogOptions } from '../log-options.js';
import type { ValueLogStats } from '../log-stats.js';
import type { Call, CompactReply, Reply, TabMessage, WireError } from './protocol.js';

// What a page needs besides the client: the error class and codes it throws (minified, a class name
// is useless: check `code`), the pointer type and the pointer string form (no codecs needed).
export { ValueLogError, type ErrorCode } from '../errors.js';
export { type ValuePtr, ptrToString, ptrFromString, PTR_STRING_LENGTH } from '../format/pointer.js';
export type { ValueLogOptions, PutOptions, CompactOptions } from '../log-options.js';
export type { ValueLogStats } from '../log-stats.js';
export { PointerRemap, type CompactionProblem } from '../remap.js';

/**
 * Options of BrowserValueLog.open: the ValueLog's options (applied by whichever tab opens the log) plus
 * where and how long the page-side client waits.
 */
export interface BrowserValueLogOptions extends ValueLogOptions {
  /** OPFS directory of the log (default `valuelog/<name>`). */
  dir?: string;
  /** The worker module (default: valuelog.worker.js next to this module). */
  workerUrl?: string | URL;
  /** How long a new owner retries files still held by the previous owner's worker (default 10 s). */
  lockWaitMs?: number;
  /**
   * How long open() waits for this tab or another to serve the log (default 30 s), then LOCKED; this
   * also bounds a worker of this tab that never answers (it is stopped).
   */
  openTimeoutMs?: number;
  /** How long close() waits for the worker to close the log (default 10 s), then stops it and rejects IO. */
  closeTimeoutMs?: number;
  /**
   * How long a compaction waits for compact()'s onRemap in the page (default 60 s); after that it is
   * undone, nothing deleted, and compact() rejects IO. Bounds a tab that died inside onRemap.
   */
  remapTimeoutMs?: number;
}

/**
 * A pinned view of the segments that existed when it was taken, held in the owner's worker until
 * release() (or until the owner changes: then reads fail LOCKED or CLOSED). Same shape and errors
 * as the Node face's Snapshot, except that get() is async.
 */
export class BrowserSnapshot {
  private released = false;
  /** @internal */
  constructor(
    private readonly call: (c: Call) => Promise<unknown>,
    private readonly id: number,
  ) {}

  /** The value at `ptr`, as of the snapshot. */
  get(ptr: ValuePtr): Promise<Uint8Array> {
    if (this.released) return Promise.reject(invalidArgument('read through a released snapshot'));
    return this.call({ op: 'snapshotGet', snapshot: this.id, ptr }) as Promise<Uint8Array>;
  }

  /** Unpins the segments; a second release is INVALID_ARGUMENT. */
  async release(): Promise<void> {
    if (this.released) throw invalidArgument('snapshot released twice');
    this.released = true;
    await this.call({ op: 'release', snapshot: this.id });
  }
}

type Pending = { resolve(v: unknown): void; reject(e: unknown): void };
type Queued = { call: Call; resolve(v: unknown): void; reject(e: unknown): void };

const fromWire = (e: WireError): ValueLogError => new ValueLogError(e.code, e.message);

function lockedInFlight(op: string): ValueLogError {
  return new ValueLogError('LOCKED', `valuelog: the tab that owned the log went away while ${op} was in flight; it may or may not have been applied (retry it if it is safe to)`);
}

/** What the tab knows about the log's owner. */
type Mode = 'waiting' | 'opening' | 'owner' | 'remote' | 'closed';

/**
 * A value log in the Origin Private File System, used from a page. One tab of the origin owns the log
 * and runs it in a dedicated worker; the other tabs send their calls to it, so every tab sees the same
 * log and the same pointers (see README, "Browser").
 */
export class BrowserValueLog {
  private mode: Mode = 'waiting';
  private worker: Worker | undefined;
  private epoch = 0;
  private remoteEpoch = 0;
  private nextId = 1;
  private readonly fromWorker = new Map<number, Pending>();
  private readonly toOwner = new Map<number, Pending & { op: string }>();
  private queue: Queued[] = [];
  private readonly clientId = Math.random().toString(36).slice(2) + Date.now().toString(36);
  private readonly channel: BroadcastChannel;
  private abort = new AbortController();
  private releaseLock: (() => void) | undefined;
  private failure: ValueLogError | undefined;
  private readonly onPageHide = (e: PageTransitionEvent): void => this.relinquish(e.persisted);
  private readonly onPageShow = (e: PageTransitionEvent): void => {
    if (e.persisted && this.mode !== 'closed') this.elect();
  };
  /** Called with true when this tab becomes the owner, false when it stops being it. */
  onownerchange: ((isOwner: boolean) => void) | undefined;

  private constructor(
    /** The log's name: its Web Lock and BroadcastChannel are `valuelog:<name>`. */
    readonly name: string,
    private readonly options: BrowserValueLogOptions,
  ) {
    this.channel = new BroadcastChannel(`valuelog:${name}`);
    this.channel.onmessage = (e: MessageEvent) => this.onTabMessage(e.data as TabMessage);
  }

  /**
   * Joins the log `name` of this origin: resolves once this tab owns it or knows which tab does.
   * Options other than dir/workerUrl/lockWaitMs are the ValueLog's, applied by whichever tab opens it.
   */
  static async open(name: string, options: BrowserValueLogOptions = {}): Promise<BrowserValueLog> {
    if (typeof name !== 'string' || name.length === 0) throw new ValueLogError('INVALID_ARGUMENT', 'valuelog: a log needs a non-empty name');
    const g = globalThis as unknown as { navigator?: { locks?: unknown }; BroadcastChannel?: unknown; Worker?: unknown };
    if (g.navigator?.locks === undefined || g.BroadcastChannel === undefined || g.Worker === undefined) {
      throw new ValueLogError('IO', 'valuelog/browser needs Web Locks, BroadcastChannel and module workers (a current browser on a secure origin: https, localhost or 127.0.0.1)');
    }
    const log = new BrowserValueLog(name, options);
    addEventListener('pagehide', log.onPageHide);
    addEventListener('pageshow', log.onPageShow);
    log.elect();
    const timeoutMs = options.openTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Resolves when an owner answers; rejects if this tab failed to open the log.
      await Promise.race([
        log.call({ op: 'stats' }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new ValueLogError('LOCKED', `valuelog: no tab served the log ${JSON.stringify(name)} within ${timeoutMs} ms (the owning tab may be frozen or busy); close it or retry`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      await log.close().catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return log;
  }

  /** Whether this tab owns the log (runs its worker). */
  get isOwner(): boolean {
    return this.mode === 'owner';
  }

  /**
   * Appends one value in the owner's log; resolves to its pointer (keep it in your own index). Not
   * durable until commit() resolves.
   */
  put(value: Uint8Array, opts?: PutOptions): Promise<ValuePtr> {
    return this.call({ op: 'put', value, ...(opts ? { opts } : {}) }) as Promise<ValuePtr>;
  }

  /**
   * Appends values, grouped into frames of up to 128; resolves to their pointers in order. Not durable
   * until commit() resolves.
   */
  putMany(values: Uint8Array[], opts?: PutOptions): Promise<ValuePtr[]> {
    return this.call({ op: 'putMany', values, ...(opts ? { opts } : {}) }) as Promise<ValuePtr[]>;
  }

  /**
   * The value the pointer names, transferred to this page; rejects with NOT_FOUND, CORRUPT etc. as
   * ValueLog.get does.
   */
  get(ptr: ValuePtr): Promise<Uint8Array> {
    return this.call({ op: 'get', ptr }) as Promise<Uint8Array>;
  }

  /** Durable once resolved (flush + sync in the owner's worker; concurrent commits share one sync). */
  async commit(): Promise<void> {
    await this.call({ op: 'commit' });
  }

  /** Marks committed values dead (garbage for compact()); resolves to how many were newly marked. */
  markDead(ptrs: ValuePtr | ValuePtr[]): Promise<number> {
    return this.call({ op: 'markDead', ptrs }) as Promise<number>;
  }

  /** The owner's ValueLog.stats(): plain JSON. */
  stats(): Promise<ValueLogStats> {
    return this.call({ op: 'stats' }) as Promise<ValueLogStats>;
  }

  /** Whether markDead marked the value at `ptr` (as ValueLog.isDead). */
  isDead(ptr: ValuePtr): Promise<boolean> {
    return this.call({ op: 'isDead', ptr }) as Promise<boolean>;
  }

  /**
   * Every live value with its pointer, in log order (as ValueLog.values()): the owner pins the
   * segments for the iteration and sends values in batches; leaving the loop early ends it there.
   */
  async *values(): AsyncGenerator<{ ptr: ValuePtr; value: Uint8Array }, void, undefined> {
    const iterator = (await this.call({ op: 'iterate' })) as number;
    let finished = false;
    try {
      while (!finished) {
        const batch = (await this.call({ op: 'iterateNext', iterator })) as { items: Array<{ ptr: ValuePtr; value: Uint8Array }>; done: boolean };
        finished = batch.done;
        yield* batch.items;
      }
    } finally {
      if (!finished) await this.call({ op: 'iterateEnd', iterator }).catch(() => {});
    }
  }

  /**
   * Compacts in the owner and resolves to the same PointerRemap as ValueLog.compact(). `onRemap`
   * runs in this page while the owner's compaction waits (copies durable, nothing deleted) for at
   * most `remapTimeoutMs`; if it throws, compact() rejects with that error and nothing is deleted.
   * `onProgress` is not available here (it would run in the worker): it is INVALID_ARGUMENT.
   */
  async compact(opts: CompactOptions = {}): Promise<PointerRemap> {
    if (opts === null || typeof opts !== 'object') throw invalidArgument(`compact options must be an object, got ${String(opts)}`);
    const { onRemap, onProgress, ...wire } = opts;
    if (onProgress !== undefined) throw invalidArgument('compact options.onProgress is not available in the browser (the compaction runs in the worker); poll stats() instead');
    if (onRemap !== undefined && typeof onRemap !== 'function') throw invalidArgument('compact options.onRemap must be a function');
    const first = (await this.call({ op: 'compact', opts: wire, holdRemap: onRemap !== undefined })) as CompactReply;
    const toError = (e: WireError) => fromWire(e);
    if (!first.held) return remapFromWire(first.remap, toError);
    try {
      await onRemap!(remapFromWire(first.remap, toError));
    } catch (e) {
      const err = asValueLogError(e, 'IO', 'onRemap failed; the compaction was undone, nothing was deleted');
      await this.call({ op: 'compactResume', run: first.run, error: { code: err.code, message: err.message } }).catch(() => {});
      throw err;
    }
    return remapFromWire((await this.call({ op: 'compactResume', run: first.run })) as WireRemap, toError);
  }

  /** Pins the current segments in the owner until release() (or until the owner changes). */
  async snapshot(): Promise<BrowserSnapshot> {
    const id = (await this.call({ op: 'snapshot' })) as number;
    return new BrowserSnapshot((c) => this.call(c), id);
  }

  /** Leaves the log: an owner closes it (uncommitted values are lost) and hands the lock on. */
  async close(): Promise<void> {
    if (this.mode === 'closed') return;
    removeEventListener('pagehide', this.onPageHide);
    removeEventListener('pageshow', this.onPageShow);
    let err: unknown;
    if (this.mode === 'owner') {
      // A worker that never answers must not hang close(): after closeTimeoutMs it is stopped, which
      // is a crash for the log (the next owner recovers; what was not committed is lost).
      const timeoutMs = this.options.closeTimeoutMs ?? 10_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.toWorker({ op: 'close' }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new ValueLogError('IO', `valuelog: the log worker did not close within ${timeoutMs} ms; it was stopped (values not committed are lost)`)), timeoutMs);
          }),
        ]);
      } catch (e) {
        err = e;
      } finally {
        clearTimeout(timer);
        this.stopOwning();
      }
    } else if (this.mode === 'opening') {
      // The worker has not opened the log (or never answered): nothing of ours to close in it.
      this.stopOwning();
    }
    this.mode = 'closed';
    this.abort.abort();
    this.channel.close();
    this.failAll(new ValueLogError('CLOSED', 'valuelog: the browser log was closed'));
    if (err !== undefined) throw err;
  }

  // -------------------------------------------------------------------------------------------------

  private call(call: Call): Promise<unknown> {
    if (this.mode === 'closed') return Promise.reject(new ValueLogError('CLOSED', 'valuelog: the browser log was closed'));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.mode === 'owner') return this.toWorker(call);
    return new Promise((resolve, reject) => {
      if (this.mode === 'remote') this.sendToOwner(call, resolve, reject);
      else this.queue.push({ call, resolve, reject });
    });
  }

  /** Joins the queue for the log's Web Lock; whoever holds it owns the log. */
  private elect(): void {
    this.abort = new AbortController();
    this.channel.postMessage({ type: 'who-owns' } satisfies TabMessage);
    navigator.locks
      .request(`valuelog:${this.name}`, { signal: this.abort.signal }, async () => {
        if (this.mode === 'closed') return;
        await this.becomeOwner();
        await new Promise<void>((resolve) => (this.releaseLock = resolve));
      })
      .catch((e: unknown) => {
        if ((e as { name?: string } | null)?.name === 'AbortError') return; // we left the queue
        this.failure = e instanceof ValueLogError ? e : new ValueLogError('IO', `valuelog: could not open the log: ${String(e)}`, { cause: e });
        this.failAll(this.failure);
      });
  }

  private async becomeOwner(): Promise<void> {
    const url = this.options.workerUrl ?? new URL('./valuelog.worker.js', import.meta.url);
    this.worker = new Worker(url, { type: 'module', name: `valuelog:${this.name}` });
    this.worker.onmessage = (e: MessageEvent) => this.onWorkerReply(e.data as Reply);
    // A broken worker hands the log on (another tab may open it) and fails this tab for good.
    this.worker.onerror = (e: ErrorEvent) => {
      this.failure = new ValueLogError('IO', `valuelog: the log worker failed: ${e.message}`);
      this.failAll(this.failure);
      this.stopOwning();
    };
    const { dir, workerUrl: _w, lockWaitMs, openTimeoutMs: _t, closeTimeoutMs: _c, remapTimeoutMs, ...options } = this.options;
    this.mode = 'opening'; // calls made meanwhile queue until the log is open
    try {
      await this.toWorker({ op: 'open', args: { dir: dir ?? `valuelog/${this.name}`, options, lockWaitMs: lockWaitMs ?? 10_000, remapTimeoutMs: remapTimeoutMs ?? 60_000 } });
    } catch (e) {
      this.stopOwning();
      throw e;
    }
    this.mode = 'owner';
    this.epoch = Math.floor(Math.random() * 2 ** 52) + 1;
    // Calls in flight to a previous owner that vanished without a word will never be answered.
    for (const [id, p] of this.toOwner) {
      this.toOwner.delete(id);
      p.reject(lockedInFlight(p.op));
    }
    this.channel.postMessage({ type: 'owner', epoch: this.epoch } satisfies TabMessage);
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) this.toWorker(q.call).then(q.resolve, q.reject);
    this.onownerchange?.(true);
  }

  /** Stops owning: the worker goes (its handles with it) and the lock passes to the next tab. */
  private stopOwning(): void {
    const wasOwner = this.mode === 'owner';
    if (this.mode === 'opening') this.mode = 'waiting';
    if (wasOwner && this.epoch !== 0) this.channel.postMessage({ type: 'owner-gone', epoch: this.epoch } satisfies TabMessage);
    this.worker?.terminate();
    this.worker = undefined;
    for (const [id, p] of this.fromWorker) {
      this.fromWorker.delete(id);
      p.reject(new ValueLogError('CLOSED', 'valuelog: the log worker was stopped'));
    }
    this.epoch = 0;
    this.mode = 'waiting';
    this.releaseLock?.();
    this.releaseLock = undefined;
    if (wasOwner) this.onownerchange?.(false);
  }

  /** pagehide: an owning tab hands the log on now (a frozen or closing page cannot serve it). */
  private relinquish(persisted: boolean): void {
    if (this.mode === 'owner' || this.mode === 'opening') {
      // The page cannot wait for an orderly close here: the worker goes at once (freeing its OPFS
      // handles for the next owner), and the next owner's open recovers any torn tail, as after a
      // crash. What was not committed is lost.
      this.stopOwning();
    }
    if (persisted) this.abort.abort(); // back-forward cache: rejoin on pageshow
  }

  private toWorker(call: Call): Promise<unknown> {
    const worker = this.worker;
    if (worker === undefined) return Promise.reject(new ValueLogError('CLOSED', 'valuelog: no log worker'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.fromWorker.set(id, { resolve, reject });
      worker.postMessage({ id, call });
    });
  }

  private onWorkerReply(reply: Reply): void {
    const p = this.fromWorker.get(reply.id);
    if (p === undefined) return;
    this.fromWorker.delete(reply.id);
    if ('err' in reply) p.reject(fromWire(reply.err));
    else p.resolve(reply.ok);
  }

  private sendToOwner(call: Call, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
    const id = this.nextId++;
    this.toOwner.set(id, { resolve, reject, op: call.op });
    this.channel.postMessage({ type: 'req', from: this.clientId, id, epoch: this.remoteEpoch, call } satisfies TabMessage);
  }

  private onTabMessage(m: TabMessage): void {
    switch (m.type) {
      case 'who-owns':
        if (this.mode === 'owner') this.channel.postMessage({ type: 'owner', epoch: this.epoch } satisfies TabMessage);
        return;
      case 'owner': {
        if (this.mode === 'owner' || this.mode === 'opening' || this.mode === 'closed') return;
        if (this.remoteEpoch !== m.epoch) {
          // A new owner: calls sent to the old one (which vanished without a word) get no answer.
          for (const [id, p] of this.toOwner) {
            this.toOwner.delete(id);
            p.reject(lockedInFlight(p.op));
          }
        }
        this.remoteEpoch = m.epoch;
        this.mode = 'remote';
        const queued = this.queue;
        this.queue = [];
        for (const q of queued) this.sendToOwner(q.call, q.resolve, q.reject);
        return;
      }
      case 'owner-gone':
        if (this.mode !== 'remote' || m.epoch !== this.remoteEpoch) return;
        this.mode = 'waiting';
        for (const [id, p] of this.toOwner) {
          this.toOwner.delete(id);
          p.reject(lockedInFlight(p.op));
        }
        return;
      case 'req':
        if (this.mode !== 'owner') return;
        if (m.epoch !== this.epoch) {
          this.channel.postMessage({ type: 'res', to: m.from, id: m.id, err: { code: 'LOCKED', message: lockedInFlight(m.call.op).message } } satisfies TabMessage);
          return;
        }
        if (m.call.op === 'open' || m.call.op === 'close') {
          this.channel.postMessage({ type: 'res', to: m.from, id: m.id, err: { code: 'INVALID_ARGUMENT', message: `valuelog: ${m.call.op} is not a remote call` } } satisfies TabMessage);
          return;
        }
        this.toWorker(m.call).then(
          (ok) => this.channel.postMessage({ type: 'res', to: m.from, id: m.id, ok } satisfies TabMessage),
          (err: unknown) => {
            const e = err instanceof ValueLogError ? err : new ValueLogError('IO', String(err));
            this.channel.postMessage({ type: 'res', to: m.from, id: m.id, err: { code: e.code, message: e.message } } satisfies TabMessage);
          },
        );
        return;
      case 'res': {
        if (m.to !== this.clientId) return;
        const p = this.toOwner.get(m.id);
        if (p === undefined) return;
        this.toOwner.delete(m.id);
        if (m.err !== undefined) p.reject(fromWire(m.err));
        else p.resolve(m.ok);
        return;
      }
    }
  }

  private failAll(err: ValueLogError): void {
    for (const q of this.queue.splice(0)) q.reject(err);
    for (const [id, p] of this.toOwner) {
      this.toOwner.delete(id);
      p.reject(err);
    }
    for (const [id, p] of this.fromWorker) {
      this.fromWorker.delete(id);
      p.reject(err);
    }
  }
}
