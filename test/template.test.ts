import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueLogError } from '../src/errors.js';
import { limits } from '../src/limits.js';
import {
  TemplateDefCache,
  decodeTemplateValue,
  encodeTemplateDefAnchors,
  encodeTemplateDefMask,
  encodeTemplateValueAnchors,
  encodeTemplateValueMask,
  isTemplateEncoded,
  parseTemplateDef,
  readUvarint,
  readUvarintBig,
  writeUvarint,
  type TemplateDecodeOptions,
  type TemplateLookup,
} from '../src/format/template.js';

// --- slow table-driven CRC-32C (Castagnoli, reflected 0x82F63B78) ---
const CRC_TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_TABLE[i] = c >>> 0;
}
function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const hex = (s: string): Uint8Array => {
  const t = s.replace(/\s+/g, '');
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
};
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Body bytes (version..end of body) plus a correct CRC. */
function withCrc(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body), true);
  return out;
}

function throwsCode(fn: () => unknown, code: string, msg?: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ValueLogError, msg);
    assert.is((err as ValueLogError).code, code, msg);
    return;
  }
  assert.unreachable(msg ?? `expected ${code}`);
}

// Golden vectors, derived by hand from the layout in docs/FORMAT.md, "Template-encoded values":
// anchors def: ver 01 | count 02 | len 02 "ab" | len 03 "xyz" | crc LE
const ANCHORS_DEF_HEX = '01 02 02 6162 03 78797a 2d79db12';
// anchors value: "TM" 01 01 | id 05 | gapCount 03 | "" | len 01 "1" | len 02 "22"
const ANCHORS_VALUE_HEX = '544d0101 05 03 00 01 31 02 3232';
// mask def (ver 3): 03 | kind 02 | baseLen 05 | maskLen 01 | varCount 02 | mask 11 | pos 00 04 | "hello" | crc
const MASK_DEF_HEX = '03 02 05 01 02 11 00 04 68656c6c6f 55afdbc8';
// mask value: "TM" 01 03 | id 07 | value mask 11 | vars "J" "!"
const MASK_VALUE_HEX = '544d0103 07 11 4a21';

const ANCHORS_DEF = hex(ANCHORS_DEF_HEX);
const MASK_DEF = hex(MASK_DEF_HEX);
const defs = new Map<bigint, Uint8Array>([
  [5n, ANCHORS_DEF],
  [7n, MASK_DEF],
]);
const lookup: TemplateLookup = (id) => defs.get(id);
const noOpts: TemplateDecodeOptions = {};

test('crc32c check value', () => {
  assert.is(crc32c(enc('123456789')), 0xe3069283);
});

test('uvarint round trip and errors', () => {
  for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    const out: number[] = [];
    writeUvarint(n, out);
    const r = readUvarint(Uint8Array.from(out), 0);
    assert.is(r.value, n);
    assert.is(r.next, out.length);
  }
  throwsCode(() => readUvarint(hex('80'), 0), 'CORRUPT');
  throwsCode(() => readUvarint(hex(''), 0), 'CORRUPT');
  throwsCode(() => readUvarint(hex('8080808080808080808000'), 0), 'CORRUPT'); // 11 bytes
  throwsCode(() => readUvarint(hex('ffffffffffffff7f'), 0), 'CORRUPT'); // 2^56-1 > 2^53
  throwsCode(() => readUvarint(hex('80808080808080808010'), 0), 'CORRUPT');
  assert.is(readUvarintBig(hex('ffffffffffffffffff01'), 0).value, (1n << 64n) - 1n);
  throwsCode(() => readUvarintBig(hex('ffffffffffffffffff02'), 0), 'CORRUPT');
  throwsCode(() => readUvarintBig(hex('8080808080808080808000'), 0), 'CORRUPT');
  throwsCode(() => writeUvarint(-1, []), 'INVALID_ARGUMENT');
  throwsCode(() => writeUvarint(1.5, []), 'INVALID_ARGUMENT');
});

