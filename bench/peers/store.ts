// The one interface the load and read workloads drive every contender through. Each store file
// (./stores/*.ts) implements it for its ids; `storeFor` picks the implementation.
import type { LoadContext } from './loads.js';
import type { ReadContext, ReadParts } from './reads.js';
import type { StoreId } from './types.js';

/** A contender as the workloads see it. */
export interface PeerStore {
  /** The ids this implementation serves (e.g. valuelog in several configurations). */
  readonly ids: readonly StoreId[];
  /**
   * True if the store has no key index, so that the load keeps where the read run's values landed
   * (`LoadContext.keep`) and the read run fetches them by that pointer (`ReadContext.kept`).
   */
  readonly byPointer: boolean;
  /** Opens the store in `ctx.dir`, calls `ctx.start()`, loads through `ctx.units`, closes. Returns the WebAssembly memory, if any. */
  load(id: StoreId, ctx: LoadContext): Promise<{ wasm?: number }>;
  /** Opens the store, verifies with `ctx.verify`, calls `ctx.start()`, times reads (and a scan if `ctx.task.scan`), closes. */
  read(id: StoreId, ctx: ReadContext): Promise<ReadParts>;
}
