// Golden byte vectors and the rules of the v0.3.0 layouts: record header, frame, pointer, segment ids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BlockCodec,
  crc32c,
  decodeFileId,
  decodeFrame,
  decodeFramePayload,
  decodeFrameValues,
  decodeRecordHeader,
  decodeSegmentId,
  decodeValuePtr,
  encodeFileId,
  encodeFrame,
  encodeRecord,
  encodeSegmentId,
  encodeValuePtr,
  HEADER_SIZE,
  init,
  isCompressedPtr,
  isGroupedPtr,
  limits,
  markGrouped,
  MAX_FRAME_K,
  parseSegmentFileName,
  ptrRecordLength,
  ptrSubIndex,
  RECORD_FLAG_GROUPED,
  segmentFileName,
  trainDictionary,
  UnsupportedBlockCodecError,
  ValueLogError,
  type ValuePtr,
} from '../src/index.js';
import { groupedPtrLength } from '../src/format/pointer.js';
import { recordChecksum } from '../src/format/record.js';
import { CRC_JS_BELOW, crc32cTable } from '../src/codec/codecs.js';
import { heap, wasm } from '../src/codec/module.js';

/** CRC through the WebAssembly kernel regardless of size, to pin the JavaScript path against it. */
function crc32cWasmOnly(b: Uint8Array, crc: number): number {
  const ex = wasm();
  const p = ex.vl_malloc(b.length + 1);
  heap().set(b, p);
  const c = ex.vl_crc32c(crc >>> 0, p, b.length) >>> 0;
  ex.vl_free(p);
  return c;
}
import { expectCode, hex, unhex, utf8 } from './helpers.js';

await init();

test('CRC-32C check value and update semantics', () => {
  assert.is(crc32c(utf8('123456789')), 0xe3069283);
  assert.is(crc32c(new Uint8Array(0)), 0);
  const a = utf8('hello '), b = utf8('world');
  assert.is(crc32c(b, crc32c(a)), crc32c(utf8('hello world')));
  // Crosses the 64 KiB window used to feed the module.
  const big = new Uint8Array(200_003).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  assert.is(crc32c(big.subarray(70_000), crc32c(big.subarray(0, 70_000))), crc32c(big));
});

test('CRC-32C: the JavaScript small-input path and the WebAssembly path agree at every length', () => {
  const data = new Uint8Array(4096).map((_, i) => (i * 131 + (i >> 3)) & 0xff);
  for (let n = 0; n <= 300; n++) {
    const b = data.subarray(7, 7 + n);
    for (const seed of [0, 0xdeadbeef]) assert.is(crc32cTable(b, seed), crc32cWasmOnly(b, seed), `length ${n}`);
  }
  assert.is(crc32cTable(utf8('123456789')), 0xe3069283);
  assert.ok(CRC_JS_BELOW > 0 && CRC_JS_BELOW <= 256);
});

test('golden: Append(rid 1, "hello") as the first record of a file', () => {
  const { body, header } = encodeFrame(0, undefined, [{ rid: 1, value: utf8('hello') }]);
  assert.is(body.length, 33);
  assert.equal(header, { version: 1, flags: 0, k: 1, reserved: 0, dictId: 0n });
  const record = encodeRecord(RECORD_FLAG_GROUPED, 0n, body);
  assert.is(record.length, 53);
  assert.is(
    hex(record),
    '88e7d1e2' + '01' + '01' + '0000' + '0000000000000000' + '21000000' +
      '01000100' + '0000000000000000' + '0100000000000000' + '00000000' + '05000000' + '68656c6c6f',
  );
  const ptr: ValuePtr = { offset: 4, length: groupedPtrLength(16 + body.length, 0), fileId: encodeFileId(0, 1) };
  assert.equal(ptr, { offset: 4, length: 0x40000031, fileId: 0x80000001 });
  assert.is(hex(encodeValuePtr(ptr)), '0400000000000000' + '31000040' + '01000080');
});

