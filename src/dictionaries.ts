// The dictionary store: zstd dictionaries kept as files beside the segments, in the same
// StorageBackend (file format in src/format/dictionary.ts), and the bounded reservoir of recent values
// they are trained from.
//
// Rules:
// - An id names one content forever. New ids are allocated above the highest id ever seen: the
//   highest dictionary file name in the directory (damaged files included) and the high-water file,
//   which is made durable *before* a dictionary file with a higher id is created. So deleting a
//   dictionary file never lets its id come back.
// - The store never deletes a dictionary file (old frames, raw-copied ones included, may name it).
// - A dictionary becomes visible (usable for writing) only after its file was written and synced.
//   StorageBackend has no rename: a torn or damaged file is detected by its length and CRCs, reported
//   in `damaged`, kept on disk (so that its id stays taken), and never used. A frame that needs it
//   fails with CORRUPT naming the file; a frame whose dictionary file is absent fails with MISSING_DICT.
// - The high-water file is append-only (src/format/dictionary.ts): a torn or failed append never
//   damages the mark already there. Only checksum or structure failures count as damage; an I/O error
//   while reading the store fails open() with IO (nothing is marked damaged, a retry may succeed).
// - Training the same content again (bytes equal except the id inside the dictionary) returns the
//   existing id instead of writing a duplicate.
import { trainDictionary } from './codec/codecs.js';
import { asValueLogError, corrupt, invalidArgument, ValueLogError } from './errors.js';
import {
  checkDictId,
  decodeDictFile,
  decodeHighWaterLog,
  DICT_FILE_HEADER_SIZE,
  DICT_HIGHWATER_NAME,
  DICT_HIGHWATER_SIZE,
  dictFileName,
  encodeDictFile,
  encodeHighWater,
  MAX_DICT_BYTES,
  MAX_DICT_ID,
  parseDictFileName,
  sameDictionaryContent,
} from './format/dictionary.js';
import type { DictLookup } from './format/frame.js';
import { checkedStorage } from './storage/checked.js';
import type { StorageBackend } from './storage/types.js';

/** One sound dictionary of the store, as DictionaryStore.info() lists it. */
export interface DictionaryInfo {
  /** The dictionary id (1..2^32-1), the one in its file name, its file header and its frames. */
  id: bigint;
  /** Its file name, `dict-<id, 10 digits>.zdict`. */
  file: string;
  /** Size of the dictionary (without the file header). */
  bytes: number;
  /** New frames are compressed with it. */
  current: boolean;
  /** Frames and values written compressed with it since the store was opened. */
  frames: number;
  /** Values in those frames. */
  values: number;
}

/** A dictionary-store file that failed its checks: kept on disk (its id stays taken) and never used. */
export interface DamagedDictionary {
  /** The file's name. */
  file: string;
  /** The id in the file name (undefined for the high-water file). */
  id: bigint | undefined;
  /** What is wrong with it (torn, bad CRC, id mismatch, ...). */
  reason: string;
}

interface Entry {
  id: bigint;
  bytes: Uint8Array;
  frames: number;
  values: number;
}

export interface StoreTrainOptions {
  /** Maximum dictionary size in bytes. */
  size: number;
  /** zstd level the entropy tables are tuned for (default 3). */
  level?: number;
}

/**
 * The zstd dictionaries of a log, stored as `dict-<id>.zdict` files beside its segments, with the
 * high-water file that keeps ids from being reused (docs/FORMAT.md, "Dictionary store"). Loads every
 * sound dictionary on open; never deletes a dictionary file.
 */
export class DictionaryStore {
  private readonly dicts = new Map<bigint, Entry>();
  private readonly broken = new Map<string, DamagedDictionary>();
  /** Highest id seen on disk or allocated in memory. */
  private highest = 0n;
  /** Highest id known to be durable in the high-water file. */
  private persistedHighWater = 0n;
  /** Where the next high-water entry is appended (after the last sound one). */
  private highWaterEnd = 0;
  private currentId: bigint | undefined;
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(private readonly storage: StorageBackend) {}

