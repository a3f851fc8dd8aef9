// Writer, Reader, Manager and ValueSet end to end: the Go package's v0.3.0 acceptance scenarios,
// run on every storage backend available here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BlockCodec,
  crc32c,
  decodeFrame,
  decodeRecordHeader,
  encodeFileId,
  encodeFrame,
  encodeRecord,
  encodeTemplateDefAnchors,
  encodeTemplateValueAnchors,
  FramePreparer,
  HEADER_SIZE,
  init,
  isGroupedPtr,
  limits,
  Manager,
  markGrouped,
  MemoryStorage,
  ptrRecordLength,
  ptrSubIndex,
  RECORD_FLAG_GROUPED,
  Reader,
  segmentFileName,
  trainDictionary,
  VirtualClock,
  VirtualSink,
  Writer,
  type ReaderEntry,
  type StorageBackend,
  type ValuePtr,
} from '../src/index.js';
import { groupedPtrLength } from '../src/format/pointer.js';
import { backends } from './env.js';
import { expectCode, expectCodeAsync, jsonDocs, noise, utf8 } from './helpers.js';

await init();

const F1 = encodeFileId(0, 1);
const F2 = encodeFileId(0, 2);
const docs = jsonDocs(700, 1024, 5);
const dict = trainDictionary(docs.slice(0, 500), { size: 16384, dictId: 1 });
const lookup = (id: bigint) => (id === 1n || id === 11n || id === 77n ? dict : undefined);

async function readAll(storage: StorageBackend, fileId: number, setup?: (r: Reader) => void): Promise<ReaderEntry[]> {
  const r = await Reader.open(storage, fileId);
  setup?.(r);
  const out = [...r];
  r.close();
  return out;
}

/** Overwrites bytes of a segment through the storage API. */
async function patch(storage: StorageBackend, fileId: number, at: number, bytes: Uint8Array): Promise<void> {
  const f = await storage.open(segmentFileName(fileId));
  f.write(bytes, at);
  f.close();
}

async function fileBytes(storage: StorageBackend, fileId: number): Promise<Uint8Array> {
  const f = await storage.open(segmentFileName(fileId), { readOnly: true });
  const b = new Uint8Array(f.size());
  f.read(b, 0);
  f.close();
  return b;
}

