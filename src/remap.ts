// The result of a compaction: old pointer → new pointer for every live value moved, and what was
// left alone. Kept apart from the log so that the page client (valuelog/browser), which has no
// codecs, returns the same class that ValueLog.compact() does; WireRemap is its structured-clone form.
import type { ValueLogError, ErrorCode } from './errors.js';
import { ptrKey, type ValuePtr } from './format/pointer.js';

/** A segment compaction left as it was, and why. */
export interface CompactionProblem {
  /** The segment's file id. */
  fileId: number;
  /** The segment's file name. */
  segment: string;
  /** Why it was left (CORRUPT, IO, ...). */
  error: ValueLogError;
}

/** Old pointer → new pointer for every live value that compaction moved; looked up by pointer value. */
export class PointerRemap implements Iterable<[ValuePtr, ValuePtr]> {
  private readonly map = new Map<string, [ValuePtr, ValuePtr]>();
  /** New pointer → old pointers that map to it (to follow a value moved twice). */
  private readonly back = new Map<string, string[]>();
  /** Segments whose live values were copied (now zombies). */
  readonly compactedSegments: number[] = [];
  /** Segments that could not be read back checksum-verified: left as they are, nothing of them moved. */
  readonly skippedSegments: CompactionProblem[] = [];
  /** Old segments whose deletion failed after the remap was complete: they stay zombies until a snapshot release or the next compact(). */
  readonly deleteErrors: CompactionProblem[] = [];
  /** @internal Records a move; a pointer that is itself the target of an earlier move is followed through. */
  set(oldPtr: ValuePtr, newPtr: ValuePtr): void {
    const oldKey = ptrKey(oldPtr);
    const newKey = ptrKey(newPtr);
    for (const k of this.back.get(oldKey) ?? []) {
      const e = this.map.get(k);
      if (e !== undefined) e[1] = newPtr;
    }
    const moved = this.back.get(oldKey) ?? [];
    this.back.delete(oldKey);
    this.map.set(oldKey, [oldPtr, newPtr]);
    this.back.set(newKey, [...(this.back.get(newKey) ?? []), ...moved, oldKey]);
  }
  /** The new pointer of a value that was at `oldPtr`, or undefined when it did not move. */
  get(oldPtr: ValuePtr): ValuePtr | undefined {
    return this.map.get(ptrKey(oldPtr))?.[1];
  }
  /** Number of pointers that moved. */
  get size(): number {
    return this.map.size;
  }
  /** Every [old pointer, new pointer] pair. */
  [Symbol.iterator](): Iterator<[ValuePtr, ValuePtr]> {
    return this.map.values();
  }
}

/** @internal A PointerRemap as plain data (for postMessage); errors as code + message. */
export interface WireRemap {
  pairs: Array<[ValuePtr, ValuePtr]>;
  compactedSegments: number[];
  skippedSegments: Array<{ fileId: number; segment: string; error: { code: ErrorCode; message: string } }>;
  deleteErrors: Array<{ fileId: number; segment: string; error: { code: ErrorCode; message: string } }>;
}

/** @internal */
export function remapToWire(remap: PointerRemap): WireRemap {
  const problems = (list: CompactionProblem[]) => list.map((p) => ({ fileId: p.fileId, segment: p.segment, error: { code: p.error.code, message: p.error.message } }));
  return { pairs: [...remap], compactedSegments: [...remap.compactedSegments], skippedSegments: problems(remap.skippedSegments), deleteErrors: problems(remap.deleteErrors) };
}

/** @internal Rebuilds a PointerRemap from its wire form; `toError` makes the error objects. */
export function remapFromWire(wire: WireRemap, toError: (e: { code: ErrorCode; message: string }) => ValueLogError): PointerRemap {
  const remap = new PointerRemap();
  for (const [o, n] of wire.pairs) remap.set(o, n);
  remap.compactedSegments.push(...wire.compactedSegments);
  for (const p of wire.skippedSegments) remap.skippedSegments.push({ fileId: p.fileId, segment: p.segment, error: toError(p.error) });
  for (const p of wire.deleteErrors) remap.deleteErrors.push({ fileId: p.fileId, segment: p.segment, error: toError(p.error) });
  return remap;
}
