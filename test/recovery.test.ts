// Recovery destroys only what a crash can leave, and reads never return other bytes: torn tails of
// every shape are cut and the lane continues in a fresh segment; foreign bytes, damage and I/O errors
// are refused and leave the files as they were; limits never truncate; a forged pointer fails warm as
// it does cold; two names for one segment are refused; markDead takes only committed values of this log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encodeFileId,
  encodeRecord,
  init,
  limits,
  Manager,
  markGrouped,
  MemoryStorage,
  ptrRecordLength,
  ptrSubIndex,
  RECORD_FLAG_GROUPED,
  segmentFileName,
  ValueLog,
  ValueLogError,
  type OpenOptions,
  type StorageBackend,
  type ValuePtr,
} from '../src/index.js';
import { encodeFrame } from '../src/format/frame.js';
import { recoverLanes, recoverSegment } from '../src/recovery.js';
import type { StorageLock } from '../src/storage/types.js';
import { expectCode, expectCodeAsync, hex, noise, readFile, unhex, utf8, writeFile } from './helpers.js';

await init();

const test = suite('recovery');
const F1 = encodeFileId(0, 1);
const F2 = encodeFileId(0, 2);
const F3 = encodeFileId(0, 3);

async function append(storage: StorageBackend, fileId: number, bytes: Uint8Array): Promise<void> {
  const f = await storage.open(segmentFileName(fileId));
  f.write(bytes, f.size());
  f.close();
}

/** Every file of a storage, name → bytes (to prove a refused open changed nothing). */
async function snapshotFiles(storage: StorageBackend): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await storage.list()) out[name] = hex(await readFile(storage, name));
  return out;
}

/** A new MemoryStorage holding what `storage` has on disk now (what a power cut would keep). */
async function copyStorage(storage: StorageBackend, into: MemoryStorage = new MemoryStorage()): Promise<MemoryStorage> {
  for (const name of await storage.list()) await writeFile(into, name, await readFile(storage, name));
  return into;
}

/** A log with committed values in segment 1 of lane 0, closed. */
async function committedLog(storage: StorageBackend, n = 30): Promise<{ ptrs: ValuePtr[]; values: Uint8Array[]; size: number }> {
  const log = await ValueLog.open(storage);
  const values = Array.from({ length: n }, (_, i) => utf8(`committed value ${i}`));
  const ptrs = log.putMany(values);
  ptrs.push(log.put(noise(3000, 9)));
  values.push(noise(3000, 9));
  await log.close();
  return { ptrs, values, size: (await readFile(storage, segmentFileName(F1))).length };
}

/** MemoryStorage whose reads fail at chosen call numbers (counted over every file). */
class FailingReads extends MemoryStorage {
  reads = 0;
  failAt = -1;
  /** How the chosen read fails: a ValueLogError IO, a backend's plain Error, or fewer bytes than asked. */
  mode: 'io' | 'plain' | 'short' | 'flip' = 'io';
  override async open(name: string, opts?: OpenOptions) {
    const f = await super.open(name, opts);
    const read = f.read.bind(f);
    f.read = (dst: Uint8Array, at: number): number => {
      if (++this.reads === this.failAt) {
        if (this.mode === 'plain') throw new Error('EIO: input/output error');
        if (this.mode === 'io') throw new ValueLogError('IO', `valuelog: read ${name}: EIO (injected)`);
        if (this.mode === 'flip') {
          const n = read(dst, at);
          if (n > 0) dst[n - 1]! ^= 0x04; // the last byte this read returned: the file is untouched
          return n;
        }
        return read(dst.subarray(0, dst.length >> 1), at);
      }
      return read(dst, at);
    };
    return f;
  }
}

/** MemoryStorage with a directory lock that says the previous owner died without closing. */
class TakenOver extends MemoryStorage {
  released = 0;
  override async lock(): Promise<StorageLock> {
    return { holder: 'test', tookOver: true, release: async () => void this.released++ };
  }
}

