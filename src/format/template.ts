/**
 * Template-encoded values (docs/FORMAT.md, "Template-encoded values") and the template-def LRU cache.
 *
 * Pure functions over bytes: no I/O, and the CRC-32C function is injected so this module does not
 * depend on the WebAssembly codec.
 *
 * Decisions where the reference is silent or ambiguous:
 * - Mask source: a mask-variant VALUE carries its own mask bytes (they sit in the value, right
 *   after the template id), and it is that value mask which selects the positions of `def.base`
 *   replaced by the value's variable bytes; popcount(value mask) must equal the number of variable
 *   bytes. The def only fixes the mask LENGTH (`def.maskLen`) and the base. A value-mask bit at or
 *   beyond `baseLen` is CORRUPT. A value-mask bit that is clear in the def's own mask is accepted
 *   (the reference states no subset rule, so rejecting it could refuse data Go decodes).
 * - Def mask length: declared maskLen 0 = "mask absent": values then carry ceil(baseLen/8) mask
 *   bytes. A non-zero maskLen must be >= ceil(baseLen/8) (smaller is CORRUPT) and is then the
 *   value's mask length; def-mask bits at positions >= baseLen must be zero.
 * - ver 3 positions: strictly increasing, < 65536, < baseLen, and (when the def mask is present)
 *   a set def-mask bit. With an absent mask only `< baseLen` applies. varCount is not required to
 *   equal popcount(def mask).
 * - The kind byte must be 2 (mask) for both ver 2 and ver 3.
 * - Template ids are full u64 (read as bigint); every other uvarint must be a safe integer.
 * - Template id 0 is valid for lookup but is never cached; cache.get(0) counts neither hit nor miss.
 * - All limit violations (maxGaps, maxDecodedBytes, effectiveMaxRecordSize) are CORRUPT, as the
 *   reference maps template-limit violations to the template package's ErrCorrupt.
 */
import { ValueLogError, asValueLogError, corrupt, invalidArgument } from '../errors.js';
import { effectiveMaxRecordSize } from '../limits.js';

export type Crc32c = (data: Uint8Array) => number;

/** Limits and caching of template decoding. */
export interface TemplateDecodeOptions {
  /** Largest decoded value; <= 0 or absent = unlimited. */
  maxDecodedBytes?: number;
  /** Largest gap count of an anchor-variant value; <= 0 or absent = unlimited. */
  maxGaps?: number;
  /** Template-def cache capacity; <= 0 or absent = cache disabled. */
  defCacheSize?: number;
}

/** Returns the template-def bytes for an id; `undefined` or empty = missing. May throw. */
export type TemplateLookup = (templateId: bigint) => Uint8Array | undefined;

export interface TemplateDefAnchors {
  readonly kind: 'anchors';
  readonly version: 1;
  readonly anchors: readonly Uint8Array[];
  /** Sum of the anchor lengths. */
  readonly anchorBytes: number;
}

export interface TemplateDefMask {
  readonly kind: 'mask';
  readonly version: 2 | 3;
  readonly base: Uint8Array;
  /** The def's declared mask bytes (empty when the def declared maskLen 0). */
  readonly mask: Uint8Array;
  /** Length of the mask carried by values: mask.length, or ceil(base.length/8) if the mask is absent. */
  readonly maskLen: number;
  /** Declared variable positions (ver 3); empty for ver 2. */
  readonly positions: readonly number[];
}

/** A parsed template definition: anchor variant (version 1) or mask variant (versions 2 and 3). */
export type TemplateDef = TemplateDefAnchors | TemplateDefMask;

const TAG_T = 0x54;
const TAG_M = 0x4d;
const PAYLOAD_VERSION = 1;
const FLAG_ENCODED = 0x01;
const FLAG_MASK = 0x02;
const DEF_VER_ANCHORS = 1;
const DEF_VER_MASK_V2 = 2;
const DEF_VER_MASK_V3 = 3;
const KIND_MASK = 2;
const MAX_ANCHORS = 1 << 20;
const MAX_POSITION = 65536;
const MAX_UVARINT_BYTES = 10;
const U64_MAX = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// uvarint helpers (Go encoding/binary compatible, LEB128 unsigned)