test('isTemplateEncoded', () => {
  assert.ok(isTemplateEncoded(hex('544d0101')));
  assert.ok(isTemplateEncoded(hex('544d0103')));
  assert.not.ok(isTemplateEncoded(hex('544d01')));
  assert.not.ok(isTemplateEncoded(hex('544d0102')));
  assert.not.ok(isTemplateEncoded(hex('544d0201')));
  assert.not.ok(isTemplateEncoded(hex('554d0101')));
  assert.not.ok(isTemplateEncoded(enc('hello')));
  const v = enc('plain');
  assert.is(decodeTemplateValue(v, lookup, undefined, noOpts, crc32c), v);
});

test('golden anchors def + value', () => {
  assert.is(toHex(encodeTemplateDefAnchors([enc('ab'), enc('xyz')], crc32c)), ANCHORS_DEF_HEX.replace(/ /g, ''));
  assert.is(toHex(encodeTemplateValueAnchors(5, [enc(''), enc('1'), enc('22')])), ANCHORS_VALUE_HEX.replace(/ /g, ''));
  const def = parseTemplateDef(ANCHORS_DEF, crc32c);
  assert.is(def.kind, 'anchors');
  if (def.kind === 'anchors') {
    assert.equal(def.anchors.map(dec), ['ab', 'xyz']);
    assert.is(def.anchorBytes, 5);
  }
  assert.is(dec(decodeTemplateValue(hex(ANCHORS_VALUE_HEX), lookup, undefined, noOpts, crc32c)), 'ab1xyz22');
});

test('golden mask def + value', () => {
  assert.is(toHex(encodeTemplateDefMask(enc('hello'), hex('11'), crc32c)), MASK_DEF_HEX.replace(/ /g, ''));
  assert.is(toHex(encodeTemplateValueMask(7n, hex('11'), enc('J!'))), MASK_VALUE_HEX.replace(/ /g, ''));
  const def = parseTemplateDef(MASK_DEF, crc32c);
  assert.is(def.kind, 'mask');
  if (def.kind === 'mask') {
    assert.is(def.version, 3);
    assert.is(dec(def.base), 'hello');
    assert.equal(Array.from(def.mask), [0x11]);
    assert.is(def.maskLen, 1);
    assert.equal(def.positions, [0, 4]);
  }
  assert.is(dec(decodeTemplateValue(hex(MASK_VALUE_HEX), lookup, undefined, noOpts, crc32c)), 'Jell!');
  // the value's own mask selects positions: only position 1 replaced
  assert.is(dec(decodeTemplateValue(encodeTemplateValueMask(7, hex('02'), enc('a')), lookup, undefined, noOpts, crc32c)), 'hallo');
  // empty value mask: base unchanged
  assert.is(dec(decodeTemplateValue(hex('544d0103 07 00'), lookup, undefined, noOpts, crc32c)), 'hello');
});

test('legacy ver 2 mask def (maskLen 0 → ceil(baseLen/8))', () => {
  const def2 = withCrc(hex('02 02 0a 00 30313233343536373839')); // base "0123456789", mask absent
  const d = parseTemplateDef(def2, crc32c);
  assert.is(d.kind, 'mask');
  if (d.kind === 'mask') {
    assert.is(d.version, 2);
    assert.is(d.maskLen, 2);
    assert.equal(d.positions, []);
  }
  const lk: TemplateLookup = () => def2;
  const v = encodeTemplateValueMask(9, hex('0102'), enc('AB')); // positions 0 and 9
  assert.is(dec(decodeTemplateValue(v, lk, undefined, noOpts, crc32c)), 'A12345678B');
  // bit 10 set (beyond base length 10) → CORRUPT
  throwsCode(() => decodeTemplateValue(encodeTemplateValueMask(9, hex('0004'), enc('X')), lk, undefined, noOpts, crc32c), 'CORRUPT');
  // longer declared mask (3 bytes for 10-byte base) is accepted; values carry 3 mask bytes
  const def2b = withCrc(hex('02 02 0a 03 000000 30313233343536373839'));
  const v3 = encodeTemplateValueMask(9, hex('800000'), enc('Z'));
  assert.is(dec(decodeTemplateValue(v3, () => def2b, undefined, noOpts, crc32c)), '0123456Z89');
});