test('an I/O error at any read of the recovery scan rejects open with IO and leaves every file as it was (a short read is completed)', async () => {
  for (const mode of ['io', 'plain', 'short'] as const) {
    for (const torn of [false, true]) {
      const storage = new FailingReads();
      await committedLog(storage);
      if (torn) await append(storage, F1, encodeRecord(0, 99n, utf8('torn record being written')).subarray(0, 25));
      const before = await snapshotFiles(storage);
      storage.reads = 0;
      const clean = await ValueLog.open(storage);
      await clean.close();
      const reads = storage.reads;
      assert.ok(reads >= 1, 'open reads the segment');
      // Put the torn tail back (the clean open cut it) and fail each read in turn.
      for (const [name, h] of Object.entries(before)) await writeFile(storage, name, unhex(h));
      for (const name of await storage.list()) if (!(name in before)) await storage.remove(name);
      for (let k = 1; k <= reads; k++) {
        storage.reads = 0;
        storage.failAt = k;
        storage.mode = mode;
        if (mode === 'short') {
          // A short read before the end of a file is completed by the checked storage wrapper: the
          // open goes on as if nothing happened, and truncates at most the torn tail.
          const log = await ValueLog.open(storage);
          await log.close();
          for (const [name, h] of Object.entries(before)) await writeFile(storage, name, unhex(h));
          for (const name of await storage.list()) if (!(name in before)) await storage.remove(name);
          continue;
        }
        const err = await expectCodeAsync(() => ValueLog.open(storage), 'IO', `${mode}: read ${k} of ${reads}, torn ${torn}`);
        assert.match(err.message, 'EIO');
        assert.equal(await snapshotFiles(storage), before, `read ${k}: nothing truncated or created`);
      }
      storage.failAt = -1;
    }
  }
});

test('a bit flipped by one read during recovery never truncates: the open fails or goes on, every committed value stays', async () => {
  const storage = new FailingReads();
  const { ptrs, values } = await committedLog(storage);
  const before = await snapshotFiles(storage);
  storage.reads = 0;
  await (await ValueLog.open(storage)).close();
  const reads = storage.reads;
  for (const [name, h] of Object.entries(before)) await writeFile(storage, name, unhex(h));
  let refused = 0;
  for (let k = 1; k <= reads + 2; k++) {
    storage.reads = 0;
    storage.failAt = k;
    storage.mode = 'flip';
    try {
      const log = await ValueLog.open(storage);
      await log.close();
    } catch (e) {
      assert.ok(e instanceof ValueLogError && (e.code === 'IO' || e.code === 'CORRUPT'), `read ${k}: ${String(e)}`);
      refused++;
    }
    storage.failAt = -1;
    const segs = Object.keys(before).filter((n) => n.endsWith('.log'));
    for (const n of segs) assert.is(hex(await readFile(storage, n)).startsWith(before[n]!), true, `read ${k}: ${n} not truncated`);
    const log = await ValueLog.open(storage);
    ptrs.forEach((p, i) => assert.equal(log.get(p), values[i], `read ${k}: value ${i}`));
    await log.close();
  }
  assert.ok(refused > 0, 'some flipped reads were noticed');
});

