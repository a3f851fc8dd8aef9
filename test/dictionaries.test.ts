// The dictionary store and the dictionary modes of the facade ('zstd-dict', 'auto'), through the
// public API on MemoryStorage (no node:* imports: this file also runs in the browser tier). The
// NodeStorage and CLI cases are in cli.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeDictFile,
  DICT_FILE_HEADER_SIZE,
  DICT_HIGHWATER_NAME,
  dictFileName,
  encodeDictFile,
  init,
  MemoryStorage,
  parseDictFileName,
  Reader,
  segmentFileName,
  ValueLog,
  zstdDictionaryId,
  type StorageBackend,
  type ValueLogOptions,
  type ValuePtr,
} from '../src/index.js';
import { expectCode, expectCodeAsync, hex, jsonDocs, noise, readFile, utf8, writeFile } from './helpers.js';

await init();

const test = suite('dictionaries');

/** Small dictionaries and thresholds so that tests stay quick. */
const DICT: ValueLogOptions['dictionary'] = { size: 8 * 1024, trainAfterBytes: 0 };
const docs = jsonDocs(3000, 300, 11);

async function dictFiles(storage: StorageBackend): Promise<string[]> {
  return (await storage.list()).filter((n) => parseDictFileName(n) !== undefined).sort();
}

/** Frames with a dictionary id, by id, found by scanning every segment (value decoding off). */
async function framesByDict(storage: StorageBackend): Promise<Map<bigint, number>> {
  const out = new Map<bigint, number>();
  for (const name of await storage.list()) {
    if (!name.endsWith('.log')) continue;
    const f = await storage.open(name, { readOnly: true });
    const bytes = new Uint8Array(f.size());
    f.read(bytes, 0);
    f.close();
    const dv = new DataView(bytes.buffer);
    for (let at = 0; at + 20 <= bytes.length; at += 20 + dv.getUint32(at + 16, true)) {
      const compressed = (bytes[at + 20 + 1]! & 1) === 1;
      const id = dv.getBigUint64(at + 20 + 4, true);
      if (compressed && id !== 0n) out.set(id, (out.get(id) ?? 0) + 1);
    }
  }
  return out;
}

test('golden layout of a dictionary file and its name', () => {
  const file = encodeDictFile(1n, utf8('123456789'));
  assert.is(
    hex(file),
    '564c5a44' + // magic "VLZD"
      '01000000' + // version 1, three reserved zero bytes
      '0100000000000000' + // dictionary id 1, u64 little-endian
      '09000000' + // length 9, u32 little-endian
      '839206e3' + // CRC-32C of "123456789" (the check value 0xE3069283), little-endian
      '1cd0d683' + // CRC-32C of the 24 bytes before it
      hex(utf8('123456789')),
  );
  assert.is(DICT_FILE_HEADER_SIZE, 28);
  assert.equal(decodeDictFile(file, 1n), utf8('123456789'));
  expectCode(() => decodeDictFile(file, 2n), 'CORRUPT', 'the id in the name must match');
  for (const at of [0, 4, 5, 9, 16, 21, 26, 30]) {
    const bad = file.slice();
    bad[at]! ^= 0x01;
    expectCode(() => decodeDictFile(bad, 1n), 'CORRUPT', `a flipped bit at ${at}`);
  }
  expectCode(() => decodeDictFile(file.subarray(0, file.length - 1), 1n), 'CORRUPT', 'torn');
  expectCode(() => decodeDictFile(new Uint8Array([...file, 0]), 1n), 'CORRUPT', 'trailing bytes');
  assert.is(dictFileName(1), 'dict-0000000001.zdict');
  assert.is(dictFileName(0xffffffffn), 'dict-4294967295.zdict');
  assert.is(parseDictFileName('dict-0000000042.zdict'), 42n);
  for (const n of ['dict-0.zdict', 'dict-4294967296.zdict', 'dict-1.zdict.tmp', 'value-l0-000001.log', DICT_HIGHWATER_NAME]) assert.is(parseDictFileName(n), undefined, n);
  expectCode(() => dictFileName(0), 'INVALID_ARGUMENT');
  expectCode(() => encodeDictFile(1n, new Uint8Array(0)), 'INVALID_ARGUMENT');
});