  /**
   * Loads every dictionary file of the directory; damaged ones are reported, not used, not removed.
   * Never writes: read-only tools open the store this way too. The newest (highest id) sound
   * dictionary becomes current.
   */
  static async open(storage: StorageBackend): Promise<DictionaryStore> {
    const s = new DictionaryStore(checkedStorage(storage));
    const names = await storage.list();
    if (names.includes(DICT_HIGHWATER_NAME)) {
      const file = await readIfPresent(s.storage, DICT_HIGHWATER_NAME, MAX_HIGHWATER_BYTES);
      if (file !== undefined) {
        const hw = decodeHighWaterLog(file);
        s.persistedHighWater = hw.id;
        s.highest = hw.id;
        s.highWaterEnd = hw.end;
        if (hw.damage !== undefined) s.broken.set(DICT_HIGHWATER_NAME, { file: DICT_HIGHWATER_NAME, id: undefined, reason: hw.damage });
      }
    }
    for (const name of names) {
      const id = parseDictFileName(name);
      if (id === undefined) continue;
      if (id > s.highest) s.highest = id;
      if (s.dicts.has(id)) {
        s.broken.set(name, { file: name, id, reason: `a second file for dictionary ${id}` });
        continue;
      }
      let file: Uint8Array | undefined;
      try {
        file = await readIfPresent(s.storage, name, DICT_FILE_HEADER_SIZE + MAX_DICT_BYTES);
        if (file === undefined) continue;
        s.dicts.set(id, { id, bytes: decodeDictFile(file, id).slice(), frames: 0, values: 0 });
      } catch (e) {
        // Only what the checks find is damage; an I/O error fails the open (a retry may succeed).
        if (!(e instanceof ValueLogError && e.code === 'CORRUPT')) throw e;
        s.broken.set(name, { file: name, id, reason: reasonOf(e) });
      }
    }
    for (const id of s.dicts.keys()) if (s.currentId === undefined || id > s.currentId) s.currentId = id;
    return s;
  }

  /** Resolves a frame's dictionary id: bytes, undefined when absent, CORRUPT when its file is damaged. */
  readonly lookup: DictLookup = (id) => {
    const e = this.dicts.get(id);
    if (e !== undefined) return e.bytes;
    for (const d of this.broken.values()) {
      if (d.id === id) throw corrupt(`dictionary ${id} (${d.file}) is damaged: ${d.reason}`);
    }
    return undefined;
  };

  /** The bytes of sound dictionary `id`, or undefined when the store has none by that id. */
  get(id: bigint): Uint8Array | undefined {
    return this.dicts.get(id)?.bytes;
  }

  /** The dictionary new frames are compressed with, if any. */
  get current(): { id: bigint; bytes: Uint8Array } | undefined {
    return this.currentId === undefined ? undefined : { id: this.currentId, bytes: this.dicts.get(this.currentId)!.bytes };
  }

  /**
   * Makes `id` the dictionary new frames are compressed with; MISSING_DICT when the store has no sound
   * dictionary `id`.
   */
  setCurrent(id: bigint): void {
    if (!this.dicts.has(id)) throw new ValueLogError('MISSING_DICT', `valuelog: no dictionary ${id} in the store`);
    this.currentId = id;
  }

  /** The id the next new dictionary would get. */
  nextId(): bigint {
    const next = this.highest + 1n;
    if (next > MAX_DICT_ID) throw invalidArgument('dictionary ids exhausted (2^32-1 used)');
    return next;
  }

  /** Counts a frame written compressed with dictionary `id`. */
  noteFrame(id: bigint, values: number): void {
    const e = this.dicts.get(id);
    if (e === undefined) return;
    e.frames++;
    e.values += values;
  }