test('golden: raw frame of rids 1, 2 with "alpha", "beta"', () => {
  const { body } = encodeFrame(0, undefined, [{ rid: 1, value: utf8('alpha') }, { rid: 2, value: utf8('beta') }]);
  assert.is(body.length, 49);
  const f = decodeFrame(body);
  assert.equal(f.offsets, [0, 5, 9]);
  assert.equal(f.rids, [1n, 2n]);
  const record = encodeRecord(RECORD_FLAG_GROUPED, 0n, body);
  assert.is(decodeRecordHeader(record).crc, 0xbf191b1f);
  assert.is(recordChecksum(record, 0, [body]), 0xbf191b1f);
});

test('golden: pointer lengths for hint 49', () => {
  const cases: Array<[number, number]> = [[0, 0x40000031], [1, 0x44000031], [15, 0x7c000031], [16, 0xc0000031], [32, 0x41000031], [69, 0x56000031], [127, 0xff000031]];
  for (const [sub, want] of cases) {
    const length = markGrouped(49, sub);
    assert.is(length, want, `sub ${sub}`);
    const ptr = { offset: 4, length, fileId: 0x80000001 };
    assert.ok(isGroupedPtr(ptr));
    assert.is(ptrSubIndex(ptr), sub);
    assert.is(ptrRecordLength(ptr), 49);
  }
  for (let sub = 0; sub < MAX_FRAME_K; sub++) assert.is(ptrSubIndex({ offset: 4, length: markGrouped(0xabcdef, sub), fileId: 0 }), sub);
  expectCode(() => markGrouped(49, 128), 'INVALID_ARGUMENT');
  // MarkGrouped(MarkCompressed(1234), 3): the legacy compressed bit is replaced by the sub-index bits.
  const g = { offset: 4, length: markGrouped((1234 | 0x80000000) >>> 0, 3), fileId: 0 };
  assert.ok(isGroupedPtr(g));
  assert.is(ptrSubIndex(g), 3);
  assert.is(ptrRecordLength(g), 1234);
  assert.not.ok(isCompressedPtr(g));
  const legacy = { offset: 4, length: (1234 | 0x80000000) >>> 0, fileId: 0 };
  assert.ok(isCompressedPtr(legacy));
  assert.is(ptrRecordLength(legacy), 1234);
  assert.is(ptrSubIndex(legacy), 0);
});

test('pointer hint is omitted above 0xFFFFFF', () => {
  assert.is(groupedPtrLength(0xffffff, 0), 0x40ffffff);
  assert.is(groupedPtrLength(0x1000000, 5), markGrouped(0, 5));
  assert.is(ptrRecordLength({ offset: 4, length: groupedPtrLength(0x1000000, 5), fileId: 0 }), 0);
});

test('value pointer encoding round-trips and validates', () => {
  const ptr = { offset: 2 ** 40 + 4, length: 0xff000031, fileId: 0x80800002 };
  const bytes = encodeValuePtr(ptr);
  assert.is(bytes.length, 16);
  assert.equal(decodeValuePtr(bytes), ptr);
  const withOffset = new Uint8Array(20);
  encodeValuePtr(ptr, withOffset, 3);
  assert.equal(decodeValuePtr(withOffset, 3), ptr);
  expectCode(() => decodeValuePtr(new Uint8Array(15)), 'CORRUPT');
  expectCode(() => decodeValuePtr(unhex('ffffffffffffffff' + '00000000' + '00000080')), 'CORRUPT');
  expectCode(() => encodeValuePtr({ offset: -1, length: 0, fileId: 0 }), 'INVALID_ARGUMENT');
  expectCode(() => encodeValuePtr({ offset: 4, length: 2 ** 32, fileId: 0 }), 'INVALID_ARGUMENT');
  expectCode(() => encodeValuePtr({ offset: 4.5, length: 0, fileId: 0 }), 'INVALID_ARGUMENT');
});