test('round trips (random)', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rnd(256));
  for (let iter = 0; iter < 300; iter++) {
    // anchors
    const na = 1 + rnd(6);
    const anchors = Array.from({ length: na }, () => bytes(1 + rnd(10)));
    const gaps = Array.from({ length: na + 1 }, () => bytes(rnd(10)));
    const id = BigInt(1 + rnd(1000)) * (iter % 2 === 0 ? 1n : 1n << 40n);
    const d = encodeTemplateDefAnchors(anchors, crc32c);
    const v = encodeTemplateValueAnchors(id, gaps);
    const expected: number[] = [];
    gaps.forEach((g, i) => {
      expected.push(...g);
      const a = anchors[i];
      if (a) expected.push(...a);
    });
    assert.equal(Array.from(decodeTemplateValue(v, (x) => (x === id ? d : undefined), undefined, noOpts, crc32c)), expected);
    // mask
    const base = bytes(rnd(40));
    const ml = Math.ceil(base.length / 8) + rnd(2);
    const dmask = new Uint8Array(ml);
    const vmask = new Uint8Array(ml);
    const exp = Array.from(base);
    const vars: number[] = [];
    for (let p = 0; p < base.length; p++) {
      if (rnd(3) === 0) dmask[p >> 3] = (dmask[p >> 3] as number) | (1 << (p & 7));
      if (rnd(3) === 0) {
        vmask[p >> 3] = (vmask[p >> 3] as number) | (1 << (p & 7));
        const b = rnd(256);
        vars.push(b);
        exp[p] = b;
      }
    }
    const md = encodeTemplateDefMask(base, ml === 0 ? new Uint8Array(0) : dmask, crc32c);
    const mv = encodeTemplateValueMask(id, vmask, Uint8Array.from(vars));
    assert.equal(Array.from(decodeTemplateValue(mv, () => md, undefined, noOpts, crc32c)), exp);
  }
});

test('def CORRUPT branches', () => {
  const c = (b: Uint8Array, msg: string): void => throwsCode(() => parseTemplateDef(b, crc32c), 'CORRUPT', msg);
  c(new Uint8Array(0), 'empty');
  c(hex('01020304'), 'too short');
  c(withCrc(hex('04 01 01 61')), 'bad version 4');
  c(withCrc(hex('00 01 01 61')), 'bad version 0');
  const bad = ANCHORS_DEF.slice();
  bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
  c(bad, 'crc mismatch');
  const bad2 = MASK_DEF.slice();
  bad2[3] = 9;
  c(bad2, 'crc mismatch (body)');
  // truncation at every byte position: raw prefixes, and prefixes of the body re-CRC'd
  for (const full of [ANCHORS_DEF, MASK_DEF]) {
    for (let n = 0; n < full.length; n++) c(full.subarray(0, n), `raw prefix ${n}`);
    const body = full.subarray(0, full.length - 4);
    for (let n = 0; n < body.length; n++) c(withCrc(body.subarray(0, n)), `body prefix ${n}`);
    c(withCrc(Uint8Array.from([...body, 0])), 'trailing byte');
  }
  // anchors
  c(withCrc(hex('01 00')), 'zero anchors');
  c(withCrc(hex('01 818040 61')), 'count > 2^20');
  c(withCrc(hex('01 01 00')), 'empty anchor');
  c(withCrc(hex('01 01 05 6162')), 'anchor overruns');
  c(withCrc(hex('01 01 ffffffffffffffffff01 61')), 'uvarint > 2^53');
  c(withCrc(hex('01 01 8080808080808080808001 61')), 'uvarint too long');
  // mask
  c(withCrc(hex('03 01 01 01 00 01 61')), 'bad kind (v3)');
  c(withCrc(hex('02 01 01 01 01 61')), 'bad kind (v2)');
  c(withCrc(hex('03 02 09 01 00 00 616263646566676869')), 'maskLen < ceil(baseLen/8)');
  c(withCrc(hex('03 02 03 01 00 08 616263')), 'def mask bit beyond base');
  c(withCrc(hex('03 02 03 01 01 01 02 616263')), 'position not set in mask');
  c(withCrc(hex('03 02 03 01 02 03 01 00 616263')), 'positions not increasing');
  c(withCrc(hex('03 02 03 01 02 03 00 00 616263')), 'positions duplicate');
  c(withCrc(hex('03 02 03 01 01 01 03 616263')), 'position >= baseLen');
  c(withCrc(hex('03 02 03 01 20 07 00 01 02 616263')), 'varCount overruns');
  c(withCrc(hex('03 02 03 01 00 07 6162')), 'base truncated');
  c(withCrc(hex('03 02 03 01 00 07 61626364')), 'base trailing');
  c(withCrc(hex('03 02 03 ffffffff0f 00 07 616263')), 'maskLen overruns');
  c(withCrc(hex('03 02 ffffffffffffff7f 00 00')), 'baseLen > 2^53');
  c(withCrc(hex('02 02 03 01 07 6162')), 'v2 base truncated');
  // position >= 65536 (base of 65537 bytes, mask absent so only the range rule applies)
  const big = new Uint8Array(65537);
  const head: number[] = [3, 2];
  writeUvarint(big.length, head);
  writeUvarint(0, head);
  writeUvarint(1, head);
  writeUvarint(65536, head);
  c(withCrc(Uint8Array.from([...head, ...big])), 'position >= 65536');
});

