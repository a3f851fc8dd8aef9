// Compaction that cannot lose data: copies are made only from bytes whose checksum was verified,
// nothing is deleted before the remap is handed over (onRemap), a damaged segment is skipped and
// reported, concurrent calls are serialised, and a run cut short (simulated here by freezing the
// storage at a moment inside compact()) is undone or rolled forward by the next compact().
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encodeFileId,
  init,
  MemoryStorage,
  Reader,
  parseSegmentFileName,
  segmentFileName,
  ValueLog,
  ValueLogError,
  type OpenOptions,
  type PointerRemap,
  type StorageBackend,
  type StorageFile,
  type ValuePtr,
} from '../src/index.js';
import { expectCodeAsync, noise } from './helpers.js';

await init();

const test = suite('compaction');
// A small writer buffer, so that copies reach storage while a run is still copying.
const OPTS = { segmentSize: 64 * 1024, bufferSize: 64 * 1024 };

/**
 * A MemoryStorage wrapper for fault and crash simulation: it can flip one bit in the N-th read of a
 * file opened after arming, fail removals of segments, and copy its whole state synchronously (what
 * a crash at that moment would leave: bytes still in a writer's buffer are not in storage).
 */
class TestStorage implements StorageBackend {
  readonly inner = new MemoryStorage();
  private readonly views = new Map<string, StorageFile>();
  flip: { name: string; nth: number; seen: number } | undefined;
  failRemove: ((name: string) => boolean) | undefined;

  async list(): Promise<string[]> {
    return this.inner.list();
  }

  async open(name: string, opts: OpenOptions = {}): Promise<StorageFile> {
    const f = await this.inner.open(name, opts);
    if (!this.views.has(name)) this.views.set(name, await this.inner.open(name, { readOnly: true }));
    const flip = this.flip;
    if (flip === undefined || flip.name !== name) return f;
    return {
      read: (dst, at) => {
        const n = f.read(dst, at);
        if (n > 24 && ++flip.seen === flip.nth) dst[n - 1]! ^= 0x10; // a bit of the payload, not the header (reads of the end count not)
        return n;
      },
      write: (src, at) => f.write(src, at),
      size: () => f.size(),
      truncate: (size) => f.truncate(size),
      flush: () => f.flush(),
      close: () => f.close(),
    };
  }

  async remove(name: string): Promise<void> {
    if (this.failRemove?.(name)) throw new ValueLogError('IO', `valuelog: injected failure removing ${name}`);
    await this.inner.remove(name);
    this.views.get(name)?.close();
    this.views.delete(name);
  }

  async syncDir(): Promise<void> {}

  /** Every file's bytes right now. */
  freeze(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [name, f] of this.views) {
      const b = new Uint8Array(f.size());
      f.read(b, 0);
      out.set(name, b);
    }
    return out;
  }
}

/** A fresh storage holding a frozen state: the directory as a crash at the freeze would leave it. */
async function thaw(files: Map<string, Uint8Array>): Promise<TestStorage> {
  const s = new TestStorage();
  for (const [name, bytes] of files) {
    const f = await s.open(name, { create: true });
    f.write(bytes, 0);
    f.close();
  }
  return s;
}

interface Filled {
  log: ValueLog;
  /** Every value put, with its pointer and whether it was marked dead. */
  vals: Array<{ ptr: ValuePtr; value: Uint8Array; dead: boolean }>;
}

