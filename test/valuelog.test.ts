// The ValueLog facade: put/get/commit, group commit, rotation, lanes, snapshots, and recovery of a
// torn tail versus refusal of damage followed by valid records.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFileId, encodeRecord, init, MemoryStorage, ptrSubIndex, Reader, segmentFileName, sidecarName, ValueLog, type StorageBackend, type ValuePtr } from '../src/index.js';
import { expectCode, expectCodeAsync, noise, utf8 } from './helpers.js';

await init();

const test = suite('ValueLog');
const F1 = encodeFileId(0, 1);

async function appendRaw(storage: StorageBackend, fileId: number, bytes: Uint8Array): Promise<void> {
  const f = await storage.open(segmentFileName(fileId));
  f.write(bytes, f.size());
  f.close();
}

async function fileSize(storage: StorageBackend, fileId: number): Promise<number> {
  const f = await storage.open(segmentFileName(fileId), { readOnly: true });
  const n = f.size();
  f.close();
  return n;
}

test('put, get before and after commit, putMany, close and reopen', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const p = log.put(utf8('first'));
  assert.equal(log.get(p), utf8('first'), 'a value is readable before it is committed');
  const many = log.putMany(Array.from({ length: 300 }, (_, i) => utf8(`value ${i}`)));
  await log.commit();
  many.forEach((q, i) => assert.equal(log.get(q), utf8(`value ${i}`)));
  await log.close();
  expectCode(() => log.put(utf8('late')), 'CLOSED');
  const again = await ValueLog.open(storage);
  assert.equal(again.get(p), utf8('first'));
  assert.equal(again.get(many[299]!), utf8('value 299'));
  const later = again.put(utf8('after reopen'));
  await again.close();
  const rids = [...(await Reader.open(storage, F1))].map((e) => e.rid);
  assert.is(rids.length, 302);
  assert.ok(rids.every((r, i) => i === 0 || r > rids[i - 1]!), 'RIDs keep increasing across opens');
  assert.ok(later.offset > many[299]!.offset);
});

test('open then close without writing leaves the directory as it was; a lane that got values keeps its segment', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { lanes: 3 });
  // Opening writes the dirty marker only (it reserves the lanes' segments, created on their first write).
  assert.equal(await storage.list(), ['valuelog.dirty'], 'no segment exists until a value is written');
  const marker = await storage.open('valuelog.dirty', { readOnly: true });
  assert.ok(marker.size() > 0, 'the marker names the reserved segments');
  marker.close();
  await log.close();
  assert.equal(await storage.list(), [], 'no segment, marker or lock file left');
  const again = await ValueLog.open(storage, { lanes: 3 });
  const ptr = again.put(utf8('kept'), { lane: 1 });
  await again.close();
  assert.equal(await storage.list(), [segmentFileName(encodeFileId(1, 1))]);
  const before = new Set(await storage.list());
  const third = await ValueLog.open(storage, { lanes: 3 });
  assert.equal(third.get(ptr), utf8('kept'));
  await third.close();
  assert.equal(new Set(await storage.list()), before, 'a segment that existed before the open stays, empty or not');
});

test('putMany groups values into frames; compression round-trips', async () => {
  for (const compression of ['none', 'snappy', 'lz4'] as const) {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage, { compression });
    const values = Array.from({ length: 1000 }, (_, i) => utf8(JSON.stringify({ id: i, name: `user-${i % 37}`, tags: ['a', 'b'] })));
    const ptrs = log.putMany(values);
    await log.commit();
    ptrs.forEach((p, i) => assert.equal(log.get(p), values[i], `${compression} ${i}`));
    const frames = new Set(ptrs.map((p) => p.offset)).size;
    assert.ok(frames < 100, `${compression}: ${frames} frames for 1000 values`);
    const stats = log.stats();
    if (compression !== 'none') assert.ok(stats.totalBytes < 60_000, `${compression} compressed to ${stats.totalBytes}`);
    await log.close();
  }
  await expectCodeAsync(() => ValueLog.open(new MemoryStorage(), { compression: 'zstd' as never }), 'INVALID_ARGUMENT');
});

test('group commit: concurrent commits share one sync', async () => {
  const log = await ValueLog.open(new MemoryStorage());
  const commits: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    log.put(utf8(`v${i}`));
    commits.push(log.commit());
  }
  await Promise.all(commits);
  let s = log.stats();
  assert.is(s.commits, 10);
  assert.is(s.syncs, 1);
  await log.commit(); // nothing new: no sync
  assert.is(log.stats().syncs, 1);
  log.put(utf8('x'));
  await log.commit();
  s = log.stats();
  assert.is(s.syncs, 2);
  assert.is(s.puts, 11);
  await log.close();
});