/** Reads a uvarint that must be a safe integer (<= 2^53-1). Throws CORRUPT on truncation/overflow. */
export function readUvarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    const p = pos + i;
    if (p >= buf.length) throw corrupt('template: truncated uvarint');
    const b = buf[p] as number;
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) throw corrupt('template: uvarint overflow');
    if (b < 0x80) return { value, next: p + 1 };
    scale *= 128;
  }
  throw corrupt('template: uvarint too long');
}

/** Reads a full u64 uvarint as bigint (template ids). Throws CORRUPT on truncation/overflow. */
export function readUvarintBig(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < MAX_UVARINT_BYTES; i++) {
    const p = pos + i;
    if (p >= buf.length) throw corrupt('template: truncated uvarint');
    const b = buf[p] as number;
    if (i === MAX_UVARINT_BYTES - 1 && b > 1) throw corrupt('template: uvarint overflow');
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return { value, next: p + 1 };
    shift += 7n;
  }
  throw corrupt('template: uvarint too long');
}

/** Appends the uvarint encoding of a non-negative safe integer to `out`. */
export function writeUvarint(n: number, out: number[]): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`uvarint out of range: ${n}`);
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** Appends the uvarint encoding of a u64 (number or bigint) to `out`. */
export function writeUvarintBig(n: number | bigint, out: number[]): void {
  let v: bigint;
  if (typeof n === 'bigint') v = n;
  else if (Number.isSafeInteger(n)) v = BigInt(n);
  else throw invalidArgument(`uvarint out of range: ${n}`);
  if (v < 0n || v > U64_MAX) throw invalidArgument(`uvarint out of range: ${v}`);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

// ---------------------------------------------------------------------------------------------
// detection

/** Whether a value starts with the template-encoded tag (`TM`, payload version 1, encoded flag). */
export function isTemplateEncoded(value: Uint8Array): boolean {
  return (
    value.length >= 4 &&
    value[0] === TAG_T &&
    value[1] === TAG_M &&
    value[2] === PAYLOAD_VERSION &&
    ((value[3] as number) & FLAG_ENCODED) !== 0
  );
}

function popcount8(b: number): number {
  b = b - ((b >> 1) & 0x55);
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}

/** Number of set bits in `mask`; throws CORRUPT if a bit at a position >= limit is set. */
function maskPopcount(mask: Uint8Array, limit: number, what: string): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    const b = mask[i] as number;
    if (b === 0) continue;
    const lo = i * 8;
    if (lo + 8 > limit) {
      const allowed = lo >= limit ? 0 : (1 << (limit - lo)) - 1;
      if ((b & ~allowed) !== 0) throw corrupt(`template: ${what} bit beyond base length`);
    }
    n += popcount8(b);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// definitions

/** Parses and CRC-checks a template definition; CORRUPT on any fault. */
export function parseTemplateDef(bytes: Uint8Array, crc32c: Crc32c): TemplateDef {
  if (!(bytes instanceof Uint8Array)) throw corrupt('template: def is not bytes');
  if (bytes.length < 5) throw corrupt('template: def too short');
  const end = bytes.length - 4;
  const stored =
    ((bytes[end] as number) |
      ((bytes[end + 1] as number) << 8) |
      ((bytes[end + 2] as number) << 16) |
      ((bytes[end + 3] as number) << 24)) >>>
    0;
  const actual = crc32c(bytes.subarray(0, end)) >>> 0;
  if (stored !== actual) throw corrupt('template: def checksum mismatch');
  const body = bytes.subarray(0, end);
  const ver = body[0] as number;
  switch (ver) {
    case DEF_VER_ANCHORS:
      return parseAnchorsDef(body);
    case DEF_VER_MASK_V2:
    case DEF_VER_MASK_V3:
      return parseMaskDef(body, ver);
    default:
      throw corrupt(`template: unknown def version ${ver}`);
  }
}

function parseAnchorsDef(body: Uint8Array): TemplateDefAnchors {
  let pos = 1;
  const c = readUvarint(body, pos);
  pos = c.next;
  const count = c.value;
  if (count < 1 || count > MAX_ANCHORS) throw corrupt(`template: bad anchor count ${count}`);
  // each anchor takes at least 2 bytes (length uvarint + >= 1 byte)
  if (count > (body.length - pos) / 2) throw corrupt('template: anchor count exceeds def size');
  const anchors: Uint8Array[] = [];
  let anchorBytes = 0;
  for (let i = 0; i < count; i++) {
    const l = readUvarint(body, pos);
    pos = l.next;
    if (l.value === 0) throw corrupt('template: empty anchor');
    if (l.value > body.length - pos) throw corrupt('template: truncated anchor');
    anchors.push(body.slice(pos, pos + l.value));
    pos += l.value;
    anchorBytes += l.value;
  }
  if (pos !== body.length) throw corrupt('template: trailing bytes in def');
  return { kind: 'anchors', version: 1, anchors, anchorBytes };
}

function parseMaskDef(body: Uint8Array, ver: 2 | 3): TemplateDefMask {
  let pos = 1;
  if (pos >= body.length) throw corrupt('template: truncated def');
  const kind = body[pos] as number;
  pos++;
  if (kind !== KIND_MASK) throw corrupt(`template: unknown def kind ${kind}`);
  const b = readUvarint(body, pos);
  pos = b.next;
  const baseLen = b.value;
  const m = readUvarint(body, pos);
  pos = m.next;
  const declaredMaskLen = m.value;
  let varCount = 0;
  if (ver === DEF_VER_MASK_V3) {
    const v = readUvarint(body, pos);
    pos = v.next;
    varCount = v.value;
  }
  const minMask = Math.ceil(baseLen / 8);
  if (declaredMaskLen !== 0 && declaredMaskLen < minMask) throw corrupt('template: mask shorter than base');
  if (declaredMaskLen > body.length - pos) throw corrupt('template: truncated mask');
  const mask = body.slice(pos, pos + declaredMaskLen);
  pos += declaredMaskLen;
  maskPopcount(mask, baseLen, 'def mask');
  const positions: number[] = [];
  if (varCount > 0) {
    if (varCount > body.length - pos) throw corrupt('template: var count exceeds def size');
    let prev = -1;
    for (let i = 0; i < varCount; i++) {
      const p = readUvarint(body, pos);
      pos = p.next;
      const q = p.value;
      if (q <= prev) throw corrupt('template: positions not increasing');
      if (q >= MAX_POSITION || q >= baseLen) throw corrupt('template: position out of range');
      if (declaredMaskLen > 0 && (((mask[q >> 3] as number) >> (q & 7)) & 1) === 0) {
        throw corrupt('template: position not in mask');
      }
      positions.push(q);
      prev = q;
    }
  }
  if (baseLen !== body.length - pos) {
    throw corrupt(baseLen > body.length - pos ? 'template: truncated base' : 'template: trailing bytes in def');
  }
  const base = body.slice(pos, pos + baseLen);
  return {
    kind: 'mask',
    version: ver,
    base,
    mask,
    maskLen: declaredMaskLen === 0 ? minMask : declaredMaskLen,
    positions,
  };
}

// ---------------------------------------------------------------------------------------------
// cache

export interface TemplateDefCacheStats {
  hits: number;
  misses: number;
  entries: number;
  capacity: number;
}

/** LRU of parsed defs keyed by template id. Map insertion order: last = most recently used. */
export class TemplateDefCache {
  /** Most definitions held (0: the cache is disabled). */
  readonly capacity: number;
  private readonly map = new Map<bigint, TemplateDef>();
  private hits = 0;
  private misses = 0;

  constructor(capacity: number) {
    this.capacity = Number.isFinite(capacity) && capacity > 0 ? Math.floor(capacity) : 0;
  }

  /** Whether the cache holds anything at all (capacity > 0). */
  get enabled(): boolean {
    return this.capacity > 0;
  }

  /** The definition of `id`, made most recently used; undefined (a miss) when absent. */
  get(id: bigint): TemplateDef | undefined {
    if (this.capacity <= 0 || id === 0n) return undefined;
    const def = this.map.get(id);
    if (def === undefined) {
      this.misses++;
      return undefined;
    }
    this.map.delete(id);
    this.map.set(id, def);
    this.hits++;
    return def;
  }

  /** Adds or refreshes a definition, evicting the least recently used past capacity. */
  add(id: bigint, def: TemplateDef): void {
    if (this.capacity <= 0 || id === 0n) return;
    this.map.delete(id);
    this.map.set(id, def);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
    }
  }

  /** Hit, miss and size counts. */
  stats(): TemplateDefCacheStats {
    if (this.capacity <= 0) return { hits: 0, misses: 0, entries: 0, capacity: 0 };
    return { hits: this.hits, misses: this.misses, entries: this.map.size, capacity: this.capacity };
  }
}

