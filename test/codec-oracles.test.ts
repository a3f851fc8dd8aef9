// @runtimes node deno bun: the oracles are CommonJS packages (require) and the zstd CLI (a process).
// The codecs against independent implementations, both directions: lz4js and lz4-wasm-nodejs (LZ4
// block), snappyjs and snappy-wasm (Snappy raw), the Debian zstd CLI (frames, dictionaries, training).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, lz4Compress, lz4Decompress, snappyCompress, snappyDecompress, trainDictionary, zstdCompress, zstdDecompress, zstdDictionaryId } from '../src/index.js';
import { codecCorpus, jsonDocs, noise, utf8 } from './helpers.js';

await init();

const corpus = codecCorpus();
const docs = jsonDocs(600, 256, 11);
const dictA = trainDictionary(docs.slice(0, 500), { size: 8192, dictId: 1001 });
const require = createRequire(import.meta.url);
const lz4js = require('lz4js') as {
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
  compressBound(n: number): number;
};
const lz4wasm = require('lz4-wasm-nodejs') as { compress(u: Uint8Array): Uint8Array; decompress(u: Uint8Array): Uint8Array };
const snappyjs = require('snappyjs') as { compress(u: Uint8Array): Uint8Array; uncompress(u: Uint8Array, max?: number): Uint8Array };
const snappyWasm = require('snappy-wasm') as { compress_raw(u: Uint8Array): Uint8Array; decompress_raw(u: Uint8Array): Uint8Array };

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

test.run();