for (const backend of backends) {
  const test = suite(`log on ${backend.name} storage`);
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  test.before.each(async () => {
    ({ storage, cleanup } = await backend.make());
  });
  test.after.each(() => cleanup());

  test('AppendRead: frame + single append read back in order; reader pointers equal the writer\'s', async () => {
    const w = await Writer.open(storage, F1);
    const { ptrs, stats } = w.appendFrame([{ rid: 1, value: utf8('alpha') }, { rid: 2, value: utf8('beta') }]);
    assert.is(stats.records, 2);
    const p3 = w.append(3, utf8('gamma'));
    w.sync();
    const all = await readAll(storage, F1);
    assert.equal(all.map((e) => [e.rid, new TextDecoder().decode(e.value)]), [[1n, 'alpha'], [2n, 'beta'], [3n, 'gamma']]);
    assert.equal(all.map((e) => e.ptr), [...ptrs, p3]);
    const m = await Manager.open(storage);
    assert.equal(m.read(ptrs[0]!), utf8('alpha'));
    assert.equal(m.read(ptrs[1]!), utf8('beta'));
    assert.equal(m.read(p3), utf8('gamma'));
    // The first record: 20-byte header + 40-byte prefix + 9 value bytes; the second starts after it.
    assert.is(ptrs[0]!.offset, 4);
    assert.is(p3.offset, HEADER_SIZE + 40 + 9 + 4);
    w.close();
    await m.close();
  });

  test('golden: Append(rid 1, "hello") as the first record of a file, through the Writer', async () => {
    const w = await Writer.open(storage, F1);
    const p = w.append(1, utf8('hello'));
    assert.equal(p, { offset: 4, length: 0x40000031, fileId: 0x80000001 });
    w.close();
    const bytes = await fileBytes(storage, F1);
    assert.is(Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join(''), '88e7d1e20101000000000000000000002100000001000100000000000000000001000000000000000000000005000000' + '68656c6c6f');
    const m = await Manager.open(storage);
    m.setDisableReadChecksum(true);
    assert.equal(m.readInto(p, new Uint8Array(0)), utf8('hello'));
    const dst = new Uint8Array(16);
    const got = m.readInto(p, dst);
    assert.ok(got.buffer === dst.buffer);
    assert.equal(got, utf8('hello'));
    await m.close();
  });

  test('readUnsafe over a compressed grouped frame is served from the decoded-frame cache', async () => {
    const w = await Writer.open(storage, F1);
    w.setBlockCompression(BlockCodec.Snappy, true);
    const values = Array.from({ length: 16 }, (_, i) => utf8(`value-${i}-` + 'compressible '.repeat(24)).subarray(0, 320));
    const { ptrs, stats } = w.appendFrame(values.map((value, i) => ({ rid: i + 1, value })));
    assert.ok(stats.kept);
    w.flush();
    const bytes = await fileBytes(storage, F1);
    assert.is(bytes[5]! & 1, 1, 'record flag grouped');
    assert.is(bytes[HEADER_SIZE + 1]! & 1, 1, 'frame flag compressed');
    const m = await Manager.open(storage);
    ptrs.forEach((p, i) => assert.equal(m.readUnsafe(p), values[i]));
    assert.equal(m.remapStats(), { remaps: 1, deadMappings: 0 }, 'one frame decoded, then served from the cache');
    ptrs.forEach((p, i) => assert.equal(m.read(p), values[i]));
    assert.is(m.remapStats().remaps, 1);
    w.close();
    await m.close();
  });

  test('grouped fast path without checksum, including a legacy pointer with hint 0', async () => {
    const w = await Writer.open(storage, F1);
    const vals = [utf8('one'), utf8('two!'), utf8('three')];
    const { ptrs } = w.appendFrame(vals.map((value, i) => ({ rid: i + 1, value })));
    w.close();
    const m = await Manager.open(storage);
    m.setDisableReadChecksum(true);
    ptrs.forEach((p, i) => {
      assert.equal(m.read(p), vals[i]);
      const legacy = { ...p, length: markGrouped(0, ptrSubIndex(p)) };
      assert.is(ptrRecordLength(legacy), 0);
      assert.equal(m.read(legacy), vals[i]);
    });
    m.setDisableReadChecksum(false);
    ptrs.forEach((p, i) => assert.equal(m.read({ ...p, length: markGrouped(0, ptrSubIndex(p)) }), vals[i]));
    await m.close();
  });

  test('sub-index range: a frame of 128 records; every pointer reads back', async () => {
    const w = await Writer.open(storage, F1);
    const vals = Array.from({ length: 128 }, (_, i) => utf8(`val-${String(i).padStart(3, '0')}`));
    const { ptrs } = w.appendFrame(vals.map((value, i) => ({ rid: i + 1, value })));
    w.close();
    const m = await Manager.open(storage);
    ptrs.forEach((p, i) => {
      assert.is(ptrSubIndex(p), i);
      assert.equal(m.read(p), vals[i]);
    });
    await m.close();
  });

  test('K = 128 with a dictionary: kept, every value reads back with CRC and the dictionary lookup', async () => {
    const w = await Writer.open(storage, F1);
    const records = docs.slice(500, 628).map((value, i) => ({ rid: i + 1, value }));
    const { ptrs, stats } = w.appendFrame(records, { dictId: 1, dict });
    assert.ok(stats.attempted && stats.kept);
    w.close();
    const m = await Manager.open(storage);
    expectCode(() => m.read(ptrs[0]!), 'MISSING_DICT');
    m.setDictLookup(lookup);
    ptrs.forEach((p, i) => assert.equal(m.read(p), records[i]!.value));
    const scanned = await readAll(storage, F1, (r) => r.setDictLookup(lookup));
    assert.equal(scanned.map((e) => e.value), records.map((r) => r.value));
    await m.close();
  });

  test('appendEncodedFrame with a dictionary (encodeFrame 11 and FramePreparer 77) round trips', async () => {
    const w = await Writer.open(storage, F1);
    const recs = docs.slice(600, 616).map((value, i) => ({ rid: i + 1, value }));
    const a = w.appendEncodedFrame(encodeFrame(11, dict, recs).body, 16);
    const prep = new FramePreparer();
    const { body, stats } = prep.prepareFrame(77, dict, recs);
    assert.is(stats.records, 16);
    assert.ok(stats.attempted);
    const b = w.appendEncodedFrame(body, 16);
    w.close();
    const m = await Manager.open(storage);
    m.setDictLookup(lookup);
    [...a, ...b].forEach((p, i) => assert.equal(m.read(p), recs[i % 16]!.value));
    await m.close();
  });

  test('appendEncodedFrame validates the body against k', async () => {
    const w = await Writer.open(storage, F1);
    const body = encodeFrame(0, undefined, [{ rid: 1, value: utf8('x') }]).body;
    assert.equal(w.appendEncodedFrame(body, 0), []);
    assert.equal(w.appendEncodedFrame(body, -1), []);
    expectCode(() => w.appendEncodedFrame(body, 129), 'RECORD_TOO_LARGE');
    expectCode(() => w.appendEncodedFrame(body, 2), 'CORRUPT');
    expectCode(() => w.appendEncodedFrame(body.subarray(0, 11), 1), 'CORRUPT');
    const badVersion = body.slice();
    badVersion[0] = 9;
    expectCode(() => w.appendEncodedFrame(badVersion, 1), 'CORRUPT');
    assert.is(w.size, 0, 'nothing was written');
    w.close();
  });

  test('keep policy through the writer: not attempted, raw frame that keeps dictionary id 9', async () => {
    const w = await Writer.open(storage, F1);
    w.setKeepPolicy(0.01, 10, 0);
    const { stats, ptrs } = w.appendFrame(docs.slice(0, 4).map((value, i) => ({ rid: i + 1, value })), { dictId: 9, dict });
    assert.not.ok(stats.attempted);
    assert.not.ok(stats.kept);
    w.close();
    const bytes = await fileBytes(storage, F1);
    const frame = decodeFrame(bytes.subarray(HEADER_SIZE, HEADER_SIZE + decodeRecordHeader(bytes).valueLen));
    assert.is(frame.header.flags, 0);
    assert.is(frame.header.dictId, 9n);
    const m = await Manager.open(storage);
    assert.equal(m.read(ptrs[3]!), docs[3]);
    await m.close();
  });

  test('large value: the length hint is omitted above 0xFFFFFF and the value still reads with CRC', async () => {
    const w = await Writer.open(storage, F1, { bufferSize: 1 << 20 });
    const value = noise(0x1000000 - 16 - 28, 3); // 16 + body = 0xFFFFFF + 1
    const p = w.append(1, value);
    assert.is(ptrRecordLength(p), 0);
    assert.ok(isGroupedPtr(p));
    w.close();
    const m = await Manager.open(storage);
    assert.equal(m.read(p), value);
    await m.close();
    const just = mkFile(0xffffff - 16 - 28);
    const w2 = await Writer.open(storage, F2);
    assert.is(ptrRecordLength(w2.append(1, just)), 0xffffff);
    w2.close();
  });

  test('corrupt CRC → CORRUPT; truncated record → UNEXPECTED_EOF; reader offset marks the valid prefix', async () => {
    const w = await Writer.open(storage, F1);
    w.append(1, utf8('first'));
    const p = w.append(2, utf8('second'));
    w.close();
    const bytes = await fileBytes(storage, F1);
    await patch(storage, F1, bytes.length - 1, new Uint8Array([bytes[bytes.length - 1]! ^ 0xff]));
    const r = await Reader.open(storage, F1);
    assert.is(r.next()!.rid, 1n);
    const firstEnd = r.offset;
    expectCode(() => r.next(), 'CORRUPT');
    assert.is(r.offset, firstEnd);
    r.close();
    const m = await Manager.open(storage);
    expectCode(() => m.read(p), 'CORRUPT');
    m.setDisableReadChecksum(true);
    const damaged = utf8('second');
    damaged[5]! ^= 0xff;
    assert.equal(m.read(p), damaged);
    await m.close();
    // A header claiming 8 payload bytes with only 2 present, and a partial header.
    const s2 = await storage.open(segmentFileName(F2), { create: true });
    const torn = encodeRecord(0, 7n, utf8('12345678')).subarray(0, HEADER_SIZE + 2);
    s2.write(torn, 0);
    s2.close();
    const r2 = await Reader.open(storage, F2);
    expectCode(() => r2.next(), 'UNEXPECTED_EOF');
    r2.close();
    const f3 = encodeFileId(0, 3);
    const s3 = await storage.open(segmentFileName(f3), { create: true });
    s3.write(encodeRecord(0, 7n, utf8('ok')), 0);
    s3.write(new Uint8Array(7), HEADER_SIZE + 2);
    s3.close();
    const r3 = await Reader.open(storage, f3);
    assert.equal(r3.next()!.value, utf8('ok'));
    expectCode(() => r3.next(), 'UNEXPECTED_EOF');
    r3.close();
  });

  test('block codecs through the writer: Snappy and LZ4 kept, values read back, codec id in the frame', async () => {
    const value = utf8('the quick brown fox jumps!\n'.repeat(128));
    for (const codec of [BlockCodec.Snappy, BlockCodec.LZ4]) {
      const id = encodeFileId(1, codec);
      const w = await Writer.open(storage, id);
      w.setBlockCompression(codec, true);
      const recs = Array.from({ length: 16 }, (_, i) => ({ rid: i + 1, value: value.map((b, j) => (j === 0 ? 65 + i : b)) }));
      const { ptrs, stats } = w.appendFrame(recs);
      assert.ok(stats.kept);
      w.close();
      const bytes = await fileBytes(storage, id);
      assert.is(bytes[HEADER_SIZE + 3], codec);
      const m = await Manager.open(storage);
      ptrs.forEach((p, i) => assert.equal(m.read(p), recs[i]!.value));
      await m.close(); // OPFS cannot write a file this backend holds open read-only
      // An unknown codec id in the frame.
      await patch(storage, id, HEADER_SIZE + 3, new Uint8Array([0xfe]));
      const m2 = await Manager.open(storage);
      m2.setDisableReadChecksum(true);
      const err = expectCode(() => m2.read(ptrs[0]!), 'UNSUPPORTED_BLOCK_CODEC');
      assert.match(err.message, 'unsupported block codec id 254');
      await m2.close();
    }
  });

  test('block incompressible backoff through the writer', async () => {
    const w = await Writer.open(storage, F1);
    w.setBlockCompression(BlockCodec.LZ4, true);
    const batch = (s: number) => Array.from({ length: 8 }, (_, i) => ({ rid: s * 10 + i + 1, value: noise(4096, s * 100 + i) }));
    const a = w.appendFrame(batch(1));
    assert.ok(a.stats.attempted);
    assert.not.ok(a.stats.kept);
    assert.not.ok(w.appendFrame(batch(2)).stats.attempted);
    w.close();
  });

  test('appendRawFrames takes the writev path when it saves calls and reads back identically', async () => {
    const w = await Writer.open(storage, F1, { bufferSize: 256 * 1024 });
    const values = Array.from({ length: 40 }, (_, i) => noise(20 * 1024, i + 1));
    const records = values.map((value, i) => ({ rid: i + 1, value }));
    const hasWritev = w.rawWritevDecision(records, 4);
    const { ptrs, stats } = w.appendRawFrames(records, 4);
    assert.is(stats.records, 40);
    if (hasWritev) assert.ok(w.ioStats().writevs > 0, 'writev used');
    w.close();
    const all = await readAll(storage, F1);
    assert.equal(all.map((e) => e.rid), records.map((r) => BigInt(r.rid)));
    assert.equal(all.map((e) => e.value), values);
    assert.equal(all.map((e) => e.ptr), ptrs);
    // The same records through appendFrame give identical bytes.
    const w2 = await Writer.open(storage, F2, { bufferSize: 256 * 1024 });
    for (let i = 0; i < 40; i += 4) w2.appendFrame(records.slice(i, i + 4));
    w2.close();
    assert.equal(await fileBytes(storage, F2), await fileBytes(storage, F1));
  });

  test('raw writev strategy: defaults, minimum batch, average-size floor', async () => {
    const w = await Writer.open(storage, F1);
    const recs = (n: number, size: number) => Array.from({ length: n }, (_, i) => ({ rid: i + 1, value: new Uint8Array(size) }));
    const canWritev = backend.name !== 'memory'; // MemoryStorage may or may not offer writev; Node's and OPFS's do
    if (canWritev) assert.ok(w.rawWritevDecision(recs(16, 4096), 8));
    assert.not.ok(w.rawWritevDecision(recs(4, 4096), 8), 'below the minimum batch of 8');
    w.setRawWritevStrategy(16 * 1024, 8);
    assert.not.ok(w.rawWritevDecision(recs(16, 4096), 8), '4 KiB values are below a 16 KiB floor');
    if (canWritev) assert.ok(w.rawWritevDecision(recs(16, 20 * 1024), 8));
    w.setRawWritevStrategy(-5, 0);
    if (canWritev) assert.ok(w.rawWritevDecision(recs(8, 4096), 8));
    expectCode(() => w.appendRawFrames(recs(4, 1), 0), 'RECORD_TOO_LARGE');
    expectCode(() => w.appendRawFrames(recs(4, 1), 129), 'RECORD_TOO_LARGE');
    expectCode(() => w.appendRawFrames([{ rid: 0, value: utf8('x') }], 1), 'INVALID_ARGUMENT');
    assert.equal(w.appendRawFrames([], 4).ptrs, []);
    w.close();
  });

  test('dictionary frames via the Manager: 512 frames of k = 4 read back intact', async () => {
    const w = await Writer.open(storage, F1);
    const ptrs: Array<[ValuePtr, Uint8Array]> = [];
    for (let f = 0; f < 512; f++) {
      const recs = [0, 1, 2, 3].map((j) => ({ rid: f * 4 + j + 1, value: docs[(f * 4 + j) % docs.length]! }));
      w.appendFrame(recs, { dictId: 1, dict }).ptrs.forEach((p, j) => ptrs.push([p, recs[j]!.value]));
    }
    w.close();
    const m = await Manager.open(storage);
    m.setDictLookup(lookup);
    for (const [p, v] of ptrs) assert.equal(m.read(p), v);
    await m.close();
  });

  test('a readUnsafe view stays valid after the file grows by 10 MiB', async () => {
    const w = await Writer.open(storage, F1);
    w.setBlockCompression(BlockCodec.LZ4, true);
    const vals = Array.from({ length: 8 }, (_, i) => utf8(`v${i} ` + 'abc'.repeat(100)));
    const { ptrs } = w.appendFrame(vals.map((value, i) => ({ rid: i + 1, value })));
    w.flush();
    const m = await Manager.open(storage);
    const view = m.readUnsafe(ptrs[2]!);
    const copy = view.slice();
    for (let i = 0; i < 160; i++) w.append(100 + i, noise(64 * 1024, i));
    w.flush();
    for (let i = 0; i < 200; i++) m.read(ptrs[i % 8]!);
    assert.equal(view, copy);
    w.close();
    await m.close();
  });

  test('snapshot sets: a zombie is deleted exactly when the last set holding it is released', async () => {
    const w = await Writer.open(storage, F1);
    const p1 = w.append(1, utf8('in segment 1'));
    await w.rotateTo(F2);
    const p2 = w.append(2, utf8('in segment 2'));
    w.close();
    const m = await Manager.open(storage);
    const setA = await m.currentSet();
    assert.equal([...setA.files.keys()].sort(), [F1, F2]);
    assert.is(setA.refCount, 1);
    m.acquire(setA);
    assert.is(setA.refCount, 2);
    const setB = await m.currentSet();
    assert.is(setB.files.get(F1)!.refCount, 2);
    m.markZombie(F1);
    const setC = await m.currentSet();
    assert.not.ok(setC.files.has(F1), 'zombies are excluded from new sets');
    assert.equal(setA.read(p1), utf8('in segment 1'));
    expectCode(() => setC.read(p1), 'NOT_FOUND');
    await expectCodeAsync(() => m.removeSegment(F1), 'PINNED');
    expectCode(() => m.evictSegment(F1), 'PINNED');
    await m.release(setA); // still referenced once
    assert.ok((await storage.list()).includes(segmentFileName(F1)));
    await m.release(setA); // setA gone; setB still pins F1
    assert.ok((await storage.list()).includes(segmentFileName(F1)));
    assert.equal(setB.read(p1), utf8('in segment 1'));
    await m.release(setB); // last pin: deleted now
    assert.not.ok((await storage.list()).includes(segmentFileName(F1)));
    assert.not.ok(m.segmentInfo().some((s) => s.id === F1), 'untracked');
    await expectCodeAsync(() => m.release(setB), 'INVALID_ARGUMENT');
    expectCode(() => m.acquire(setB), 'INVALID_ARGUMENT');
    expectCode(() => m.markZombie(F1), 'NOT_FOUND');
    assert.equal(m.read(p2), utf8('in segment 2'));
    await m.release(setC);
    // Evict keeps the file on disk; force-remove deletes whatever pins it.
    m.evictSegment(F2);
    assert.ok((await storage.list()).includes(segmentFileName(F2)));
    expectCode(() => m.read(p2), 'NOT_FOUND');
    await m.refresh();
    const pinned = await m.currentSet();
    assert.ok(pinned.files.has(F2));
    await m.removeSegmentForce(F2);
    assert.not.ok((await storage.list()).includes(segmentFileName(F2)));
    await m.release(pinned); // the forgotten segment is not deleted twice
    await m.removeSegment(12345 | 0x80000000); // unknown: ignored
    await m.close();
  });

  test('a zombie in no set stays on disk until removed; refresh never forgets files', async () => {
    const w = await Writer.open(storage, F1);
    w.append(1, utf8('x'));
    w.close();
    const m = await Manager.open(storage);
    m.markZombie(F1);
    assert.ok((await storage.list()).includes(segmentFileName(F1)));
    await m.removeSegment(F1);
    assert.not.ok((await storage.list()).includes(segmentFileName(F1)));
    await m.close();
  });

  test('setDisableReadChecksum applies to the manager now and to new sets only', async () => {
    const w = await Writer.open(storage, F1);
    const p = w.append(1, utf8('payload'));
    w.close();
    await patch(storage, F1, p.offset - 4 + HEADER_SIZE + 28, utf8('P'));
    const m = await Manager.open(storage);
    const checked = await m.currentSet();
    m.setDisableReadChecksum(true);
    const unchecked = await m.currentSet();
    assert.equal(m.read(p), utf8('Payload'));
    assert.equal(unchecked.read(p), utf8('Payload'));
    expectCode(() => checked.read(p), 'CORRUPT');
    await m.close();
  });

  test('pointer checks: hint mismatch, grouped/plain mismatch, sub-index >= K, offset < 4, unknown file', async () => {
    const w = await Writer.open(storage, F1);
    const g = w.appendFrame([{ rid: 1, value: utf8('a') }, { rid: 2, value: utf8('b') }]).ptrs;
    const legacyRecord = encodeRecord(0, 42n, utf8('legacy value'));
    const plain = w.appendRawRecord(legacyRecord, 16 + 12);
    w.close();
    const m = await Manager.open(storage);
    assert.equal(m.read(plain), utf8('legacy value'));
    assert.not.ok(isGroupedPtr(plain));
    for (const verify of [true, false]) {
      m.setDisableReadChecksum(!verify);
      expectCode(() => m.read({ ...g[0]!, length: markGrouped(ptrRecordLength(g[0]!) + 1, 0) }), 'CORRUPT');
      expectCode(() => m.read({ ...plain, length: markGrouped(0, 0) }), 'CORRUPT');
      expectCode(() => m.read({ ...g[0]!, length: 16 + 44 }), 'CORRUPT');
      expectCode(() => m.read({ ...g[0]!, length: markGrouped(0, 2) }), 'CORRUPT');
      expectCode(() => m.read({ ...g[0]!, offset: 3 }), 'CORRUPT');
      for (const tiny of [1, 5, 15]) expectCode(() => m.read({ ...g[0]!, length: markGrouped(tiny, 0) }), 'CORRUPT');
      expectCode(() => m.read({ ...plain, length: 7 }), 'CORRUPT');
    }
    expectCode(() => m.read({ ...g[0]!, fileId: encodeFileId(9, 9) }), 'NOT_FOUND');
    expectCode(() => m.read({ ...g[0]!, offset: 1 << 30 }), 'UNEXPECTED_EOF');
    expectCode(() => m.read({ ...g[0]!, offset: -1 }), 'INVALID_ARGUMENT');
    const entries = await readAll(storage, F1);
    assert.equal(entries[2], { rid: 42n, value: utf8('legacy value'), ptr: plain });
    await m.close();
  });

  test('appendRawRecord copies records between segments, keeping the pointer length', async () => {
    const w = await Writer.open(storage, F1);
    const src = w.appendFrame([{ rid: 1, value: utf8('copy me') }, { rid: 2, value: utf8('and me') }]).ptrs;
    w.close();
    const bytes = await fileBytes(storage, F1);
    const w2 = await Writer.open(storage, F2);
    w2.append(9, utf8('something first'));
    const copied = src.map((p) => w2.appendRawRecord(bytes, p.length));
    assert.is(copied[1]!.length, src[1]!.length);
    expectCode(() => w2.appendRawRecord(new Uint8Array(3), 0), 'INVALID_ARGUMENT');
    expectCode(() => w2.appendRawRecord(bytes, markGrouped(ptrRecordLength(src[0]!) + 1, 0)), 'INVALID_ARGUMENT');
    w2.close();
    const m = await Manager.open(storage);
    assert.equal(m.read(copied[0]!), utf8('copy me'));
    assert.equal(m.read(copied[1]!), utf8('and me'));
    await m.close();
  });

  test('rotation, reopening and appends: offsets keep growing; sizes and ids', async () => {
    const w = await Writer.open(storage, F1);
    w.append(1, utf8('a'));
    assert.is(w.size, 49);
    assert.is(w.pendingBytes, 49);
    w.flush();
    assert.is(w.pendingBytes, 0);
    await w.rotateTo(F2);
    assert.is(w.fileId, F2);
    assert.is(w.size, 0);
    w.append(2, utf8('b'));
    w.close();
    expectCode(() => w.append(3, utf8('c')), 'CLOSED');
    w.close(); // twice is fine
    const again = await Writer.open(storage, F1);
    assert.is(again.size, 49);
    const p = again.append(3, utf8('c'));
    assert.is(p.offset, 49 + 4);
    again.close();
    assert.equal((await readAll(storage, F1)).map((e) => e.rid), [1n, 3n]);
    assert.equal((await readAll(storage, F2)).map((e) => e.rid), [2n]);
    await expectCodeAsync(() => Writer.open(storage, 5), 'INVALID_ARGUMENT');
  });

  test('appends are coalesced: many small appends reach storage in few large writes', async () => {
    const w = await Writer.open(storage, F1, { bufferSize: 256 * 1024 });
    for (let i = 0; i < 20_000; i++) w.append(i + 1, docs[i % docs.length]!.subarray(0, 100));
    w.sync();
    const io = w.ioStats();
    const bytes = w.size;
    assert.ok(io.writes <= Math.ceil(bytes / (200 * 1024)) + 1, `${io.writes} writes for ${bytes} bytes`);
    assert.is(io.syncs, 1);
    w.close();
    assert.is((await readAll(storage, F1)).length, 20_000);
  });

  test('validateDicts with decoding disabled: values undefined, missing dictionaries fail fast', async () => {
    const w = await Writer.open(storage, F1);
    w.appendFrame(docs.slice(0, 4).map((value, i) => ({ rid: i + 1, value })), { dictId: 1, dict });
    w.close();
    const plain = await readAll(storage, F1, (r) => r.disableValueDecode());
    assert.equal(plain.map((e) => e.value), [undefined, undefined, undefined, undefined]);
    const r = await Reader.open(storage, F1);
    r.disableValueDecode();
    r.validateDicts();
    expectCode(() => r.next(), 'MISSING_DICT');
    r.close();
    const ok = await readAll(storage, F1, (x) => { x.disableValueDecode(); x.validateDicts(); x.setDictLookup(lookup); });
    assert.is(ok.length, 4);
  });

  test('template-encoded values decode on read, with the manager\'s shared definition cache', async () => {
    const def = encodeTemplateDefAnchors([utf8('{"name":"'), utf8('","age":')], crc32c);
    const tlookup = (id: bigint) => (id === 5n ? def : undefined);
    const w = await Writer.open(storage, F1);
    const ptrs = ['ann', 'bob', 'cy'].map((n, i) => w.append(i + 1, encodeTemplateValueAnchors(5, [utf8(''), utf8(n), utf8(`${30 + i}}`)])));
    w.close();
    const m = await Manager.open(storage);
    expectCode(() => { m.setTemplateLookup(undefined); m.setTemplateLookup(() => undefined, { defCacheSize: 4 }); m.read(ptrs[0]!); }, 'MISSING_TEMPLATE');
    m.setTemplateLookup(tlookup, { defCacheSize: 2 });
    assert.is(new TextDecoder().decode(m.read(ptrs[1]!)), '{"name":"bob","age":31}');
    assert.is(new TextDecoder().decode(m.read(ptrs[2]!)), '{"name":"cy","age":32}');
    assert.equal(m.templateDefCacheStats(), { hits: 1, misses: 1, entries: 1, capacity: 2 });
    const entries = await readAll(storage, F1, (r) => r.setTemplateLookup(tlookup));
    assert.is(new TextDecoder().decode(entries[0]!.value), '{"name":"ann","age":30}');
    await m.close();
  });

  test('a segment that appears later is found after refresh()', async () => {
    const m = await Manager.open(storage);
    const w = await Writer.open(storage, F1);
    const p = w.append(1, utf8('late'));
    w.close();
    expectCode(() => m.read(p), 'NOT_FOUND');
    await m.refresh();
    assert.equal(m.read(p), utf8('late'));
    await m.close();
    expectCode(() => m.read(p), 'CLOSED');
  });

  test.run();
}