/** About four sealed 64 KiB segments; two values in five of the sealed ones marked dead. */
async function filledLog(storage: StorageBackend): Promise<Filled> {
  const log = await ValueLog.open(storage, OPTS);
  const vals: Filled['vals'] = [];
  for (let b = 0; b < 60; b++) {
    const values = Array.from({ length: 8 }, (_, i) => noise(300 + ((b * 8 + i) % 7) * 100, b * 8 + i + 1));
    // Some values one per record (copied byte for byte when all live), most grouped into frames.
    const ptrs = b % 4 === 0 ? values.map((v) => log.put(v)) : log.putMany(values);
    ptrs.forEach((ptr, i) => vals.push({ ptr, value: values[i]!, dead: false }));
    await log.commit();
  }
  const sealed = new Set(log.stats().segments.filter((s) => !s.active && s.bytes > 0).map((s) => s.fileId));
  vals.forEach((v, i) => {
    if (sealed.has(v.ptr.fileId) && i % 5 < 3) v.dead = true;
  });
  log.markDead(vals.filter((v) => v.dead).map((v) => v.ptr));
  await log.commit();
  return { log, vals };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Values readable by scanning every segment, minus those marked dead: what compaction would keep. */
async function liveValues(storage: StorageBackend, log: ValueLog): Promise<number> {
  let n = 0;
  for (const name of await storage.list()) {
    const id = parseSegmentFileName(name);
    if (id === undefined) continue;
    const r = await Reader.open(storage, id);
    r.disableValueDecode();
    try {
      for (let e = r.next(); e !== undefined; e = r.next()) n++;
    } catch {
      // a damaged record: the rest of the segment is not counted (the same before and after)
    } finally {
      r.close();
    }
  }
  const segs = log.stats().segments.filter((s) => !s.zombie);
  return n - segs.reduce((a, s) => a + s.deadValues, 0);
}

/** Every live value reads back byte for byte through the remaps applied so far. */
function checkAll(log: ValueLog, vals: Filled['vals'], ...remaps: PointerRemap[]): void {
  for (const v of vals) {
    if (v.dead) continue;
    let p = v.ptr;
    for (const r of remaps) p = r.get(p) ?? p;
    if (!same(log.get(p), v.value)) assert.unreachable(`value at ${JSON.stringify(v.ptr)} reads back wrong`);
  }
}

const compactFiles = async (s: StorageBackend) => (await s.list()).filter((n) => n.startsWith('compact-'));

test('a bit flipped in a second read: the copy is refused, the segment skipped and kept, nothing reads CORRUPT', async () => {
  for (let nth = 1; nth <= 6; nth++) {
    const storage = new TestStorage();
    const { log, vals } = await filledLog(storage);
    const before = await liveValues(storage, log);
    const target = segmentFileName(encodeFileId(0, 1));
    storage.flip = { name: target, nth, seen: 0 };
    const remap = await log.compact({ minGarbageRatio: 0.3 });
    storage.flip = undefined;
    const skipped = remap.skippedSegments.find((s) => s.segment === target);
    assert.ok(skipped, `read ${nth}: segment skipped`);
    assert.instance(skipped!.error, ValueLogError);
    assert.not.ok(remap.compactedSegments.includes(encodeFileId(0, 1)));
    assert.ok(remap.compactedSegments.length >= 2, 'the other candidates were compacted');
    assert.ok((await storage.list()).includes(target), 'the original is kept');
    checkAll(log, vals, remap);
    assert.is(await liveValues(storage, log), before, 'the copies made before the flip are dead, not orphans');
    // Read cleanly, the segment compacts.
    const again = await log.compact({ minGarbageRatio: 0.3 });
    assert.ok(again.compactedSegments.includes(encodeFileId(0, 1)));
    checkAll(log, vals, remap, again);
    assert.is(await liveValues(storage, log), before);
    assert.equal(await compactFiles(storage), []);
    await log.close();
  }
});

test('onRemap rejecting: compact rejects with its error, nothing is deleted, old pointers read, the copies are dead', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const before = await liveValues(storage, log);
  const files = await storage.list();
  let handed: PointerRemap | undefined;
  const err = await expectCodeAsync(
    () =>
      log.compact({
        minGarbageRatio: 0.3,
        onRemap: async (r) => {
          handed = r;
          assert.ok(r.size > 0 && r.compactedSegments.length >= 3);
          assert.ok(log.stats().segments.every((s) => !s.zombie), 'nothing is a zombie while onRemap runs');
          await Promise.resolve();
          throw new Error('index write failed');
        },
      }),
    'IO',
  );
  assert.match(err.message, 'index write failed');
  assert.instance(err.cause, Error);
  assert.ok(handed);
  const after = await storage.list();
  for (const f of files.filter((n) => n.endsWith('.log'))) assert.ok(after.includes(f), `${f} still there`);
  assert.ok(log.stats().segments.every((s) => !s.zombie));
  checkAll(log, vals);
  assert.is(await liveValues(storage, log), before, 'no copy counts as live');
  assert.equal(await compactFiles(storage), []);
  // A ValueLogError thrown by onRemap comes back as it is; a synchronous throw counts the same.
  const own = new ValueLogError('LOCKED', 'valuelog: the index is busy');
  const got = await expectCodeAsync(() => log.compact({ minGarbageRatio: 0.3, onRemap: () => { throw own; } }), 'LOCKED');
  assert.is(got, own);
  assert.is(await liveValues(storage, log), before);
  // If the run's .remap cannot be removed, the run is rolled forward by the next call: handed over
  // again before anything is deleted.
  storage.failRemove = (n) => n.endsWith('.remap');
  let rejected: PointerRemap | undefined;
  await expectCodeAsync(() => log.compact({ minGarbageRatio: 0.3, onRemap: (r) => { rejected = r; throw new Error('no'); } }), 'IO');
  storage.failRemove = undefined;
  assert.ok(rejected && rejected.size > 0);
  const rolled = await log.compact({ minGarbageRatio: 0.3 });
  for (const [o] of rejected!) assert.ok(rolled.get(o), 'the pairs of the run that stayed on record come again');
  checkAll(log, vals, rolled);
  assert.is(await liveValues(storage, log), before);
  // Nothing is left over: only the values the caller references are live.
  const ok = await log.compact({ minGarbageRatio: 0.3 });
  assert.is(ok.size, 0);
  checkAll(log, vals, rolled);
  assert.is(await liveValues(storage, log), before);
  assert.equal(await compactFiles(storage), []);
  await log.close();
});