test('value CORRUPT branches', () => {
  const c = (v: Uint8Array, msg: string, opts: TemplateDecodeOptions = noOpts): void =>
    throwsCode(() => decodeTemplateValue(v, lookup, undefined, opts, crc32c), 'CORRUPT', msg);
  // truncation at every byte position (>= 4; shorter prefixes are not template-encoded)
  for (const full of [hex(ANCHORS_VALUE_HEX), hex(MASK_VALUE_HEX)]) {
    for (let n = 4; n < full.length; n++) c(full.subarray(0, n), `prefix ${n}`);
    for (let n = 0; n < 4; n++) {
      const p = full.subarray(0, n);
      assert.is(decodeTemplateValue(p, lookup, undefined, noOpts, crc32c), p);
    }
    c(Uint8Array.from([...full, 0]), 'trailing byte');
  }
  c(hex('544d0101 8080808080808080808001 01 00'), 'id uvarint too long');
  c(hex('544d0101 ffffffffffffffffff02 01 00'), 'id uvarint overflow');
  c(hex('544d0101 05 ffffffffffffffffff01 00'), 'gapCount > 2^53');
  c(hex('544d0101 05 00'), 'gap count 0');
  c(encodeTemplateValueAnchors(5, [enc('a'), enc('b')]), 'gap count mismatch (2 vs 3)');
  c(encodeTemplateValueAnchors(5, [enc('a'), enc('b'), enc('c'), enc('d')]), 'gap count mismatch (4 vs 3)');
  c(hex('544d0101 05 03 00 00 05 6162'), 'gap overruns');
  c(hex('544d0101 05 09 00 00 00'), 'gap count exceeds value');
  // mask popcount mismatch
  c(encodeTemplateValueMask(7, hex('00'), new Uint8Array(0)).subarray(0, 5), 'missing mask');
  c(hex('544d0103 07 11 4a'), 'too few vars');
  c(hex('544d0103 07 11 4a2121'), 'too many vars');
  c(hex('544d0103 07 20 4a'), 'value mask bit beyond base');
  // wrong def variant
  c(encodeTemplateValueMask(5, hex('01'), enc('x')), 'mask value with anchors def');
  c(encodeTemplateValueAnchors(7, [enc('a'), enc('b')]), 'anchors value with mask def');
  // corrupt def bytes from the lookup
  throwsCode(
    () => decodeTemplateValue(hex(ANCHORS_VALUE_HEX), () => hex('01020304050607'), undefined, noOpts, crc32c),
    'CORRUPT',
  );
  // maxGaps
  c(hex(ANCHORS_VALUE_HEX), 'maxGaps', { maxGaps: 2 });
  assert.is(dec(decodeTemplateValue(hex(ANCHORS_VALUE_HEX), lookup, undefined, { maxGaps: 3 }, crc32c)), 'ab1xyz22');
  assert.is(dec(decodeTemplateValue(hex(ANCHORS_VALUE_HEX), lookup, undefined, { maxGaps: 0 }, crc32c)), 'ab1xyz22');
  // maxDecodedBytes (output is 8 and 5 bytes)
  c(hex(ANCHORS_VALUE_HEX), 'maxDecodedBytes anchors', { maxDecodedBytes: 7 });
  c(hex(MASK_VALUE_HEX), 'maxDecodedBytes mask', { maxDecodedBytes: 4 });
  assert.is(decodeTemplateValue(hex(ANCHORS_VALUE_HEX), lookup, undefined, { maxDecodedBytes: 8 }, crc32c).length, 8);
  assert.is(decodeTemplateValue(hex(MASK_VALUE_HEX), lookup, undefined, { maxDecodedBytes: -1 }, crc32c).length, 5);
  // effectiveMaxRecordSize
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = 6;
    c(hex(ANCHORS_VALUE_HEX), 'maxRecordSize');
    assert.is(decodeTemplateValue(hex(MASK_VALUE_HEX), lookup, undefined, noOpts, crc32c).length, 5);
  } finally {
    limits.maxRecordSize = saved;
  }
});