test('zstd-dict: values before and after training round-trip; reopen reloads the dictionaries', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  const early = log.putMany(docs.slice(0, 500));
  assert.is(log.stats().dictionaries.current, undefined);
  assert.ok(log.stats().compression.frames.lz4 > 0, 'LZ4 until there is a dictionary');
  const id = await log.trainDictionary();
  assert.is(id, 1n);
  const late = log.putMany(docs.slice(500, 1500));
  await log.commit();
  const s = log.stats();
  assert.is(s.dictionaries.current, 1);
  assert.is(JSON.parse(JSON.stringify(s)).dictionaries.dictionaries[0].id, 1, 'stats() is JSON-serialisable, ids as numbers');
  assert.is(s.dictionaries.trainedOnRequest, 1);
  assert.ok(s.compression.frames['zstd-dict'] > 0);
  const info = s.dictionaries.dictionaries;
  assert.is(info.length, 1);
  assert.is(info[0]!.file, 'dict-0000000001.zdict');
  assert.ok(info[0]!.bytes > 1000 && info[0]!.bytes <= 8 * 1024, `${info[0]!.bytes} bytes`);
  assert.is(info[0]!.values, s.compression.values['zstd-dict']);
  const ptrs = [...early, ...late];
  ptrs.forEach((p, i) => assert.equal(log.get(p), docs[i]));
  await log.close();

  // The file holds the dictionary the log used (trained under id 1: the zstd header says so too).
  const file = await readFile(storage, dictFileName(1));
  assert.is(zstdDictionaryId(decodeDictFile(file, 1n)), 1);
  assert.equal(await framesByDict(storage), new Map([[1n, s.compression.frames['zstd-dict']]]));

  // Reopened with any compression, every value reads; in zstd-dict mode the dictionary is current again.
  for (const compression of ['none', 'zstd-dict'] as const) {
    const again = await ValueLog.open(storage, { compression, dictionary: DICT });
    ptrs.forEach((p, i) => assert.equal(again.get(p), docs[i], `${compression} ${i}`));
    const snap = await again.snapshot();
    assert.equal(snap.get(late[7]!), docs[507]);
    await snap.release();
    assert.is(again.stats().dictionaries.current, 1);
    if (compression === 'zstd-dict') {
      const more = again.putMany(docs.slice(1500, 1700));
      assert.ok(again.stats().compression.frames['zstd-dict'] > 0 && again.stats().compression.frames.lz4 === 0, 'the reloaded dictionary is used at once');
      more.forEach((p, i) => assert.equal(again.get(p), docs[1500 + i]));
    }
    await again.close();
  }
});

test('zstd-dict: a dictionary is trained by policy and improves the ratio on JSON documents', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: { size: 8 * 1024, trainAfterBytes: 128 * 1024, sampleBytes: 256 * 1024 } });
  const ptrs: ValuePtr[] = [];
  let i = 0;
  // Below the threshold nothing is trained, however long we wait.
  while (i < 300) ptrs.push(...log.putMany(docs.slice(i, (i += 50))));
  await log.idle();
  assert.is(log.stats().dictionaries.current, undefined);
  assert.is(log.stats().dictionaries.trainedByPolicy, 0);
  while (i < 600) ptrs.push(...log.putMany(docs.slice(i, (i += 50))));
  await log.idle();
  const before = log.stats();
  assert.is(before.dictionaries.trainedByPolicy, 1, before.dictionaries.lastTrainingError ?? '');
  assert.is(before.dictionaries.current, 1);
  assert.ok(before.dictionaries.sampleBytes <= 256 * 1024, 'the sample stays within its bound');
  while (i < 2400) ptrs.push(...log.putMany(docs.slice(i, (i += 50))));
  await log.commit();
  const after = log.stats();
  const ratioLz4 = before.compression.storedBytes / before.compression.rawBytes;
  const ratioDict = (after.compression.storedBytes - before.compression.storedBytes) / (after.compression.rawBytes - before.compression.rawBytes);
  assert.ok(ratioDict < ratioLz4 * 0.8, `with the dictionary ${ratioDict.toFixed(3)}, LZ4 before it ${ratioLz4.toFixed(3)}`);
  assert.is(after.dictionaries.trainedByPolicy, 1, 'trained once: later dictionaries come on request');
  ptrs.forEach((p, j) => assert.equal(log.get(p), docs[j]));
  await log.close();
});