// Sink-backed writers and virtual time.
const sinkTest = suite('sink-backed writer');
sinkTest('writes go to the sink on flush; sync is a no-op; close does not flush; rotateTo moves to storage', async () => {
  const clock = new VirtualClock(0n);
  const sink = new VirtualSink({ clock, nsPerByte: 2 });
  const w = Writer.fromSink(sink, F1);
  w.append(1, utf8('hello'));
  assert.is(sink.bytesWritten, 0);
  w.flush();
  assert.is(sink.bytesWritten, 53);
  assert.is(clock.now(), 106n);
  w.sync();
  w.append(2, utf8('lost on close'));
  const discard = Writer.fromSink(undefined, F1);
  discard.append(1, utf8('x'));
  discard.flush();
  const storage = new MemoryStorage();
  await w.rotateTo(F2, storage);
  assert.is(sink.bytesWritten, 53 + 61, 'rotateTo flushed the sink first');
  w.append(3, utf8('on storage'));
  w.close();
  assert.equal((await Reader.open(storage, F2)).next()!.value, utf8('on storage'));
  const w2 = Writer.fromSink(sink, F1);
  w2.append(1, utf8('never flushed'));
  w2.close();
  assert.is(sink.bytesWritten, 53 + 61);
});
sinkTest('virtual time with a step clock: a dictionary frame is attempted and kept with EncodeNs > 0', () => {
  let t = 0n;
  const w = Writer.fromSink(new VirtualSink(), F1);
  w.setClock({ now: () => (t += 1000n) });
  w.setEncodeSampleStride(1);
  const { stats } = w.appendFrame(docs.slice(0, 8).map((value, i) => ({ rid: i + 1, value })), { dictId: 1, dict });
  assert.ok(stats.attempted && stats.kept && stats.encodeNs > 0);
});
sinkTest('limits.maxRecordSize is enforced on write', () => {
  const w = Writer.fromSink(undefined, F1);
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = 1000;
    expectCode(() => w.append(1, new Uint8Array(1000)), 'RECORD_TOO_LARGE');
    w.append(1, new Uint8Array(1000 - 20 - 28));
  } finally {
    limits.maxRecordSize = saved;
  }
});