test('a damaged record: that segment is skipped and reported, the others compact', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const F2 = encodeFileId(0, 2);
  // Damage a payload byte in the middle of segment 2 (through a second handle, as disk damage would).
  const f = await storage.open(segmentFileName(F2));
  const mid = vals.filter((v) => v.ptr.fileId === F2)[20]!.ptr;
  const b = new Uint8Array(1);
  f.read(b, mid.offset + 40);
  b[0]! ^= 0xff;
  f.write(b, mid.offset + 40);
  f.close();
  const before = await liveValues(storage, log);
  const remap = await log.compact({ minGarbageRatio: 0.3 });
  assert.is(remap.skippedSegments.length, 1);
  assert.is(remap.skippedSegments[0]!.fileId, F2);
  assert.is(remap.skippedSegments[0]!.error.code, 'CORRUPT');
  assert.ok(remap.compactedSegments.length >= 2 && !remap.compactedSegments.includes(F2));
  assert.ok((await storage.list()).includes(segmentFileName(F2)));
  for (const v of vals) {
    if (v.dead || v.ptr.fileId === F2) continue;
    assert.ok(same(log.get(remap.get(v.ptr) ?? v.ptr), v.value));
  }
  assert.is(await liveValues(storage, log), before, 'copies of the records before the damage are dead');
  // The damage stays reported on every run; it never blocks the rest.
  const again = await log.compact({ minGarbageRatio: 0.3 });
  assert.equal(again.skippedSegments.map((s) => s.fileId), [F2]);
  await log.close();
});

test('concurrent compact() calls run one after the other: every segment is copied once', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const before = await liveValues(storage, log);
  const order: string[] = [];
  const a = log.compact({ minGarbageRatio: 0.3, onRemap: async () => { order.push('a in'); await new Promise((r) => setTimeout(r, 5)); order.push('a out'); } });
  const b = log.compact({ minGarbageRatio: 0.3, onRemap: () => void order.push('b') });
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(order, ['a in', 'a out', 'b']);
  assert.ok(ra.compactedSegments.length >= 3);
  assert.equal(rb.compactedSegments, [], 'the second call found nothing left to compact');
  assert.is(rb.size, 0);
  checkAll(log, vals, ra);
  assert.is(await liveValues(storage, log), before);
  // A rejected call does not stop the queue.
  const c = log.compact({ onRemap: () => Promise.reject(new Error('no')) });
  const d = log.compact();
  await expectCodeAsync(() => c, 'IO');
  assert.is((await d).size, 0);
  await log.close();
});

