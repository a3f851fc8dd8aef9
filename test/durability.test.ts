// Fail-stop durability, checked byte counts, the dictionary store under failures, and commit()
// yielding to the event loop. Each failure path is driven by FaultStorage (power-loss model) or a
// small custom backend that misbehaves in one precise way.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DICT_HIGHWATER_NAME, init, MemoryStorage, ValueLog, ValueLogError, type OpenOptions, type StorageBackend, type StorageFile, type ValuePtr } from '../src/index.js';
import { encodeHighWater } from '../src/format/dictionary.js';
import { FaultStorage } from './fault-storage.js';
import { expectCode, expectCodeAsync, jsonDocs, noise } from './helpers.js';

await init();

const test = suite('durability');

const values = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => noise(50 + ((i * 37) % 400), seed * 1000 + i));

function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let c: unknown = e; c !== undefined && out.length < 10; c = (c as { cause?: unknown }).cause) out.push(c);
  return out;
}

async function expectAll(log: ValueLog, ptrs: ValuePtr[], vals: Uint8Array[], what: string): Promise<void> {
  ptrs.forEach((p, i) => assert.equal(log.get(p), vals[i], `${what}: value ${i}`));
}

/** A MemoryStorage whose files can be made to misbehave by name and operation. */
class Misbehaving implements StorageBackend {
  readonly inner = new MemoryStorage();
  hook: ((op: string, name: string, normal: () => unknown) => unknown) | undefined;
  list(): Promise<string[]> {
    return this.hook ? (this.hook('list', '', () => this.inner.list()) as Promise<string[]>) : this.inner.list();
  }
  async open(name: string, opts?: OpenOptions): Promise<StorageFile> {
    const f = await this.inner.open(name, opts);
    const call = <T>(op: string, normal: () => T): T => (this.hook ? (this.hook(op, name, normal) as T) : normal());
    return {
      read: (dst, at) => call('read', () => f.read(dst, at)),
      write: (src, at) => call('write', () => f.write(src, at)),
      size: () => call('size', () => f.size()),
      truncate: (n) => call('truncate', () => f.truncate(n)),
      flush: () => call('flush', () => f.flush()),
      close: () => f.close(),
    };
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }
}

test('a failed sync stops the log; after power loss the acknowledged values read back', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs);
  const vals = values(50);
  const acked = log.putMany(vals);
  await log.commit();
  const lost = log.put(noise(100, 9));
  fs.armWhen('eio', /^flush value-/);
  const first = await expectCodeAsync(() => log.commit(), 'IO', 'the commit whose sync failed');
  assert.match(first.message, /reopen to recover/);
  assert.ok(causes(first).some((c) => c instanceof Error && !(c instanceof ValueLogError) && /EIO/.test(c.message)), 'the backend error is kept as cause');
  // The fsyncgate trap: the dropped pages make a retried sync "succeed"; the log must not acknowledge.
  const again = await expectCodeAsync(() => log.commit(), 'IO', 'the retried commit');
  assert.match(again.message, /reopen to recover/);
  assert.match(again.message, /EIO: injected fault \(flush value-l0-000001\.log\)/, 'names the first failure');
  expectCode(() => log.put(noise(10, 1)), 'IO', 'put');
  expectCode(() => log.putMany([noise(10, 1)]), 'IO', 'putMany');
  expectCode(() => log.markDead(acked[0]!), 'IO', 'markDead');
  await expectCodeAsync(() => log.compact(), 'IO', 'compact');
  assert.equal(log.get(acked[3]!), vals[3], 'reads still work');
  await expectCodeAsync(() => log.close(), 'IO', 'close reports that the rest was not made durable');
  const image = fs.crash(true);
  const reopened = await ValueLog.open(image);
  await expectAll(reopened, acked, vals, 'after power loss');
  try {
    reopened.get(lost);
  } catch (e) {
    assert.ok(e instanceof ValueLogError, 'an unacknowledged value may be gone, with a ValueLogError');
  }
  // The reopened log acknowledges again.
  const more = reopened.putMany(values(5, 3));
  await reopened.commit();
  await reopened.close();
  const third = await ValueLog.open(image.crash(false));
  await expectAll(third, more, values(5, 3), 'after reopen');
  await third.close();
});