test('rotation by size: segments of about segmentSize, all values readable, stats list them', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { segmentSize: 256 * 1024, bufferSize: 64 * 1024 });
  const ptrs: Array<[ValuePtr, Uint8Array]> = [];
  for (let i = 0; i < 1500; i++) {
    const v = noise(1000 + (i % 7) * 100, i + 1);
    ptrs.push([log.put(v), v]);
    if (i % 10 === 9) await log.commit(); // the next segment opens in the background meanwhile
  }
  await log.commit();
  for (const [p, v] of ptrs) assert.equal(log.get(p), v);
  const segs = log.stats().segments;
  assert.ok(segs.length >= 6, `${segs.length} segments`);
  // The segment opened ahead of rotation is listed too, still empty.
  for (const s of segs.filter((x) => !x.active && x.bytes > 0)) assert.ok(s.bytes <= 256 * 1024 && s.bytes > 250 * 1024, `${s.name}: ${s.bytes} bytes`);
  const active = segs.filter((s) => s.active);
  assert.is(active.length, 1);
  assert.ok(segs.every((s) => s.bytes === 0 || s.seq <= active[0]!.seq), 'only the segment opened ahead follows the active one');
  await log.close();
  const again = await ValueLog.open(storage, { segmentSize: 256 * 1024 });
  for (const [p, v] of ptrs.slice(-50)) assert.equal(again.get(p), v);
  await again.close();
});

test('lanes write their own segment sequences', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { lanes: 3 });
  const a = log.put(utf8('lane 0'));
  const c = log.put(utf8('lane 2'), { lane: 2 });
  expectCode(() => log.put(utf8('x'), { lane: 3 }), 'INVALID_ARGUMENT');
  await log.commit();
  assert.equal(log.get(c), utf8('lane 2'));
  assert.equal(log.get(a), utf8('lane 0'));
  assert.ok((await storage.list()).includes('value-l2-000001.log'));
  await log.close();
  await expectCodeAsync(() => ValueLog.open(storage, { lanes: 0 }), 'INVALID_ARGUMENT');
  await expectCodeAsync(() => ValueLog.open(storage, { lanes: 257 }), 'INVALID_ARGUMENT');
});

test('snapshots pin segments; releasing twice is an error', async () => {
  const log = await ValueLog.open(new MemoryStorage());
  const p = log.put(utf8('pinned'));
  await log.commit();
  const snap = await log.snapshot();
  assert.equal(snap.get(p), utf8('pinned'));
  assert.is(log.stats().segments[0]!.pins, 1);
  await snap.release();
  assert.is(log.stats().segments[0]!.pins, 0);
  await expectCodeAsync(() => snap.release(), 'INVALID_ARGUMENT');
  expectCode(() => snap.get(p), 'INVALID_ARGUMENT');
  await log.close();
});

test('a torn tail is truncated on open and reported; writing continues in a fresh segment', async () => {
  for (const tail of ['partial header', 'partial payload', 'bad checksum', 'zeros']) {
    const storage = new MemoryStorage();
    const log = await ValueLog.open(storage);
    const committed = Array.from({ length: 50 }, (_, i) => utf8(`committed ${i}`));
    const ptrs = log.putMany(committed);
    await log.close();
    const valid = await fileSize(storage, F1);
    const rec = encodeRecord(0, 7n, utf8('a record that was being written when the power went'));
    const torn =
      tail === 'partial header' ? rec.subarray(0, 11)
      : tail === 'partial payload' ? rec.subarray(0, 40)
      : tail === 'bad checksum' ? rec.map((b, i) => (i === rec.length - 1 ? b ^ 1 : b))
      : new Uint8Array(4096);
    await appendRaw(storage, F1, torn);
    const again = await ValueLog.open(storage);
    const r = again.stats().recovered;
    assert.is(r.length, 1, tail);
    assert.equal(JSON.parse(JSON.stringify(r)), r, 'the recovery report is JSON-serialisable (maxRid a string)');
    assert.equal({ ...r[0]!, maxRid: '0' }, { segment: 'value-l0-000001.log', fileId: F1, validBytes: valid, droppedBytes: torn.length, droppedRecords: 1, maxRid: '0' }, tail);
    ptrs.forEach((p, i) => assert.equal(again.get(p), committed[i]));
    const next = again.put(utf8('after recovery'));
    assert.equal([next.fileId, next.offset], [encodeFileId(0, 2), 4], 'an offset of the torn segment is never handed out again');
    assert.is(await fileSize(storage, F1), valid, 'the torn segment keeps its valid prefix');
    await again.close();
    const clean = await ValueLog.open(storage);
    assert.equal(clean.stats().recovered, []);
    assert.equal(clean.get(next), utf8('after recovery'));
    await clean.close();
  }
});