test('without onRemap: a snapshot keeps the old segments until released; a failed deletion is reported, not thrown', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const before = await liveValues(storage, log);
  const snap = await log.snapshot();
  const remap = await log.compact({ minGarbageRatio: 0.3 });
  assert.ok(remap.compactedSegments.length >= 3);
  assert.is((await compactFiles(storage)).length, 1, 'the run keeps its remap on record while its sources exist');
  for (const v of vals) if (!v.dead) assert.ok(same(snap.get(v.ptr), v.value));
  await snap.release();
  assert.equal(await compactFiles(storage), []);
  checkAll(log, vals, remap);
  assert.is(await liveValues(storage, log), before);

  // Deletions that fail after the handover: compact() still resolves with the remap.
  const s2 = new TestStorage();
  const f2 = await filledLog(s2);
  s2.failRemove = (n) => n.endsWith('.log');
  const r2 = await f2.log.compact({ minGarbageRatio: 0.3 });
  assert.ok(r2.deleteErrors.length >= 3);
  assert.is(r2.deleteErrors[0]!.error.code, 'IO');
  checkAll(f2.log, f2.vals, r2);
  assert.ok(f2.log.stats().segments.filter((s) => s.zombie).length >= 3);
  await f2.log.close();
  // The next process rolls the run forward: the same pairs again, then the old segments go.
  s2.failRemove = undefined;
  const log2 = await ValueLog.open(s2, OPTS);
  const r3 = await log2.compact({ minGarbageRatio: 0.3 });
  assert.ok(r3.size >= r2.size);
  for (const [o, n] of r2) assert.equal(r3.get(o), n);
  assert.equal(await compactFiles(s2), []);
  assert.not.ok((await s2.list()).includes(segmentFileName(encodeFileId(0, 1))));
  checkAll(log2, f2.vals, r2);
  await log2.close();

  // In the same process, the next compact() retries the deletion.
  const s3 = new TestStorage();
  const f3 = await filledLog(s3);
  s3.failRemove = (n) => n.endsWith('.log');
  const r4 = await f3.log.compact({ minGarbageRatio: 0.3 });
  assert.ok(r4.deleteErrors.length >= 3);
  assert.ok((await f3.log.compact({ minGarbageRatio: 0.3 })).deleteErrors.length >= 3, 'still failing: still reported');
  s3.failRemove = undefined;
  const r5 = await f3.log.compact({ minGarbageRatio: 0.3 });
  assert.equal(r5.deleteErrors, []);
  assert.ok(f3.log.stats().segments.every((s) => !s.zombie));
  for (const id of r4.compactedSegments) assert.not.ok((await s3.list()).includes(segmentFileName(id)));
  assert.equal(await compactFiles(s3), []);
  checkAll(f3.log, f3.vals, r4);
  await f3.log.close();
});

test('a crash while copying: the next compact() marks the orphaned copies dead and loses nothing', async () => {
  let orphans = 0;
  for (const at of [1, 2, 3]) {
    const storage = new TestStorage();
    const { log, vals } = await filledLog(storage);
    const before = await liveValues(storage, log);
    let frozen: Map<string, Uint8Array> | undefined;
    let calls = 0;
    // Puts during compaction land in the same active segment as the copies: they must stay live.
    const extra: Filled['vals'] = [];
    const between: Filled['vals'] = [];
    await log.compact({
      minGarbageRatio: 0.3,
      onProgress: () => {
        if (++calls === at + 1) frozen = storage.freeze();
        if (frozen !== undefined) return;
        // A put between two segments' copies lands in the active segment among them (made visible
        // to storage here as a commit would).
        const value = noise(150, 7000 + calls);
        const ptr = log.put(value);
        log.makeVisible(ptr);
        between.push({ ptr, value, dead: false });
      },
    });
    assert.ok(frozen, `froze after segment ${at}`);
    await log.close();
    const crashed = await thaw(frozen!);
    assert.ok((await compactFiles(crashed)).some((n) => n.endsWith('.intent')));
    const again = await ValueLog.open(crashed, OPTS);
    orphans += (await liveValues(crashed, again)) - before;
    for (let i = 0; i < 5; i++) {
      const value = noise(200, 9000 + i);
      extra.push({ ptr: again.put(value), value, dead: false });
    }
    await again.commit();
    const r = await again.compact({ minGarbageRatio: 0.3 });
    checkAll(again, vals, r);
    // (The segment holding the orphans may itself have been compacted by now: read through r.)
    for (const e of extra) assert.ok(same(again.get(r.get(e.ptr) ?? e.ptr), e.value), 'a value put after the crash is live');
    for (const e of between) assert.ok(same(again.get(r.get(e.ptr) ?? e.ptr), e.value), 'a value put during the compaction is live');
    assert.ok(between.length >= at);
    assert.is(await liveValues(crashed, again), before + extra.length + between.length, 'no orphaned copy is live, no new value is dead');
    assert.equal(await compactFiles(crashed), []);
    await again.close();
  }
  assert.ok(orphans > 0, 'the frozen states held orphaned copies');
});

