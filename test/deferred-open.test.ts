// Opening writes nothing until the caller writes (docs/DESIGN.md, "Opening writes nothing"): the
// deferred-creation storage view on its own, the dirty marker's reservations (golden bytes, damaged
// markers), and through the facade: a lane's first segment created by its first commit, a creation
// that fails (retried, never acknowledged), held bytes that cannot be written (fail-stop), a crash
// before creation (the reserved id is never given to other values), and rotation of a held lane.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFileId, init, MemoryStorage, segmentFileName, ValueLog, ValueLogError, type OpenOptions, type StorageBackend, type StorageFile, type ValuePtr } from '../src/index.js';
import { decodeDirtyMarker, encodeDirtyMarker } from '../src/format/dirty-marker.js';
import { DeferredCreationStorage } from '../src/storage/deferred.js';
import { FaultStorage } from './fault-storage.js';
import { expectCode, expectCodeAsync, hex, noise, readFile, unhex, writeFile } from './helpers.js';

await init();

const test = suite('deferred-open');

const MARKER = 'valuelog.dirty';
const L0 = segmentFileName(encodeFileId(0, 1));
const values = (n: number, seed = 1, size = 200) => Array.from({ length: n }, (_, i) => noise(size + ((i * 13) % 100), seed * 1000 + i));

/** A pointer that was never acknowledged reads as an error, never as bytes. */
function expectRefused(log: ValueLog, ptr: ValuePtr, what: string): void {
  let threw: unknown;
  try {
    log.get(ptr);
  } catch (e) {
    threw = e;
  }
  assert.ok(threw instanceof ValueLogError, what);
}

/** Lets the event loop run the background creation. */
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