test('a crash after the next segment was opened ahead: the tail of the one before is recovered', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const ptrs = log.putMany(Array.from({ length: 20 }, (_, i) => utf8(`v${i}`)));
  await log.close();
  await appendRaw(storage, F1, encodeRecord(0, 9n, utf8('a torn record whose payload never fully reached the disk')).subarray(0, 30));
  (await storage.open(segmentFileName(encodeFileId(0, 2)), { create: true })).close(); // pre-opened, empty
  const again = await ValueLog.open(storage);
  assert.equal(again.stats().recovered.map((r) => [r.segment, r.droppedBytes]), [['value-l0-000001.log', 30]]);
  assert.equal(again.get(ptrs[19]!), utf8('v19'));
  const p = again.put(utf8('continues in a fresh segment 3'));
  assert.is(p.fileId, encodeFileId(0, 3), 'segment 2 may have had pointers handed out before the crash');
  await again.close();
});

test('damage followed by valid records is refused with CORRUPT naming segment and offset; salvage truncates', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const ptrs = Array.from({ length: 5 }, (_, i) => log.put(utf8(`record ${i}`)));
  await log.close();
  const victim = ptrs[2]!.offset - 4;
  const f = await storage.open(segmentFileName(F1));
  const b = new Uint8Array(1);
  f.read(b, victim + 30);
  b[0]! ^= 0xff;
  f.write(b, victim + 30);
  f.close();
  const err = await expectCodeAsync(() => ValueLog.open(storage), 'CORRUPT');
  assert.match(err.message, 'value-l0-000001.log');
  assert.match(err.message, `offset ${victim}`);
  assert.match(err.message, 'salvage');
  const salvaged = await ValueLog.open(storage, { salvage: true });
  const r = salvaged.stats().recovered[0]!;
  assert.is(r.validBytes, victim);
  assert.is(r.droppedRecords, 3, 'the damaged record and the two valid ones after it');
  assert.equal(salvaged.get(ptrs[1]!), utf8('record 1'));
  expectCode(() => salvaged.get(ptrs[3]!), 'UNEXPECTED_EOF');
  await salvaged.close();
});

/** A log with several sealed 64 KiB segments of 1 KiB values (frames of 8), and their pointers. */
async function filledLog(storage: StorageBackend): Promise<{ log: ValueLog; vals: Array<[ValuePtr, Uint8Array]> }> {
  const log = await ValueLog.open(storage, { segmentSize: 64 * 1024, bufferSize: 64 * 1024 });
  const vals: Array<[ValuePtr, Uint8Array]> = [];
  for (let b = 0; b < 40; b++) {
    const batch = Array.from({ length: 8 }, (_, i) => noise(1000, b * 8 + i + 1));
    log.putMany(batch).forEach((p, i) => vals.push([p, batch[i]!]));
    await log.commit();
  }
  return { log, vals };
}

test('markDead: garbage per segment, idempotent, durable in the sidecar across reopen', async () => {
  const storage = new MemoryStorage();
  const { log, vals } = await filledLog(storage);
  const first = vals.filter(([p]) => p.fileId === F1);
  assert.ok(first.length > 40);
  const dead = first.slice(0, Math.floor(first.length * 0.8)).map(([p]) => p);
  assert.is(log.markDead(dead), dead.length);
  assert.is(log.markDead(dead[0]!), 0, 'marking again is harmless');
  let seg = log.stats().segments.find((x) => x.fileId === F1)!;
  assert.is(seg.deadValues, dead.length);
  assert.ok(seg.garbageRatio > 0.75 && seg.garbageRatio < 0.85, `ratio ${seg.garbageRatio}`);
  assert.is(seg.liveBytes + seg.deadBytes, seg.bytes);
  await log.commit();
  assert.ok((await storage.list()).includes(sidecarName(F1)));
  // A torn append to the sidecar is ignored on load and overwritten by the next one.
  const side = await storage.open(sidecarName(F1));
  side.write(new Uint8Array(10).fill(7), side.size());
  side.close();
  await log.close();
  const again = await ValueLog.open(storage, { segmentSize: 64 * 1024 });
  seg = again.stats().segments.find((x) => x.fileId === F1)!;
  assert.is(seg.deadValues, dead.length);
  again.markDead(first[first.length - 1]![0]);
  await again.close();
  const third = await ValueLog.open(storage, { segmentSize: 64 * 1024 });
  assert.is(third.stats().segments.find((x) => x.fileId === F1)!.deadValues, dead.length + 1);
  await third.close();
});

