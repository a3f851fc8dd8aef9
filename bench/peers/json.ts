// The JSON-and-dictionary workload: the `npm run demo` documents cycled to a volume, the zstd
// dictionary valuelog's dictionary variants compress them with, and the stores it runs against.
import { trainDictionary } from '../../src/index.node.js';
import { makeDocs } from '../../src/cli/demo.js';
import type { Dataset } from './data.js';
import { BATCH, KiB, type Mode, type Params, type StoreId } from './types.js';

/** The stores the JSON workload compares (before dropping those not installed). */
export const JSON_STORE_IDS: readonly StoreId[] = ['valuelog', 'valuelog-zstd-dict', 'valuelog-zstd-dict-grouped', 'raw', 'lmdb', 'lmdb-lz4', 'classic-level'];

/** `p.jsonDistinct` demo documents, cycled to about `p.jsonVolume` bytes. */
export function jsonDataset(p: Params): Dataset {
  const docs = makeDocs(p.jsonDistinct, 1);
  const avg = docs.reduce((a, d) => a + d.length, 0) / docs.length;
  const n = Math.ceil(p.jsonVolume / avg);
  return { count: (mode: Mode) => (mode === 'c1' ? Math.min(p.c1Count, n) : n), value: (i) => docs[i % docs.length]!, batch: Math.max(1, Math.round(BATCH / avg)), avgSize: avg };
}

/** The 32 KiB dictionary (id 1), trained on 4,000 documents other than the loaded ones. */
export function jsonDictionary(): Uint8Array {
  return trainDictionary(makeDocs(4000, 99), { size: 32 * KiB, dictId: 1 });
}
