// Codec and checksum benchmark: our WebAssembly module against the packages the design card named
// (@bokuweb/zstd-wasm, lz4-wasm-nodejs, snappyjs, hash-wasm) plus snappy-wasm and lz4js, on the same
// data in one run. Writes the tables to bench/results/codecs.md and prints them.
//   node build/bench/codecs.bench.js [--quick]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as bokuweb from '@bokuweb/zstd-wasm';
import { createCRC32 } from 'hash-wasm';
import { crc32c, init, lz4Compress, lz4Decompress, snappyCompress, snappyDecompress, trainDictionary, wasmMemoryBytes, zstdCompress, zstdDecompress } from '../src/index.js';
import { jsonDocs, noise } from '../test/helpers.js';
import { keepAlive, machineInfo, measure, table, type Contender } from './harness.js';

const require = createRequire(import.meta.url);
const lz4wasm = require('lz4-wasm-nodejs') as { compress(u: Uint8Array): Uint8Array; decompress(u: Uint8Array): Uint8Array };
const lz4js = require('lz4js') as { compressBlock(s: Uint8Array, d: Uint8Array, si: number, sl: number, h: Uint32Array): number; decompressBlock(s: Uint8Array, d: Uint8Array, si: number, sl: number, di: number): number; compressBound(n: number): number };
const snappyjs = require('snappyjs') as { compress(u: Uint8Array): Uint8Array; uncompress(u: Uint8Array, max?: number): Uint8Array };
const snappyWasm = require('snappy-wasm') as { compress_raw(u: Uint8Array): Uint8Array; decompress_raw(u: Uint8Array): Uint8Array };

const quick = process.argv.includes('--quick');
const MS = quick ? 150 : 600;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

await init();
await bokuweb.init();
const hashWasm = await createCRC32(0x82f63b78);

// Data sets (the issue's): 4 KiB JSON-like records, 256-byte records, 64-byte records, 1 MiB random.
const json4k = jsonDocs(256, 4096, 1).map((d) => d.subarray(0, 4096));
const rec256 = jsonDocs(2048, 256, 2).map((d) => d.subarray(0, 256));
const rec64 = jsonDocs(2048, 64, 3).map((d) => d.subarray(0, 64));
const random1m = noise(1 << 20, 4);

const sets: Array<{ name: string; values: Uint8Array[] }> = [
  { name: '4 KiB JSON', values: json4k },
  { name: '256 B JSON', values: rec256 },
  { name: '64 B JSON', values: rec64 },
  { name: '1 MiB random', values: [random1m] },
];

const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};

function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length]!;
}

function ratio(values: Uint8Array[], compressed: Uint8Array[]): string {
  const raw = values.reduce((a, v) => a + v.length, 0);
  const c = compressed.reduce((a, v) => a + v.length, 0);
  return `ratio ${(raw / c).toFixed(2)}`;
}

// ---------------------------------------------------------------------------------------------
say('## CRC-32C');
say();
for (const size of [64, 4096, 65536, 1 << 20]) {
  const buf = noise(size, size);
  const ref = crc32c(buf);
  hashWasm.init();
  hashWasm.update(buf);
  const theirs = new DataView(hashWasm.digest('binary').buffer).getUint32(0, false);
  if (theirs !== ref) throw new Error(`CRC mismatch with hash-wasm at ${size} B`);
  const rows = measure([
    { name: 'valuelog crc32c', run: () => crc32c(buf), bytes: size },
    { name: 'hash-wasm createCRC32(0x82F63B78)', run: () => (hashWasm.init(), hashWasm.update(buf), hashWasm.digest('binary')), bytes: size },
  ], MS);
  say(table(`CRC-32C, ${size} B`, rows));
  say();
}