test('segment ids: encoding, range errors, names', () => {
  assert.is(encodeSegmentId(0, 1), 1);
  assert.is(encodeSegmentId(3, 5), (3 << 23) | 5);
  assert.is(encodeSegmentId(255, 8388607), 0x7fffffff);
  assert.equal(decodeSegmentId(0x7fffffff), { lane: 255, seq: 8388607 });
  assert.is(encodeFileId(0, 1), 0x80000001);
  assert.is(encodeFileId(255, 8388607), 0xffffffff);
  assert.equal(decodeFileId(0xffffffff), { lane: 255, seq: 8388607 });
  for (const [lane, seq] of [[256, 0], [0, 8388608], [-1, 0], [0, -1], [1.5, 0]] as const) {
    const err = expectCode(() => encodeSegmentId(lane, seq), 'SEGMENT_ID_RANGE');
    assert.match(err.message, 'segment id out of range');
  }
  assert.is(segmentFileName(encodeFileId(0, 1)), 'value-l0-000001.log');
  assert.is(segmentFileName(encodeFileId(3, 1234567)), 'value-l3-1234567.log');
  assert.is(segmentFileName(encodeFileId(255, 8388607)), 'value-l255-8388607.log');
  for (const lane of [0, 1, 17, 255]) {
    for (const seq of [0, 1, 999999, 1000000, 8388607]) {
      const id = encodeFileId(lane, seq);
      assert.is(parseSegmentFileName(segmentFileName(id)), id);
    }
  }
  assert.is(parseSegmentFileName('value-000042.log'), encodeFileId(0, 42));
  assert.is(parseSegmentFileName('value-42.log'), encodeFileId(0, 42));
  assert.is(parseSegmentFileName('value-l2-7.log'), encodeFileId(2, 7));
  for (const bad of ['value-8388608.log', 'value-l256-1.log', 'value-l1-8388608.log', 'value-l1.log', 'value-lx-1.log', 'value-.log',
    'value-1.txt', 'commit-l0-000001.log', 'value-l1--1.log', 'value-+1.log', 'value-1e3.log', 'value-l0-000001.log.tmp', 'value-99999999999.log']) {
    assert.is(parseSegmentFileName(bad), undefined, bad);
  }
});

test('record header: version, size limit, grouped flag', () => {
  const rec = encodeRecord(RECORD_FLAG_GROUPED, 0n, encodeFrame(0, undefined, [{ rid: 9, value: utf8('v') }]).body);
  const h = decodeRecordHeader(rec);
  assert.equal({ version: h.version, flags: h.flags, reserved: h.reserved, rid: h.rid, valueLen: h.valueLen }, { version: 1, flags: 1, reserved: 0, rid: 0n, valueLen: 29 });
  const badVersion = rec.slice();
  badVersion[4] = 2;
  expectCode(() => decodeRecordHeader(badVersion), 'CORRUPT');
  const huge = rec.slice();
  new DataView(huge.buffer).setUint32(16, 0xfffffff0, true);
  expectCode(() => decodeRecordHeader(huge), 'RECORD_TOO_LARGE');
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = HEADER_SIZE + 28;
    expectCode(() => decodeRecordHeader(rec), 'RECORD_TOO_LARGE');
    limits.maxRecordSize = HEADER_SIZE + 29;
    decodeRecordHeader(rec);
    limits.maxRecordSize = 0; // disabled
    decodeRecordHeader(huge);
  } finally {
    limits.maxRecordSize = saved;
  }
  assert.is(limits.maxRecordSize, 64 * 1024 * 1024);
  assert.is(limits.maxDeadMappings, 64);
});

