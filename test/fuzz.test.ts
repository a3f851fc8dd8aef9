// Fuzz-style tests: random and mutated inputs (from valid records, frames, pointers and compressed
// payloads) through every decoder. Only ValueLogError may be thrown, nothing may hang, and the
// WebAssembly module's memory must stay bounded. Deterministic: a fixed seed per decoder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BlockCodec,
  decodeFrame,
  decodeFramePayload,
  decodeRecordHeader,
  decodeTemplateValue,
  decodeValuePtr,
  encodeFrame,
  encodeRecord,
  encodeTemplateDefAnchors,
  encodeTemplateDefMask,
  encodeTemplateValueAnchors,
  encodeTemplateValueMask,
  FramePreparer,
  HEADER_SIZE,
  init,
  isGroupedPtr,
  lz4Compress,
  lz4Decompress,
  parseTemplateDef,
  ptrSubIndex,
  RECORD_FLAG_GROUPED,
  SeededRandom,
  snappyCompress,
  snappyDecompress,
  TemplateDefCache,
  trainDictionary,
  ValueLogError,
  zstdCompress,
  zstdDecompress,
  crc32c,
  encodeValuePtr,
  limits,
  Manager,
  MemoryStorage,
  Writer,
  encodeFileId,
  markGrouped,
  ptrRecordLength,
  type ValuePtr,
} from '../src/index.js';
import { verifyRecordChecksum } from '../src/format/record.js';
import { wasmMemoryBytes } from '../src/codec/module.js';
import { jsonDocs, noise, utf8 } from './helpers.js';

await init();

const docs = jsonDocs(300, 300, 77);
const dict = trainDictionary(docs.slice(0, 250), { size: 8192, dictId: 5 });
const lookup = (id: bigint) => (id === 5n ? dict : undefined);

/** Applies 1..4 random mutations of the kinds that find decoder bugs. */
function mutate(rng: SeededRandom, src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const n = 1 + rng.intn(4);
  for (let m = 0; m < n; m++) {
    const kind = rng.intn(9);
    if (b.length === 0 && kind < 6) {
      b = noise(1 + rng.intn(64), rng.uint32());
      continue;
    }
    const at = b.length > 0 ? rng.intn(b.length) : 0;
    switch (kind) {
      case 0: b[at]! ^= 1 << rng.intn(8); break; // bit flip
      case 1: b[at] = [0, 0xff, 0x7f, 0x80, 1][rng.intn(5)]!; break; // interesting byte
      case 2: b[at] = rng.intn(256); break; // random byte
      case 3: { // interesting u32 (lengths, offsets)
        if (b.length >= 4) {
          const p = rng.intn(b.length - 3);
          new DataView(b.buffer).setUint32(p, [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, b.length, b.length + 1, 1 << 26][rng.intn(8)]!, true);
        }
        break;
      }
      case 4: b = b.subarray(0, at).slice(); break; // truncate
      case 5: { // extend with noise
        const tail = noise(1 + rng.intn(32), rng.uint32());
        const nb = new Uint8Array(b.length + tail.length);
        nb.set(b);
        nb.set(tail, b.length);
        b = nb;
        break;
      }
      case 6: { // duplicate a slice in place
        if (b.length > 2) {
          const s = rng.intn(b.length - 1);
          const len = 1 + rng.intn(Math.min(16, b.length - s - 1));
          b.copyWithin(rng.intn(b.length - len), s, s + len);
        }
        break;
      }
      case 7: { // splice: delete a run
        if (b.length > 2) {
          const s = rng.intn(b.length - 1);
          const e = s + 1 + rng.intn(Math.min(8, b.length - s - 1));
          const nb = new Uint8Array(b.length - (e - s));
          nb.set(b.subarray(0, s));
          nb.set(b.subarray(e), s);
          b = nb;
        }
        break;
      }
      default:
        b = noise(rng.intn(200), rng.uint32()); // pure noise
    }
  }
  return b;
}

interface Tally { inputs: number; ok: number; rejected: Record<string, number> }

/** Runs one decoder over `count` inputs; any non-ValueLogError fails the test with the input in hex. */
function fuzz(name: string, seed: number, count: number, seeds: Uint8Array[], decode: (input: Uint8Array, rng: SeededRandom) => void): Tally {
  const rng = new SeededRandom(seed);
  const tally: Tally = { inputs: 0, ok: 0, rejected: {} };
  for (let i = 0; i < count; i++) {
    const input = mutate(rng, seeds[rng.intn(seeds.length)]!);
    tally.inputs++;
    try {
      decode(input, rng);
      tally.ok++;
    } catch (e) {
      if (!(e instanceof ValueLogError)) {
        const hexIn = Array.from(input.subarray(0, 96), (x) => x.toString(16).padStart(2, '0')).join('');
        throw new Error(`${name}: input #${i} threw a non-ValueLogError: ${String(e)}\n${(e as Error)?.stack ?? ''}\ninput: ${hexIn}`);
      }
      tally.rejected[e.code] = (tally.rejected[e.code] ?? 0) + 1;
    }
  }
  return tally;
}

