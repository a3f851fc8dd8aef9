// The WebAssembly codecs: round trips, declared-size checks before allocation, dictionary caching and
// training, and init() semantics. Interop with independent implementations: codec-oracles.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DICT_CACHE_CAPACITY,
  init,
  isInitialized,
  limits,
  lz4Compress,
  lz4Decompress,
  preparedDictionaryCount,
  snappyCompress,
  snappyDecompress,
  trainDictionary,
  zstdCompress,
  zstdDecompress,
  zstdDictionaryId,
  zstdFrameDictId,
} from '../src/index.js';
import { wasmMemoryBytes } from '../src/codec/module.js';
import { codecCorpus, expectCode, jsonDocs, noise, utf8 } from './helpers.js';

await init();

// ---------------------------------------------------------------------------------------------
// init()

test('codecs throw NOT_INITIALIZED before init(), and init() is one memoised promise', async () => {
  // A second instance of the module (separate URL) has not been initialised yet.
  const fresh = (await import(`../src/codec/module.js?fresh=${Date.now()}`)) as typeof import('../src/codec/module.js');
  assert.not.ok(fresh.isInitialized());
  const err = expectCode(() => fresh.wasm(), 'NOT_INITIALIZED');
  assert.match(err.message, 'await init()');
  const p1 = fresh.init();
  const p2 = fresh.init();
  assert.ok(p1 === p2, 'init() returns the same promise');
  await Promise.all([p1, p2, fresh.init()]);
  assert.ok(fresh.isInitialized());
  await init();
  assert.ok(isInitialized());
});

// ---------------------------------------------------------------------------------------------
// Corpora

const corpus = codecCorpus();

// ---------------------------------------------------------------------------------------------
// LZ4 block

test('lz4: round trips, and the "only if smaller" cap', () => {
  for (const [name, data] of corpus) {
    const c = lz4Compress(data);
    assert.ok(c, name);
    assert.equal(lz4Decompress(c!, data.length), data, name);
  }
  assert.is(lz4Compress(noise(4096, 5), 4095), undefined, 'random data does not fit in n-1 bytes');
});

test('lz4: wrong expected length and lying input are CORRUPT', () => {
  const data = jsonDocs(1, 4096, 4)[0]!;
  const c = lz4Compress(data)!;
  expectCode(() => lz4Decompress(c, data.length - 1), 'CORRUPT');
  expectCode(() => lz4Decompress(c, data.length + 1), 'CORRUPT');
  expectCode(() => lz4Decompress(c.subarray(0, c.length - 3), data.length), 'CORRUPT');
  expectCode(() => lz4Decompress(new Uint8Array([0xf0, 0xff, 0xff, 0xff, 0xff]), 100), 'CORRUPT');
  expectCode(() => lz4Decompress(c, 2 ** 31), 'RECORD_TOO_LARGE');
  // An expected length no input of this size could produce is rejected before allocating.
  expectCode(() => lz4Decompress(c, c.length * 255 + 65), 'CORRUPT');
  expectCode(() => snappyDecompress(snappyCompress(data)!, 60_000_000), 'CORRUPT');
  // The extreme ratios real inputs reach are accepted: 16 MiB of zeros.
  const zeros = new Uint8Array(16 << 20);
  assert.equal(lz4Decompress(lz4Compress(zeros)!, zeros.length), zeros);
  assert.equal(snappyDecompress(snappyCompress(zeros)!, zeros.length), zeros);
  expectCode(() => lz4Decompress(c, -1), 'INVALID_ARGUMENT');
});

// ---------------------------------------------------------------------------------------------
// Snappy raw

test('snappy: round trips, and the "only if smaller" cap', () => {
  for (const [name, data] of corpus) {
    const c = snappyCompress(data);
    assert.ok(c, name);
    assert.equal(snappyDecompress(c!, data.length), data, name);
  }
  assert.is(snappyCompress(noise(4096, 6), 4095), undefined);
});

test('snappy: a declared length other than expected is rejected before allocation', () => {
  const before = wasmMemoryBytes();
  // Varint declaring 2^31-1 bytes followed by a single literal: snappyjs would return 2 GiB of zeros.
  const liar = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x41]);
  expectCode(() => snappyDecompress(liar, 1), 'CORRUPT');
  expectCode(() => snappyDecompress(liar, 2 ** 31 - 1), 'RECORD_TOO_LARGE');
  expectCode(() => snappyDecompress(new Uint8Array([0x80]), 1), 'CORRUPT');
  const data = utf8('hello hello hello hello');
  const c = snappyCompress(data)!;
  expectCode(() => snappyDecompress(c, data.length + 1), 'CORRUPT');
  expectCode(() => snappyDecompress(c.subarray(0, c.length - 1), data.length), 'CORRUPT');
  assert.ok(wasmMemoryBytes() - before < 8 << 20, 'module memory did not grow for lying sizes');
});

// ---------------------------------------------------------------------------------------------
// zstd

const docs = jsonDocs(600, 256, 11);
const dictA = trainDictionary(docs.slice(0, 500), { size: 8192, dictId: 1001 });

test('zstd: round trips with and without a dictionary, all levels, entropy on and off', () => {
  for (const [name, data] of corpus) {
    for (const level of [1, 3, 7, 11]) {
      for (const entropy of [false, true]) {
        const c = zstdCompress(data, { level, entropy })!;
        assert.equal(zstdDecompress(c, data.length), data, `${name} L${level} e${entropy}`);
      }
    }
  }
  const dict = { id: 1001n, bytes: dictA };
  for (const d of docs.slice(500)) {
    const c = zstdCompress(d, { dict })!;
    assert.is(zstdFrameDictId(c), 1001);
    assert.equal(zstdDecompress(c, d.length, dict), d);
  }
});