test('after a fail-stop, the pointer of a value never committed never reads another value (the reopened log writes a fresh segment)', async () => {
  for (const crash of [false, true]) {
    const fs = new FaultStorage();
    const log = await ValueLog.open(fs);
    const acked = log.putMany(values(20));
    await log.commit();
    fs.armWhen('eio', /^write value-/);
    const lost = log.put(noise(300, 4));
    await expectCodeAsync(() => log.commit(), 'IO', 'the commit whose write failed');
    await expectCodeAsync(() => log.close(), 'IO', 'close of a stopped log');
    const image = crash ? fs.crash(true) : fs;
    const again = await ValueLog.open(image);
    const other = again.put(noise(300, 5));
    await again.commit();
    assert.is.not(other.fileId, lost.fileId, 'the reopened log continues in a fresh segment');
    try {
      const got = again.get(lost);
      assert.unreachable(`the lost pointer read ${got.length} bytes of something`);
    } catch (e) {
      assert.ok(e instanceof ValueLogError, String(e));
    }
    await expectAll(again, acked, values(20), 'acknowledged values');
    await again.close();
    // A clean close leaves no marker: the next open continues in the same segment.
    const third = await ValueLog.open(image);
    assert.is(third.put(noise(10, 6)).fileId, other.fileId, 'after a clean close the lane continues where it was');
    await third.close();
  }
});

test('a put that flushes the full staging buffer and fails stops the log too', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs, { bufferSize: 64 * 1024 });
  const vals = values(20);
  const acked = log.putMany(vals);
  await log.commit();
  fs.armWhen('eio', /^write value-/);
  const err = expectCode(() => {
    for (let i = 0; i < 1000; i++) log.put(noise(1000, i));
  }, 'IO', 'the put whose buffer flush failed');
  assert.match(err.message, /reopen to recover/);
  await expectCodeAsync(() => log.commit(), 'IO', 'commit after the failed flush');
  await log.close().catch(() => undefined);
  const reopened = await ValueLog.open(fs.crash(true));
  await expectAll(reopened, acked, vals, 'after power loss');
  await reopened.close();
});

test('a short write reported by the backend is completed; a short writev too', async () => {
  for (const op of ['write', 'writev'] as const) {
    const fs = new FaultStorage();
    const log = await ValueLog.open(fs, { bufferSize: 64 * 1024 });
    const vals = op === 'write' ? values(100) : [noise(100 * 1024, 3), noise(70 * 1024, 4)];
    // The segment is created by the first commit (its held bytes go in one write): the fault is for later writes.
    const first = log.put(noise(10, 9));
    await log.commit();
    fs.armWhen('short-write', new RegExp(`^${op} value-`));
    const ptrs = [first, ...log.putMany(vals)];
    vals.unshift(noise(10, 9));
    await log.commit();
    assert.ok(fs.fired?.startsWith('short-write'), `${op}: the fault fired (${fs.fired})`);
    await log.close();
    const reopened = await ValueLog.open(fs.crash(false));
    await expectAll(reopened, ptrs, vals, `${op}: after power loss`);
    await reopened.close();
  }
});

test('a write, read or size that returns a bogus count is IO (and a bad write stops the log)', async () => {
  for (const bogus of [-1, 1e9, Number.NaN, 1.5, undefined]) {
    const s = new Misbehaving();
    const log = await ValueLog.open(s);
    const acked = log.putMany(values(10));
    await log.commit();
    log.put(noise(100, 2));
    let once = true;
    s.hook = (op, name, normal) => {
      if (op === 'write' && name.startsWith('value-') && once) {
        once = false;
        normal();
        return bogus;
      }
      return normal();
    };
    const e = await expectCodeAsync(() => log.commit(), 'IO', `write returned ${String(bogus)}`);
    assert.match(e.message, /invalid byte count|short write/);
    await expectCodeAsync(() => log.commit(), 'IO', 'the log stopped');
    assert.equal(log.get(acked[1]!), values(10)[1]);
    await log.close().catch(() => undefined);
  }
  // Reads: a count above the buffer, and a size that is not a non-negative integer.
  const s = new Misbehaving();
  const log = await ValueLog.open(s);
  const ptrs = log.putMany(values(10));
  await log.close();
  s.hook = (op, name, normal) => (op === 'read' && name.startsWith('value-') ? 1e6 : normal());
  await expectCodeAsync(() => ValueLog.open(s), 'IO', 'read returning more than asked');
  s.hook = (op, name, normal) => (op === 'size' && name.startsWith('value-') ? -5 : normal());
  await expectCodeAsync(() => ValueLog.open(s), 'IO', 'negative size');
  s.hook = undefined;
  const ok = await ValueLog.open(s);
  await expectAll(ok, ptrs, values(10), 'a clean reopen');
  await ok.close();
});