/** A backend over FaultStorage whose creation of segment files fails (EIO or ENOSPC) while `failCreate` is set. */
class FailingCreate implements StorageBackend {
  failCreate: 'EIO' | 'ENOSPC' | undefined;
  creates = 0;
  constructor(readonly inner: FaultStorage) {}
  list(): Promise<string[]> {
    return this.inner.list();
  }
  async open(name: string, opts?: OpenOptions): Promise<StorageFile> {
    if (opts?.create === true && /^value-/.test(name) && !(await this.inner.list()).includes(name)) {
      this.creates++;
      if (this.failCreate !== undefined) throw Object.assign(new Error(`${this.failCreate}: injected (create ${name})`), { code: this.failCreate });
    }
    return this.inner.open(name, opts);
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
  syncDir(): Promise<void> {
    return this.inner.syncDir();
  }
}

// ---------------------------------------------------------------------------------------------
// The storage view

test('a held file is listed, readable and writable in memory; it is created by its first write', async () => {
  const mem = new MemoryStorage();
  const d = new DeferredCreationStorage(mem);
  d.hold('a.log');
  assert.equal(await d.list(), ['a.log']);
  assert.equal(await mem.list(), [], 'nothing on storage');
  const f = await d.open('a.log', { create: true });
  const g = await d.open('a.log');
  assert.is(f.size(), 0);
  f.flush(); // nothing written: nothing to make durable
  assert.is(f.write(Uint8Array.of(1, 2, 3), 0), 3);
  assert.is(g.size(), 3, 'handles share one file');
  const dst = new Uint8Array(8);
  assert.is(g.read(dst, 1), 2);
  assert.equal([...dst.subarray(0, 2)], [2, 3]);
  await d.settle();
  assert.not.ok(d.isHeld('a.log'));
  assert.equal(await readFile(mem, 'a.log'), Uint8Array.of(1, 2, 3));
  f.write(Uint8Array.of(9), 3); // now straight to the created file
  f.flush();
  assert.equal(await readFile(mem, 'a.log'), Uint8Array.of(1, 2, 3, 9));
  f.close();
  g.close();
});

test('a sync of a held file with bytes fails (IO) until settle() created it', async () => {
  const d = new DeferredCreationStorage(new MemoryStorage());
  d.hold('a.log');
  const f = await d.open('a.log');
  f.write(noise(100), 0);
  const e = expectCode(() => f.flush(), 'IO', 'flush before creation');
  assert.match(e.message, /not created yet/);
  await d.settle();
  f.flush();
  f.close();
});

test('removing a held file before creation forgets it; a read-only handle refuses writes', async () => {
  const mem = new MemoryStorage();
  const d = new DeferredCreationStorage(mem);
  d.hold('a.log');
  const ro = await d.open('a.log', { readOnly: true });
  expectCode(() => ro.write(Uint8Array.of(1), 0), 'INVALID_ARGUMENT', 'write through a read-only handle');
  await d.remove('a.log');
  assert.equal(await d.list(), []);
  await d.settle();
  assert.equal(await mem.list(), []);
  ro.close();
});

test('a failed creation rejects settle() and keeps the bytes; the next settle() creates the file', async () => {
  const fail = new FailingCreate(new FaultStorage());
  const d = new DeferredCreationStorage(fail);
  d.hold(L0);
  const f = await d.open(L0);
  fail.failCreate = 'ENOSPC';
  f.write(noise(300, 2), 0);
  await expectCodeAsync(() => d.settle(), 'IO', 'settle while creation fails');
  assert.ok(d.isHeld(L0));
  assert.ok(d.createError() !== undefined);
  assert.is(d.writeFailure(), undefined, 'a failed create is not a failed write');
  assert.is(d.heldBytes(), 300);
  fail.failCreate = undefined;
  await d.settle();
  assert.is(d.createError(), undefined);
  assert.is(d.heldBytes(), 0);
  assert.equal(await readFile(fail.inner, L0), noise(300, 2));
  f.close();
});

test('a failed write of the held bytes is final: the handles throw it from then on', async () => {
  const fs = new FaultStorage();
  const d = new DeferredCreationStorage(fs);
  d.hold(L0);
  const f = await d.open(L0);
  fs.armWhen('eio', /^write value-/);
  f.write(noise(100), 0);
  await expectCodeAsync(() => d.settle(), 'IO', 'settle whose write fails');
  assert.ok(d.writeFailure() !== undefined);
  expectCode(() => f.read(new Uint8Array(4), 0), 'IO', 'read after the failed write');
  expectCode(() => f.write(Uint8Array.of(1), 100), 'IO', 'write after the failed write');
  f.close();
});

// ---------------------------------------------------------------------------------------------
// The dirty marker

test('golden: the dirty marker reserving value-l0-000001.log and value-l3-000007.log', () => {
  const bytes = encodeDirtyMarker([encodeFileId(0, 1), encodeFileId(3, 7)]);
  assert.is(hex(bytes), GOLDEN_MARKER);
  assert.equal(decodeDirtyMarker(bytes), [encodeFileId(0, 1), encodeFileId(3, 7)]);
  assert.is(encodeDirtyMarker([]).length, 0, 'no reservation: empty, as every earlier version wrote it');
  assert.equal(decodeDirtyMarker(new Uint8Array(0)), []);
});
const GOLDEN_MARKER = '766c6469727479010200000001000080070080818bac6cb0';

test('a torn, flipped or malformed marker reserves nothing (undefined)', () => {
  const good = unhex(GOLDEN_MARKER);
  for (let n = 1; n < good.length; n++) assert.is(decodeDirtyMarker(good.subarray(0, n)), undefined, `torn at ${n}`);
  for (let bit = 0; bit < good.length * 8; bit++) {
    const b = good.slice();
    b[bit >> 3]! ^= 1 << (bit & 7);
    assert.is(decodeDirtyMarker(b), undefined, `bit ${bit} flipped`);
  }
  const long = new Uint8Array(good.length + 4);
  long.set(good);
  assert.is(decodeDirtyMarker(long), undefined, 'trailing bytes');
  expectCode(() => encodeDirtyMarker(Array.from({ length: 257 }, (_, i) => encodeFileId(i % 256, 1 + (i >> 8)))), 'INVALID_ARGUMENT', '257 reservations');
  expectCode(() => encodeDirtyMarker([0x12345]), 'INVALID_ARGUMENT', 'not a value-log file id');
});

// ---------------------------------------------------------------------------------------------
// Through the facade

test('open writes only the marker; a put reads back before commit; the first commit creates the segment', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs, { lanes: 2 });
  assert.equal(await fs.list(), [MARKER]);
  assert.equal(decodeDirtyMarker(await readFile(fs, MARKER)), [encodeFileId(0, 1), encodeFileId(1, 1)], 'both lanes reserved');
  const vals = values(20);
  const ptrs = log.putMany(vals);
  ptrs.forEach((p, i) => assert.equal(log.get(p), vals[i], `before commit ${i}`));
  await log.commit();
  const names = await fs.list();
  assert.ok(names.includes(L0), `${names.join(', ')}`);
  await log.close();
  const back = await ValueLog.open(fs.crash(false));
  ptrs.forEach((p, i) => assert.equal(back.get(p), vals[i], `after reopen ${i}`));
  await back.close();
});

