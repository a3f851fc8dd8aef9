// The WebAssembly codecs: round trips, interop with independent implementations in both directions
// (lz4js, lz4-wasm-nodejs, snappyjs, snappy-wasm, the Debian zstd CLI), declared-size checks before
// allocation, dictionary caching and training, and init() semantics.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { expectCode, jsonDocs, noise, utf8 } from './helpers.js';

await init();

const require = createRequire(import.meta.url);
const lz4js = require('lz4js') as {
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  compressBound(n: number): number;
};
const lz4wasm = require('lz4-wasm-nodejs') as { compress(u: Uint8Array): Uint8Array; decompress(u: Uint8Array): Uint8Array };
const snappyjs = require('snappyjs') as { compress(u: Uint8Array): Uint8Array; uncompress(u: Uint8Array, max?: number): Uint8Array };
const snappyWasm = require('snappy-wasm') as { compress_raw(u: Uint8Array): Uint8Array; decompress_raw(u: Uint8Array): Uint8Array };

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

const corpus: Array<[string, Uint8Array]> = [
  ['empty', new Uint8Array(0)],
  ['one byte', utf8('x')],
  ['12 bytes', utf8('abcdefghijkl')],
  ['13 bytes', utf8('abcdefghijklm')],
  ['64 B json', jsonDocs(1, 64)[0]!],
  ['256 B json', jsonDocs(1, 256, 2)[0]!],
  ['4 KiB json', jsonDocs(1, 4096, 3)[0]!],
  ['all zero 100 KiB', new Uint8Array(100_000)],
  ['repeating 27-byte string x128', utf8('the quick brown fox jumps!\n'.repeat(128))],
  ['random 1 MiB', noise(1 << 20, 7)],
  ['text 300 KiB', utf8(Array.from({ length: 6000 }, (_, i) => `line ${i}: value=${(i * 37) % 1000} state=${i % 3 ? 'ok' : 'fail'}`).join('\n'))],
  ['mixed 3 MiB', (() => { const b = new Uint8Array(3 << 20); b.set(noise(1 << 20, 3)); b.fill(7, 1 << 20, 2 << 20); b.set(jsonDocs(200, 4096, 9).reduce((acc, d, i) => (acc.set(d.subarray(0, 4096), i * 4096), acc), new Uint8Array(200 * 4096)).subarray(0, 1 << 20), 2 << 20); return b; })()],
];

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