test('decodeFrame rejects every structural fault of a frame (docs/FORMAT.md, "Frames")', () => {
  const good = encodeFrame(0, undefined, [{ rid: 1, value: utf8('alpha') }, { rid: 2, value: utf8('beta') }]).body;
  const mut = (f: (b: Uint8Array, dv: DataView) => void) => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  expectCode(() => decodeFrame(good.subarray(0, 11)), 'CORRUPT');
  expectCode(() => decodeFrame(mut((b) => (b[0] = 2))), 'CORRUPT');
  expectCode(() => decodeFrame(mut((b) => (b[2] = 0))), 'CORRUPT');
  expectCode(() => decodeFrame(mut((b) => (b[2] = 129))), 'CORRUPT');
  expectCode(() => decodeFrame(good.subarray(0, 39)), 'CORRUPT'); // shorter than the 40-byte prefix
  expectCode(() => decodeFrame(mut((_b, dv) => dv.setBigUint64(20, 0n, true))), 'CORRUPT'); // rid 2 = 0
  const dec = mut((_b, dv) => dv.setUint32(36, 4, true)); // Off[2] = 4 < Off[1] = 5
  expectCode(() => decodeFrame(dec), 'CORRUPT');
  // Empty payload with a non-zero raw length.
  expectCode(() => decodeFrame(good.subarray(0, 40)), 'CORRUPT');
  // DecodeFrame does not check Off[0] or the payload length; the payload decoder checks the length.
  const shortPayload = good.subarray(0, 45);
  const f = decodeFrame(shortPayload);
  expectCode(() => decodeFramePayload(f), 'CORRUPT');
  const off0 = mut((_b, dv) => dv.setUint32(28, 1, true));
  assert.is(decodeFrame(off0).offsets[0], 1);
});

test('frame payload codecs: unsupported id, plain zstd, missing dictionary', () => {
  const body = encodeFrame(0, undefined, [{ rid: 1, value: utf8('x'.repeat(64)) }]).body;
  const compressedWith = (reserved: number) => {
    const b = body.slice();
    b[1] = 1;
    b[3] = reserved;
    return b;
  };
  const err = expectCode(() => decodeFramePayload(decodeFrame(compressedWith(0xfe))), 'UNSUPPORTED_BLOCK_CODEC');
  assert.instance(err, UnsupportedBlockCodecError);
  assert.is((err as UnsupportedBlockCodecError).codecId, 0xfe);
  assert.match(err.message, 'unsupported block codec id 254');
  // Flags compressed, dict 0, reserved 0 → plain zstd; these raw bytes are not zstd.
  expectCode(() => decodeFramePayload(decodeFrame(compressedWith(0))), 'CORRUPT');
  expectCode(() => decodeFramePayload(decodeFrame(compressedWith(BlockCodec.Snappy))), 'CORRUPT');
  expectCode(() => decodeFramePayload(decodeFrame(compressedWith(BlockCodec.LZ4))), 'CORRUPT');
  // A raw frame ignores its dictionary id.
  const rawWithDict = body.slice();
  new DataView(rawWithDict.buffer).setBigUint64(4, 9n, true);
  assert.is(decodeFramePayload(decodeFrame(rawWithDict)).length, 64);
});

