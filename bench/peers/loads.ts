// The load workload (runs in a child process): one untimed warm-up load, then one timed load per
// commit mode, each into a fresh directory; the no-commit one is kept for the read run.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirBytes, ioWriteBytes, RssPeak, Samples } from '../harness.js';
import { dataset, readOrder, readCount, type Dataset } from './data.js';
import { jsonDictionary } from './json.js';
import { storeFor } from './stores/index.js';
import type { LoadResult, LoadTask, Mode, StoreId } from './types.js';

/** Where a value landed: [fileId, offset, length] (a valuelog pointer, or a raw file offset). */
export type Kept = [number, number, number];

/** What a store's `load` works with: the data, the clock and where to note the read run's values. */
export class LoadContext {
  /** Values per timed unit: a ~256 KiB batch (no commit), 1,000 values, or 1. */
  readonly unitSize: number;
  /** Whether each unit ends with a durable commit. */
  readonly durable: boolean;
  /** Set by `start()`. */
  rss!: RssPeak;
  /** performance.now() at `start()`. */
  t0 = 0;
  private readonly samples: Samples;

  /** `want[i]`: the first read slot that fetches value i, or -1; `kept` is filled by slot. */
  constructor(
    readonly ds: Dataset,
    readonly dict: Uint8Array | undefined,
    readonly dir: string,
    readonly mode: Mode,
    readonly n: number,
    private readonly tracking: boolean,
    private readonly want: Int32Array,
    private readonly kept: Kept[],
  ) {
    this.unitSize = mode === 'none' ? ds.batch : mode === 'c1000' ? 1000 : 1;
    this.durable = mode !== 'none';
    this.samples = new Samples(this.unitSize);
  }

  /** Starts the clock and the RSS sampling: call once the store is open. */
  start(): void {
    this.rss = new RssPeak();
    this.t0 = performance.now();
  }

  /** Runs unit(from, to) over the whole dataset, timing each unit. */
  async units(unit: (from: number, to: number) => void | Promise<void>): Promise<void> {
    const { n, unitSize, samples } = this;
    for (let i = 0; i < n; i += unitSize) {
      const u0 = performance.now();
      const r = unit(i, Math.min(n, i + unitSize));
      if (r) await r;
      const u1 = performance.now();
      samples.push((u1 - u0) * 1e6);
      this.rss.maybe(u1);
    }
  }

  /** Notes where value `i` landed if a read run will fetch it (stores with `byPointer` only). */
  keep(i: number, fileId: number, offset: number, length: number): void {
    if (this.tracking && this.want[i]! >= 0) this.kept[this.want[i]!] = [fileId, offset, length];
  }

  /** The latency of the units so far. */
  lat(): LoadResult['lat'] {
    return this.samples.lat();
  }
}

/**
 * One load of `n` values into `dir` in `mode`. With `order`, keeps the pointers (valuelog) or offsets
 * (raw) of the values a read run will fetch and writes them to `${dir}.ptrs.json`.
 */
async function loadOnce(store: StoreId, ds: Dataset, dict: Uint8Array | undefined, dir: string, mode: Mode, n: number, order?: Int32Array): Promise<LoadResult> {
  const impl = storeFor(store);
  const want = new Int32Array(order ? n : 0).fill(-1);
  if (order) for (let k = 0; k < order.length; k++) if (want[order[k]!]! < 0) want[order[k]!] = k;
  const kept: Kept[] = new Array(order?.length ?? 0);
  const ctx = new LoadContext(ds, dict, dir, mode, n, order !== undefined, want, kept);
  let payload = 0;
  for (let i = 0; i < n; i++) payload += ds.value(i).length;
  mkdirSync(dir, { recursive: true });
  const io0 = ioWriteBytes();
  const { wasm } = await impl.load(store, ctx);
  const ms = performance.now() - ctx.t0;
  const rss = ctx.rss;
  rss.now();
  const io1 = ioWriteBytes();
  if (order && impl.byPointer) {
    // Repeated indices in the read order share the first slot's pointer.
    for (let k = 0; k < order.length; k++) kept[k] ??= kept[want[order[k]!]!]!;
    writeFileSync(`${dir}.ptrs.json`, JSON.stringify(kept));
  }
  return {
    values: n,
    payload,
    ms,
    lat: ctx.lat(),
    dirBytes: dirBytes(dir),
    ioBytes: io0 !== undefined && io1 !== undefined ? io1 - io0 : undefined,
    startRss: rss.start,
    peakRss: rss.peak,
    wasm,
  };
}

/** A load child's work: the warm-up load, then the timed loads of `t.modes`. */
export async function runLoads(t: LoadTask): Promise<Partial<Record<Mode, LoadResult>>> {
  const ds = dataset(t.work, t.params);
  const dict = t.store === 'valuelog-zstd-dict' || t.store === 'valuelog-zstd-dict-grouped' ? jsonDictionary() : undefined;
  const warmDir = `${t.dir}-warmup`;
  await loadOnce(t.store, ds, dict, warmDir, 'none', Math.min(ds.count('none'), Math.ceil(t.params.warmup / ds.avgSize)));
  rmSync(warmDir, { recursive: true, force: true });
  const out: Partial<Record<Mode, LoadResult>> = {};
  for (const mode of t.modes) {
    const dir = `${t.dir}-${mode}`;
    const n = ds.count(mode);
    out[mode] = await loadOnce(t.store, ds, dict, dir, mode, n, mode === 'none' ? readOrder(n, readCount(t.work, t.params), 11) : undefined);
    if (mode !== 'none') rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