// The writer's raw-frame fast path (no dictionary, no block compression: numbers as RIDs without a
// BigInt, one CRC pass in the staging buffer) against an independent DataView/BigInt encoding of the
// same grouped record, and against the general path (the FramePreparer) for stats and errors.
function referenceRecord(records: readonly { rid: bigint | number; value: Uint8Array }[]): Uint8Array {
  const k = records.length;
  const raw = records.reduce((n, r) => n + r.value.length, 0);
  const body = 16 + 12 * k + raw;
  const out = new Uint8Array(HEADER_SIZE + body);
  const dv = new DataView(out.buffer);
  dv.setUint8(4, 1); // record version
  dv.setUint8(5, RECORD_FLAG_GROUPED);
  dv.setUint32(16, body, true);
  dv.setUint8(20, 1); // frame version; flags, reserved and dictId stay 0
  dv.setUint8(22, k);
  let p = 32;
  for (const r of records) (dv.setBigUint64(p, BigInt(r.rid), true), (p += 8));
  let off = 0;
  dv.setUint32(p, 0, true);
  for (const r of records) dv.setUint32((p += 4), (off += r.value.length), true);
  p += 4;
  for (const r of records) (out.set(r.value, p), (p += r.value.length));
  dv.setUint32(0, crc32c(out.subarray(4)), true);
  return out;
}

