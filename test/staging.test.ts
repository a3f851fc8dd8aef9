// The writer's staging area in WebAssembly module memory and pointer reads that land there
// (docs/DESIGN.md, "Writing" and "Reading"), through the public API: records larger than the staging
// area, many lanes (more than the module's staging budget holds), failed and short writes followed by
// further appends, module memory growing between appends and between reads, and values that stay
// the caller's own after later reads.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, MemoryStorage, ValueLog, wasmMemoryBytes, zstdCompress, type ValuePtr } from '../src/index.js';
import { FaultStorage } from './fault-storage.js';
import { expectCode, expectCodeAsync, noise } from './helpers.js';

await init();

const test = suite('staging');

/**
 * Grows the module's memory for sure: compressing half as many bytes as it holds needs an input and
 * an output region of at least that size each, more than the memory has free.
 */
function growModuleMemory(): void {
  const before = wasmMemoryBytes();
  const out = zstdCompress(new Uint8Array(before / 2 + 65536));
  assert.ok(out !== undefined && out.length > 0, 'the compression ran');
  assert.ok(wasmMemoryBytes() > before, `module memory grew (${before} -> ${wasmMemoryBytes()})`);
}

function expectAll(log: ValueLog, ptrs: readonly ValuePtr[], vals: readonly Uint8Array[], what: string): void {
  assert.is(ptrs.length, vals.length, `${what}: pointer count`);
  ptrs.forEach((p, i) => assert.equal(log.get(p), vals[i], `${what}: value ${i} (${vals[i]!.length} bytes)`));
}

test('records larger than the staging area, next to ones that fill it exactly, read back before and after reopening', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { bufferSize: 64 * 1024 });
  // 20 (record header) + 28 (frame prefix, K = 1) + 65488 = 65536: exactly the buffer; one more does not fit.
  const sizes = [100, 65488, 65489, 5000, 200 * 1024, 65488, 1, 130 * 1024, 3000];
  const vals = sizes.map((n, i) => noise(n, 10 + i));
  const ptrs = vals.map((v) => log.put(v));
  expectAll(log, ptrs, vals, 'before commit');
  await log.commit();
  const more = [noise(70 * 1024, 40), noise(10, 41), noise(64 * 1024, 42)];
  const morePtrs = log.putMany(more);
  await log.commit();
  expectAll(log, morePtrs, more, 'putMany');
  await log.close();
  const again = await ValueLog.open(storage, { bufferSize: 64 * 1024 });
  expectAll(again, [...ptrs, ...morePtrs], [...vals, ...more], 'after reopen');
  let n = 0;
  for await (const e of again.values()) assert.equal(e.value, [...vals, ...more][n++], `scan value ${n - 1}`);
  assert.is(n, vals.length + more.length, 'the scan sees every value');
  await again.close();
});

test('many lanes, more than the staging budget holds, appending concurrently', async () => {
  const storage = new MemoryStorage();
  // 80 lanes x 256 KiB is more than the module's 16 MiB staging budget: some writers stage in
  // module memory, the rest in ordinary memory; every value must read back either way.
  const lanes = 80;
  const log = await ValueLog.open(storage, { lanes });
  const vals: Uint8Array[][] = Array.from({ length: lanes }, () => []);
  const ptrs: ValuePtr[][] = Array.from({ length: lanes }, () => []);
  const commits: Promise<void>[] = [];
  for (let round = 0; round < 6; round++) {
    for (let lane = 0; lane < lanes; lane++) {
      const batch = Array.from({ length: 3 }, (_, i) => noise(200 + ((lane * 131 + round * 977 + i * 61) % 9000), lane * 1000 + round * 10 + i));
      vals[lane]!.push(...batch);
      ptrs[lane]!.push(...log.putMany(batch, { lane }));
    }
    commits.push(log.commit());
  }
  await Promise.all(commits);
  for (let lane = 0; lane < lanes; lane++) expectAll(log, ptrs[lane]!, vals[lane]!, `lane ${lane}`);
  await log.close();
  const again = await ValueLog.open(storage, { lanes });
  for (let lane = 0; lane < lanes; lane++) expectAll(again, ptrs[lane]!, vals[lane]!, `lane ${lane} after reopen`);
  await again.close();
});

test('a short write is completed from the staged bytes; later appends go on and every value reads back', async () => {
  const fs = new FaultStorage();
  const log = await ValueLog.open(fs, { bufferSize: 64 * 1024 });
  const vals = Array.from({ length: 40 }, (_, i) => noise(3000 + i * 17, 100 + i));
  const ptrs = log.putMany(vals.slice(0, 10));
  await log.commit(); // the segment exists from here on
  fs.armWhen('short-write', /^write value-/);
  ptrs.push(...log.putMany(vals.slice(10, 30)));
  await log.commit();
  assert.ok(fs.applicable['short-write'] > 0, 'a short write happened');
  ptrs.push(...log.putMany(vals.slice(30)));
  await log.commit();
  expectAll(log, ptrs, vals, 'after the short write');
  await log.close();
  const image = fs.crash(false);
  const again = await ValueLog.open(image, { bufferSize: 64 * 1024 });
  expectAll(again, ptrs, vals, 'after power loss');
  await again.close();
});