test('trainDictionary: given samples, too few samples, and the same content is not stored twice', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  await expectCodeAsync(() => log.trainDictionary(), 'INVALID_ARGUMENT', 'no values yet');
  await expectCodeAsync(() => log.trainDictionary({ samples: docs.slice(0, 3) }), 'INVALID_ARGUMENT');
  const a = await log.trainDictionary({ samples: docs.slice(0, 400) });
  const b = await log.trainDictionary({ samples: docs.slice(0, 400) });
  assert.is(a, 1n);
  assert.is(b, a, 'same samples: same content, same id');
  assert.equal(await dictFiles(storage), ['dict-0000000001.zdict']);
  const c = await log.trainDictionary({ samples: docs.slice(400, 800), size: 4096 });
  assert.is(c, 2n, 'the next id: nothing was stored for the duplicate');
  assert.is(log.stats().dictionaries.current, 2);
  assert.ok(log.stats().dictionaries.dictionaries.find((d) => d.id === 2)!.bytes <= 4096);
  await log.close();
});

test('ids are never reused: strictly increasing across reopens, even when files disappear', async () => {
  const storage = new MemoryStorage();
  const ids: bigint[] = [];
  let ptr: ValuePtr | undefined;
  for (let round = 0; round < 3; round++) {
    const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
    ids.push(await log.trainDictionary({ samples: docs.slice(round * 300, round * 300 + 300) }));
    ids.push(await log.trainDictionary({ samples: docs.slice(1000 + round * 300, 1000 + round * 300 + 300) }));
    ptr = log.put(docs[2999]!);
    await log.close();
  }
  assert.equal(ids, [1n, 2n, 3n, 4n, 5n, 6n]);
  // The newest dictionary's file is deleted behind the store's back: its id does not come back,
  // and the value compressed with it fails with MISSING_DICT naming the id, never other bytes.
  await storage.remove(dictFileName(6));
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  assert.is(log.stats().dictionaries.current, 5);
  const err = expectCode(() => log.get(ptr!), 'MISSING_DICT');
  assert.match(err.message, /dictionary 6\b/);
  assert.is(await log.trainDictionary({ samples: docs.slice(2000, 2400) }), 7n);
  await log.close();
  // Even without the high-water file, ids continue above the highest file.
  await storage.remove(DICT_HIGHWATER_NAME);
  const again = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  assert.is(await again.trainDictionary({ samples: docs.slice(2400, 2800) }), 8n);
  await again.close();
});

test('a damaged or torn dictionary file is reported and never used; its frames fail, its id stays taken', async () => {
  for (const damage of ['flip', 'torn'] as const) {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
    await log.trainDictionary({ samples: docs.slice(0, 400) });
    const ptrs = log.putMany(docs.slice(400, 800));
    await log.close();
    const name = dictFileName(1);
    const file = await readFile(storage, name);
    if (damage === 'flip') file[DICT_FILE_HEADER_SIZE + 100]! ^= 0x40;
    await writeFile(storage, name, damage === 'flip' ? file : file.subarray(0, file.length >> 1));

    const again = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
    const s = again.stats().dictionaries;
    assert.is(s.current, undefined, `${damage}: not used`);
    assert.is(s.damaged.length, 1);
    assert.is(s.damaged[0]!.file, name);
    assert.is(s.damaged[0]!.id, 1);
    assert.match(s.damaged[0]!.reason, /checksum|declares/);
    for (const p of ptrs.slice(0, 20)) {
      const err = expectCode(() => again.get(p), 'CORRUPT', `${damage}: a frame that needs the damaged dictionary`);
      assert.match(err.message, /dictionary 1 \(dict-0000000001\.zdict\) is damaged/);
    }
    assert.is(await again.trainDictionary({ samples: docs.slice(0, 400) }), 2n, 'the damaged id stays taken');
    assert.ok((await storage.list()).includes(name), 'the damaged file is kept');
    await again.close();
  }
});