test('compact: live values move (whole records byte for byte, partial ones re-framed), the old segment and its sidecar go', async () => {
  const storage = new MemoryStorage();
  const { log, vals } = await filledLog(storage);
  const first = vals.filter(([p]) => p.fileId === F1);
  // Kill every value of some frames, one value of others, none of the rest.
  const frames = [...new Set(first.map(([p]) => p.offset))];
  const dead: ValuePtr[] = [];
  frames.forEach((off, fi) => {
    const inFrame = first.filter(([p]) => p.offset === off).map(([p]) => p);
    if (fi % 3 === 0) dead.push(...inFrame);
    else if (fi % 3 === 1) dead.push(inFrame[0]!);
  });
  log.markDead(dead);
  const beforeBytes = log.stats().totalBytes;
  const snap = await log.snapshot();
  const remap = await log.compact({ minGarbageRatio: 0.3 });
  assert.equal(remap.compactedSegments, [F1]);
  const live = first.filter(([p]) => !dead.some((d) => d.offset === p.offset && d.length === p.length));
  assert.is(remap.size, live.length);
  for (const [p, v] of live) {
    const moved = remap.get({ ...p });
    assert.ok(moved, 'found by pointer value');
    assert.ok(moved!.fileId !== F1);
    assert.equal(log.get(moved!), v);
  }
  for (const d of dead) assert.is(remap.get(d), undefined);
  // Wholly live frames keep their sub-indexes and length words.
  const whole = live.filter(([p]) => frames.indexOf(p.offset) % 3 === 2);
  for (const [p] of whole) assert.is(remap.get(p)!.length, p.length);
  const partial = live.filter(([p]) => frames.indexOf(p.offset) % 3 === 1);
  assert.ok(partial.every(([p]) => ptrSubIndex(remap.get(p)!) === ptrSubIndex(p) - 1));
  // The snapshot still reads the old segment; it is deleted when the snapshot goes.
  assert.equal(snap.get(first[0]![0]), first[0]![1]);
  assert.ok(log.stats().segments.find((x) => x.fileId === F1)!.zombie);
  assert.ok((await storage.list()).includes(segmentFileName(F1)));
  await snap.release();
  assert.not.ok((await storage.list()).includes(segmentFileName(F1)));
  assert.not.ok((await storage.list()).includes(sidecarName(F1)));
  assert.ok(log.stats().totalBytes < beforeBytes);
  // Nothing left above the threshold: a second compaction moves nothing.
  assert.is((await log.compact({ minGarbageRatio: 0.3 })).size, 0);
  await log.close();
  await expectCodeAsync(() => log.compact(), 'CLOSED');
});

test('compact respects maxBytes and never touches the active segment', async () => {
  const storage = new MemoryStorage();
  const { log, vals } = await filledLog(storage);
  log.markDead(vals.map(([p]) => p)); // everything dead, active segment included
  const sealed = log.stats().segments.filter((x) => !x.active && x.bytes > 0);
  const progress: Array<[number, number]> = [];
  const remap = await log.compact({ minGarbageRatio: 0.9, maxBytes: sealed[0]!.bytes * 2, onProgress: (d, t) => progress.push([d, t]) });
  assert.is(remap.compactedSegments.length, 2);
  const total = sealed[0]!.bytes + sealed[1]!.bytes;
  assert.equal(progress, [[0, total], [sealed[0]!.bytes, total], [total, total]], 'onProgress: at 0 and after each segment');
  assert.is(remap.size, 0, 'nothing live to move');
  const active = log.stats().segments.find((x) => x.active)!;
  assert.not.ok(remap.compactedSegments.includes(active.fileId));
  await expectCodeAsync(() => log.compact({ minGarbageRatio: 2 }), 'INVALID_ARGUMENT');
  await log.close();
});

test('options are validated', async () => {
  const st = new MemoryStorage();
  await expectCodeAsync(() => ValueLog.open(st, { segmentSize: 100 }), 'INVALID_ARGUMENT');
  await expectCodeAsync(() => ValueLog.open(st, { segmentSize: 1.5 * 2 ** 20 + 0.5 }), 'INVALID_ARGUMENT');
  const log = await ValueLog.open(st);
  expectCode(() => log.put('text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
  expectCode(() => log.putMany([utf8('ok'), 5 as unknown as Uint8Array]), 'INVALID_ARGUMENT');
  expectCode(() => log.get({ fileId: 1, offset: -1, length: 0 }), 'INVALID_ARGUMENT');
  await log.close();
});

test.run();
