// isDead and values(): what a user keeping an index needs to rebuild or check it. Every runtime.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, MemoryStorage, ptrToString, ValueLog, type ValuePtr } from '../src/index.js';
import { expectCode, noise, utf8 } from './helpers.js';

await init();
const test = suite('isDead and values()');

test('values() yields every live value once, in log order, with its pointer; dead ones skipped; uncommitted included', async () => {
  const log = await ValueLog.open(new MemoryStorage(), { segmentSize: 64 * 1024 });
  const vals = Array.from({ length: 1500 }, (_, i) => (i % 50 === 7 ? noise(3000, i) : utf8(`value ${i} ${'x'.repeat(i % 200)}`)));
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < vals.length; i += 30) {
    ptrs.push(...log.putMany(vals.slice(i, i + 30)));
    await log.commit();
  }
  assert.ok(log.stats().segments.length >= 3, 'several segments');
  const dead = ptrs.filter((_, i) => i % 3 === 0);
  log.markDead(dead);
  await log.commit();
  const extra = log.put(utf8('not committed yet'));
  const byPtr = new Map(ptrs.map((p, i) => [ptrToString(p), i]));
  const seen: number[] = [];
  let last: ValuePtr | undefined;
  for await (const { ptr, value } of log.values()) {
    if (last) assert.ok(ptr.fileId > last.fileId || (ptr.fileId === last.fileId && ptr.offset >= last.offset), 'log order');
    last = ptr;
    if (ptrToString(ptr) === ptrToString(extra)) {
      assert.equal(value, utf8('not committed yet'));
      seen.push(-1);
      continue;
    }
    const i = byPtr.get(ptrToString(ptr));
    assert.ok(i !== undefined, 'a pointer put returned');
    assert.equal(value, vals[i!]);
    seen.push(i!);
  }
  const live = ptrs.map((_, i) => i).filter((i) => i % 3 !== 0);
  assert.equal(seen.filter((i) => i >= 0).sort((a, b) => a - b), live);
  assert.ok(seen.includes(-1), 'the uncommitted value too');
  for (const p of dead) assert.ok(log.isDead(p));
  assert.not.ok(log.isDead(ptrs[1]!));
  assert.ok(log.isDead({ fileId: dead[0]!.fileId, offset: dead[0]!.offset, length: dead[0]!.length }), 'by pointer value');
  expectCode(() => log.isDead(null as never), 'INVALID_ARGUMENT');
  await log.close();
});

test('values() pins its segments while it runs: a break releases them, compaction meanwhile deletes nothing it reads', async () => {
  const log = await ValueLog.open(new MemoryStorage(), { segmentSize: 64 * 1024 });
  const ptrs: ValuePtr[] = [];
  for (let i = 0; i < 40; i++) {
    ptrs.push(...log.putMany(Array.from({ length: 20 }, (_, j) => noise(200, i * 20 + j + 1))));
    await log.commit();
  }
  log.markDead(ptrs.slice(0, 300));
  await log.commit();
  let n = 0;
  for await (const _ of log.values()) {
    if (n++ === 0) {
      const remap = await log.compact({ minGarbageRatio: 0.3 });
      assert.ok(remap.compactedSegments.length > 0, 'compaction ran during the iteration');
      assert.ok(log.stats().segments.some((s) => s.zombie && s.pins > 0), 'the segments the iteration reads stay, pinned');
    }
    if (n === 100) break;
  }
  assert.not.ok(log.stats().segments.some((s) => s.zombie), 'the break released the pin: zombies are gone');
  await log.close();
});

test.run();