for (const code of ['EIO', 'ENOSPC'] as const) {
  test(`creation failing (${code}): commit rejects, the log goes on; once it succeeds everything reads back after power loss`, async () => {
    const fail = new FailingCreate(new FaultStorage());
    const log = await ValueLog.open(fail);
    fail.failCreate = code;
    const vals = values(30, 3);
    const ptrs = log.putMany(vals);
    await expectCodeAsync(() => log.commit(), 'IO', 'commit while creation fails');
    await expectCodeAsync(() => log.commit(), 'IO', 'again');
    // Not stopped: puts go on and read back.
    const more = values(10, 4);
    const ptrs2 = log.putMany(more);
    assert.equal(log.get(ptrs2[9]!), more[9]);
    fail.failCreate = undefined;
    await log.commit();
    const image = fail.inner.crash(false);
    const back = await ValueLog.open(image);
    ptrs.forEach((p, i) => assert.equal(back.get(p), vals[i], `first batch ${i}`));
    ptrs2.forEach((p, i) => assert.equal(back.get(p), more[i], `second batch ${i}`));
    await back.close();
    await log.close();
  });
}

test('a failed write of held bytes stops the log; after power loss the pointer it handed out is refused', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs);
  fs.armWhen('eio', /^write value-/);
  const lost = log.put(noise(500, 5));
  await expectCodeAsync(() => log.commit(), 'IO', 'commit whose held write failed');
  const stopped = expectCode(() => log.put(noise(10)), 'IO', 'put after the failure');
  assert.match(stopped.message, /reopen|stopped/);
  const back = await ValueLog.open(fs.crash(true));
  expectRefused(back, lost, 'the never-acknowledged value is not returned');
  const v = noise(500, 6);
  const p = back.put(v);
  await back.commit();
  assert.equal(back.get(p), v);
  await back.close();
});

test('crash before creation: the reopen creates the reserved segment; later values never reuse its pointers', async () => {
  const fail = new FailingCreate(new FaultStorage());
  const log = await ValueLog.open(fail);
  fail.failCreate = 'EIO';
  const stale: ValuePtr[] = log.putMany(values(5, 7));
  await expectCodeAsync(() => log.commit(), 'IO', 'commit while creation fails');
  const image = fail.inner.crash(true);
  assert.not.ok((await image.list()).includes(L0), 'never created');
  const back = await ValueLog.open(image);
  assert.ok((await image.list()).includes(L0), 'created (empty) by the reopen');
  assert.is((await readFile(image, L0)).length, 0);
  const fresh = back.putMany(values(5, 7)); // same lengths as the stale ones
  await back.commit();
  for (let i = 0; i < 5; i++) {
    assert.is.not(fresh[i]!.fileId, stale[i]!.fileId, `value ${i} lands in another segment`);
    expectRefused(back, stale[i]!, `stale pointer ${i} is refused`);
  }
  await back.close();
});

