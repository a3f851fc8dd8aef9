// Golden bytes of the files beside the segments (docs/FORMAT.md, "Golden vectors"): a dead-value
// sidecar entry, a dictionary high-water entry, the compaction records, and the pointer string form.
// Pure bytes and MemoryStorage: every runtime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeValuePtr, DEAD_ENTRY_SIZE, init, MemoryStorage, ptrFromString, ptrToString, sidecarName, type ValuePtr } from '../src/index.js';
import { decodeIntent, encodeIntent, intentFileName, parseIntentFileName, type CompactionIntent } from '../src/compaction.js';
import { decodeHighWater, decodeHighWaterLog, encodeHighWater } from '../src/format/dictionary.js';
import { GarbageTracker } from '../src/garbage.js';
import { hex, unhex } from './helpers.js';

await init();

/** The pointer of the "hello" vector of test/format.test.ts: grouped, sub-index 0, hint 49, value-l0-000001.log. */
const HELLO: ValuePtr = { offset: 4, length: 0x40000031, fileId: 0x80000001 };

test('golden: the pointer string form', () => {
  assert.is(ptrToString(HELLO), 'BAAAAAAAAAAxAABAAQAAgA');
  assert.equal(ptrFromString('BAAAAAAAAAAxAABAAQAAgA'), HELLO);
});

test('golden: a dead-value sidecar entry, and a torn one after it is ignored', async () => {
  const storage = new MemoryStorage();
  const t = new GarbageTracker();
  assert.ok(t.mark(HELLO, 33));
  await t.persist(storage);
  assert.is(sidecarName(HELLO.fileId), 'value-l0-000001.dead');
  const f = await storage.open('value-l0-000001.dead');
  const b = new Uint8Array(f.size());
  f.read(b, 0);
  assert.is(b.length, DEAD_ENTRY_SIZE);
  assert.is(hex(b), '0400000000000000' + '31000040' + '01000080' + '21000000' + '0a1bfd87');
  assert.equal(decodeValuePtr(b), HELLO);
  // A torn second entry (a crash mid-append) does not count.
  f.write(b.subarray(0, 10), DEAD_ENTRY_SIZE);
  f.close();
  const again = new GarbageTracker();
  await again.load(storage, HELLO.fileId);
  assert.ok(again.isDead(HELLO));
  assert.is(again.deadBytes(HELLO.fileId), 33);
  assert.is(again.deadValues(HELLO.fileId), 1);
});

test('golden: a dictionary high-water entry; a torn last entry is ignored', () => {
  const e = encodeHighWater(1n);
  assert.is(hex(e), '564c5a48' + '0100000000000000' + 'db9ee83d');
  assert.is(decodeHighWater(e), 1n);
  const log = new Uint8Array([...e, ...encodeHighWater(7n), ...encodeHighWater(3n).subarray(0, 9)]);
  assert.equal(decodeHighWaterLog(log), { id: 7n, end: 32, damage: undefined });
});

test('golden: the compaction intent and remap records of a run', () => {
  const intent: CompactionIntent = { run: 1, phase: 'intent', maxRid: 2n, sources: [0x80000001], targets: [{ fileId: 0x80000002, offset: 0 }], pairs: [] };
  assert.is(intentFileName(1, 'intent'), 'compact-000001.intent');
  assert.equal(parseIntentFileName('compact-000001.remap'), { run: 1, phase: 'remap' });
  const bytes = encodeIntent(intent);
  assert.is(
    hex(bytes),
    '564c4349' + '01' + '01' + '0000' + '28000000' + 'c97a6988' + // "VLCI", version 1, intent, zero, payload 40 bytes, CRC
      '0200000000000000' + // maxRid 2
      '01000000' + '01000080' + // 1 source: 0x80000001
      '01000000' + '02000080' + '00000000' + '0000000000000000' + // 1 copy start: 0x80000002 at offset 0
      '00000000', // no pairs
  );
  assert.equal(decodeIntent(1, bytes), intent);
  const moved: ValuePtr = { ...HELLO, fileId: 0x80000002 };
  const remap: CompactionIntent = { ...intent, phase: 'remap', pairs: [[HELLO, moved]] };
  const r = encodeIntent(remap);
  assert.is(hex(r.subarray(0, 16)), '564c4349' + '01' + '02' + '0000' + '48000000' + '584dd305');
  assert.is(hex(r.subarray(r.length - 32)), '0400000000000000310000400100008004000000000000003100004002000080');
  assert.equal(decodeIntent(1, r), remap);
  // Torn, bit-flipped or foreign records never count.
  assert.is(decodeIntent(1, r.subarray(0, r.length - 1)), undefined);
  const flipped = r.slice();
  flipped[20]! ^= 1;
  assert.is(decodeIntent(1, flipped), undefined);
  assert.is(decodeIntent(1, unhex('564c4349' + '02' + '01' + '0000' + '00000000' + '00000000')), undefined, 'version 2');
});

test.run();