test('zstd: a trained dictionary carries its id and improves small records', () => {
  assert.is(zstdDictionaryId(dictA), 1001);
  assert.ok(dictA.length <= 8192);
  let withDict = 0, without = 0, raw = 0;
  for (const d of docs.slice(500)) {
    raw += d.length;
    withDict += zstdCompress(d, { dict: { id: 1001n, bytes: dictA } })!.length;
    without += zstdCompress(d)!.length;
  }
  assert.ok(withDict < without * 0.7, `dictionary helps: ${withDict} vs ${without} of ${raw}`);
  expectCode(() => trainDictionary(docs, { size: 8192, dictId: 0 }), 'INVALID_ARGUMENT');
  expectCode(() => trainDictionary(docs, { size: 8192, dictId: 2 ** 32 }), 'INVALID_ARGUMENT');
  expectCode(() => trainDictionary(docs, { size: 100, dictId: 5 }), 'INVALID_ARGUMENT');
  expectCode(() => trainDictionary(docs.slice(0, 3), { size: 8192, dictId: 5 }), 'INVALID_ARGUMENT');
  expectCode(() => trainDictionary([new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)], { size: 8192, dictId: 5 }), 'INVALID_ARGUMENT');
  // Training twice on the same samples gives the same bytes.
  assert.equal(trainDictionary(docs.slice(0, 500), { size: 8192, dictId: 1001 }), dictA);
});

test('zstd: wrong dictionary, lying content size and truncation are CORRUPT, with bounded memory', () => {
  const d = docs[550]!;
  const c = zstdCompress(d, { dict: { id: 1001n, bytes: dictA } })!;
  const other = trainDictionary(docs.slice(100, 600), { size: 8192, dictId: 1002 });
  expectCode(() => zstdDecompress(c, d.length, { id: 1002n, bytes: other }), 'CORRUPT');
  expectCode(() => zstdDecompress(c, d.length), 'CORRUPT');
  expectCode(() => zstdDecompress(c, d.length - 1, { id: 1001n, bytes: dictA }), 'CORRUPT');
  expectCode(() => zstdDecompress(c.subarray(0, c.length - 2), d.length, { id: 1001n, bytes: dictA }), 'CORRUPT');
  const before = wasmMemoryBytes();
  // A 160 KiB frame whose header is edited to claim 1.8 GB.
  const big = new Uint8Array(160 * 1024).map((_, i) => (i % 251) ^ (i >> 10));
  const frame = zstdCompress(big, { level: 3 })!;
  const fhd = frame[4]!;
  const fcsCode = fhd >> 6;
  assert.ok(fcsCode >= 2, 'frame records a 4-byte content size');
  const pos = 5 + ((fhd & 0x20) === 0 ? 1 : 0) + [0, 1, 2, 4][fhd & 3]!;
  const liar = frame.slice();
  new DataView(liar.buffer).setUint32(pos, 1_800_000_000, true);
  expectCode(() => zstdDecompress(liar, big.length), 'CORRUPT');
  expectCode(() => zstdDecompress(liar, 1_800_000_000), 'RECORD_TOO_LARGE');
  assert.ok(wasmMemoryBytes() - before < 8 << 20, `memory grew by ${wasmMemoryBytes() - before}`);
});

test('zstd: prepared dictionaries are cached by id, bounded, and rebuilt when the bytes change', () => {
  const samples = jsonDocs(200, 200, 21);
  const base = trainDictionary(samples, { size: 4096, dictId: 7 });
  for (let id = 1; id <= DICT_CACHE_CAPACITY + 10; id++) {
    zstdCompress(samples[0]!, { dict: { id: BigInt(id) + 5000n, bytes: base } });
  }
  assert.is(preparedDictionaryCount(), DICT_CACHE_CAPACITY);
  // Same id, different bytes: the cache must not hand back the old dictionary.
  const d1 = trainDictionary(samples, { size: 4096, dictId: 9 });
  const d2 = trainDictionary(jsonDocs(200, 200, 22), { size: 4096, dictId: 9 });
  const v = samples[3]!;
  const c1 = zstdCompress(v, { dict: { id: 9n, bytes: d1 } })!;
  assert.equal(zstdDecompress(c1, v.length, { id: 9n, bytes: d1.slice() }), v);
  const c2 = zstdCompress(v, { dict: { id: 9n, bytes: d2 } })!;
  assert.equal(zstdDecompress(c2, v.length, { id: 9n, bytes: d2 }), v);
});

test('zstd: memory stays flat over many calls', () => {
  const dict = { id: 1001n, bytes: dictA };
  for (let i = 0; i < 2000; i++) zstdDecompress(zstdCompress(docs[i % 600]!, { dict })!, docs[i % 600]!.length, dict);
  const before = wasmMemoryBytes();
  for (let i = 0; i < 20000; i++) {
    const d = docs[i % 600]!;
    zstdDecompress(zstdCompress(d, { dict })!, d.length, dict);
  }
  assert.is(wasmMemoryBytes(), before);
});

test('maxRecordSize bounds every declared size, and disabling it keeps the hard ceiling', () => {
  const saved = limits.maxRecordSize;
  try {
    limits.maxRecordSize = 1000;
    const data = new Uint8Array(2000);
    const c = lz4Compress(data)!;
    expectCode(() => lz4Decompress(c, 2000), 'RECORD_TOO_LARGE');
    expectCode(() => snappyDecompress(snappyCompress(data)!, 2000), 'RECORD_TOO_LARGE');
    expectCode(() => zstdDecompress(zstdCompress(data)!, 2000), 'RECORD_TOO_LARGE');
    limits.maxRecordSize = 0;
    assert.equal(lz4Decompress(c, 2000), data);
  } finally {
    limits.maxRecordSize = saved;
  }
});

test.run();