// Seed material: records and bodies of every payload kind.
function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const small = docs.slice(250, 266).map((value, i) => ({ rid: i + 1, value }));
  out.push(encodeFrame(0, undefined, small).body);
  out.push(encodeFrame(5, dict, small).body);
  out.push(encodeFrame(0, undefined, [{ rid: 1, value: utf8('hello') }]).body);
  for (const codec of [BlockCodec.Snappy, BlockCodec.LZ4]) {
    const p = new FramePreparer();
    p.setBlockCompression(codec, true);
    out.push(p.prepareFrame(0, undefined, small).body);
  }
  // Plain zstd (flags 1, dict 0, reserved 0), which the v0.3.0 writer never produces but readers accept.
  const raw = encodeFrame(0, undefined, small).body;
  const f = decodeFrame(raw);
  const z = zstdCompress(f.payload)!;
  const plain = new Uint8Array(16 + 12 * f.header.k + z.length);
  plain.set(raw.subarray(0, 16 + 12 * f.header.k));
  plain[1] = 1;
  plain.set(z, 16 + 12 * f.header.k);
  out.push(plain);
  return out;
}
const bodies = frames();
const records = bodies.map((b) => encodeRecord(RECORD_FLAG_GROUPED, 0n, b));

// The fuzz runs under a 4 MiB record limit: every allocation a corrupt input can cause is bounded by
// it, so the module's memory may grow by a small multiple of it at most, never towards 64 MiB or more.
// (uvu imports every file before running any test, so state changes belong in before/after hooks.)
const FUZZ_RECORD_LIMIT = 4 << 20;
const savedLimit = limits.maxRecordSize;
let memoryBefore = 0;
const totals: Record<string, Tally> = {};
test.before(() => {
  limits.maxRecordSize = FUZZ_RECORD_LIMIT;
  memoryBefore = wasmMemoryBytes();
});
test.after(() => {
  limits.maxRecordSize = savedLimit;
});

test('fuzz: whole records (header, CRC, frame, payload) — 30,000 inputs', () => {
  totals.records = fuzz('records', 1, 30_000, records, (rec) => {
    if (rec.length < HEADER_SIZE) throw new ValueLogError('UNEXPECTED_EOF', 'short');
    const h = decodeRecordHeader(rec);
    const payload = rec.subarray(HEADER_SIZE);
    if (payload.length < h.valueLen) throw new ValueLogError('UNEXPECTED_EOF', 'short payload');
    const body = payload.subarray(0, h.valueLen);
    verifyRecordChecksum(rec, 0, h.crc, body);
    const frame = decodeFrame(body);
    const decoded = decodeFramePayload(frame, lookup);
    assert.is(decoded.length, frame.offsets[frame.header.k]);
  });
});

test('fuzz: frame bodies without the CRC in front — 30,000 inputs', () => {
  totals.frames = fuzz('frames', 2, 30_000, bodies, (body) => {
    const frame = decodeFrame(body);
    const decoded = decodeFramePayload(frame, lookup);
    assert.is(decoded.length, frame.offsets[frame.header.k], 'a decoded payload always has the declared length');
  });
});

test('fuzz: codec decoders directly (LZ4, Snappy, zstd with and without dictionary) — 30,000 inputs', () => {
  const src = docs.slice(266, 280);
  const lz = src.map((d) => lz4Compress(d)!);
  const sn = src.map((d) => snappyCompress(d)!);
  const zs = src.map((d) => zstdCompress(d)!);
  const zd = src.map((d) => zstdCompress(d, { dict: { id: 5n, bytes: dict } })!);
  const expect = (rng: SeededRandom) => [300, 299, 301, 0, 1, 4096, 1 << 20][rng.intn(7)]!;
  const check = (out: Uint8Array, n: number) => assert.is(out.length, n);
  totals.lz4 = fuzz('lz4', 3, 8_000, lz, (b, rng) => { const n = expect(rng); check(lz4Decompress(b, n), n); });
  totals.snappy = fuzz('snappy', 4, 8_000, sn, (b, rng) => { const n = expect(rng); check(snappyDecompress(b, n), n); });
  totals.zstd = fuzz('zstd', 5, 7_000, zs, (b, rng) => { const n = expect(rng); check(zstdDecompress(b, n), n); });
  totals.zstdDict = fuzz('zstd+dict', 6, 7_000, zd, (b, rng) => { const n = expect(rng); check(zstdDecompress(b, n, { id: 5n, bytes: dict }), n); });
});