test('a crash after the copies were durable, before onRemap returned: the next compact() hands the run over again', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const before = await liveValues(storage, log);
  let frozen: Map<string, Uint8Array> | undefined;
  let first: PointerRemap | undefined;
  await log.compact({
    minGarbageRatio: 0.3,
    onRemap: (r) => {
      first = r;
      frozen = storage.freeze();
    },
  });
  await log.close();
  const crashed = await thaw(frozen!);
  const again = await ValueLog.open(crashed, OPTS);
  // The caller may or may not have recorded the first remap: both must end well.
  checkAll(again, vals); // nothing was deleted
  const r = await again.compact({ minGarbageRatio: 0.3 });
  for (const [o, n] of first!) assert.equal(r.get(o), n);
  for (const id of first!.compactedSegments) assert.not.ok((await crashed.list()).includes(segmentFileName(id)));
  checkAll(again, vals, r);
  checkAll(again, vals, first!, r);
  assert.is(await liveValues(crashed, again), before);
  assert.equal(await compactFiles(crashed), []);
  await again.close();
});

test('close() while compact() waits for its onRemap (called from inside it) does not hang: nothing is deleted, the next open rolls the run forward', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  const before = await liveValues(storage, log);
  const files = (await storage.list()).filter((n) => n.endsWith('.log'));
  let first: PointerRemap | undefined;
  let closed: Promise<void> | undefined;
  const remap = await log.compact({
    minGarbageRatio: 0.3,
    onRemap: async (r) => {
      first = r;
      closed = log.close();
      await closed; // would wait for itself if close() waited for this compaction
    },
  });
  await closed;
  assert.is(remap, first);
  assert.ok(remap.size > 0);
  const after = await storage.list();
  for (const f of files) assert.ok(after.includes(f), `${f} is not deleted`);
  assert.ok((await compactFiles(storage)).some((n) => n.endsWith('.remap')), 'the run stays on record');
  await expectCodeAsync(() => log.commit(), 'CLOSED');
  const again = await ValueLog.open(storage, OPTS);
  checkAll(again, vals);
  checkAll(again, vals, first!);
  const rolled = await again.compact({ minGarbageRatio: 0.3 });
  for (const [o, n] of first!) assert.equal(rolled.get(o), n, 'the run is handed over again');
  for (const id of first!.compactedSegments) assert.not.ok((await storage.list()).includes(segmentFileName(id)), 'and its sources deleted then');
  checkAll(again, vals, rolled);
  assert.is(await liveValues(storage, again), before);
  assert.equal(await compactFiles(storage), []);
  await again.close();
});

test('a read-only open racing the writer\'s compaction: a segment deleted between its listing and its open is skipped, every live value reads', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  let remap: PointerRemap | undefined;
  // The reader lists the directory; before it opens what it listed, the writer compacts and deletes.
  const racing: StorageBackend = {
    list: async () => {
      const names = await storage.list();
      if (remap === undefined) remap = await log.compact({ minGarbageRatio: 0.3 });
      return names;
    },
    open: (name, opts) => storage.open(name, opts),
    remove: (name) => storage.remove(name),
  };
  const reader = await ValueLog.open(racing, { readOnly: true });
  assert.ok(remap !== undefined && remap.compactedSegments.length > 0);
  for (const id of remap.compactedSegments) assert.not.ok((await storage.list()).includes(segmentFileName(id)), 'the compacted segments are gone');
  await reader.refresh(); // the segments the copies went to appeared after the listing
  checkAll(reader, vals, remap);
  await reader.close();
  await log.close();
});

test('a run record that is torn or foreign never counts', async () => {
  const storage = new TestStorage();
  const { log, vals } = await filledLog(storage);
  await log.close();
  const f = await storage.open('compact-000007.remap', { create: true });
  f.write(new Uint8Array([0x56, 0x4c, 0x43, 0x49, 1, 2, 0, 0, 200, 0, 0, 0]), 0);
  f.close();
  const again = await ValueLog.open(storage, OPTS);
  const r = await again.compact({ minGarbageRatio: 0.3 });
  assert.ok(r.compactedSegments.length >= 3);
  checkAll(again, vals, r);
  assert.equal(await compactFiles(storage), []);
  await again.close();
});

test.run();
