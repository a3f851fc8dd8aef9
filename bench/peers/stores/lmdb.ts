// lmdb-js (`lmdb`), with and without its LZ4 compression: ascending uint32 keys, one
// `transactionSync` per unit (or one `putSync` per value); reads by key with `get`, scans with `getRange`.
import { requirePeer } from '../packages.js';
import type { PeerStore } from '../store.js';

// Minimal shapes of the lmdb-js API (it is loaded with a non-literal import(); see ../packages.ts).
interface LmdbDb {
  putSync(key: number, value: Uint8Array): boolean;
  transactionSync<T>(fn: () => T): T;
  get(key: number): Uint8Array | undefined;
  getRange(opts?: object): Iterable<{ key: unknown; value: Uint8Array }>;
  close(): Promise<void>;
}
interface LmdbModule {
  open(opts: Record<string, unknown>): LmdbDb;
}

/** lmdb-js. */
export const lmdbStore: PeerStore = {
  ids: ['lmdb', 'lmdb-lz4'],
  byPointer: false,
  async load(store, ctx) {
    const { ds, durable, mode } = ctx;
    const lmdb = await requirePeer<LmdbModule>('lmdb');
    // No commit: noSync (LMDB never flushes). Durable: overlappingSync off, so that every commit
    // (transactionSync / putSync) returns after LMDB's own sync of the commit.
    const db = lmdb.open({
      path: ctx.dir,
      compression: store === 'lmdb-lz4',
      encoding: 'binary',
      keyEncoding: 'uint32',
      ...(durable ? { overlappingSync: false } : { noSync: true }),
    });
    ctx.start();
    if (mode === 'c1') {
      await ctx.units((from) => void db.putSync(from, ds.value(from)));
    } else {
      await ctx.units((from, to) =>
        db.transactionSync(() => {
          for (let i = from; i < to; i++) db.putSync(i, ds.value(i));
        }),
      );
    }
    await db.close();
    return {};
  },
  async read(store, ctx) {
    const t = ctx.task;
    const order = ctx.order;
    const lmdb = await requirePeer<LmdbModule>('lmdb');
    const db = lmdb.open({ path: t.dir, compression: store === 'lmdb-lz4', encoding: 'binary', keyEncoding: 'uint32', noSync: true });
    ctx.verify((k) => db.get(order[k]!));
    ctx.start();
    const res = ctx.timeReads((k) => db.get(order[k]!)!.length);
    const scan = t.scan
      ? await ctx.timeScan(async () => {
          const it = db.getRange({})[Symbol.iterator]();
          return {
            next: () => {
              const e = it.next();
              return e.done ? -1 : e.value.value.length;
            },
            close: () => it.return?.(),
          };
        })
      : undefined;
    await db.close();
    return { res, scan };
  },
};