test('a crash while a dictionary was being written leaves a torn file that is ignored', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  await log.trainDictionary({ samples: docs.slice(0, 400) });
  const ptrs = log.putMany(docs.slice(400, 600));
  await log.close();
  // What a crash during the next dictionary's write leaves: the high-water mark already at 2, and
  // only the first bytes of dict 2.
  const whole = encodeDictFile(2n, (await readFile(storage, dictFileName(1))).subarray(DICT_FILE_HEADER_SIZE));
  await writeFile(storage, dictFileName(2), whole.subarray(0, 40));
  const again = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  assert.is(again.stats().dictionaries.current, 1, 'the sound dictionary stays current');
  assert.equal(again.stats().dictionaries.damaged.map((d) => d.id), [2]);
  ptrs.forEach((p, i) => assert.equal(again.get(p), docs[400 + i]));
  assert.is(await again.trainDictionary({ samples: docs.slice(1000, 1400) }), 3n);
  await again.close();
});

test("auto: incompressible noise is stored raw and trains nothing; JSON trains a dictionary and uses it", async () => {
  const opts: ValueLogOptions = { compression: 'auto', dictionary: { size: 8 * 1024, trainAfterBytes: 64 * 1024 } };
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, opts);
  const values = Array.from({ length: 600 }, (_, i) => noise(200 + (i % 300), i + 1));
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < values.length; i += 20) {
    ptrs.push(...log.putMany(values.slice(i, i + 20)));
    await log.idle();
  }
  let s = log.stats();
  assert.is(s.dictionaries.trainedByPolicy, 0, 'no dictionary for noise');
  assert.is(s.compression.frames['zstd-dict'] + s.compression.frames.lz4, 0, JSON.stringify(s.compression.frames));
  assert.ok(s.compression.frames.none > 0);
  assert.ok(s.compression.storedBytes === s.compression.rawBytes);
  ptrs.forEach((p, i) => assert.equal(log.get(p), values[i]));
  await log.close();

  const json = await ValueLog.open(new MemoryStorage(), opts);
  const jptrs: ValuePtr[] = [];
  for (let i = 0; i < 2000; i += 50) {
    jptrs.push(...json.putMany(docs.slice(i, i + 50)));
    await json.idle();
  }
  s = json.stats();
  assert.is(s.dictionaries.trainedByPolicy, 1, s.dictionaries.lastTrainingError ?? '');
  assert.ok(s.compression.frames.lz4 > 0, 'LZ4 before the dictionary');
  assert.ok(s.compression.frames['zstd-dict'] > s.compression.frames.lz4, JSON.stringify(s.compression.frames));
  const r = s.compression.autoRatios!;
  assert.ok(r.zstdDict! < r.lz4!, `zstd-dict ${r.zstdDict} vs lz4 ${r.lz4}: both observed (probes)`);
  assert.ok(s.compression.storedBytes < s.compression.rawBytes / 3);
  jptrs.forEach((p, i) => assert.equal(json.get(p), docs[i]));
  await json.close();
});

test('compaction keeps dictionary frames readable: raw copies keep their dictionary, re-framed values use the current one', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT, segmentSize: 64 * 1024 });
  const first = await log.trainDictionary({ samples: docs.slice(2000, 2400) });
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < 1200; i += 40) {
    ptrs.push(...log.putMany(docs.slice(i, i + 40)));
    await log.commit(); // lets the next segment open in the background
  }
  const second = await log.trainDictionary({ samples: docs.slice(2400, 2800) });
  assert.ok(second > first);
  const snap = await log.snapshot();
  // Kill every third value of the first 300: their frames are re-framed; the rest of the first
  // segment's frames are wholly live and copied byte for byte.
  const dead = new Set<number>();
  for (let i = 0; i < 300; i += 3) dead.add(i);
  log.markDead([...dead].map((i) => ptrs[i]!));
  const remap = await log.compact({ minGarbageRatio: 0 });
  assert.ok(remap.compactedSegments.length >= 1);
  const live = ptrs.map((p, i) => [p, i] as const).filter(([, i]) => !dead.has(i));
  let moved = 0;
  for (const [p, i] of live) {
    const q = remap.get(p);
    if (q) moved++;
    assert.equal(log.get(q ?? p), docs[i], `value ${i}`);
    assert.equal(snap.get(p), docs[i], `value ${i} through the snapshot taken before compaction`);
  }
  assert.ok(moved > 0);
  await snap.release();
  // The frames the moved values now live in: raw copies still name the first dictionary,
  // re-framed ones the second (current) one.
  const movedDicts = new Set<bigint>();
  for (const [, q] of remap) {
    const f = await storage.open(segmentFileName(q.fileId), { readOnly: true });
    const head = new Uint8Array(12);
    f.read(head, q.offset - 4 + 20);
    f.close();
    if ((head[1]! & 1) === 1) movedDicts.add(new DataView(head.buffer).getBigUint64(4, true));
  }
  assert.equal([...movedDicts].sort(), [first, second]);
  await log.close();
  const again = await ValueLog.open(storage);
  for (const [p, i] of live) assert.equal(again.get(remap.get(p) ?? p), docs[i]);
  await again.close();
});

