// The messages between a page (valuelog/browser) and the worker that owns the log, and between tabs
// of one origin over a BroadcastChannel. Everything in them survives structured cloning.
import type { ErrorCode } from '../errors.js';
import type { ValuePtr } from '../format/pointer.js';
import type { PutOptions, ValueLogOptions } from '../log-options.js';
import type { WireRemap } from '../remap.js';

export interface OpenArgs {
  /** OPFS directory of the log, below the origin's root. */
  dir: string;
  options: ValueLogOptions;
  /** How long to retry files still held by a previous owner (a reload racing the old worker). */
  lockWaitMs: number;
  /** How long a compaction waits for the page's onRemap (then it is undone, nothing deleted). */
  remapTimeoutMs: number;
}

/** compact() options that cross to the worker (the functions stay in the page). */
export interface WireCompactOptions {
  minGarbageRatio?: number;
  maxBytes?: number;
}

/**
 * The first answer to a compact call. held: the worker's compaction waits, copies durable and
 * nothing deleted, until a compactResume call for `run` (the page ran onRemap) or its timeout.
 */
export type CompactReply = { held: true; run: number; remap: WireRemap } | { held: false; remap: WireRemap };

/** One call on the log: the operation and its arguments. */
export type Call =
  | { op: 'open'; args: OpenArgs }
  | { op: 'put'; value: Uint8Array; opts?: PutOptions }
  | { op: 'putMany'; values: Uint8Array[]; opts?: PutOptions }
  | { op: 'get'; ptr: ValuePtr }
  | { op: 'commit' }
  | { op: 'markDead'; ptrs: ValuePtr | ValuePtr[] }
  | { op: 'stats' }
  | { op: 'compact'; opts: WireCompactOptions; holdRemap: boolean }
  | { op: 'compactResume'; run: number; error?: WireError }
  | { op: 'isDead'; ptr: ValuePtr }
  | { op: 'iterate' }
  | { op: 'iterateNext'; iterator: number }
  | { op: 'iterateEnd'; iterator: number }
  | { op: 'snapshot' }
  | { op: 'snapshotGet'; snapshot: number; ptr: ValuePtr }
  | { op: 'release'; snapshot: number }
  | { op: 'close' };

export interface WireError {
  code: ErrorCode;
  message: string;
}

/** Page → worker. */
export interface Request {
  id: number;
  call: Call;
}

/** Worker → page. */
export type Reply = { id: number; ok: unknown } | { id: number; err: WireError };

/** Tab ↔ tab, on the BroadcastChannel named after the log. */
export type TabMessage =
  | { type: 'owner'; epoch: number }
  | { type: 'owner-gone'; epoch: number }
  | { type: 'who-owns' }
  | { type: 'req'; from: string; id: number; epoch: number; call: Call }
  | { type: 'res'; to: string; id: number; ok?: unknown; err?: WireError };