test('lz4: interoperates with lz4js and lz4-wasm-nodejs both ways', () => {
  for (const [name, data] of corpus) {
    const ours = lz4Compress(data)!;
    // ours -> oracles
    const viaJs = new Uint8Array(data.length);
    assert.is(lz4js.decompressBlock(ours, viaJs, 0, ours.length, 0), data.length, `lz4js decodes ours: ${name}`);
    assert.equal(viaJs, data, name);
    const prefixed = new Uint8Array(4 + ours.length);
    new DataView(prefixed.buffer).setUint32(0, data.length, true);
    prefixed.set(ours, 4);
    assert.equal(new Uint8Array(lz4wasm.decompress(prefixed)), data, `lz4-wasm decodes ours: ${name}`);
    // oracles -> ours
    if (data.length > 0) {
      const dst = new Uint8Array(lz4js.compressBound(data.length));
      const n = lz4js.compressBlock(data, dst, 0, data.length, new Uint32Array(1 << 16));
      if (n > 0) assert.equal(lz4Decompress(dst.subarray(0, n), data.length), data, `ours decodes lz4js: ${name}`);
    }
    const theirs = new Uint8Array(lz4wasm.compress(data));
    assert.equal(lz4Decompress(theirs.subarray(4), data.length), data, `ours decodes lz4-wasm: ${name}`);
  }
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

test('snappy: interoperates with snappyjs and snappy-wasm both ways', () => {
  for (const [name, data] of corpus) {
    const ours = snappyCompress(data)!;
    assert.equal(new Uint8Array(snappyjs.uncompress(ours, data.length)), data, `snappyjs decodes ours: ${name}`);
    assert.equal(new Uint8Array(snappyWasm.decompress_raw(ours)), data, `snappy-wasm decodes ours: ${name}`);
    const js = new Uint8Array(snappyjs.compress(data));
    assert.equal(snappyDecompress(js, data.length), data, `ours decodes snappyjs: ${name}`);
    const w = new Uint8Array(snappyWasm.compress_raw(data));
    assert.equal(snappyDecompress(w, data.length), data, `ours decodes snappy-wasm: ${name}`);
  }
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

// ---------------------------------------------------------------------------------------------
// The Debian zstd CLI as an oracle

const zstdCli = spawnSync('zstd', ['--version'], { encoding: 'utf8' }).status === 0;
const cliTest = zstdCli ? test : test.skip;
if (!zstdCli) console.log('codec.test: zstd CLI not installed (apt-get install zstd): CLI interop tests skipped');

cliTest('zstd CLI decodes our frames with our trained dictionary, and we decode its frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-zstd-'));
  try {
    writeFileSync(join(dir, 'dict'), dictA);
    const sample = docs[555]!;
    writeFileSync(join(dir, 'ours.zst'), zstdCompress(sample, { dict: { id: 1001n, bytes: dictA } })!);
    const out = execFileSync('zstd', ['-q', '-d', '-c', '-D', join(dir, 'dict'), join(dir, 'ours.zst')]);
    assert.equal(new Uint8Array(out), sample);
    // Their frame with our dictionary, compressed from a file (content size recorded).
    writeFileSync(join(dir, 'plain'), sample);
    execFileSync('zstd', ['-q', '-f', '-19', '-D', join(dir, 'dict'), join(dir, 'plain'), '-o', join(dir, 'theirs.zst')]);
    assert.equal(zstdDecompress(readFileSync(join(dir, 'theirs.zst')), sample.length, { id: 1001n, bytes: dictA }), sample);
    // A streamed frame (no content size): zstd reading from a pipe.
    const big = corpus.find(([n]) => n === 'mixed 3 MiB')![1];
    const streamed = execFileSync('zstd', ['-q', '-c', '-'], { input: big, maxBuffer: 64 << 20 });
    assert.equal(zstdDecompress(new Uint8Array(streamed), big.length), big);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

cliTest('we decode frames made with a dictionary trained by `zstd --train`, and it decodes ours', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-zstd-'));
  try {
    const samples = jsonDocs(1000, 300, 31);
    samples.forEach((s, i) => writeFileSync(join(dir, `s${i}`), s));
    execFileSync('zstd', ['-q', '--train', ...samples.map((_, i) => join(dir, `s${i}`)), '--maxdict=16384', '--dictID=4242', '-o', join(dir, 'dict')]);
    const dict = new Uint8Array(readFileSync(join(dir, 'dict')));
    assert.is(zstdDictionaryId(dict), 4242);
    execFileSync('zstd', ['-q', '-f', '-3', '-D', join(dir, 'dict'), join(dir, 's7'), '-o', join(dir, 's7.zst')]);
    assert.equal(zstdDecompress(readFileSync(join(dir, 's7.zst')), samples[7]!.length, { id: 4242n, bytes: dict }), samples[7]);
    writeFileSync(join(dir, 'ours.zst'), zstdCompress(samples[8]!, { dict: { id: 4242n, bytes: dict }, level: 3, entropy: true })!);
    assert.equal(new Uint8Array(execFileSync('zstd', ['-q', '-d', '-c', '-D', join(dir, 'dict'), join(dir, 'ours.zst')])), samples[8]);
    // TreeDB pads dictionaries to 40 960 bytes with zeros; a padded dictionary still works.
    const padded = new Uint8Array(40960);
    padded.set(dict);
    const c = zstdCompress(samples[9]!, { dict: { id: 4242n, bytes: padded } })!;
    assert.equal(zstdDecompress(c, samples[9]!.length, { id: 4242n, bytes: padded }), samples[9]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
