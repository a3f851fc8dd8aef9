// @runtimes chromium: OPFS sync access handles exist only in a browser's dedicated worker.
// What only OpfsStorage can show: one shared handle per file, read-only handles that several
// contexts may hold, LOCKED (never a bare DOMException) when another context holds a file, the
// bounded handle pool, and a ValueLog that another instance cannot open twice.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, OpfsStorage, ValueLog, ValueLogError } from '../src/index.js';
import { removeOpfsDir } from './env.js';
import { expectCodeAsync, noise, utf8 } from './helpers.js';

await init();

const test = suite('OpfsStorage specifics');
let dirName = '';
let counter = 0;
const opened: OpfsStorage[] = [];

async function storage(opts = {}): Promise<OpfsStorage> {
  const s = await OpfsStorage.open(`valuelog-test/${dirName}`, opts);
  opened.push(s);
  return s;
}

test.before.each(() => {
  dirName = `opfs-${Date.now().toString(36)}-${counter++}`;
});
test.after.each(async () => {
  for (const s of opened.splice(0)) s.close();
  await removeOpfsDir('valuelog-test', dirName);
});

test('OpfsStorage is supported in this worker, and a path below the root is created', async () => {
  assert.ok(OpfsStorage.isSupported());
  const s = await storage();
  assert.is(s.path, `valuelog-test/${dirName}`);
  assert.equal(await s.list(), []);
});

test('a writer and a reader of one file in one backend share one handle', async () => {
  const s = await storage();
  const w = await s.open('a.log', { create: true });
  const r = await s.open('a.log', { readOnly: true });
  assert.is(s.openHandles, 1);
  w.write(utf8('hello'), 0);
  const dst = new Uint8Array(5);
  assert.is(r.read(dst, 0), 5);
  assert.equal(dst, utf8('hello'));
  w.close();
  assert.is(s.openHandles, 1, 'the reader keeps the handle');
  assert.is(r.read(dst, 0), 5);
  r.close();
  assert.is(s.openHandles, 0, 'the last close releases it');
});

test('another context holding a file: LOCKED that says what holds it and what to do', async () => {
  const a = await storage();
  const b = await storage();
  const f = await a.open('x.log', { create: true });
  for (const opts of [{}, { readOnly: true }]) {
    const err = await expectCodeAsync(() => b.open('x.log', opts), 'LOCKED');
    assert.match(err.message, 'another tab, worker');
    assert.match(err.message, 'x.log');
    assert.ok(err.cause !== undefined && (err.cause as { name?: string }).name === 'NoModificationAllowedError', 'the DOMException is kept as the cause');
  }
  await expectCodeAsync(() => b.remove('x.log'), 'LOCKED');
  f.close();
  (await b.open('x.log')).close();
  await b.remove('x.log');
  assert.equal(await a.list(), []);
});

test("sealed files open 'read-only' so that several contexts read them at once; writing then is LOCKED", async () => {
  const a = await storage();
  const w = await a.open('sealed.log', { create: true });
  w.write(utf8('sealed bytes'), 0);
  w.flush();
  w.close();
  const b = await storage();
  const ra = await a.open('sealed.log', { readOnly: true });
  const rb = await b.open('sealed.log', { readOnly: true });
  const dst = new Uint8Array(12);
  rb.read(dst, 0);
  assert.equal(dst, utf8('sealed bytes'));
  ra.read(dst, 0);
  assert.equal(dst, utf8('sealed bytes'));
  const here = await expectCodeAsync(() => a.open('sealed.log'), 'LOCKED');
  assert.match(here.message, 'open read-only in this backend');
  ra.close();
  await expectCodeAsync(() => a.open('sealed.log'), 'LOCKED', 'the other context still reads it');
  rb.close();
  (await a.open('sealed.log')).close();
});