// ---------------------------------------------------------------------------------------------
say('## LZ4 block');
say();
for (const { name, values } of sets) {
  const bytes = values[0]!.length;
  const ours = values.map((v) => lz4Compress(v)!);
  const theirsPrefixed = values.map((v) => new Uint8Array(lz4wasm.compress(v)));
  const jsC = values.map((v) => { const d = new Uint8Array(lz4js.compressBound(v.length)); const n = lz4js.compressBlock(v, d, 0, v.length, new Uint32Array(1 << 16)); return n > 0 ? d.subarray(0, n) : v; });
  const hash = new Uint32Array(1 << 16);
  const next = cycle(values);
  const comp: Contender[] = [
    { name: 'valuelog lz4Compress', run: () => lz4Compress(next()), bytes },
    { name: 'lz4-wasm-nodejs compress', run: () => lz4wasm.compress(next()), bytes },
    { name: 'lz4js compressBlock', run: () => { const v = next(); hash.fill(0); const d = new Uint8Array(lz4js.compressBound(v.length)); return lz4js.compressBlock(v, d, 0, v.length, hash); }, bytes },
  ];
  say(table(`LZ4 compress, ${name}`, measure(comp, MS), { 'valuelog lz4Compress': ratio(values, ours), 'lz4-wasm-nodejs compress': ratio(values, theirsPrefixed.map((t) => t.subarray(4))), 'lz4js compressBlock': ratio(values, jsC) }));
  say();
  let i = 0, j = 0, k = 0;
  const dec: Contender[] = [
    { name: 'valuelog lz4Decompress', run: () => { const x = i++ % values.length; return lz4Decompress(ours[x]!, values[x]!.length); }, bytes },
    { name: 'lz4-wasm-nodejs decompress', run: () => lz4wasm.decompress(theirsPrefixed[j++ % values.length]!), bytes },
    { name: 'lz4js decompressBlock', run: () => { const x = k++ % values.length; const d = new Uint8Array(values[x]!.length); return lz4js.decompressBlock(jsC[x]!, d, 0, jsC[x]!.length, 0); }, bytes },
  ];
  say(table(`LZ4 decompress, ${name}`, measure(dec, MS)));
  say();
}

// ---------------------------------------------------------------------------------------------
say('## Snappy raw');
say();
for (const { name, values } of sets) {
  const bytes = values[0]!.length;
  const ours = values.map((v) => snappyCompress(v)!);
  const js = values.map((v) => new Uint8Array(snappyjs.compress(v)));
  const w = values.map((v) => new Uint8Array(snappyWasm.compress_raw(v)));
  const next = cycle(values);
  say(table(`Snappy compress, ${name}`, measure([
    { name: 'valuelog snappyCompress', run: () => snappyCompress(next()), bytes },
    { name: 'snappyjs compress', run: () => snappyjs.compress(next()), bytes },
    { name: 'snappy-wasm compress_raw', run: () => snappyWasm.compress_raw(next()), bytes },
  ], MS), { 'valuelog snappyCompress': ratio(values, ours), 'snappyjs compress': ratio(values, js), 'snappy-wasm compress_raw': ratio(values, w) }));
  say();
  let i = 0, j = 0, k = 0;
  say(table(`Snappy decompress, ${name}`, measure([
    { name: 'valuelog snappyDecompress', run: () => { const x = i++ % values.length; return snappyDecompress(ours[x]!, values[x]!.length); }, bytes },
    { name: 'snappyjs uncompress', run: () => { const x = j++ % values.length; return snappyjs.uncompress(js[x]!, values[x]!.length); }, bytes },
    { name: 'snappy-wasm decompress_raw', run: () => snappyWasm.decompress_raw(w[k++ % values.length]!), bytes },
  ], MS)));
  say();
}