test('creating a reserved segment fails at reopen: open rejects IO; a later open creates it and refuses the stale pointers', async () => {
  const fail = new FailingCreate(new FaultStorage());
  const log = await ValueLog.open(fail);
  fail.failCreate = 'EIO';
  const stale = log.putMany(values(3, 11));
  await expectCodeAsync(() => log.commit(), 'IO', 'commit while creation fails');
  const image = new FailingCreate(fail.inner.crash(true));
  image.failCreate = 'ENOSPC';
  await expectCodeAsync(() => ValueLog.open(image), 'IO', 'reopen while the reserved segment cannot be created');
  assert.not.ok((await image.list()).includes(L0));
  assert.ok((await image.list()).includes(MARKER), 'the marker (and its reservation) stays');
  image.failCreate = undefined;
  const back = await ValueLog.open(image);
  assert.ok((await image.list()).includes(L0));
  const fresh = back.putMany(values(3, 11));
  await back.commit();
  for (let i = 0; i < 3; i++) {
    assert.is.not(fresh[i]!.fileId, stale[i]!.fileId);
    expectRefused(back, stale[i]!, `stale pointer ${i} is refused`);
    assert.equal(back.get(fresh[i]!), values(3, 11)[i]);
  }
  await back.close();
});

test('a marker that is not complete reserves nothing; a valid one makes the lane continue after its ids', async () => {
  const fs = new FaultStorage();
  await writeFile(fs, MARKER, unhex(GOLDEN_MARKER).subarray(0, 13));
  await fs.syncDir();
  const log = await ValueLog.open(fs);
  assert.equal(await fs.list(), [MARKER], 'a torn marker: no segment created');
  await log.close();

  const fs2 = new FaultStorage();
  await writeFile(fs2, MARKER, encodeDirtyMarker([encodeFileId(0, 4)]));
  await fs2.syncDir();
  const log2 = await ValueLog.open(fs2);
  assert.ok((await fs2.list()).includes(segmentFileName(encodeFileId(0, 4))), 'the reserved segment was created');
  const p = log2.put(noise(64, 8));
  assert.is(p.fileId, encodeFileId(0, 5), 'lane 0 continues after seq 4');
  await log2.commit();
  assert.equal(log2.get(p), noise(64, 8));
  await log2.close();
});

test('a held lane does not rotate; while creation fails it refuses to grow past twice its segment size, then rotation resumes', async () => {
  const segmentSize = 64 * 1024;
  const fail = new FailingCreate(new FaultStorage());
  const log = await ValueLog.open(fail, { segmentSize, compression: 'none' });
  fail.failCreate = 'EIO';
  const value = noise(4000, 9);
  const ptrs: ValuePtr[] = [];
  let refused: ValueLogError | undefined;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    try {
      ptrs.push(log.put(value));
    } catch (e) {
      refused = e as ValueLogError;
    }
    await turn(); // let the background creation fail
  }
  assert.ok(refused !== undefined, 'a put was refused');
  assert.is(refused.code, 'IO');
  assert.match(refused.message, /cannot rotate/);
  assert.ok(ptrs.length * 4000 > segmentSize && ptrs.length * 4000 <= 2 * segmentSize, `${ptrs.length} values held`);
  assert.ok(ptrs.every((p) => p.fileId === encodeFileId(0, 1)));
  fail.failCreate = undefined;
  await log.commit();
  for (let i = 0; i < 40; i++) ptrs.push(log.put(value));
  await log.commit();
  const ids = new Set(ptrs.map((p) => p.fileId));
  assert.ok(ids.size >= 2, `rotated: ${[...ids].join(', ')}`);
  const back = await ValueLog.open(fail.inner.crash(false), { segmentSize, compression: 'none' });
  ptrs.forEach((p, i) => assert.equal(back.get(p), value, `value ${i}`));
  await back.close();
  await log.close();
});

test.run();
