// Bad input at the API edge: every case gives a ValueLogError with code INVALID_ARGUMENT and a message
// that names what was wrong, never a TypeError/RangeError from deep inside, never silent acceptance
// (a misspelled option would otherwise give a log that quietly does something else).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, MemoryStorage, ValueLog, type ValueLogOptions } from '../src/index.js';
import { expectCode, expectCodeAsync, utf8 } from './helpers.js';

await init();

const test = suite('API argument errors');

const badOpen: Array<[string, unknown, unknown, RegExp]> = [
  ['a path string instead of a backend', '/some/path', {}, /StorageBackend.*NodeStorage\("\/some\/path"\)/],
  ['null storage', null, {}, /StorageBackend/],
  ['null options', 'memory', null, /options must be an object, got null/],
  ['an array as options', 'memory', [], /must be an object/],
  ['a misspelled option', 'memory', { compresion: 'lz4' }, /unknown option "compresion".*did you mean "compression"/],
  ['a misspelled nested option', 'memory', { dictionary: { sizee: 4096 } }, /unknown option "sizee" in options.dictionary.*"size"/],
  ['bufferSize 2^40', 'memory', { bufferSize: 2 ** 40 }, /bufferSize must be an integer in 64 KiB\.\.256 MiB/],
  ['bufferSize 2^31', 'memory', { bufferSize: 2 ** 31 }, /bufferSize/],
  ['bufferSize as a string', 'memory', { bufferSize: '65536' }, /bufferSize.*got "65536"/],
  ['segmentSize NaN', 'memory', { segmentSize: NaN }, /segmentSize/],
  ['lanes 0', 'memory', { lanes: 0 }, /lanes/],
  ['an unknown compression', 'memory', { compression: 'gzip' }, /compression must be/],
  ['salvage as a string', 'memory', { salvage: 'yes' }, /salvage must be true or false/],
  ['dictionary.level 30', 'memory', { compression: 'zstd-dict', dictionary: { level: 30 } }, /dictionary.level/],
  ['dictionary.entropy 1', 'memory', { compression: 'zstd-dict', dictionary: { entropy: 1 } }, /entropy must be true or false/],
  ['rawFrameBytes 0', 'memory', { rawFrameBytes: 0 }, /rawFrameBytes/],
];

for (const [name, storageArg, options, message] of badOpen) {
  test(`ValueLog.open refuses ${name} and creates nothing`, async () => {
    const storage = new MemoryStorage();
    const s = storageArg === 'memory' ? storage : storageArg;
    const e = await expectCodeAsync(() => ValueLog.open(s as MemoryStorage, options as ValueLogOptions), 'INVALID_ARGUMENT', name);
    assert.match(e.message, message);
    assert.ok(e.message.startsWith('valuelog: ') && !e.message.startsWith('valuelog: valuelog'), e.message);
    assert.equal(await storage.list(), [], 'a refused open leaves no file behind');
  });
}

test('calls with bad arguments give INVALID_ARGUMENT naming the problem', async () => {
  const log = await ValueLog.open(new MemoryStorage());
  const ptr = log.put(utf8('v'));
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['markDead(null)', () => log.markDead(null as never), /markDead expects a value pointer/],
    ['markDead(undefined)', () => log.markDead(undefined as never), /markDead expects/],
    ['markDead([null])', () => log.markDead([null] as never), /value pointer must be an object/],
    ['markDead with a string offset', () => log.markDead({ ...ptr, offset: '8' } as never), /offset/],
    ['put(string)', () => log.put('text' as never), /Uint8Array/],
    ['put with an unknown option', () => log.put(utf8('x'), { lain: 0 } as never), /unknown option "lain".*"lane"/],
    ['put to lane "0"', () => log.put(utf8('x'), { lane: '0' } as never), /lane/],
    ['putMany(null)', () => log.putMany(null as never), /array/],
    ['get(null)', () => log.get(null as never), /value pointer must be an object/],
  ];
  for (const [name, fn, message] of cases) assert.match(expectCode(fn, 'INVALID_ARGUMENT', name).message, message, name);
  const asyncCases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['compact minGarbageRatio "0.5"', () => log.compact({ minGarbageRatio: '0.5' } as never), /minGarbageRatio must be a number in 0\.\.1, got "0\.5"/],
    ['compact minGarbageRatio 2', () => log.compact({ minGarbageRatio: 2 }), /minGarbageRatio/],
    ['compact misspelled option', () => log.compact({ minGarbgeRatio: 0.9 } as never), /unknown option "minGarbgeRatio".*"minGarbageRatio"/],
    ['compact maxBytes 0', () => log.compact({ maxBytes: 0 }), /maxBytes/],
    ['compact onProgress not a function', () => log.compact({ onProgress: 1 } as never), /onProgress must be a function/],
    ['compact(null)', () => log.compact(null as never), /compact options must be an object/],
    ['trainDictionary size "1"', () => log.trainDictionary({ size: '1' } as never), /size/],
    ['trainDictionary unknown option', () => log.trainDictionary({ sampels: [] } as never), /unknown option "sampels"/],
  ];
  for (const [name, fn, message] of asyncCases) assert.match((await expectCodeAsync(fn, 'INVALID_ARGUMENT', name)).message, message, name);
  assert.equal(log.get(ptr), utf8('v'), 'the log still works after refused calls');
  assert.is(log.stats().segments[0]!.deadValues, 0, 'nothing was marked dead by a refused markDead');
  await log.close();
});

test.run();