// ---------------------------------------------------------------------------------------------
// decode

function resolveDef(
  id: bigint,
  lookup: TemplateLookup | undefined,
  cache: TemplateDefCache | undefined,
  crc32c: Crc32c,
): TemplateDef {
  const hit = cache?.get(id);
  if (hit !== undefined) return hit;
  if (lookup === undefined) throw missing(id);
  let bytes: unknown;
  try {
    bytes = lookup(id);
  } catch (err) {
    throw asValueLogError(err, 'IO', 'template lookup');
  }
  if (bytes === undefined || bytes === null) throw missing(id);
  if (!(bytes instanceof Uint8Array)) throw corrupt('template: lookup returned non-bytes');
  if (bytes.length === 0) throw missing(id);
  const def = parseTemplateDef(bytes, crc32c);
  cache?.add(id, def);
  return def;
}

function missing(id: bigint): ValueLogError {
  return new ValueLogError('MISSING_TEMPLATE', `valuelog: missing template bytes (template id ${id})`);
}

function checkOutputSize(size: number, opts: TemplateDecodeOptions): void {
  const maxDecoded = opts.maxDecodedBytes;
  if (maxDecoded !== undefined && maxDecoded > 0 && size > maxDecoded) {
    throw corrupt(`template: decoded size ${size} exceeds maxDecodedBytes ${maxDecoded}`);
  }
  const maxRecord = effectiveMaxRecordSize();
  if (size > maxRecord) throw corrupt(`template: decoded size ${size} exceeds max record size ${maxRecord}`);
}

