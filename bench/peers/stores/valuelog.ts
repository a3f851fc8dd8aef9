// valuelog as a contender: `Writer.append` (one value per frame) or `appendFrame` (K values per
// frame), 256 KiB or 4 MiB staging buffer, optionally zstd with the JSON workload's dictionary;
// `sync()` as the durable commit. Reads by pointer through `Manager.read`, scans with `Reader`.
import { chooseBlockGroupK, encodeFileId, Manager, NodeStorage, Reader, wasmMemoryBytes, Writer, type ValuePtr } from '../../../src/index.node.js';
import { jsonDictionary } from '../json.js';
import type { PeerStore } from '../store.js';
import { BATCH } from '../types.js';

/** valuelog in each of its configurations. */
export const valuelogStore: PeerStore = {
  ids: ['valuelog', 'valuelog-4m', 'valuelog-zstd-dict', 'valuelog-zstd-dict-grouped'],
  byPointer: true,
  async load(store, ctx) {
    const { ds, dict, durable } = ctx;
    const storage = new NodeStorage(ctx.dir);
    const opts = dict ? { dictId: 1, dict } : {};
    const k = store === 'valuelog-zstd-dict-grouped' ? chooseBlockGroupK(128, ds.avgSize * 128, 4096, 0.35) : 1;
    const w = await Writer.open(storage, encodeFileId(0, 1), store === 'valuelog-4m' ? { bufferSize: 4 * 1024 * 1024 } : { bufferSize: BATCH });
    const keep = (i: number, p: ValuePtr) => ctx.keep(i, p.fileId, p.offset, p.length);
    ctx.start();
    await ctx.units((from, to) => {
      if (k === 1) {
        for (let i = from; i < to; i++) keep(i, w.append(i + 1, ds.value(i), opts));
      } else {
        for (let i = from; i < to; i += k) {
          const recs = [];
          for (let j = i; j < Math.min(to, i + k); j++) recs.push({ rid: j + 1, value: ds.value(j) });
          const { ptrs } = w.appendFrame(recs, opts);
          for (let j = 0; j < ptrs.length; j++) keep(i + j, ptrs[j]!);
        }
      }
      if (durable) w.sync();
    });
    w.close();
    return { wasm: wasmMemoryBytes() };
  },
  async read(store, ctx) {
    const t = ctx.task;
    const storage = new NodeStorage(t.dir);
    const dict = store === 'valuelog' ? undefined : jsonDictionary();
    const lookup = (id: bigint) => (id === 1n ? dict : undefined);
    const m = await Manager.open(storage);
    if (dict) m.setDictLookup(lookup);
    const ptrs: ValuePtr[] = ctx.kept.map(([fileId, offset, length]) => ({ fileId, offset, length }));
    ctx.verify((k) => m.read(ptrs[k]!));
    ctx.start();
    const res = ctx.timeReads((k) => m.read(ptrs[k]!).length);
    m.setDisableReadChecksum(true);
    const nc = ctx.timeReads((k) => m.read(ptrs[k]!).length);
    const noCrc = { reads: ctx.count, ms: nc.ms, lat: nc.lat };
    m.setDisableReadChecksum(false);
    const scan = t.scan
      ? await ctx.timeScan(async () => {
          const r = await Reader.open(storage, encodeFileId(0, 1));
          if (dict) r.setDictLookup(lookup);
          return {
            next: () => {
              const e = r.next();
              return e === undefined ? -1 : e.value!.length;
            },
            close: () => r.close(),
          };
        })
      : undefined;
    await m.close();
    return { res, noCrc, scan, wasm: wasmMemoryBytes() };
  },
};
