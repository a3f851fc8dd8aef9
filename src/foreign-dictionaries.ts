// Dictionaries a caller brings to ValueLog.open: a log written elsewhere (by the Go package, or with
// dictionaries kept outside its directory) has zstd frames whose dictionary ids the log's own store
// does not know, and every such frame would fail with MISSING_DICT. The `dictionaries` option gives
// their bytes, as a map of id -> bytes or as a lookup function. They are used for reading only (new
// frames use the store's dictionaries) and are never written to the directory; `valuelog dict import`
// stores one for good. The store wins where it has the id: a map entry with other bytes for an id the
// store already holds is DICT_MISMATCH at open, so an id never decodes with two dictionaries.
import { ValueLogError, invalidArgument } from './errors.js';
import type { DictionaryStore } from './dictionaries.js';
import { checkDictId, MAX_DICT_BYTES } from './format/dictionary.js';
import type { DictLookup } from './format/frame.js';
import { describe } from './options.js';

/**
 * What the `dictionaries` option of ValueLog.open takes: a Map (or a plain object keyed by the
 * decimal id) of dictionary id -> zstd dictionary bytes, or a function that returns the bytes for an
 * id (undefined when it has none). The function is asked at most once per id that the store lacks.
 */
export type DictionarySource =
  | ReadonlyMap<number | bigint, Uint8Array>
  | Readonly<Record<string, Uint8Array>>
  | ((id: bigint) => Uint8Array | undefined);

const ZSTD_DICT_MAGIC = [0x37, 0xa4, 0x30, 0xec];

/**
 * The id a zstd-format dictionary carries in its own header (bytes 4..8, little-endian), or
 * undefined for a raw-content dictionary (no magic) or one whose header id is 0 (none).
 */
function ownDictionaryId(bytes: Uint8Array): bigint | undefined {
  if (bytes.length < 8 || ZSTD_DICT_MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  return id === 0 ? undefined : BigInt(id);
}

/** Checks dictionary bytes given for `id`: non-empty, not too large, and not carrying another id. */
function checkDictionaryBytes(bytes: unknown, id: bigint, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw invalidArgument(`${what} must be non-empty zstd dictionary bytes (a Uint8Array), got ${describe(bytes)}`);
  if (bytes.length > MAX_DICT_BYTES) throw invalidArgument(`${what} is ${bytes.length} bytes, more than the ${MAX_DICT_BYTES} a dictionary may have`);
  const own = ownDictionaryId(bytes);
  if (own !== undefined && own !== id) throw invalidArgument(`${what} is dictionary ${own} (the id in its header), not ${id}`);
  return bytes;
}

/** The caller's dictionaries of one open log (see the file comment). */
export class ForeignDictionaries {
  /** Answers of the lookup function (bytes or undefined), asked once per id. */
  private readonly asked = new Map<bigint, Uint8Array | undefined>();

  private constructor(
    private readonly fixed: ReadonlyMap<bigint, Uint8Array>,
    private readonly fn: ((id: bigint) => Uint8Array | undefined) | undefined,
  ) {}

  /**
   * Validates the option (INVALID_ARGUMENT naming it): undefined gives undefined; a Map or plain
   * object must have valid ids (1..2^32-1) and non-empty bytes whose header id, if any, is the key.
   */
  static fromOption(v: unknown, what = 'options.dictionaries'): ForeignDictionaries | undefined {
    if (v === undefined) return undefined;
    if (typeof v === 'function') return new ForeignDictionaries(new Map(), v as (id: bigint) => Uint8Array | undefined);
    let entries: Array<[unknown, unknown]>;
    if (v instanceof Map) entries = [...(v as Map<unknown, unknown>)];
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) entries = Object.entries(v as Record<string, unknown>);
    else throw invalidArgument(`${what} must be a Map of dictionary id -> bytes, an object keyed by id, or a lookup function, got ${describe(v)}`);
    const fixed = new Map<bigint, Uint8Array>();
    for (const [key, bytes] of entries) {
      const id = parseId(key, what);
      if (fixed.has(id)) throw invalidArgument(`${what} names dictionary ${id} twice`);
      fixed.set(id, checkDictionaryBytes(bytes, id, `${what}[${id}]`).slice());
    }
    return new ForeignDictionaries(fixed, undefined);
  }

  /** Ids given as bytes (the map form), ascending. */
  ids(): bigint[] {
    return [...this.fixed.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Refuses (DICT_MISMATCH) map entries whose id the store holds with other bytes. */
  checkAgainst(store: DictionaryStore): void {
    for (const [id, bytes] of this.fixed) {
      const have = store.get(id);
      if (have === undefined) continue;
      if (have.length === bytes.length && have.every((b, i) => b === bytes[i])) continue;
      throw new ValueLogError(
        'DICT_MISMATCH',
        `valuelog: options.dictionaries gives other bytes for dictionary ${id} than the log's dictionary store holds (${have.length} bytes stored, ${bytes.length} given): an id names one dictionary forever`,
      );
    }
  }

  /** The caller's bytes for `id`: the map's, else the function's answer (asked once). */
  get(id: bigint): Uint8Array | undefined {
    const fixed = this.fixed.get(id);
    if (fixed !== undefined || this.fn === undefined) return fixed;
    if (this.asked.has(id)) return this.asked.get(id);
    let got: unknown;
    try {
      got = this.fn(id);
    } catch (e) {
      if (e instanceof ValueLogError) throw e;
      throw new ValueLogError('MISSING_DICT', `valuelog: the options.dictionaries lookup failed for dictionary ${id}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const bytes = got === undefined ? undefined : checkDictionaryBytes(got, id, `the options.dictionaries lookup's answer for dictionary ${id}`).slice();
    this.asked.set(id, bytes);
    return bytes;
  }

  /**
   * A frame's dictionary lookup over the store (whatever `store()` returns now: read-only logs
   * reload theirs) and these: a sound stored dictionary first, then the caller's, then the store's
   * verdict (CORRUPT for a damaged file, undefined for none: MISSING_DICT).
   */
  lookupOver(store: () => DictionaryStore): DictLookup {
    return (id) => store().get(id) ?? this.get(id) ?? store().lookup(id);
  }
}

function parseId(key: unknown, what: string): bigint {
  let id: bigint | undefined;
  if (typeof key === 'bigint') id = key;
  else if (typeof key === 'number' && Number.isSafeInteger(key)) id = BigInt(key);
  else if (typeof key === 'string' && /^[0-9]{1,10}$/.test(key)) id = BigInt(key);
  if (id === undefined) throw invalidArgument(`${what}: ${describe(key)} is not a dictionary id`);
  try {
    return checkDictId(id);
  } catch {
    throw invalidArgument(`${what}: dictionary id ${id} is outside 1..4294967295`);
  }
}