test('torn tails of every shape are cut, reported, and the lane continues in a fresh segment', async () => {
  const frame = encodeFrame(0, undefined, [{ rid: 91n, value: utf8('one') }, { rid: 92n, value: noise(400, 3) }]).body;
  const grouped = encodeRecord(RECORD_FLAG_GROUPED, 0n, frame);
  const plain = encodeRecord(0, 77n, noise(600, 4));
  const flip = (r: Uint8Array, at: number) => r.map((b, i) => (i === at ? b ^ 0x10 : b));
  const zeros = (n: number) => new Uint8Array(n);
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) (out.set(p, at), (at += p.length));
    return out;
  };
  const shapes: Array<[string, Uint8Array]> = [
    ['3 bytes of a header (before its version byte)', plain.subarray(0, 3)],
    ['a partial header', plain.subarray(0, 11)],
    ['a partial header followed by zeros', cat(plain.subarray(0, 11), zeros(3000))],
    ['a header and part of the payload', plain.subarray(0, 300)],
    ['part of a grouped record followed by zeros', cat(grouped.subarray(0, 70), zeros(100))],
    ['a whole record whose checksum fails', flip(plain, 200)],
    ['a whole grouped record whose checksum fails, then zeros', cat(flip(grouped, 40), zeros(64))],
    ['a record whose payload has a zero hole', cat(plain.subarray(0, 100), zeros(200), plain.subarray(300))],
    ['zeros', zeros(4096)],
  ];
  for (const [shape, tail] of shapes) {
    const storage = new MemoryStorage();
    const { ptrs, values, size } = await committedLog(storage);
    await append(storage, F1, tail);
    const log = await ValueLog.open(storage);
    const r = log.stats().recovered;
    assert.equal(r.map((x) => ({ ...x, maxRid: '0' })), [{ segment: segmentFileName(F1), fileId: F1, validBytes: size, droppedBytes: tail.length, droppedRecords: 1, maxRid: '0' }], shape);
    assert.is((await readFile(storage, segmentFileName(F1))).length, size, shape);
    ptrs.forEach((p, i) => assert.equal(log.get(p), values[i], shape));
    const next = log.put(utf8('after recovery'));
    assert.equal([next.fileId, next.offset], [F2, 4], `${shape}: writing continues in a fresh segment`);
    await log.close();
    const again = await ValueLog.open(storage);
    assert.equal(again.stats().recovered, [], `${shape}: clean after recovery`);
    assert.equal(again.get(next), utf8('after recovery'));
    await again.close();
  }
});

test('bytes a crash cannot leave are refused with CORRUPT naming file and offset, and left byte for byte', async () => {
  const plain = encodeRecord(0, 77n, noise(600, 4));
  const badFrame = encodeRecord(RECORD_FLAG_GROUPED, 0n, noise(64, 5)); // checksum-valid, frame garbage
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['a header with version 9 followed by non-zero bytes', plain.map((b, i) => (i === 4 ? 9 : b)), /version 9/],
    ['a header with unknown flags', plain.map((b, i) => (i === 5 ? 0x82 : b)), /flags/],
    ['non-zero bytes after a whole record whose checksum fails', (() => {
      const b = new Uint8Array(plain.length + 10);
      b.set(plain.map((x, i) => (i === 100 ? x ^ 1 : x)));
      b.fill(0xee, plain.length);
      return b;
    })(), /non-zero bytes follow/],
    ['a checksum-valid record with a malformed frame', badFrame, /malformed/],
  ];
  for (const [what, tail, why] of cases) {
    const storage = new MemoryStorage();
    const { size } = await committedLog(storage);
    await append(storage, F1, tail);
    const before = await snapshotFiles(storage);
    const err = await expectCodeAsync(() => ValueLog.open(storage), 'CORRUPT', what);
    assert.match(err.message, segmentFileName(F1), what);
    assert.match(err.message, `offset ${size}`, what);
    assert.match(err.message, why, what);
    assert.equal(await snapshotFiles(storage), before, `${what}: nothing truncated or created`);
    const salvaged = await ValueLog.open(storage, { salvage: true });
    assert.equal(salvaged.stats().recovered.map((r) => r.validBytes), [size], `${what}: salvage cuts at the damage`);
    await salvaged.close();
  }
});

test('a 5,000-byte foreign file named like a segment is refused and left byte-identical', async () => {
  const storage = new MemoryStorage();
  const foreign = utf8('not a value log segment, but an unrelated file of text\n'.repeat(100)).subarray(0, 5000);
  await writeFile(storage, segmentFileName(F1), foreign);
  const err = await expectCodeAsync(() => ValueLog.open(storage), 'CORRUPT');
  assert.match(err.message, segmentFileName(F1));
  assert.match(err.message, 'offset 0');
  assert.equal(await storage.list(), [segmentFileName(F1)], 'nothing created');
  assert.equal(hex(await readFile(storage, segmentFileName(F1))), hex(foreign));
  // Random bytes too (a valid-looking record inside them would also be a refusal).
  const noiseFile = new MemoryStorage();
  await writeFile(noiseFile, segmentFileName(F1), noise(5000, 77));
  await expectCodeAsync(() => ValueLog.open(noiseFile), 'CORRUPT');
  assert.equal(hex(await readFile(noiseFile, segmentFileName(F1))), hex(noise(5000, 77)));
});

