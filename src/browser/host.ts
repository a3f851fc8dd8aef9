// The worker side of valuelog/browser: owns one ValueLog on OpfsStorage and answers the page's calls.
// Values read are copied out of the library's slabs and transferred to the page (one copy in all).
import { init } from '../codec/module.js';
import { asValueLogError, invalidArgument, ValueLogError } from '../errors.js';
import type { ValuePtr } from '../format/pointer.js';
import { OpfsStorage } from '../storage/opfs.js';
import { remapToWire, type PointerRemap } from '../remap.js';
import { ValueLog, type Snapshot } from '../valuelog.js';
import type { Call, CompactReply, OpenArgs, Reply, Request } from './protocol.js';

interface Port {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens the log, retrying while a previous owner's worker still holds its files (LOCKED). */
async function openLog(args: OpenArgs): Promise<{ storage: OpfsStorage; log: ValueLog; remapTimeoutMs: number }> {
  const deadline = Date.now() + args.lockWaitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    const storage = await OpfsStorage.open(args.dir);
    try {
      return { storage, log: await ValueLog.open(storage, args.options), remapTimeoutMs: args.remapTimeoutMs };
    } catch (e) {
      storage.close();
      if (!(e instanceof ValueLogError && e.code === 'LOCKED') || Date.now() >= deadline) throw e;
      await sleep(delay);
    }
  }
}