// ---------------------------------------------------------------------------------------------
say('## zstd');
say();
// A 16 KiB dictionary trained on other records of the same kind (different seed from the data).
const trainSet = jsonDocs(2000, 256, 99).map((d) => d.subarray(0, 256));
const dict = trainDictionary(trainSet, { size: 16384, dictId: 1 });
const dictRef = { id: 1n, bytes: dict };
const cctx = bokuweb.createCCtx();
const dctx = bokuweb.createDCtx();
for (const level of [1, 3]) {
  const values = rec256;
  const ours = values.map((v) => zstdCompress(v, { level, entropy: true, dict: dictRef })!);
  const theirs = values.map((v) => bokuweb.compressUsingDict(cctx, v, dict, level));
  const next = cycle(values);
  say(table(`zstd + 16 KiB dictionary, single 256 B records, level ${level}: compress`, measure([
    { name: 'valuelog zstdCompress (prepared dict)', run: () => zstdCompress(next(), { level, entropy: true, dict: dictRef }), bytes: 256 },
    { name: '@bokuweb/zstd-wasm compressUsingDict', run: () => bokuweb.compressUsingDict(cctx, next(), dict, level), bytes: 256 },
  ], MS), { 'valuelog zstdCompress (prepared dict)': ratio(values, ours), '@bokuweb/zstd-wasm compressUsingDict': ratio(values, theirs) }));
  say();
  let i = 0, j = 0;
  say(table(`zstd + 16 KiB dictionary, single 256 B records, level ${level}: decompress`, measure([
    { name: 'valuelog zstdDecompress (prepared dict)', run: () => { const x = i++ % values.length; return zstdDecompress(ours[x]!, 256, dictRef); }, bytes: 256 },
    { name: '@bokuweb/zstd-wasm decompressUsingDict', run: () => bokuweb.decompressUsingDict(dctx, theirs[j++ % values.length]!, dict), bytes: 256 },
  ], MS)));
  say();
}
for (const { name, values } of [sets[0]!, sets[3]!]) {
  const bytes = values[0]!.length;
  const ours = values.map((v) => zstdCompress(v, { level: 3, entropy: true })!);
  const theirs = values.map((v) => bokuweb.compress(v, 3));
  const next = cycle(values);
  say(table(`zstd level 3, no dictionary, ${name}: compress`, measure([
    { name: 'valuelog zstdCompress', run: () => zstdCompress(next(), { level: 3, entropy: true }), bytes },
    { name: '@bokuweb/zstd-wasm compress', run: () => bokuweb.compress(next(), 3), bytes },
  ], MS), { 'valuelog zstdCompress': ratio(values, ours), '@bokuweb/zstd-wasm compress': ratio(values, theirs) }));
  say();
  let i = 0, j = 0;
  say(table(`zstd level 3, no dictionary, ${name}: decompress`, measure([
    { name: 'valuelog zstdDecompress', run: () => { const x = i++ % values.length; return zstdDecompress(ours[x]!, values[x]!.length); }, bytes },
    { name: '@bokuweb/zstd-wasm decompress', run: () => bokuweb.decompress(theirs[j++ % values.length]!), bytes },
  ], MS)));
  say();
}
say(`WebAssembly memory after the run: ${(wasmMemoryBytes() / 2 ** 20).toFixed(1)} MiB (valuelog module).`);
keepAlive();

const pkg = (name: string) => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const header = [
  `# Codec benchmark (${new Date().toISOString().slice(0, 10)}${quick ? ', --quick' : ''})`,
  '',
  `Machine: ${machineInfo()}.`,
  `Peers: @bokuweb/zstd-wasm ${pkg('@bokuweb/zstd-wasm')}, lz4-wasm-nodejs ${pkg('lz4-wasm-nodejs')}, lz4js ${pkg('lz4js')}, snappyjs ${pkg('snappyjs')}, snappy-wasm ${pkg('snappy-wasm')}, hash-wasm ${pkg('hash-wasm')}.`,
  'Each cell is the median of timed batches (~2 ms each) over several interleaved rounds; p99 is over batch means; "peer time ÷ ours" > 1 means ours is faster. Our timings include copying into and out of WebAssembly memory.',
  '',
];
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'codecs.md'), [...header, ...out, ''].join('\n'));
console.log('\nwrote bench/results/codecs.md');