test('encodeFrame: dictionary frames compress, keep only when smaller, and need their dictionary', () => {
  const samples = Array.from({ length: 400 }, (_, i) => utf8(JSON.stringify({ id: i, user: `name-${i % 50}`, tags: ['x', 'y'], ok: i % 2 === 0 })));
  const dict = trainDictionary(samples, { size: 4096, dictId: 11 });
  const records = samples.slice(0, 16).map((value, i) => ({ rid: i + 1, value }));
  const { body, header } = encodeFrame(11, dict, records);
  assert.is(header.flags, 1);
  assert.is(header.dictId, 11n);
  const lookup = (id: bigint) => (id === 11n ? dict : undefined);
  const { values } = decodeFrameValues(body, lookup);
  values.forEach((v, i) => assert.equal(v, records[i]!.value));
  expectCode(() => decodeFrameValues(body), 'MISSING_DICT');
  expectCode(() => decodeFrameValues(body, () => undefined), 'MISSING_DICT');
  expectCode(() => decodeFrameValues(body, () => new Uint8Array(0)), 'MISSING_DICT');
  const thrown = expectCode(() => decodeFrameValues(body, () => { throw new Error('db down'); }), 'MISSING_DICT');
  assert.match(thrown.message, 'db down');
  // 2048 × 'a' without a dictionary stays raw.
  const plain = encodeFrame(0, undefined, [{ rid: 1, value: new Uint8Array(2048).fill(0x61) }]);
  assert.is(plain.header.flags, 0);
  const d = decodeFrame(plain.body);
  assert.equal(d.rids, [1n]);
  assert.equal(d.offsets, [0, 2048]);
  assert.equal(d.payload, new Uint8Array(2048).fill(0x61));
  // Incompressible data with a dictionary is stored raw but keeps the dictionary id.
  const noise = new Uint8Array(300).map((_, i) => (i * 2654435761) >>> 24);
  const raw = encodeFrame(11, dict, [{ rid: 5, value: noise }]);
  assert.is(raw.header.flags, 0);
  assert.is(raw.header.dictId, 11n);
});

test('encodeFrame argument errors', () => {
  expectCode(() => encodeFrame(0, undefined, []), 'CORRUPT');
  expectCode(() => encodeFrame(0, undefined, [{ rid: 0, value: utf8('x') }]), 'CORRUPT');
  expectCode(() => encodeFrame(0, undefined, Array.from({ length: 129 }, (_, i) => ({ rid: i + 1, value: utf8('x') }))), 'RECORD_TOO_LARGE');
  expectCode(() => encodeFrame(3, undefined, [{ rid: 1, value: utf8('x') }]), 'MISSING_DICT');
  expectCode(() => encodeFrame(3, new Uint8Array(0), [{ rid: 1, value: utf8('x') }]), 'MISSING_DICT');
  expectCode(() => encodeFrame(-1, undefined, [{ rid: 1, value: utf8('x') }]), 'INVALID_ARGUMENT');
  expectCode(() => encodeFrame(0, undefined, [{ rid: 2 ** 53, value: utf8('x') }]), 'INVALID_ARGUMENT');
  expectCode(() => encodeFrame(0, undefined, [{ rid: 1n << 64n, value: utf8('x') }]), 'INVALID_ARGUMENT');
  expectCode(() => encodeFrame(0, undefined, [{ rid: 1, value: 'x' as unknown as Uint8Array }]), 'INVALID_ARGUMENT');
  const big = encodeFrame(0, undefined, [{ rid: 0xffffffffffffffffn, value: utf8('x') }]);
  assert.equal(decodeFrame(big.body).rids, [0xffffffffffffffffn]);
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = 100;
    expectCode(() => encodeFrame(0, undefined, [{ rid: 1, value: new Uint8Array(60) }]), 'RECORD_TOO_LARGE'); // 20 + 28 + 60 > 100
    encodeFrame(0, undefined, [{ rid: 1, value: new Uint8Array(52) }]); // exactly 100
  } finally {
    limits.maxRecordSize = saved;
  }
  // Every error is a ValueLogError.
  try {
    encodeFrame(0, undefined, null as unknown as []);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ValueLogError);
  }
});

test('a frame of MAX_FRAME_K records decodes every value', () => {
  const records = Array.from({ length: MAX_FRAME_K }, (_, i) => ({ rid: BigInt(i + 1), value: utf8(`val-${String(i).padStart(3, '0')}`) }));
  const { body } = encodeFrame(0, undefined, records);
  const { values, frame } = decodeFrameValues(body);
  assert.is(frame.header.k, 128);
  values.forEach((v, i) => assert.equal(v, records[i]!.value));
});

test.run();