test('a lowered limits.maxRecordSize never truncates a larger committed record', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const small = log.put(utf8('small'));
  const big = log.put(noise(200_000, 6));
  const after = log.put(utf8('after the big one'));
  await log.close();
  const size = (await readFile(storage, segmentFileName(F1))).length;
  const saved = limits.maxRecordSize;
  limits.maxRecordSize = 64 * 1024;
  try {
    const again = await ValueLog.open(storage);
    assert.equal(again.stats().recovered, [], 'nothing recovered');
    assert.is((await readFile(storage, segmentFileName(F1))).length, size, 'nothing truncated');
    assert.equal(again.get(small), utf8('small'));
    expectCode(() => again.get(big), 'RECORD_TOO_LARGE', 'the limit applies to reads');
    assert.equal(again.get(after), utf8('after the big one'));
    const next = again.put(utf8('next'));
    assert.is(next.fileId, F1, 'a clean segment is continued');
    await again.close();
  } finally {
    limits.maxRecordSize = saved;
  }
  const restored = await ValueLog.open(storage);
  assert.equal(restored.get(big), noise(200_000, 6));
  await restored.close();
});

test('a forged pointer fails the same way whether its frame is cached or not', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const ptrs = log.putMany(Array.from({ length: 8 }, (_, i) => utf8(`framed value ${i}`)));
  const other = log.putMany(Array.from({ length: 8 }, (_, i) => utf8(`next frame ${i}`)));
  await log.commit();
  const p = ptrs[3]!;
  assert.ok(ptrSubIndex(p) === 3 && ptrRecordLength(p) > 16, 'values share a grouped record');
  const forged = [
    { ...p, length: markGrouped(ptrRecordLength(p) + 8, 3) }, // wrong record length
    { ...p, length: markGrouped(ptrRecordLength(p) - 1, 3) },
    { ...p, length: markGrouped(ptrRecordLength(p), 9) }, // sub-index beyond K
  ];
  await log.close();
  for (const f of forged) {
    const cold = await ValueLog.open(storage);
    const coldErr = expectCode(() => cold.get(f), 'CORRUPT', 'cold');
    assert.equal(cold.get(p), utf8('framed value 3'), 'the genuine pointer warms the cache');
    const warmErr = expectCode(() => cold.get(f), 'CORRUPT', 'warm');
    assert.is(warmErr.message, coldErr.message);
    assert.equal(cold.get(other[0]!), utf8('next frame 0'));
    await cold.close();
  }
});

test('two files naming one segment id are refused with both names; nothing is touched', async () => {
  const storage = new MemoryStorage();
  await committedLog(storage);
  await writeFile(storage, 'value-000001.log', encodeRecord(0, 5n, utf8('legacy')));
  const before = await snapshotFiles(storage);
  const err = await expectCodeAsync(() => ValueLog.open(storage), 'CORRUPT');
  assert.match(err.message, 'value-000001.log');
  assert.match(err.message, 'value-l0-000001.log');
  assert.equal(await snapshotFiles(storage), before);
  await expectCodeAsync(() => Manager.open(storage), 'CORRUPT', 'Manager.open');
  // A seq spelt with more digits is the same id too.
  const padded = new MemoryStorage();
  await committedLog(padded);
  await writeFile(padded, 'value-l0-0000001.log', new Uint8Array(0));
  await expectCodeAsync(() => ValueLog.open(padded), 'CORRUPT');
  // A Manager that already tracks one of the names refuses the other on refresh.
  const live = new MemoryStorage();
  await committedLog(live);
  const m = await Manager.open(live);
  await writeFile(live, 'value-000001.log', new Uint8Array(0));
  await expectCodeAsync(() => m.refresh(), 'CORRUPT', 'refresh');
  await m.close();
});