  /** Every sound dictionary, by ascending id. */
  info(): DictionaryInfo[] {
    return [...this.dicts.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((e) => ({ id: e.id, file: dictFileName(e.id), bytes: e.bytes.length, current: e.id === this.currentId, frames: e.frames, values: e.values }));
  }

  /** The files that failed their checks (copies). */
  damaged(): DamagedDictionary[] {
    return [...this.broken.values()].map((d) => ({ ...d }));
  }

  /**
   * Trains a dictionary from samples under the next id and stores it durably; returns its id and
   * whether it is new (false: the same content was already stored under the returned id).
   * Does not change the current dictionary.
   */
  async train(samples: Uint8Array[], opts: StoreTrainOptions): Promise<{ id: bigint; created: boolean }> {
    const id = this.nextId();
    const dict = trainDictionary(samples, { size: opts.size, dictId: id, ...(opts.level === undefined ? {} : { level: opts.level }) });
    return this.add(dict, id);
  }

  /**
   * Stores dictionary bytes durably under a new id (or `id`, which must be above every id ever
   * used) and returns it; content already stored returns the existing id (created: false).
   */
  async add(bytes: Uint8Array, id?: bigint | number): Promise<{ id: bigint; created: boolean }> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalidArgument('a dictionary must be non-empty bytes');
    for (const e of this.dicts.values()) if (sameDictionaryContent(e.bytes, bytes)) return { id: e.id, created: false };
    const v = id === undefined ? this.nextId() : checkDictId(id);
    if (v <= this.highest) throw invalidArgument(`dictionary id ${v} was already used (ids so far go up to ${this.highest})`);
    return this.store(v, bytes);
  }

  /** Writes `bytes` durably as dictionary `v` (see persist), then makes it usable. */
  private async store(v: bigint, bytes: Uint8Array): Promise<{ id: bigint; created: boolean }> {
    const file = encodeDictFile(v, bytes); // validates the size
    if (v > this.highest) this.highest = v;
    const own = bytes.slice();
    // Writes are serialised: the high-water file only ever grows.
    const write = this.writes.then(() => this.persist(v, file));
    this.writes = write.catch(() => undefined);
    await write;
    this.dicts.set(v, { id: v, bytes: own, frames: 0, values: 0 });
    return { id: v, created: true };
  }

  /**
   * Stores dictionary bytes made elsewhere (a zstd dictionary of a log the Go package wrote) under
   * the id its frames name. The same bytes already stored under `id` return created: false; other
   * bytes under `id` are DICT_MISMATCH and a damaged file for `id` is CORRUPT, so an id never comes
   * to name two contents. Unlike add(), the id may be below ids already used: imported ids are the
   * foreign log's, and the store never deletes a dictionary file, so an id with no file was never
   * one any frame of this store could use. The high-water mark is raised to it if it is higher, so
   * training never allocates it.
   */
  async importDictionary(bytes: Uint8Array, id: bigint | number): Promise<{ id: bigint; created: boolean }> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalidArgument('a dictionary must be non-empty bytes');
    const v = checkDictId(id);
    const have = this.dicts.get(v);
    if (have !== undefined) {
      if (equalBytes(have.bytes, bytes)) return { id: v, created: false };
      throw new ValueLogError('DICT_MISMATCH', `valuelog: the store already holds other bytes as dictionary ${v} (${dictFileName(v)}, ${have.bytes.length} bytes; given ${bytes.length}): an id names one dictionary forever`);
    }
    for (const d of this.broken.values()) {
      if (d.id === v) throw corrupt(`dictionary ${v} (${d.file}) is damaged (${d.reason}): its id stays taken; nothing imported`);
    }
    return this.store(v, bytes);
  }

  private async persist(id: bigint, file: Uint8Array): Promise<void> {
    // 1. The high-water mark first: once it is durable, the id can never be handed out again.
    // Appended after the last sound entry, never rewritten: a failed or torn append leaves the
    // entries before it intact (it is overwritten by the next append).
    if (id > this.persistedHighWater) {
      const hw = await this.storage.open(DICT_HIGHWATER_NAME, { create: true });
      try {
        hw.write(encodeHighWater(id), this.highWaterEnd);
        hw.flush();
      } finally {
        closeQuietly(hw);
      }
      this.persistedHighWater = id;
      this.highWaterEnd += DICT_HIGHWATER_SIZE;
    }
    // 2. The dictionary file, synced before anyone uses the dictionary.
    const name = dictFileName(id);
    const f = await this.storage.open(name, { create: true });
    let inProgress = false;
    try {
      if (f.size() !== 0) throw new ValueLogError('IO', `valuelog: dictionary file ${name} already exists (is another process writing to this log?)`);
      inProgress = true;
      f.write(file, 0);
      f.flush();
      inProgress = false;
    } finally {
      closeQuietly(f);
      // A file that failed to be written is removed if possible (its id stays taken by the
      // high-water mark); if that fails too it stays, is reported damaged and never used.
      if (inProgress) await this.storage.remove(name).catch(() => undefined);
    }
    await this.storage.syncDir?.();
  }
}