function capture(): { sink: { write(p: Uint8Array): number }; bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    sink: { write: (p) => (chunks.push(p.slice()), p.length) },
    bytes: () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) (out.set(c, at), (at += c.length));
      return out;
    },
  };
}

sinkTest('raw frames: the fast path writes the same bytes, pointers and stats as the reference and the general path', () => {
  const ridKinds: ((i: number) => bigint | number)[] = [
    (i) => i + 1,
    (i) => BigInt(i + 1),
    (i) => 2 ** 32 - 1 + i,
    (i) => Number.MAX_SAFE_INTEGER - i,
    (i) => 2n ** 53n + BigInt(i),
    (i) => 2n ** 64n - 1n - BigInt(i),
    (i) => (i % 2 ? 2n ** 63n + BigInt(i) : i * 0x10001 + 1),
  ];
  const sizes = [0, 1, 7, 100, 1024, 0, 4096, 3];
  const sets: { rid: bigint | number; value: Uint8Array }[][] = [];
  for (const k of [1, 2, 3, 8, 31, 64, 127, 128])
    for (const [j, rid] of ridKinds.entries()) sets.push(Array.from({ length: k }, (_, i) => ({ rid: rid(i), value: noise(sizes[(i + j) % sizes.length]!, k * 131 + i) })));
  sets.push([{ rid: 5, value: new Uint8Array(0) }]);
  sets.push([{ rid: 9, value: noise(70_000, 3) }]); // larger than the 64 KiB buffer: straight to the sink
  sets.push(Array.from({ length: 128 }, (_, i) => ({ rid: 2n ** 53n - 64n + BigInt(i), value: new Uint8Array(0) })));

  const fast = capture();
  const w = Writer.fromSink(fast.sink, F1, { bufferSize: 64 * 1024 });
  const viaPreparer = capture();
  const general = Writer.fromSink(viaPreparer.sink, F1, { bufferSize: 64 * 1024 });
  const preparer = new FramePreparer(true);
  const expected: Uint8Array[] = [];
  for (const [n, records] of sets.entries()) {
    const opts = n % 3 === 0 ? {} : n % 3 === 1 ? { dictId: 0 } : { dictId: 0n, dict: utf8('ignored without a dictionary id') };
    const start = w.size;
    const { ptrs, stats } = w.appendFrame(records, opts);
    const ref = referenceRecord(records);
    expected.push(ref);
    const parts = preparer.prepareParts(0, undefined, records);
    assert.equal(stats, parts.stats, `stats of set ${n}`);
    assert.equal(preparer.compressionHints(), { noBenefit: 0, skipRemain: 0, skipDictId: 0n });
    assert.is(w.size, start + ref.length);
    assert.equal(
      ptrs,
      records.map((_, i) => ({ offset: start + 4, length: groupedPtrLength(ref.length - 4, i), fileId: F1 })),
    );
    assert.equal(general.appendEncodedFrame(preparer.prepareFrame(0, undefined, records).body, records.length), ptrs);
    // encodeFrame + encodeRecord (the format functions) agree too.
    assert.equal(encodeRecord(RECORD_FLAG_GROUPED, 0n, encodeFrame(0, undefined, records).body), ref, `encodeFrame of set ${n}`);
  }
  w.flush();
  general.flush();
  const all = capture();
  for (const e of expected) all.sink.write(e);
  assert.equal(fast.bytes(), all.bytes());
  assert.equal(viaPreparer.bytes(), all.bytes());
  // One value per frame through append, as ValueLog and the benchmarks use it.
  const one = capture();
  const a = Writer.fromSink(one.sink, F1);
  a.append(2 ** 40 + 3, utf8('v'));
  a.append(7n, new Uint8Array(0));
  a.flush();
  const both = capture();
  both.sink.write(referenceRecord([{ rid: 2 ** 40 + 3, value: utf8('v') }]));
  both.sink.write(referenceRecord([{ rid: 7n, value: new Uint8Array(0) }]));
  assert.equal(one.bytes(), both.bytes());
});

