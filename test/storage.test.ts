// Storage backends: the shared conformance suite for MemoryStorage and this runtime's persistent
// backend (NodeStorage in Node, Deno and Bun; OpfsStorage in Chromium), then what only MemoryStorage
// can show (fault hooks, torn writes). NodeStorage specifics: storage-node.test.ts; OPFS: storage-opfs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueLogError } from '../src/errors.js';
import { MemoryStorage, type MemoryFile } from '../src/storage/memory.js';
import { storageConformance } from './storage-conformance.js';
import { backends } from './env.js';
import { expectCode, expectCodeAsync } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

for (const b of backends) {
  storageConformance(b.name, async () => {
    const { storage, cleanup } = await b.make();
    return { backend: storage, cleanup };
  }, { removeWhileOpen: b.removeWhileOpen, sparseLimitedByQuota: b.sparseLimitedByQuota });
}

// ---------------------------------------------------------------------------------------------------

const mem = suite('MemoryStorage specifics');

mem('appending 64 MiB in 256 KiB writes is O(n)', async () => {
  const st = new MemoryStorage();
  const f = await st.open('big.log', { create: true });
  const chunk = new Uint8Array(256 * 1024);
  const t0 = performance.now();
  for (let i = 0; i < 256; i++) {
    chunk[0] = i;
    f.write(chunk, f.size());
  }
  const ms = performance.now() - t0;
  assert.is(f.size(), 64 * 1024 * 1024);
  const one = new Uint8Array(1);
  f.read(one, 255 * 256 * 1024);
  assert.is(one[0], 255);
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
});

mem('a write at a huge position does not allocate the hole', async () => {
  const f = await new MemoryStorage().open('sparse.log', { create: true });
  const at = 2 ** 45;
  f.write(enc('far'), at);
  assert.is(f.size(), at + 3);
  const dst = new Uint8Array(6).fill(9);
  assert.is(f.read(dst, at - 3), 6);
  assert.equal(Array.from(dst), [0, 0, 0, ...enc('far')]);
  f.truncate(1);
  assert.is(f.size(), 1);
});

mem('onWrite sees every non-empty write once, with the total length for writev', async () => {
  const calls: [string, number, number][] = [];
  const st = new MemoryStorage({ onWrite: (name, at, length) => void calls.push([name, at, length]) });
  const f = await st.open('a.log', { create: true });
  f.write(enc('abc'), 0);
  f.write(new Uint8Array(0), 5);
  f.writev([enc('de'), new Uint8Array(0), enc('f')], 3);
  f.writev([], 9);
  f.truncate(1);
  assert.equal(calls, [
    ['a.log', 0, 3],
    ['a.log', 3, 3],
  ]);
});

mem('onWrite can throw to abort a write without changing the file', async () => {
  let fail: unknown;
  const st = new MemoryStorage({
    onWrite: () => {
      if (fail !== undefined) throw fail;
    },
  });
  const f = await st.open('a.log', { create: true });
  f.write(enc('0123456789'), 0);
  fail = new Error('disk on fire');
  const e = expectCode(() => f.write(enc('XX'), 8), 'IO');
  assert.match(e.message, 'disk on fire');
  assert.is(e.cause, fail);
  expectCode(() => f.writev([enc('YY'), enc('ZZ')], 20), 'IO');
  fail = new ValueLogError('LOCKED', 'injected');
  expectCode(() => f.write(enc('XX'), 0), 'LOCKED'); // a ValueLogError passes through
  assert.is(f.size(), 10);
  const back = new Uint8Array(10);
  f.read(back, 0);
  assert.is(dec(back), '0123456789');
  fail = undefined;
  f.write(enc('XX'), 8);
  f.read(back, 0);
  assert.is(dec(back), '01234567XX');
});

mem('onWrite returning n simulates a torn write: n bytes land, then IO', async () => {
  let torn: number | undefined;
  const st = new MemoryStorage({ onWrite: () => torn });
  const f = await st.open('a.log', { create: true });
  f.write(enc('hello'), 0);
  torn = 3;
  expectCode(() => f.writev([enc('AB'), enc('CD')], 5), 'IO');
  assert.is(f.size(), 8);
  const back = new Uint8Array(8);
  f.read(back, 0);
  assert.is(dec(back), 'helloABC');
  torn = 0;
  expectCode(() => f.write(enc('zz'), 100), 'IO');
  assert.is(f.size(), 8, 'a write torn at 0 bytes does not extend the file');
});

mem('flushCount counts flush calls; syncDirCount counts syncDir calls', async () => {
  const st = new MemoryStorage();
  const f: MemoryFile = await st.open('a.log', { create: true });
  assert.is(f.flushCount, 0);
  f.flush();
  f.flush();
  assert.is(f.flushCount, 2);
  await st.syncDir();
  assert.is(st.syncDirCount, 1);
});

mem('shrinking inside a page then extending reads zeros across page boundaries', async () => {
  const f = await new MemoryStorage().open('a.log', { create: true });
  const data = new Uint8Array(3 * 1024 * 1024).fill(0xab);
  f.write(data, 0);
  f.truncate(1024 * 1024 + 7);
  f.truncate(3 * 1024 * 1024);
  const back = new Uint8Array(3 * 1024 * 1024);
  assert.is(f.read(back, 0), back.length);
  for (let i = 0; i < back.length; i++) {
    const want = i < 1024 * 1024 + 7 ? 0xab : 0;
    if (back[i] !== want) assert.unreachable(`byte ${i} is ${back[i]}, expected ${want}`);
  }
});

mem.run();