test('a legacy-named segment is read, never written: its lane continues after it', async () => {
  const storage = new MemoryStorage();
  await writeFile(storage, 'value-000001.log', encodeRecord(0, 5n, utf8('legacy value')));
  const log = await ValueLog.open(storage);
  const legacy = { fileId: F1, offset: 4, length: 16 + 12 };
  assert.equal(log.get(legacy), utf8('legacy value'));
  const p = log.put(utf8('new value'));
  assert.is(p.fileId, F2);
  await log.close();
  const again = await ValueLog.open(storage);
  assert.equal(again.get(legacy), utf8('legacy value'));
  assert.equal(again.get(p), utf8('new value'));
  await again.close();
});

test('markDead takes only committed value boundaries of this log; a bad pointer marks nothing of its batch', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { segmentSize: 64 * 1024 });
  const ptrs = log.putMany(Array.from({ length: 40 }, (_, i) => utf8(`value number ${i}`)));
  const plain = log.put(noise(5000, 1));
  await log.commit();
  const uncommitted = log.put(utf8('not committed yet'));
  assert.equal(log.get(uncommitted), utf8('not committed yet'), 'its bytes are in the file now, not synced');
  // Another log with the same layout but other values: its pointers name other records.
  const otherStorage = new MemoryStorage();
  const other = await ValueLog.open(otherStorage);
  const foreign = other.putMany(Array.from({ length: 40 }, (_, i) => utf8(`another log's value ${i * 1000}`)));
  await other.commit();
  await other.close();
  const p = ptrs[5]!;
  const bad: Array<[string, ValuePtr, string]> = [
    ["another log's pointer", foreign[7]!, 'INVALID_ARGUMENT'],
    ['a mid-record offset', { ...plain, offset: plain.offset + 100 }, 'INVALID_ARGUMENT'],
    ['a record-length hint that differs', { ...p, length: markGrouped(ptrRecordLength(p) + 4, ptrSubIndex(p)) }, 'INVALID_ARGUMENT'],
    ['a sub-index beyond K', { ...p, length: markGrouped(ptrRecordLength(p), 100) }, 'INVALID_ARGUMENT'],
    ['a plain pointer to a grouped record', { ...p, length: ptrRecordLength(p) }, 'INVALID_ARGUMENT'],
    ['an uncommitted value', uncommitted, 'INVALID_ARGUMENT'],
    ['an offset past the end', { ...plain, offset: 1 << 20 }, 'INVALID_ARGUMENT'],
    ['a segment this log does not have', { ...p, fileId: encodeFileId(3, 1) }, 'NOT_FOUND'],
  ];
  for (const [what, ptr, code] of bad) {
    const err = expectCode(() => log.markDead([ptrs[0]!, ptrs[1]!, ptr, plain]), code as 'INVALID_ARGUMENT', what);
    if (code === 'INVALID_ARGUMENT') assert.match(err.message, 'markDead', what);
    assert.is(log.stats().segments[0]!.deadValues, 0, `${what}: nothing of the batch is marked`);
  }
  expectCode(() => log.markDead(null as unknown as ValuePtr), 'INVALID_ARGUMENT');
  assert.is(log.markDead([...ptrs, plain]), 41);
  await log.commit();
  assert.is(log.markDead(uncommitted), 1, 'committed now');
  // Compaction of the (now all dead) segment drops nothing live from the other log's point of view.
  assert.is(log.stats().segments[0]!.deadValues, 42);
  await log.close();
});