test('MISSING_TEMPLATE and lookup errors', () => {
  const v = hex(ANCHORS_VALUE_HEX);
  throwsCode(() => decodeTemplateValue(v, undefined, undefined, noOpts, crc32c), 'MISSING_TEMPLATE');
  throwsCode(() => decodeTemplateValue(v, () => undefined, undefined, noOpts, crc32c), 'MISSING_TEMPLATE');
  throwsCode(() => decodeTemplateValue(v, () => new Uint8Array(0), undefined, noOpts, crc32c), 'MISSING_TEMPLATE');
  throwsCode(() => decodeTemplateValue(encodeTemplateValueMask(99, hex('00'), new Uint8Array(0)), lookup, undefined, noOpts, crc32c), 'MISSING_TEMPLATE');
  try {
    decodeTemplateValue(v, undefined, undefined, noOpts, crc32c);
  } catch (err) {
    assert.ok((err as Error).message.startsWith('valuelog: missing template bytes'));
  }
  const own = new ValueLogError('NOT_FOUND', 'valuelog: nope');
  try {
    decodeTemplateValue(v, () => {
      throw own;
    }, undefined, noOpts, crc32c);
    assert.unreachable();
  } catch (err) {
    assert.is(err, own);
  }
  throwsCode(
    () =>
      decodeTemplateValue(v, () => {
        throw new Error('disk on fire');
      }, undefined, noOpts, crc32c),
    'IO',
  );
  // a cache hit needs no lookup
  const cache = new TemplateDefCache(4);
  assert.is(dec(decodeTemplateValue(v, lookup, cache, noOpts, crc32c)), 'ab1xyz22');
  assert.is(dec(decodeTemplateValue(v, undefined, cache, noOpts, crc32c)), 'ab1xyz22');
  assert.equal(cache.stats(), { hits: 1, misses: 1, entries: 1, capacity: 4 });
});

test('LRU scenario of template_cache_test.go', () => {
  const cache = new TemplateDefCache(2);
  const d1 = parseTemplateDef(ANCHORS_DEF, crc32c);
  const d2 = parseTemplateDef(MASK_DEF, crc32c);
  const d3 = parseTemplateDef(encodeTemplateDefAnchors([enc('q')], crc32c), crc32c);
  cache.add(1n, d1);
  cache.add(2n, d2);
  assert.is(cache.get(1n), d1); // hit
  cache.add(3n, d3); // evicts 2 (least recently used)
  assert.is(cache.get(2n), undefined); // miss
  assert.is(cache.get(3n), d3); // hit
  assert.equal(cache.stats(), { hits: 2, misses: 1, entries: 2, capacity: 2 });
  assert.is(cache.get(1n), d1);
  cache.add(1n, d3); // update moves to front
  cache.add(4n, d2); // evicts 3
  assert.is(cache.get(3n), undefined);
  assert.is(cache.get(1n), d3);
  // id 0 is never cached
  cache.add(0n, d1);
  assert.is(cache.get(0n), undefined);
  assert.is(cache.stats().entries, 2);
});

