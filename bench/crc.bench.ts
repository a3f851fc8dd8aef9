// CRC-32C through the public crc32c() (copy into module memory included): the slice-by-16 table
// kernel this project shipped before against the sparse-multiple kernels (docs/CRC32C.md), side by
// side in one process, contenders alternated in short rounds, medians over the rounds. Runs as is in
// Node, Deno and Bun (prints a Markdown table; nothing is written):
//   node build/bench/crc.bench.js [--quick]   deno run -A build/bench/crc.bench.js   bun build/bench/crc.bench.js
import { crc32c, init } from '../src/index.js';
import { CRC_JS_BELOW, crc32cTable } from '../src/codec/codecs.js';
import { currentCrcKernel, heap, setCrcKernel, wasm, type CrcKernel } from '../src/codec/module.js';
import { noise } from '../test/helpers.js';

const g = globalThis as { process?: { argv?: string[]; versions?: Record<string, string> }; Deno?: { args: string[]; version: Record<string, string> }; Bun?: { version: string } };
const argv = g.Deno?.args ?? g.process?.argv ?? [];
const quick = argv.includes('--quick');
const ROUNDS = quick ? 7 : 21;
const ROUND_MS = quick ? 20 : 60;

await init();
const ex = wasm();
const defaultKernel = currentCrcKernel();

// The old public path, byte for byte what crc32c() did before: the same 64 KiB window, the table kernel.
const WINDOW = 64 * 1024;
const win = ex.vl_malloc(WINDOW);
function crc32cOld(data: Uint8Array, crc = 0): number {
  if (data.length < CRC_JS_BELOW) return crc32cTable(data, crc);
  let c = crc >>> 0;
  for (let off = 0; off < data.length; off += WINDOW) {
    const chunk = data.subarray(off, Math.min(off + WINDOW, data.length));
    heap().set(chunk, win);
    c = ex.vl_crc32c_tables(c, win, chunk.length) >>> 0;
  }
  return c;
}

type Row = { name: string; kernel?: CrcKernel; run: (b: Uint8Array) => number };
const rows: Row[] = [
  { name: 'old: tables', run: (b) => crc32cOld(b) },
  { name: 'new: shuffle kernel', kernel: 'shuffle', run: (b) => crc32c(b) },
  { name: 'new: load kernel', kernel: 'load', run: (b) => crc32c(b) },
];

/** GB/s of one contender over about ROUND_MS. */
function round(row: Row, buf: Uint8Array): number {
  setCrcKernel(row.kernel ?? defaultKernel);
  let n = 0, sink = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ROUND_MS) {
    for (let i = 0; i < 16; i++) sink ^= row.run(buf);
    n += 16;
    t = performance.now();
  }
  if (sink === 0x1234_5678) console.log('');
  return (n * buf.length) / ((t - t0) * 1e6);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const runtime = g.Bun ? `Bun ${g.Bun.version}` : g.Deno ? `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})` : `Node ${g.process?.versions?.node} (V8 ${g.process?.versions?.v8})`;
console.log(`CRC-32C through crc32c(), ${runtime}; init() chose the ${defaultKernel} kernel; GB/s, median of ${ROUNDS} alternated rounds of ${ROUND_MS} ms`);
console.log('');
console.log(`| size | ${rows.map((r) => r.name).join(' | ')} | new (${defaultKernel}) / old |`);
console.log(`|---|${rows.map(() => '---:|').join('')}---:|`);
for (const size of [1024, 4096, 65536, 1 << 20]) {
  const buf = noise(size, size);
  const want = crc32cTable(buf);
  for (const r of rows) {
    setCrcKernel(r.kernel ?? defaultKernel);
    if (r.run(buf) !== want) throw new Error(`${r.name}: wrong CRC at ${size} B`);
  }
  const got: number[][] = rows.map(() => []);
  for (let k = 0; k < ROUNDS; k++) {
    // Alternate the order each round so that no contender always follows the same one.
    const order = k % 2 ? [...rows.keys()].reverse() : [...rows.keys()];
    for (const i of order) got[i]!.push(round(rows[i]!, buf));
  }
  const med = got.map(median);
  const chosen = med[rows.findIndex((r) => r.kernel === defaultKernel)]!;
  const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
  console.log(`| ${label} | ${med.map((m) => m.toFixed(2)).join(' | ')} | ${(chosen / med[0]!).toFixed(2)}× |`);
}
setCrcKernel(defaultKernel);
