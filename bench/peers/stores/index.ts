// Every contender's implementation, by id.
import type { PeerStore } from '../store.js';
import type { StoreId } from '../types.js';
import { classicLevelStore } from './classic-level.js';
import { lmdbStore } from './lmdb.js';
import { rawStore } from './raw.js';
import { valuelogStore } from './valuelog.js';

const STORES: readonly PeerStore[] = [valuelogStore, rawStore, lmdbStore, classicLevelStore];

/** The implementation serving `id`; throws for an unknown id. */
export function storeFor(id: StoreId): PeerStore {
  const s = STORES.find((x) => x.ids.includes(id));
  if (!s) throw new Error(`unknown store ${id}`);
  return s;
}