test('disabled cache (size 0 / negative)', () => {
  for (const n of [0, -5]) {
    const cache = new TemplateDefCache(n);
    cache.add(1n, parseTemplateDef(ANCHORS_DEF, crc32c));
    assert.is(cache.get(1n), undefined);
    assert.is(cache.get(2n), undefined);
    assert.equal(cache.stats(), { hits: 0, misses: 0, entries: 0, capacity: 0 });
    assert.is(dec(decodeTemplateValue(hex(ANCHORS_VALUE_HEX), lookup, cache, noOpts, crc32c)), 'ab1xyz22');
    assert.equal(cache.stats(), { hits: 0, misses: 0, entries: 0, capacity: 0 });
  }
});

test('fuzz: 20,000 random and mutated inputs throw only ValueLogError', () => {
  let seed = 0xc0ffee;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const seedsDefs = [ANCHORS_DEF, MASK_DEF, withCrc(hex('02 02 0a 00 30313233343536373839'))];
  const seedsVals = [hex(ANCHORS_VALUE_HEX), hex(MASK_VALUE_HEX), encodeTemplateValueMask(9, hex('0102'), enc('AB'))];
  const mutate = (src: Uint8Array): Uint8Array => {
    let b = Array.from(src);
    const k = 1 + rnd(4);
    for (let j = 0; j < k; j++) {
      const op = rnd(5);
      if (op === 0 && b.length > 0) b[rnd(b.length)] = rnd(256);
      else if (op === 1) b.splice(rnd(b.length + 1), 0, rnd(256));
      else if (op === 2 && b.length > 0) b.splice(rnd(b.length), 1);
      else if (op === 3) b = b.slice(0, rnd(b.length + 1));
      else if (b.length > 0) b[rnd(b.length)] = [0x00, 0x7f, 0x80, 0xff][rnd(4)] as number;
    }
    return Uint8Array.from(b);
  };
  const random = (): Uint8Array => Uint8Array.from({ length: rnd(40) }, () => rnd(256));
  let ok = 0;
  let errs = 0;
  const run = (fn: () => unknown): void => {
    try {
      fn();
      ok++;
    } catch (err) {
      if (!(err instanceof ValueLogError)) throw err;
      errs++;
    }
  };
  const cache = new TemplateDefCache(8);
  for (let i = 0; i < 20000; i++) {
    const r = rnd(6);
    if (r === 0) {
      run(() => parseTemplateDef(random(), crc32c));
    } else if (r === 1) {
      // mutate, then fix up the CRC half the time so the structural parser is exercised
      const m = mutate(seedsDefs[rnd(seedsDefs.length)] as Uint8Array);
      const d = rnd(2) === 0 && m.length >= 5 ? withCrc(m.subarray(0, m.length - 4)) : m;
      run(() => parseTemplateDef(d, crc32c));
    } else {
      const def =
        rnd(2) === 0
          ? withCrc(mutate(seedsDefs[rnd(seedsDefs.length)]!.subarray(0, -4)))
          : (seedsDefs[rnd(seedsDefs.length)] as Uint8Array);
      let v = r === 2 ? random() : mutate(seedsVals[rnd(seedsVals.length)] as Uint8Array);
      if (r === 2 && v.length >= 4 && rnd(2) === 0) v = Uint8Array.from([0x54, 0x4d, 1, rnd(4) | 1, ...v.subarray(4)]);
      const lk: TemplateLookup | undefined = rnd(10) === 0 ? undefined : () => def;
      const opts: TemplateDecodeOptions = rnd(2) === 0 ? {} : { maxGaps: rnd(5), maxDecodedBytes: rnd(20) };
      run(() => decodeTemplateValue(v, lk, rnd(2) === 0 ? undefined : cache, opts, crc32c));
    }
  }
  assert.is(ok + errs, 20000);
  assert.ok(errs > 1000 && ok > 100, `ok=${ok} errs=${errs}`);
});

test.run();