test('fuzz: value pointers and record headers — 10,000 inputs', () => {
  const ptrs = [encodeValuePtr({ offset: 4, length: 0x40000031, fileId: 0x80000001 }), encodeValuePtr({ offset: 2 ** 40, length: 0xff000031, fileId: 0xffffffff })];
  totals.ptrs = fuzz('pointers', 7, 5_000, ptrs, (b) => {
    const p = decodeValuePtr(b);
    assert.ok(Number.isSafeInteger(p.offset) && p.offset >= 0);
    if (isGroupedPtr(p)) assert.ok(ptrSubIndex(p) < 128);
  });
  totals.headers = fuzz('headers', 8, 5_000, records.map((r) => r.subarray(0, HEADER_SIZE)), (b) => {
    if (b.length < HEADER_SIZE) return;
    decodeRecordHeader(b);
  });
});

test('fuzz: template definitions and template-encoded values — 10,000 inputs', () => {
  const defs = [encodeTemplateDefAnchors([utf8('{"a":'), utf8(',"b":')], crc32c), encodeTemplateDefMask(utf8('hello world'), new Uint8Array([0x11, 0x02]), crc32c)];
  totals.templateDefs = fuzz('template defs', 9, 4_000, defs, (b) => void parseTemplateDef(b, crc32c));
  const values = [encodeTemplateValueAnchors(1, [utf8('x'), utf8('1'), utf8('2')]), encodeTemplateValueMask(2, new Uint8Array([0x11, 0x02]), utf8('HWE'))];
  const tlookup = (id: bigint) => (id === 1n ? defs[0] : id === 2n ? defs[1] : undefined);
  totals.templateValues = fuzz('template values', 10, 6_000, values, (b) => void decodeTemplateValue(b, tlookup, new TemplateDefCache(4), { maxDecodedBytes: 1 << 16 }, crc32c));
});

test('fuzz: pointers into a real segment (hostile or stale pointers) through Manager.read — 10,000 inputs', async () => {
  const storage = new MemoryStorage();
  const w = await Writer.open(storage, encodeFileId(0, 1));
  const good: ValuePtr[] = [];
  const p = new FramePreparer();
  good.push(...w.appendFrame(docs.slice(0, 16).map((value, i) => ({ rid: i + 1, value }))).ptrs);
  good.push(...w.appendFrame(docs.slice(16, 24).map((value, i) => ({ rid: i + 1, value })), { dictId: 5, dict }).ptrs);
  good.push(w.append(99, utf8('single')));
  w.setBlockCompression(BlockCodec.LZ4, true);
  good.push(...w.appendFrame(docs.slice(24, 40).map((value, i) => ({ rid: i + 1, value }))).ptrs);
  good.push(...w.appendEncodedFrame(p.prepareFrame(0, undefined, [{ rid: 1, value: utf8('x') }]).body, 1));
  w.close();
  const m = await Manager.open(storage);
  m.setDictLookup(lookup);
  const rng = new SeededRandom(11);
  const tally: Tally = { inputs: 0, ok: 0, rejected: {} };
  const size = w.size;
  for (let i = 0; i < 10_000; i++) {
    const base = good[rng.intn(good.length)]!;
    const q = { ...base };
    switch (rng.intn(5)) {
      case 0: q.offset = rng.intn(size + 64); break;
      case 1: q.length = rng.uint32(); break;
      case 2: q.length = markGrouped(rng.intn(0x1000000), rng.intn(128)); break;
      case 3: q.offset = base.offset + rng.intn(64) - 32; q.length = markGrouped(ptrRecordLength(base), rng.intn(128)); break;
      default: q.offset = base.offset; q.length = base.length ^ (1 << rng.intn(32)); q.length >>>= 0;
    }
    m.setDisableReadChecksum(rng.intn(2) === 0);
    tally.inputs++;
    try {
      m.read(q);
      tally.ok++;
    } catch (e) {
      if (!(e instanceof ValueLogError)) throw new Error(`pointer ${JSON.stringify(q)} threw ${String(e)}`);
      tally.rejected[e.code] = (tally.rejected[e.code] ?? 0) + 1;
    }
  }
  totals.pointerReads = tally;
  await m.close();
});

test('fuzz totals: at least 100,000 inputs, every decoder both accepted and rejected inputs, memory bounded', () => {
  const all = Object.values(totals).reduce((a, t) => a + t.inputs, 0);
  assert.ok(all >= 100_000, `ran ${all} inputs`);
  for (const [name, t] of Object.entries(totals)) {
    assert.ok(Object.values(t.rejected).reduce((a, b) => a + b, 0) > 0, `${name} rejected something`);
  }
  // Mutations that keep a valid input (e.g. a flipped byte inside a raw value) must still decode.
  assert.ok(totals.frames!.ok > 0 && totals.lz4!.ok > 0 && totals.snappy!.ok > 0 && totals.pointerReads!.ok > 0);
  const grown = wasmMemoryBytes() - memoryBefore;
  assert.ok(grown <= 3 * FUZZ_RECORD_LIMIT, `module memory grew by ${grown} bytes over the fuzz run`);
  console.log(`fuzz: ${all} inputs; module memory grew by ${(grown / 2 ** 20).toFixed(1)} MiB; ` +
    Object.entries(totals).map(([n, t]) => `${n} ${t.ok} ok/${t.inputs - t.ok} rejected`).join(', '));
});

test.run();