/**
 * Decodes a template-encoded value; a value that is not template-encoded is returned unchanged.
 * Always returns a new array for encoded values.
 */
export function decodeTemplateValue(
  value: Uint8Array,
  lookup: TemplateLookup | undefined,
  cache: TemplateDefCache | undefined,
  opts: TemplateDecodeOptions,
  crc32c: Crc32c,
): Uint8Array {
  if (!isTemplateEncoded(value)) return value;
  const isMask = ((value[3] as number) & FLAG_MASK) !== 0;
  const idr = readUvarintBig(value, 4);
  const id = idr.value;
  let pos = idr.next;

  if (!isMask) {
    const g = readUvarint(value, pos);
    pos = g.next;
    const gapCount = g.value;
    if (gapCount < 1) throw corrupt('template: zero gap count');
    const maxGaps = opts.maxGaps;
    if (maxGaps !== undefined && maxGaps > 0 && gapCount > maxGaps) {
      throw corrupt(`template: gap count ${gapCount} exceeds maxGaps ${maxGaps}`);
    }
    if (gapCount > value.length - pos) throw corrupt('template: gap count exceeds value size');
    const def = resolveDef(id, lookup, cache, crc32c);
    if (def.kind !== 'anchors') throw corrupt('template: anchor value with mask def');
    if (gapCount !== def.anchors.length + 1) throw corrupt('template: gap count does not match def');
    const starts: number[] = [];
    const lens: number[] = [];
    let gapBytes = 0;
    for (let i = 0; i < gapCount; i++) {
      const l = readUvarint(value, pos);
      pos = l.next;
      if (l.value > value.length - pos) throw corrupt('template: truncated gap');
      starts.push(pos);
      lens.push(l.value);
      pos += l.value;
      gapBytes += l.value;
    }
    if (pos !== value.length) throw corrupt('template: trailing bytes in value');
    const size = gapBytes + def.anchorBytes;
    checkOutputSize(size, opts);
    const out = new Uint8Array(size);
    let o = 0;
    for (let i = 0; i < gapCount; i++) {
      const s = starts[i] as number;
      const l = lens[i] as number;
      out.set(value.subarray(s, s + l), o);
      o += l;
      const a = def.anchors[i];
      if (a !== undefined) {
        out.set(a, o);
        o += a.length;
      }
    }
    return out;
  }

  const def = resolveDef(id, lookup, cache, crc32c);
  if (def.kind !== 'mask') throw corrupt('template: mask value with anchors def');
  const baseLen = def.base.length;
  if (def.maskLen > value.length - pos) throw corrupt('template: truncated value mask');
  const vmask = value.subarray(pos, pos + def.maskLen);
  pos += def.maskLen;
  const nvars = maskPopcount(vmask, baseLen, 'value mask');
  if (value.length - pos !== nvars) throw corrupt('template: variable byte count does not match mask');
  checkOutputSize(baseLen, opts);
  const out = def.base.slice();
  for (let i = 0; i < vmask.length; i++) {
    let b = vmask[i] as number;
    let bit = 0;
    while (b !== 0) {
      if ((b & 1) !== 0) out[i * 8 + bit] = value[pos++] as number;
      b >>= 1;
      bit++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// encoders

function concat(parts: (number[] | Uint8Array)[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function withCrc(body: Uint8Array, crc32c: Crc32c): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body, 0);
  const c = crc32c(body) >>> 0;
  out[body.length] = c & 0xff;
  out[body.length + 1] = (c >>> 8) & 0xff;
  out[body.length + 2] = (c >>> 16) & 0xff;
  out[body.length + 3] = (c >>> 24) & 0xff;
  return out;
}

/** Encodes a ver-1 (anchors) template definition. */
export function encodeTemplateDefAnchors(anchors: Uint8Array[], crc32c: Crc32c): Uint8Array {
  if (anchors.length < 1 || anchors.length > MAX_ANCHORS) {
    throw invalidArgument(`template anchor count must be 1..${MAX_ANCHORS}`);
  }
  const parts: (number[] | Uint8Array)[] = [];
  const head: number[] = [DEF_VER_ANCHORS];
  writeUvarint(anchors.length, head);
  parts.push(head);
  for (const a of anchors) {
    if (a.length === 0) throw invalidArgument('template anchors must be non-empty');
    const l: number[] = [];
    writeUvarint(a.length, l);
    parts.push(l, a);
  }
  return withCrc(concat(parts), crc32c);
}

/**
 * Encodes a ver-3 (mask) template definition; positions are derived from the mask. An empty mask
 * encodes maskLen 0 (mask absent); otherwise mask.length must be >= ceil(base.length/8).
 */
export function encodeTemplateDefMask(base: Uint8Array, mask: Uint8Array, crc32c: Crc32c): Uint8Array {
  if (mask.length !== 0 && mask.length < Math.ceil(base.length / 8)) {
    throw invalidArgument('template mask shorter than ceil(base.length/8)');
  }
  const positions: number[] = [];
  for (let i = 0; i < mask.length; i++) {
    const b = mask[i] as number;
    for (let bit = 0; bit < 8; bit++) {
      if (((b >> bit) & 1) === 0) continue;
      const p = i * 8 + bit;
      if (p >= base.length) throw invalidArgument('template mask bit beyond base length');
      if (p >= MAX_POSITION) throw invalidArgument('template mask position >= 65536');
      positions.push(p);
    }
  }
  const head: number[] = [DEF_VER_MASK_V3, KIND_MASK];
  writeUvarint(base.length, head);
  writeUvarint(mask.length, head);
  writeUvarint(positions.length, head);
  const pos: number[] = [];
  for (const p of positions) writeUvarint(p, pos);
  return withCrc(concat([head, mask, pos, base]), crc32c);
}

/** Encodes an anchor-variant value: header, template id, gap count, gaps. */
export function encodeTemplateValueAnchors(templateId: number | bigint, gaps: Uint8Array[]): Uint8Array {
  if (gaps.length < 1) throw invalidArgument('template value needs at least one gap');
  const head: number[] = [TAG_T, TAG_M, PAYLOAD_VERSION, FLAG_ENCODED];
  writeUvarintBig(templateId, head);
  writeUvarint(gaps.length, head);
  const parts: (number[] | Uint8Array)[] = [head];
  for (const g of gaps) {
    const l: number[] = [];
    writeUvarint(g.length, l);
    parts.push(l, g);
  }
  return concat(parts);
}

/** Encodes a mask-variant value: header, template id, value mask, variable bytes (popcount(mask)). */
export function encodeTemplateValueMask(templateId: number | bigint, mask: Uint8Array, vars: Uint8Array): Uint8Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += popcount8(mask[i] as number);
  if (n !== vars.length) throw invalidArgument('template vars length must equal popcount(mask)');
  const head: number[] = [TAG_T, TAG_M, PAYLOAD_VERSION, FLAG_ENCODED | FLAG_MASK];
  writeUvarintBig(templateId, head);
  return concat([head, mask, vars]);
}