test('a short read before the end of the file is completed, not taken for a torn tail', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs);
  const vals = values(200);
  const ptrs = log.putMany(vals);
  await log.close();
  const image = fs.crash(false);
  for (let n = 0; n < 6; n++) {
    image.armWhen('short-read', /^read value-/, n);
    const again = await ValueLog.open(image);
    await expectAll(again, ptrs, vals, `short read #${n}`);
    assert.equal(again.stats().recovered, [], 'nothing truncated');
    await again.close();
  }
});

test('a plain Error from a custom backend becomes IO with the error as cause', async () => {
  const s = new Misbehaving();
  const boom = new Error('boom: the disk said no');
  s.hook = (op, _name, normal) => {
    if (op === 'list') throw boom;
    return normal();
  };
  const e = await expectCodeAsync(() => ValueLog.open(s), 'IO', 'list throws');
  assert.ok(causes(e).includes(boom), 'cause kept');
  assert.match(e.message, /boom: the disk said no/);
  s.hook = undefined;
  const log = await ValueLog.open(s);
  log.putMany(values(5));
  s.hook = (op, _name, normal) => {
    if (op === 'flush') throw boom;
    return normal();
  };
  const c = await expectCodeAsync(() => log.commit(), 'IO', 'flush throws');
  assert.ok(causes(c).includes(boom), 'cause kept through the fail-stop error');
  s.hook = undefined;
  await log.close().catch(() => undefined);
});

test('a failed background pre-open of the next segment is retried and never poisons the log', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs, { segmentSize: 64 * 1024 });
  fs.armWhen('eio', /^open value-l0-000002\.log/);
  const vals: Uint8Array[] = [];
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < 60; i++) {
    const v = noise(4000, i + 1);
    vals.push(v);
    ptrs.push(log.put(v));
    await log.commit(); // never rejects: nothing was lost
  }
  assert.ok(fs.fired?.includes('value-l0-000002'), `the pre-open failed once (${fs.fired})`);
  const segs = log.stats().segments.map((s) => s.name);
  assert.ok(segs.includes('value-l0-000003.log') || segs.includes('value-l0-000002.log'), `rotated after the retry: ${segs.join(', ')}`);
  await expectAll(log, ptrs, vals, 'before close');
  await log.close();
  const again = await ValueLog.open(fs.crash(false), { segmentSize: 64 * 1024 });
  await expectAll(again, ptrs, vals, 'after reopen');
  await again.close();
});