/** Serves one log to the page over `port` (the worker's global scope). */
export function serveValueLog(port: Port): void {
  let opened: { storage: OpfsStorage; log: ValueLog; remapTimeoutMs: number } | undefined;
  const snapshots = new Map<number, Snapshot>();
  let nextSnapshot = 1;
  /** Compactions waiting for the page's onRemap: run → how to let them go on, and their result. */
  const held = new Map<number, { resume(error?: ValueLogError): void; done: Promise<PointerRemap> }>();
  let nextRun = 1;
  /** Iterations over the live values (values()), by id. */
  const iterators = new Map<number, AsyncGenerator<{ ptr: ValuePtr; value: Uint8Array }, void, undefined>>();
  let nextIterator = 1;

  const log = (): ValueLog => {
    if (opened === undefined) throw new ValueLogError('CLOSED', 'valuelog: the log is not open in this worker');
    return opened.log;
  };
  const snapshot = (id: number): Snapshot => {
    const s = snapshots.get(id);
    if (s === undefined) throw invalidArgument(`snapshot ${id} is not open (released, or its owner changed)`);
    return s;
  };
  /**
   * A value for the page, transferred: reads return copies the caller owns, but values up to 4 KiB
   * share 64 KiB slabs, so those are copied out first; a value with a buffer of its own goes as is.
   */
  const own = (v: Uint8Array): { value: Uint8Array; transfer: Transferable[] } => {
    const mine = v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : v.slice();
    return { value: mine, transfer: [mine.buffer] };
  };

  async function run(call: Call): Promise<{ value: unknown; transfer?: Transferable[] }> {
    switch (call.op) {
      case 'open':
        if (opened !== undefined) throw invalidArgument('the log is already open in this worker');
        await init();
        opened = await openLog(call.args);
        return { value: { recovered: opened.log.stats().recovered } };
      case 'put':
        return { value: log().put(call.value, call.opts) };
      case 'putMany':
        return { value: log().putMany(call.values, call.opts) };
      case 'get':
        return own(log().get(call.ptr));
      case 'commit':
        await log().commit();
        return { value: undefined };
      case 'markDead':
        return { value: log().markDead(call.ptrs) };
      case 'stats':
        return { value: log().stats() };
      case 'compact': {
        if (!call.holdRemap) return { value: { held: false, remap: remapToWire(await log().compact(call.opts)) } satisfies CompactReply };
        // The page's onRemap runs in the page: the compaction waits in its onRemap (copies durable,
        // nothing deleted) until the page answers with compactResume, or remapTimeoutMs passes.
        const run = nextRun++;
        const timeoutMs = opened!.remapTimeoutMs;
        let first!: (reply: CompactReply) => void;
        const firstReply = new Promise<CompactReply>((r) => (first = r));
        const done = log().compact({
          ...call.opts,
          onRemap: (remap) =>
            new Promise<void>((resolve, reject) => {
              // After the timeout the entry stays (briefly) so that a late compactResume gets the
              // compaction's real outcome (the IO rejection) rather than "not waiting".
              let settled = false;
              const forget = () => setTimeout(() => held.delete(run), 60_000);
              const timer = setTimeout(() => {
                settled = true;
                forget();
                reject(new ValueLogError('IO', `valuelog: onRemap did not finish within ${timeoutMs} ms; the compaction was undone, nothing was deleted`));
              }, timeoutMs);
              held.set(run, {
                resume: (error) => {
                  held.delete(run);
                  if (settled) return;
                  settled = true;
                  clearTimeout(timer);
                  if (error === undefined) resolve();
                  else reject(error);
                },
                done,
              });
              first({ held: true, run, remap: remapToWire(remap) });
            }),
        });
        done.catch(() => {}); // a failure after the hand-over is answered to compactResume
        return { value: await Promise.race([firstReply, done.then((remap): CompactReply => ({ held: false, remap: remapToWire(remap) }))]) };
      }
      case 'compactResume': {
        const h = held.get(call.run);
        if (h === undefined) throw invalidArgument(`compaction ${call.run} is not waiting for its remap (it timed out, or the log's owner changed)`);
        h.resume(call.error === undefined ? undefined : new ValueLogError(call.error.code, call.error.message));
        return { value: remapToWire(await h.done) };
      }
      case 'isDead':
        return { value: log().isDead(call.ptr) };
      case 'iterate': {
        const id = nextIterator++;
        iterators.set(id, log().values());
        return { value: id };
      }
      case 'iterateNext': {
        const it = iterators.get(call.iterator);
        if (it === undefined) throw invalidArgument(`iteration ${call.iterator} is not open (ended, or its owner changed)`);
        // Batches of up to 256 values or 1 MiB, whichever comes first, to amortise the round trip.
        const items: Array<{ ptr: ValuePtr; value: Uint8Array }> = [];
        const transfer: Transferable[] = [];
        let bytes = 0;
        let finished = false;
        while (items.length < 256 && bytes < 1 << 20) {
          const next = await it.next();
          if (next.done) {
            finished = true;
            iterators.delete(call.iterator);
            break;
          }
          const { value, transfer: t } = own(next.value.value);
          items.push({ ptr: next.value.ptr, value });
          transfer.push(...t);
          bytes += value.byteLength;
        }
        return { value: { items, done: finished }, transfer };
      }
      case 'iterateEnd': {
        const it = iterators.get(call.iterator);
        iterators.delete(call.iterator);
        await it?.return(undefined);
        return { value: undefined };
      }
      case 'snapshot': {
        const id = nextSnapshot++;
        snapshots.set(id, await log().snapshot());
        return { value: id };
      }
      case 'snapshotGet':
        return own(snapshot(call.snapshot).get(call.ptr));
      case 'release': {
        const s = snapshot(call.snapshot);
        snapshots.delete(call.snapshot);
        await s.release();
        return { value: undefined };
      }
      case 'close': {
        const o = opened;
        opened = undefined;
        // A compaction waiting for a page's onRemap is undone (close() waits for compactions).
        for (const h of [...held.values()]) h.resume(new ValueLogError('CLOSED', 'valuelog: the log was closed while a compaction waited for onRemap; it was undone'));
        for (const it of iterators.values()) await it.return(undefined).catch(() => {});
        iterators.clear();
        for (const s of snapshots.values()) await s.release().catch(() => {});
        snapshots.clear();
        if (o !== undefined) {
          await o.log.close();
          o.storage.close();
        }
        return { value: undefined };
      }
      default:
        throw invalidArgument(`unknown operation ${JSON.stringify((call as { op?: unknown }).op)}`);
    }
  }

  // Calls run in arrival order of their start; everything waits for a pending open.
  let opening: Promise<unknown> = Promise.resolve();
  port.addEventListener('message', (e: MessageEvent) => {
    const { id, call } = e.data as Request;
    const result = call.op === 'open' ? run(call) : opening.then(() => run(call), () => run(call));
    if (call.op === 'open') opening = result.catch(() => {});
    result.then(
      ({ value, transfer }) => port.postMessage({ id, ok: value } satisfies Reply, transfer ?? []),
      (err: unknown) => {
        const v = asValueLogError(err, 'IO', `${call.op} in the log worker`);
        port.postMessage({ id, err: { code: v.code, message: v.message } } satisfies Reply);
      },
    );
  });
}