test('a failed write is not acknowledged, stops further appends, and the acknowledged values survive byte for byte', async () => {
  for (const kind of ['eio', 'enospc'] as const) {
    const fs = new FaultStorage();
    const log = await ValueLog.open(fs, { bufferSize: 64 * 1024 });
    const acked = Array.from({ length: 30 }, (_, i) => noise(2500 + i * 31, 200 + i));
    const ptrs = log.putMany(acked);
    await log.commit();
    fs.armWhen(kind, /^write value-/);
    // More than the buffer: the staged bytes reach storage (and fail) before the commit.
    let failedInPut = false;
    try {
      for (let i = 0; i < 40; i++) log.put(noise(4000, 300 + i));
    } catch (e) {
      failedInPut = true;
      assert.is((e as { code?: string }).code, 'IO', `${kind}: the put that hit the failure`);
    }
    assert.ok(failedInPut, `${kind}: the failure surfaced in a put`);
    await expectCodeAsync(() => log.commit(), 'IO', `${kind}: the commit after the failed write`);
    expectCode(() => log.put(noise(10, 1)), 'IO', `${kind}: a later put`);
    expectAll(log, ptrs, acked, `${kind}: acknowledged values, same process`);
    await log.close().catch(() => undefined);
    const image = fs.crash(true);
    const again = await ValueLog.open(image, { bufferSize: 64 * 1024 });
    expectAll(again, ptrs, acked, `${kind}: acknowledged values after power loss`);
    // The log goes on after the reopen, in the space the failed bytes left.
    const next = [noise(5000, 400), noise(70 * 1024, 401)];
    const nextPtrs = again.putMany(next);
    await again.commit();
    expectAll(again, [...ptrs, ...nextPtrs], [...acked, ...next], `${kind}: after appending again`);
    await again.close();
  }
});

test('module memory growing between staged appends and between reads changes no byte', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const vals = [noise(4096, 500), noise(100, 501), noise(20000, 502)];
  const ptrs = vals.map((v) => log.put(v)); // staged, not flushed
  growModuleMemory();
  vals.push(noise(4096, 503), noise(300 * 1024, 504), noise(777, 505));
  ptrs.push(...vals.slice(3).map((v) => log.put(v)));
  await log.commit();
  expectAll(log, ptrs, vals, 'after growth between appends');
  const held = ptrs.map((p) => log.get(p));
  growModuleMemory();
  held.forEach((v, i) => assert.equal(v, vals[i], `value ${i} read before the growth is intact after it`));
  expectAll(log, ptrs, vals, 'reads after the growth');
  await log.close();
});

test('module memory growing from dictionary compression between appends', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage, { compression: 'zstd-dict' });
  const doc = (i: number) => new TextEncoder().encode(JSON.stringify({ id: i, name: `user-${i}`, tags: ['a', 'b', String(i % 7)], pad: 'x'.repeat(i % 300) }));
  const vals: Uint8Array[] = [];
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < 400; i++) {
    vals.push(doc(i));
    ptrs.push(log.put(vals[i]!));
  }
  await log.trainDictionary();
  growModuleMemory();
  for (let i = 400; i < 800; i++) {
    vals.push(doc(i));
    ptrs.push(log.put(vals[i]!));
  }
  await log.commit();
  expectAll(log, ptrs, vals, 'compressed and raw frames');
  await log.close();
  const again = await ValueLog.open(storage, { compression: 'zstd-dict' });
  expectAll(again, ptrs, vals, 'after reopen');
  await again.close();
});

test('a value returned by get is the caller own: later reads do not overwrite it, changing it changes nothing stored', async () => {
  const storage = new MemoryStorage();
  const log = await ValueLog.open(storage);
  const sizes = [1, 100, 4096, 65536, 2 * 1024 * 1024];
  const vals = sizes.map((n, i) => noise(n, 600 + i));
  const ptrs = vals.map((v) => log.put(v));
  await log.commit();
  const got = ptrs.map((p) => log.get(p));
  // Read everything again, in another order: the reads land in the same module memory.
  for (let r = 0; r < 3; r++) for (let i = ptrs.length - 1; i >= 0; i--) log.get(ptrs[i]!);
  got.forEach((v, i) => assert.equal(v, vals[i], `value ${i} after later reads`));
  for (const v of got) v.fill(0xee);
  expectAll(log, ptrs, vals, 'stored values after the returned ones were changed');
  const a = log.get(ptrs[2]!);
  const b = log.get(ptrs[2]!);
  assert.ok(a !== b, 'two reads give two arrays');
  a.fill(1);
  assert.equal(b, vals[2], 'changing one does not change the other');
  await log.close();
});

test('a scan keeps every value intact when module memory grows in the middle of it', async () => {
  const storage = new MemoryStorage();
  const doc = (i: number) => new TextEncoder().encode(`{"id":${i},"name":"item-${i}","body":"${'lorem ipsum '.repeat(20 + (i % 50))}"}`);
  const vals: Uint8Array[] = [];
  for (const compression of ['lz4', 'none', 'snappy'] as const) {
    const log = await ValueLog.open(storage, { compression });
    const batch = Array.from({ length: 150 }, (_, i) => (i % 10 === 9 ? noise(5000 + i, 700 + i) : doc(vals.length + i)));
    batch.push(noise(2 * 1024 * 1024, 799)); // larger than the scan's read-ahead buffer
    log.putMany(batch);
    vals.push(...batch);
    await log.commit();
    await log.close();
  }
  const log = await ValueLog.open(storage);
  const seen: Uint8Array[] = [];
  for await (const e of log.values()) {
    seen.push(e.value);
    if (seen.length === 100 || seen.length === 300) growModuleMemory();
  }
  assert.is(seen.length, vals.length, 'the scan sees every value');
  seen.forEach((v, i) => assert.equal(v, vals[i], `scanned value ${i} (${vals[i]!.length} bytes)`));
  await log.close();
});

test.run();
