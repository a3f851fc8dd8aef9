// The pointer string form: compact (22 characters), URL-safe, one string per pointer, exact round trip;
// anything else is INVALID_ARGUMENT. Pure functions: every runtime.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeValuePtr, init, markGrouped, MemoryStorage, PTR_STRING_LENGTH, ptrFromString, ptrToString, SeededRandom, ValueLog, type ValuePtr } from '../src/index.js';
import { expectCode, utf8 } from './helpers.js';

await init();
const test = suite('ptrToString / ptrFromString');

test('round-trips edge and random pointers exactly, URL-safe, 22 characters', () => {
  const rnd = new SeededRandom(7);
  const ptrs: ValuePtr[] = [
    { fileId: 0, offset: 4, length: 0 },
    { fileId: 0xffffffff, offset: Number.MAX_SAFE_INTEGER, length: 0xffffffff },
    { fileId: 1, offset: 24, length: markGrouped(100, 127) },
  ];
  for (let i = 0; i < 2000; i++) ptrs.push({ fileId: rnd.uint32(), offset: 4 + rnd.uint32() * 2 ** 20 + rnd.intn(2 ** 20), length: rnd.uint32() });
  const seen = new Set<string>();
  for (const p of ptrs) {
    const s = ptrToString(p);
    assert.is(s.length, PTR_STRING_LENGTH);
    assert.ok(/^[A-Za-z0-9_-]+$/.test(s), s);
    assert.equal(ptrFromString(s), p);
    assert.is(ptrToString({ length: p.length, offset: p.offset, fileId: p.fileId }), s, 'same value, same string (a Map key)');
    seen.add(s);
  }
  assert.is(seen.size, new Set(ptrs.map((p) => encodeValuePtr(p).join())).size, 'different pointers, different strings');
});

test('refuses anything that is not exactly a pointer string', () => {
  const good = ptrToString({ fileId: 1, offset: 8, length: 20 });
  const bad: unknown[] = [undefined, null, 42, '', good.slice(1), `${good}A`, `${good.slice(0, 21)}+`, `${good.slice(0, 10)}=${good.slice(11)}`];
  // Trailing bits set: the same 16 bytes would have two strings.
  bad.push(good.slice(0, 21) + 'B');
  // An offset below 4 cannot come from ptrToString.
  bad.push('AAAAAAAAAAAAAAAAAAAAAA');
  for (const s of bad) expectCode(() => ptrFromString(s as string), 'INVALID_ARGUMENT', JSON.stringify(s));
  expectCode(() => ptrToString(null as never), 'INVALID_ARGUMENT');
});

test('pointers from a log survive the string form', async () => {
  const log = await ValueLog.open(new MemoryStorage());
  const ptrs = log.putMany(Array.from({ length: 300 }, (_, i) => utf8(`value ${i}`)));
  await log.commit();
  const index = new Map(ptrs.map((p, i) => [ptrToString(p), i]));
  for (const [s, i] of index) assert.equal(log.get(ptrFromString(s)), utf8(`value ${i}`));
  await log.close();
});

test.run();