test('dictionary high-water: a full disk or a crash mid-append never damages it; old single-entry files still read', async () => {
  const samples = jsonDocs(60, 400, 3);
  const opts = { compression: 'zstd-dict' as const, dictionary: { size: 1024, trainAfterBytes: 0 } };
  for (const kind of ['enospc', 'short-write', 'crash'] as const) {
    let fs = new FaultStorage();
    const log = await ValueLog.open(fs, opts);
    const id1 = await log.trainDictionary({ samples });
    const vals = jsonDocs(50, 300, 4);
    const ptrs = log.putMany(vals);
    await log.commit();
    fs.armWhen(kind, kind === 'crash' ? /^flush dict-highwater/ : /^write dict-highwater/);
    if (kind === 'short-write') await log.trainDictionary({ samples: jsonDocs(60, 400, 9) }); // completed
    else await expectCodeAsync(() => log.trainDictionary({ samples: jsonDocs(60, 400, 9) }), 'IO', `${kind}: training`);
    assert.equal(log.stats().dictionaries.damaged, [], `${kind}: nothing damaged`);
    await log.close().catch(() => undefined);
    fs = fs.crashImage ?? fs.crash(true);
    const again = await ValueLog.open(fs, opts);
    assert.equal(again.stats().dictionaries.damaged, [], `${kind}: nothing damaged after reopen`);
    await expectAll(again, ptrs, vals, kind);
    const id3 = await again.trainDictionary({ samples: jsonDocs(60, 400, 12) });
    assert.ok(id3 > id1, `${kind}: ids go on (${id1} then ${id3})`);
    await again.close();
  }
  // A 0-byte high-water file (what a full disk left before) and a single 16-byte entry (the old format).
  for (const content of [new Uint8Array(0), encodeHighWater(5n)]) {
    const s = new MemoryStorage();
    const f = await s.open(DICT_HIGHWATER_NAME, { create: true });
    f.write(content, 0);
    f.close();
    const log = await ValueLog.open(s, opts);
    assert.equal(log.stats().dictionaries.damaged, []);
    const id = await log.trainDictionary({ samples });
    assert.is(id, content.length === 0 ? 1n : 6n);
    await log.close();
    const hw = await s.open(DICT_HIGHWATER_NAME);
    assert.is(hw.size(), content.length + 16, 'appended');
    hw.close();
    const again = await ValueLog.open(s, opts);
    assert.is(await again.trainDictionary({ samples: jsonDocs(60, 400, 21) }), id + 1n);
    await again.close();
  }
});

test('a transient I/O error reading a dictionary at open is IO, not a damaged dictionary', async () => {
  const opts = { compression: 'zstd-dict' as const, dictionary: { size: 1024, trainAfterBytes: 0 } };
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs, opts);
  await log.trainDictionary({ samples: jsonDocs(60, 400, 3) });
  const vals = jsonDocs(40, 300, 5);
  const ptrs = log.putMany(vals);
  await log.close();
  const image = fs.crash(false);
  image.armWhen('eio', /^read dict-0000000001/);
  await expectCodeAsync(() => ValueLog.open(image, opts), 'IO', 'open while the read fails');
  const again = await ValueLog.open(image, opts);
  assert.equal(again.stats().dictionaries.damaged, []);
  assert.is(again.stats().dictionaries.current, 1);
  await expectAll(again, ptrs, vals, 'after the retry');
  await again.close();
});

test('commit() gives the event loop a turn: a 1 ms interval fires during 2,000 commits', async () => {
  const log = await ValueLog.open(new MemoryStorage());
  let fired = 0;
  const timer = setInterval(() => fired++, 1);
  const v = noise(100, 1);
  const started = Date.now();
  for (let i = 0; i < 2000; i++) {
    log.put(v);
    await log.commit();
  }
  clearInterval(timer);
  const ms = Date.now() - started;
  assert.ok(fired >= Math.min(5, Math.floor(ms / 8)), `the interval fired ${fired} times in ${ms} ms`);
  await log.close();
});

/**
 * MemoryStorage whose directory operations complete on a later macrotask, as real file systems'
 * asynchronous calls do (an in-memory promise would resolve within the microtasks of a commit).
 */
class EventLoopStorage extends MemoryStorage {
  override open(name: string, opts?: OpenOptions): ReturnType<MemoryStorage['open']> {
    return new Promise((resolve) => setTimeout(resolve, 0)).then(() => super.open(name, opts));
  }
}

test("commit() yields so that 'zstd-dict' trains by policy during a put + commit load of 100,000 JSON documents", async () => {
  const log = await ValueLog.open(new EventLoopStorage(), { compression: 'zstd-dict' });
  const docs = jsonDocs(1000, 120, 8);
  for (let i = 0; i < 100_000; i++) {
    log.put(docs[i % 1000]!);
    await log.commit();
  }
  const s = log.stats();
  const frames = s.compression.frames;
  const total = frames['zstd-dict'] + frames.lz4 + frames.none + frames.snappy;
  assert.is(s.dictionaries.trainedByPolicy, 1);
  assert.ok(frames['zstd-dict'] > total * 0.8, `zstd-dict frames: ${frames['zstd-dict']} of ${total}`);
  await log.close();
});

test.run();