test('a scan through Reader needs the store lookup; without it, MISSING_DICT', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: DICT });
  await log.trainDictionary({ samples: docs.slice(0, 400) });
  log.putMany(docs.slice(0, 200));
  const fileId = log.stats().segments[0]!.fileId;
  await log.close();
  const r = await Reader.open(storage, fileId);
  expectCode(() => r.next(), 'MISSING_DICT');
  r.close();
  assert.ok((await storage.list()).includes(segmentFileName(fileId)));
});

/** Frames (values per frame) the greedy rule makes of `values`: fill up to `limit` raw bytes, at least one, at most 128. */
function greedyFrames(values: Uint8Array[], limit: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; ) {
    let k = 1;
    let bytes = values[i]!.length;
    while (i + k < values.length && k < 128 && bytes + values[i + k]!.length <= limit) bytes += values[i + k++]!.length;
    out.push(k);
    i += k;
  }
  return out;
}

test('zstd-dict: once there is a dictionary, frames hold up to dictionary.frameBytes of values', async () => {
  const some = docs.slice(0, 100);
  for (const frameBytes of [1, 1000, 2048, 4096, undefined]) {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage, { compression: 'zstd-dict', dictionary: { ...DICT, ...(frameBytes === undefined ? {} : { frameBytes }) } });
    // No dictionary yet: LZ4 frames sized by ratio, whatever frameBytes says.
    log.putMany(some);
    const lz4 = log.stats().compression.frames.lz4;
    assert.ok(lz4 > 0 && lz4 < 100, `${lz4} LZ4 frames`);
    await log.trainDictionary({ samples: docs.slice(1000, 2000) });
    const before = log.stats().compression;
    const ptrs = log.putMany(some);
    const st = log.stats().compression;
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const expected = greedyFrames(some, frameBytes ?? 2048); // the default is 2 KiB
    assert.is(sum(st.frames) - sum(before.frames), expected.length, `frameBytes ${frameBytes}: frames`);
    assert.is(st.frames.lz4, before.frames.lz4, 'no LZ4 frame once there is a dictionary');
    if (frameBytes === 1) assert.is(st.frames['zstd-dict'] - before.frames['zstd-dict'], 100, 'a value per frame, each compressed with the dictionary');
    await log.commit();
    ptrs.forEach((p, i) => assert.equal(log.get(p), some[i]));
    await log.close();
    const again = await ValueLog.open(storage, { readOnly: true });
    ptrs.forEach((p, i) => assert.equal(again.get(p), some[i]));
    await again.close();
  }
});

test('options are validated', async () => {
  for (const dictionary of [{ size: 10 }, { sampleBytes: 5 }, { trainAfterBytes: -1 }, { level: 40 }, { frameBytes: 0 }, { frameBytes: 1.5 }, { frameBytes: '4096' as unknown as number }, { frameBytes: 512 * 1024 * 1024 }]) {
    await expectCodeAsync(() => ValueLog.open(new MemoryStorage(), { compression: 'zstd-dict', dictionary }), 'INVALID_ARGUMENT', JSON.stringify(dictionary));
  }
});

test.run();