sinkTest('raw frames: invalid records throw the same errors on the fast path and the general path, and write nothing', () => {
  const v = utf8('x');
  const cases: [string, unknown, string][] = [
    ['not an array', { rid: 1, value: v }, 'INVALID_ARGUMENT'],
    ['129 records', Array.from({ length: 129 }, (_, i) => ({ rid: i + 1, value: v })), 'RECORD_TOO_LARGE'],
    ['null record', [null], 'INVALID_ARGUMENT'],
    ['string value', [{ rid: 1, value: 'x' }], 'INVALID_ARGUMENT'],
    ['array value', [{ rid: 1, value: [1] }], 'INVALID_ARGUMENT'],
    ['rid 0', [{ rid: 0, value: v }], 'INVALID_ARGUMENT'],
    ['rid 0n', [{ rid: 2, value: v }, { rid: 0n, value: v }], 'INVALID_ARGUMENT'],
    ['rid -0', [{ rid: -0, value: v }], 'INVALID_ARGUMENT'],
    ['rid -1', [{ rid: -1, value: v }], 'INVALID_ARGUMENT'],
    ['rid -1n', [{ rid: -1n, value: v }], 'INVALID_ARGUMENT'],
    ['rid 2^53', [{ rid: 2 ** 53, value: v }], 'INVALID_ARGUMENT'],
    ['rid 2^64 as bigint', [{ rid: 2n ** 64n, value: v }], 'INVALID_ARGUMENT'],
    ['rid 1.5', [{ rid: 1.5, value: v }], 'INVALID_ARGUMENT'],
    ['rid NaN', [{ rid: NaN, value: v }], 'INVALID_ARGUMENT'],
    ['rid Infinity', [{ rid: Infinity, value: v }], 'INVALID_ARGUMENT'],
    ['rid string', [{ rid: '1', value: v }], 'INVALID_ARGUMENT'],
    ['rid missing', [{ value: v }], 'INVALID_ARGUMENT'],
  ];
  const fast = Writer.fromSink(undefined, F1);
  const general = Writer.fromSink(undefined, F1);
  general.setBlockCompression(BlockCodec.LZ4, true);
  const preparer = new FramePreparer(true);
  const check = (what: string, records: unknown, code: string) => {
    const a = expectCode(() => fast.appendFrame(records as never), code as never, what);
    const b = expectCode(() => general.appendFrame(records as never), code as never, what);
    const c = expectCode(() => preparer.prepareParts(0, undefined, records as never), code as never, what);
    assert.is(a.message, b.message, what);
    assert.is(a.message, c.message, what);
  };
  for (const [what, records, code] of cases) check(what, records, code);
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = 1000;
    check('payload above the limit', [{ rid: 1, value: new Uint8Array(1001) }], 'RECORD_TOO_LARGE');
    check('body above the limit', Array.from({ length: 9 }, (_, i) => ({ rid: i + 1, value: new Uint8Array(100) })), 'RECORD_TOO_LARGE');
  } finally {
    limits.maxRecordSize = saved;
  }
  assert.is(fast.size, 0);
  assert.is(general.size, 0);
  assert.equal(fast.appendFrame([]), { ptrs: [], stats: { records: 0, rawPayloadBytes: 0, storedPayloadBytes: 0, attempted: false, kept: false, encodeNs: 0 } });
});
sinkTest.run();

function mkFile(n: number): Uint8Array {
  return new Uint8Array(n).fill(0x5a);
}