test('the pool is bounded: sealed files beyond maxHandles read from snapshots, writers keep handles', async () => {
  const s = await storage({ maxHandles: 3 });
  const content = (i: number) => noise(5000, i + 1);
  for (let i = 0; i < 6; i++) {
    const w = await s.open(`f${i}.log`, { create: true });
    w.write(content(i), 0);
    w.close();
  }
  const readers = [];
  for (let i = 0; i < 6; i++) {
    readers.push(await s.open(`f${i}.log`, { readOnly: true }));
    assert.ok(s.openHandles <= 3, `never more than 3 handles (${s.openHandles})`);
  }
  assert.is(s.fileState('f0.log'), 'snapshot', 'the least recently used file gave its handle up');
  assert.is(s.fileState('f5.log'), 'handle');
  const dst = new Uint8Array(5000);
  for (let i = 0; i < 6; i++) {
    assert.is(readers[i]!.size(), 5000);
    assert.is(readers[i]!.read(dst, 0), 5000);
    assert.equal(dst, content(i), `f${i} reads its bytes, handle or snapshot`);
  }
  // A file read often from its snapshot gets a handle back (in the background), still within the pool.
  for (let k = 0; k < 10; k++) readers[0]!.read(dst.subarray(0, 10), k);
  for (let k = 0; k < 50 && s.fileState('f0.log') !== 'handle'; k++) await new Promise((r) => setTimeout(r, 10));
  assert.is(s.fileState('f0.log'), 'handle');
  assert.ok(s.openHandles <= 3);
  // Opening a demoted file for writing gives it a handle at once.
  const demoted = ['f1.log', 'f2.log', 'f3.log', 'f4.log', 'f5.log'].find((n) => s.fileState(n) === 'snapshot')!;
  const w = await s.open(demoted, {});
  assert.is(s.fileState(demoted), 'handle');
  w.write(utf8('X'), 0);
  const r = readers[Number(demoted[1])]!;
  r.read(dst.subarray(0, 1), 0);
  assert.is(dst[0], 'X'.charCodeAt(0), 'the reader sees the write through the shared handle');
  w.close();
  for (const x of readers) x.close();
  assert.is(s.openHandles, 0);
});

test('when every handle belongs to a writer: one more writer is IO naming maxHandles, a reader uses a snapshot', async () => {
  const s = await storage({ maxHandles: 2 });
  const sealed = await s.open('sealed.log', { create: true });
  sealed.write(utf8('sealed'), 0);
  sealed.close();
  const a = await s.open('a.log', { create: true });
  const b = await s.open('b.log', { create: true });
  const err = await expectCodeAsync(() => s.open('c.log', { create: true }), 'IO');
  assert.match(err.message, 'maxHandles');
  const r = await s.open('sealed.log', { readOnly: true });
  assert.is(s.fileState('sealed.log'), 'snapshot');
  assert.is(s.openHandles, 2);
  const dst = new Uint8Array(6);
  assert.is(r.read(dst, 0), 6);
  assert.equal(dst, utf8('sealed'));
  r.close();
  a.close();
  b.close();
  (await s.open('c.log', { create: true })).close();
  await expectCodeAsync(() => OpfsStorage.open('x', { maxHandles: 0 }), 'INVALID_ARGUMENT');
});

test('a ValueLog with more segments than handles keeps working (sealed segments read from snapshots)', async () => {
  const s = await storage({ maxHandles: 8 });
  const log = await ValueLog.open(s, { segmentSize: 64 * 1024 });
  const value = (i: number) => noise(2000, i + 7);
  const ptrs = [];
  for (let i = 0; i < 1500; i += 50) {
    ptrs.push(...log.putMany(Array.from({ length: 50 }, (_, j) => value(i + j))));
    await log.commit();
    assert.ok(s.openHandles <= 8);
  }
  assert.ok(log.stats().segments.length > 20, `many segments (${log.stats().segments.length})`);
  ptrs.forEach((p, i) => assert.equal(log.get(p), value(i)));
  await log.close();
  const again = await ValueLog.open(await storage({ maxHandles: 8 }), { segmentSize: 64 * 1024 });
  ptrs.forEach((p, i) => assert.equal(again.get(p), value(i)));
  await again.close();
});

test('close() of the backend releases every handle; its files then throw CLOSED', async () => {
  const a = await storage();
  const f = await a.open('c.log', { create: true });
  a.close();
  assert.is(a.openHandles, 0);
  try {
    f.size();
    assert.unreachable('size() after close');
  } catch (e) {
    assert.ok(e instanceof ValueLogError && e.code === 'CLOSED');
  }
  const b = await storage();
  (await b.open('c.log')).close();
});

test('a ValueLog on OPFS survives a new backend instance; a second open of a live log is LOCKED', async () => {
  const a = await storage();
  const log = await ValueLog.open(a, { compression: 'lz4', segmentSize: 64 * 1024 });
  const value = (i: number) => noise(300, i + 1);
  const ptrs = [];
  for (let i = 0; i < 2000; i += 100) {
    ptrs.push(...log.putMany(Array.from({ length: 100 }, (_, j) => value(i + j))));
    await log.commit(); // rotation switches to a segment pre-opened in the background
  }
  assert.ok(log.stats().segments.length > 1, `rotated: ${JSON.stringify(log.stats().segments.map((x) => [x.name, x.bytes]))}`);
  const err = await expectCodeAsync(async () => ValueLog.open(await storage()), 'LOCKED');
  // The directory's Web Lock refuses it before any file handle is asked for.
  assert.match(err.message, /is locked: another worker or tab of this origin has the log open \(Web Lock valuelog-storage:/);
  await log.close();
  assert.is(a.openHandles, 0, 'close() releases every handle');
  const again = await ValueLog.open(await storage(), { compression: 'lz4', segmentSize: 64 * 1024 });
  ptrs.forEach((p, i) => assert.equal(again.get(p), value(i)));
  await again.close();
});

test.run();
