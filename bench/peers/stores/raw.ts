// The raw file API as the limit: `fs.writevSync` in 256 KiB batches into one file, `fdatasyncSync`
// at the commit points; reads are `fs.readSync` of the value bytes at the offsets the load kept.
import { closeSync, fdatasyncSync, openSync, readSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerStore } from '../store.js';
import { BATCH, MAX_IOV } from '../types.js';

/** The raw file API. */
export const rawStore: PeerStore = {
  ids: ['raw'],
  byPointer: true,
  async load(_store, ctx) {
    const { ds, durable } = ctx;
    const fd = openSync(join(ctx.dir, 'raw.log'), 'w+');
    let batch: Uint8Array[] = [];
    let bytes = 0;
    let at = 0;
    const flush = () => {
      if (batch.length) writevSync(fd, batch, at);
      at += bytes;
      batch = [];
      bytes = 0;
    };
    ctx.start();
    await ctx.units((from, to) => {
      for (let i = from; i < to; i++) {
        const v = ds.value(i);
        ctx.keep(i, 0, at + bytes, v.length);
        batch.push(v);
        bytes += v.length;
        if (bytes >= BATCH || batch.length >= MAX_IOV) flush();
      }
      if (durable) {
        flush();
        fdatasyncSync(fd);
      }
    });
    flush();
    closeSync(fd);
    return {};
  },
  async read(_store, ctx) {
    const t = ctx.task;
    const kept = ctx.kept;
    const fd = openSync(join(t.dir, 'raw.log'), 'r');
    const dst = new Uint8Array(kept.reduce((a, p) => Math.max(a, p[2]), 0));
    ctx.verify((k) => {
      const [, off, len] = kept[k]!;
      readSync(fd, dst, 0, len, off);
      return dst.subarray(0, len);
    });
    ctx.start();
    const res = ctx.timeReads((k) => {
      const p = kept[k]!;
      return readSync(fd, dst, 0, p[2], p[1]);
    });
    let scan;
    if (t.scan && t.work.kind === 'fixed') {
      const size = t.work.size;
      const buf = new Uint8Array(ctx.group * size);
      scan = await ctx.timeScan(async () => {
        let pos = 0;
        let left = 0;
        return {
          next: () => {
            if (left === 0) {
              const got = readSync(fd, buf, 0, buf.length, pos);
              pos += got;
              left = Math.floor(got / size);
              if (left === 0) return -1;
            }
            left--;
            return size;
          },
          close: () => undefined,
        };
      });
    }
    closeSync(fd);
    return { res, scan };
  },
};
