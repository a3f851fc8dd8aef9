// The worker side of valuelog/browser: owns one ValueLog on OpfsStorage and answers the page's calls.
// Values read are copied out of the library's slabs and transferred to the page (one copy in all).
import { init } from '../codec/module.js';
import { asValueLogError, invalidArgument, ValueLogError } from '../errors.js';
import { OpfsStorage } from '../storage/opfs.js';
import { ValueLog, type Snapshot } from '../valuelog.js';
import type { Call, OpenArgs, Reply, Request } from './protocol.js';

interface Port {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens the log, retrying while a previous owner's worker still holds its files (LOCKED). */
async function openLog(args: OpenArgs): Promise<{ storage: OpfsStorage; log: ValueLog }> {
  const deadline = Date.now() + args.lockWaitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    const storage = await OpfsStorage.open(args.dir);
    try {
      return { storage, log: await ValueLog.open(storage, args.options) };
    } catch (e) {
      storage.close();
      if (!(e instanceof ValueLogError && e.code === 'LOCKED') || Date.now() >= deadline) throw e;
      await sleep(delay);
    }
  }
}

/** Serves one log to the page over `port` (the worker's global scope). */
export function serveValueLog(port: Port): void {
  let opened: { storage: OpfsStorage; log: ValueLog } | undefined;
  const snapshots = new Map<number, Snapshot>();
  let nextSnapshot = 1;

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
        const remap = await log().compact(call.opts);
        return { value: [...remap] };
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
