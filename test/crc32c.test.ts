// The CRC-32C kernels of the module (docs/CRC32C.md) against the slice-by-16 table kernel they
// replace for long inputs and against two oracles that share no code with the module: a bitwise
// JavaScript CRC and the JavaScript slice-by-8 path. Both long-input kernels run in every runtime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c, init } from '../src/index.js';
import { crc32cTable } from '../src/codec/codecs.js';
import { currentCrcKernel, defaultCrcKernel, heap, setCrcKernel, wasm, type CrcKernel } from '../src/codec/module.js';
import { noise, utf8 } from './helpers.js';

await init();

/** CRC-32C one bit at a time: the definition, with Go crc32.Update semantics. */
function crcBitwise(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < b.length; i++) {
    c ^= b[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const MAX = 2 * 1024 * 1024 + 64;
const data = noise(MAX + 64, 0x5eed);
const ex = wasm();
const base = ex.vl_malloc(MAX + 64);
heap().set(data, base);
const KERNELS: CrcKernel[] = ['shuffle', 'load'];

/** Checks the module's kernel at p = base + off, n bytes, against the table kernel and slice-by-8. */
function check(off: number, n: number, seed: number, what: string): void {
  const got = ex.vl_crc32c(seed >>> 0, base + off, n) >>> 0;
  const tables = ex.vl_crc32c_tables(seed >>> 0, base + off, n) >>> 0;
  if (got !== tables) assert.unreachable(`${what}: n=${n} off=${off} kernel ${got.toString(16)} tables ${tables.toString(16)}`);
  const js = crc32cTable(data.subarray(off, off + n), seed);
  if (got !== js) assert.unreachable(`${what}: n=${n} off=${off} kernel ${got.toString(16)} slice-by-8 ${js.toString(16)}`);
}

// Where the code changes behaviour: the table threshold, each stage's degree + one vector (its
// smallest input), its threshold, the load stages' 64 KiB scratch chunk (a stage of D bytes refills
// it after 65536 + D bytes), and the 64 KiB window crc32c() feeds the module through.
const BOUNDARIES = [16, 128, 256, 368, 2048, 5291, 65536, 65536 + 352, 65536 + 5275, 2 * 65536 + 5275, 3 * 65536];

test('check value and empty input', () => {
  assert.is(crc32c(utf8('123456789')), 0xe3069283);
  assert.is(crcBitwise(utf8('123456789')), 0xe3069283);
  assert.is(crc32c(new Uint8Array(0), 0x1234), 0x1234);
});

test('init() chooses the kernel by the documented rule', () => {
  assert.is(currentCrcKernel(), defaultCrcKernel());
  assert.is(defaultCrcKernel(), (globalThis as { Bun?: unknown }).Bun !== undefined ? 'load' : 'shuffle');
});

for (const kind of KERNELS) {
  test(`${kind}: ±18 bytes around every stage and chunk boundary, alignments 0-63`, () => {
    setCrcKernel(kind);
    try {
      for (const b of BOUNDARIES) {
        for (let d = -18; d <= 18; d++) if (b + d >= 0) check((b + d) & 63, b + d, 0, `boundary ${b}${d >= 0 ? '+' : ''}${d}`);
      }
      for (let off = 0; off < 64; off++) for (const n of [300, 2100, 70_000]) check(off, n + off, 0xdeadbeef, 'alignment');
    } finally {
      setCrcKernel(defaultCrcKernel());
    }
  });

  test(`${kind}: random lengths up to 2 MiB, and the bitwise oracle`, () => {
    setCrcKernel(kind);
    try {
      const rnd = noise(4 * 64, 77 + kind.length);
      for (let i = 0; i < 48; i++) {
        const r = (rnd[4 * i]! | (rnd[4 * i + 1]! << 8) | (rnd[4 * i + 2]! << 16)) >>> 0;
        // Mostly short and medium lengths, a few up to the full 2 MiB.
        const n = i < 8 ? r % (2 * 1024 * 1024 + 1) : i < 24 ? r % 140_000 : r % 8192;
        check(rnd[4 * i + 3]! & 63, n, r, `random #${i}`);
      }
      for (const n of [0, 255, 256, 1000, 5291, 70_001, 300_000]) {
        const b = data.subarray(5, 5 + n);
        assert.is(ex.vl_crc32c(0x7, base + 5, n) >>> 0, crcBitwise(b, 0x7), `bitwise, n=${n}`);
      }
    } finally {
      setCrcKernel(defaultCrcKernel());
    }
  });

  test(`${kind}: chained calls through crc32c() equal one call`, () => {
    setCrcKernel(kind);
    try {
      const all = data.subarray(3, 3 + 400_000);
      const whole = crc32c(all);
      assert.is(whole, crc32cTable(all));
      for (const cuts of [[1], [255, 256], [65_535, 70_000], [100, 5_400, 140_000, 399_999]]) {
        let c = 0, at = 0;
        for (const cut of [...cuts, all.length]) {
          c = crc32c(all.subarray(at, cut), c);
          at = cut;
        }
        assert.is(c, whole, `cuts ${cuts.join(',')}`);
      }
    } finally {
      setCrcKernel(defaultCrcKernel());
    }
  });
}

test.run();
