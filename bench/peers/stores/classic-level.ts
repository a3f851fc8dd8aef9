// LevelDB through `classic-level`: 4-byte big-endian ascending keys, a chained `batch()` per unit (or
// `put` with `sync: true` per value); reads by key with `getSync` and the asynchronous `get`, scans
// with a `values()` iterator and `nextv()`.
import { Samples } from '../../stats.js';
import { requirePeer } from '../packages.js';
import type { PeerStore } from '../store.js';
import { KiB } from '../types.js';

// Minimal shapes of the classic-level API (it is loaded with a non-literal import(); see ../packages.ts).
interface LevelChainedBatch {
  put(key: Uint8Array, value: Uint8Array): LevelChainedBatch;
  write(opts?: { sync?: boolean }): Promise<void>;
}
interface LevelIterator {
  nextv(size: number): Promise<Uint8Array[]>;
  close(): Promise<void>;
}
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  put(key: Uint8Array, value: Uint8Array, opts?: { sync?: boolean }): Promise<void>;
  batch(): LevelChainedBatch;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getSync(key: Uint8Array): Uint8Array | undefined;
  values(opts?: Record<string, unknown>): LevelIterator;
}
interface ClassicLevelModule {
  ClassicLevel: new (location: string, opts: Record<string, unknown>) => LevelDb;
}

/** Value index `i` as a 4-byte big-endian key, so that ascending indices are ascending keys. */
function levelKey(i: number): Uint8Array {
  const k = new Uint8Array(4);
  k[0] = i >>> 24;
  k[1] = (i >>> 16) & 0xff;
  k[2] = (i >>> 8) & 0xff;
  k[3] = i & 0xff;
  return k;
}

async function openLevel(dir: string): Promise<LevelDb> {
  const level = await requirePeer<ClassicLevelModule>('classic-level');
  const db = new level.ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
}

/** classic-level. */
export const classicLevelStore: PeerStore = {
  ids: ['classic-level'],
  byPointer: false,
  async load(_store, ctx) {
    const { ds, durable, mode } = ctx;
    const db = await openLevel(ctx.dir);
    ctx.start();
    if (mode === 'c1') {
      await ctx.units((from) => db.put(levelKey(from), ds.value(from), { sync: true }));
    } else {
      await ctx.units((from, to) => {
        const b = db.batch();
        for (let i = from; i < to; i++) b.put(levelKey(i), ds.value(i));
        return b.write({ sync: durable });
      });
    }
    await db.close();
    return {};
  },
  async read(_store, ctx) {
    const t = ctx.task;
    const { count, group, ds } = ctx;
    const db = await openLevel(t.dir);
    const keys = Array.from(ctx.order, levelKey);
    ctx.verify((k) => db.getSync(keys[k]!));
    ctx.start();
    const res = ctx.timeReads((k) => db.getSync(keys[k]!)!.length);
    // The asynchronous get() most code uses, one read in flight at a time, each timed on its own.
    const na = Math.min(count, t.params.asyncReads);
    for (let k = 0; k < Math.min(na, 500); k++) await db.get(keys[k]!);
    const samples = new Samples(1);
    const a0 = performance.now();
    for (let k = 0; k < na; k++) {
      const g0 = performance.now();
      await db.get(keys[k]!);
      samples.push((performance.now() - g0) * 1e6);
    }
    const asyncRes = { reads: na, ms: performance.now() - a0, lat: samples.lat() };
    ctx.rss.now();
    const scan = t.scan
      ? await ctx.timeScan(async () => {
          const it = db.values({ highWaterMarkBytes: Math.max(16 * KiB, 2 * group * ds.avgSize) });
          let vals: Uint8Array[] = [];
          let at = 0;
          return {
            next: async () => {
              if (at === vals.length) {
                vals = await it.nextv(group);
                at = 0;
                if (vals.length === 0) return -1;
              }
              return vals[at++]!.length;
            },
            close: () => it.close(),
          };
        })
      : undefined;
    await db.close();
    return { res, async: asyncRes, scan };
  },
};