test('a crash that lost an uncommitted put: its pointer never reads another value after reopen', async () => {
  // (a) No byte of the put reached the file; the lock says the owner died: fresh segment.
  {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage);
    const kept = log.put(utf8('committed'));
    await log.commit();
    const lost = log.put(utf8('never committed'));
    const disk = await copyStorage(storage, new TakenOver()); // the staged put is not in the file
    const again = await ValueLog.open(disk);
    assert.equal(again.get(kept), utf8('committed'));
    const next = again.put(utf8('a different value'));
    assert.equal([next.fileId, next.offset], [F2, 4]);
    let got: Uint8Array | undefined;
    try {
      got = again.get(lost);
    } catch (e) {
      assert.ok(e instanceof ValueLogError && ['NOT_FOUND', 'UNEXPECTED_EOF', 'CORRUPT'].includes(e.code), String(e));
    }
    if (got !== undefined) assert.unreachable(`the lost pointer read ${hex(got)}`);
    await again.close();
    assert.is((disk as TakenOver).released, 1, 'close releases the lock');
    await log.close();
  }
  // (b) Part of the put reached the file (flushed, never synced): a torn tail, fresh segment.
  {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage);
    log.put(utf8('committed'));
    await log.commit();
    const lost = log.put(noise(2000, 3));
    assert.equal(log.get(lost), noise(2000, 3)); // flushes it to the file
    const disk = await copyStorage(storage);
    const f = await disk.open(segmentFileName(F1));
    f.truncate(lost.offset + 500);
    f.close();
    const again = await ValueLog.open(disk);
    assert.is(again.stats().recovered.length, 1);
    const next = again.put(noise(2000, 4));
    assert.is(next.fileId, F2);
    expectCode(() => again.get(lost), 'UNEXPECTED_EOF');
    await again.close();
    await log.close();
  }
});

test('every segment that may have been written last is scanned: empty ones above it do not hide a torn tail', async () => {
  const storage = new MemoryStorage();
  const { size, ptrs, values } = await committedLog(storage);
  await append(storage, F1, encodeRecord(0, 50n, noise(300, 1)).subarray(0, 100));
  await writeFile(storage, segmentFileName(F2), new Uint8Array(0)); // opened ahead, never written
  await writeFile(storage, segmentFileName(F3), new Uint8Array(0)); // a fresh segment of an earlier recovery
  const log = await ValueLog.open(storage);
  assert.equal(log.stats().recovered.map((r) => [r.segment, r.validBytes]), [[segmentFileName(F1), size]]);
  assert.is(log.put(utf8('x')).fileId, encodeFileId(0, 4));
  ptrs.forEach((p, i) => assert.equal(log.get(p), values[i]));
  await log.close();
});

test('recoverSegment and recoverLanes read-only: report what would be cut, write nothing', async () => {
  const storage = new MemoryStorage();
  const { size } = await committedLog(storage);
  await append(storage, F1, encodeRecord(0, 50n, noise(300, 1)).subarray(0, 100));
  const before = await snapshotFiles(storage);
  const r = await recoverSegment(storage, F1, { readOnly: true });
  assert.equal([r.clean, r.validBytes, r.droppedBytes], [false, size, 100]);
  const lanes = await recoverLanes(storage, 2, { readOnly: true });
  assert.equal(lanes.activeSeqs, [2, 1]);
  assert.equal(lanes.fresh, [true, false]);
  assert.equal(lanes.recovered.map((x) => x.droppedBytes), [100]);
  assert.equal(await snapshotFiles(storage), before, 'nothing written');
  // Damage is refused read-only too.
  const damaged = new MemoryStorage();
  await committedLog(damaged);
  await append(damaged, F1, new Uint8Array(50).fill(0xab));
  const bytes = await snapshotFiles(damaged);
  await expectCodeAsync(() => recoverSegment(damaged, F1, { readOnly: true }), 'CORRUPT');
  await expectCodeAsync(() => recoverSegment(damaged, F1), 'CORRUPT');
  assert.equal(await snapshotFiles(damaged), bytes);
  // A clean shutdown continues in the highest segment, an unclean one after it.
  const clean = new MemoryStorage();
  await committedLog(clean);
  assert.equal((await recoverLanes(clean, 1)).activeSeqs, [1]);
  assert.equal((await recoverLanes(clean, 1, { uncleanShutdown: true })).activeSeqs, [2]);
});

test.run();
