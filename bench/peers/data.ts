// The data every workload runs on: the values a load writes (fixed-size random windows, or the JSON
// documents of ./json.ts), and the random order a read run fetches them in.
import { SeededRandom } from '../../src/index.node.js';
import { noise } from '../../test/helpers.js';
import { jsonDataset } from './json.js';
import { BATCH, MiB, type Mode, type Params, type Work } from './types.js';

/** The values of one work, generated on demand from an index. */
export interface Dataset {
  /** Values per timed load in each mode. */
  count: (mode: Mode) => number;
  value: (i: number) => Uint8Array;
  /** Values per "no commit" batch (about 256 KiB of payload). */
  batch: number;
  avgSize: number;
}

/** The dataset of `work` at the volumes of `p`. */
export function dataset(work: Work, p: Params): Dataset {
  if (work.kind === 'json') return jsonDataset(p);
  const size = work.size;
  // Values are distinct windows of an 8 MiB random pool (incompressible, no repeats within a block).
  const poolLen = 8 * MiB;
  const pool = noise(poolLen + size, 7);
  const span = poolLen - 64;
  const n = Math.ceil(p.volume / size);
  return {
    count: (mode) => (mode === 'c1' ? Math.min(p.c1Count, n) : n),
    value: (i) => {
      const off = ((Math.imul(i, 0x9e3779b1) >>> 0) % span) & ~7;
      return pool.subarray(off, off + size);
    },
    batch: Math.max(1, Math.round(BATCH / size)),
    avgSize: size,
  };
}

/** `reads` value indices below `count`, uniformly random from `seed` (the same in load and read child). */
export function readOrder(count: number, reads: number, seed: number): Int32Array {
  const rng = new SeededRandom(seed);
  const order = new Int32Array(reads);
  for (let i = 0; i < reads; i++) order[i] = rng.intn(count);
  return order;
}

/** Random reads per read run of `work`. */
export function readCount(work: Work, p: Params): number {
  return work.kind === 'json' ? p.jsonReads : Math.min(p.reads, Math.max(1000, Math.floor(p.readBytes / work.size)));
}