/** A high-water file holds one 16-byte entry per allocated id at most. */
const MAX_HIGHWATER_BYTES = 16 * 1024 * 1024;

/** The whole file; undefined if it vanished since it was listed. I/O errors are IO, never damage. */
async function readIfPresent(storage: StorageBackend, name: string, maxBytes: number): Promise<Uint8Array | undefined> {
  let f;
  try {
    f = await storage.open(name, { readOnly: true });
  } catch (e) {
    if (e instanceof ValueLogError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
  try {
    const size = f.size();
    if (size > maxBytes) throw corrupt(`${name}: ${size} bytes, more than the ${maxBytes} allowed`);
    const buf = new Uint8Array(size);
    const n = f.read(buf, 0);
    if (n !== size) throw new ValueLogError('IO', `valuelog: ${name}: read ${n} of ${size} bytes (the file changed while it was read?)`);
    return buf;
  } finally {
    closeQuietly(f);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function closeQuietly(f: { close(): void }): void {
  try {
    f.close();
  } catch {
    // the handle is not used again; what mattered (write + flush) already succeeded or threw
  }
}

function reasonOf(e: unknown): string {
  return asValueLogError(e, 'IO', 'reading a dictionary').message.replace(/^valuelog: /, '');
}

/**
 * A bounded sample of recent values for training: a ring of copies (each cut to `maxSampleBytes`)
 * holding at most `maxBytes`; the oldest are dropped first. `stride` admits every n-th value.
 */
export class SampleReservoir {
  private items: Array<Uint8Array | undefined> = [];
  private head = 0;
  private held = 0;
  private counter = 0;
  /** Values and bytes offered since creation (admitted or not). */
  seenValues = 0;
  seenBytes = 0;
  stride = 1;

  constructor(
    readonly maxBytes: number,
    readonly maxSampleBytes: number,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1024) throw invalidArgument(`sample reservoir must hold at least 1024 bytes, got ${String(maxBytes)}`);
  }

  get bytes(): number {
    return this.held;
  }

  get count(): number {
    return this.items.length - this.head;
  }

  offer(v: Uint8Array): void {
    this.seenValues++;
    this.seenBytes += v.length;
    if (v.length === 0 || this.counter++ % this.stride !== 0) return;
    const copy = v.slice(0, Math.min(v.length, this.maxSampleBytes, this.maxBytes));
    this.items.push(copy);
    this.held += copy.length;
    while (this.held > this.maxBytes) {
      this.held -= this.items[this.head]!.length;
      this.items[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  samples(): Uint8Array[] {
    return this.items.slice(this.head) as Uint8Array[];
  }
}
