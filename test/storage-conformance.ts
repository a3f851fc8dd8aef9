// One conformance suite for every storage backend (memory, Node fs under Node/Deno/Bun, OPFS in a
// worker). It uses only uvu, the storage contract and ValueLogError codes: no node:* imports, so it
// runs unchanged in every runtime. Each test gets a fresh backend; files it opens are closed after.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueLogError } from '../src/errors.js';
import type { OpenOptions, StorageBackend, StorageFile } from '../src/storage/types.js';
import { expectCode, expectCodeAsync, noise } from './helpers.js';

export interface ConformanceBackend {
  backend: StorageBackend;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /**
   * What remove() does to a file that is still open. 'detach' (default, POSIX): the name goes at once
   * and open handles keep reading and writing the removed data. 'locked': remove() throws LOCKED while
   * a handle is open and succeeds once it is closed (for backends with exclusive handles).
   */
  removeWhileOpen?: 'detach' | 'locked';
  /**
   * Whether a write far beyond the end (2^31) may fail for lack of space instead of making a sparse
   * file (OPFS reserves quota for the hole). Then it must fail with IO and leave the file unchanged.
   */
  sparseLimitedByQuota?: boolean;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte comparison with a short message (assert.equal would print megabytes on a mismatch). */
function sameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  if (actual.length !== expected.length) bail(`${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) bail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

function readAt(f: StorageFile, at: number, len: number): Uint8Array {
  const dst = new Uint8Array(len);
  const n = f.read(dst, at);
  return dst.subarray(0, n);
}

function content(f: StorageFile): Uint8Array {
  const size = f.size();
  const out = readAt(f, 0, size);
  assert.is(out.length, size, 'a read of the whole file returns size() bytes');
  return out;
}

/** assert.unreachable, typed as never. */
function bail(msg: string): never {
  assert.unreachable(msg);
  throw new Error(msg);
}


const BAD_POSITIONS: readonly unknown[] = [NaN, -1, 1.5, Infinity, -Infinity, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, '5', null, undefined, {}];
const BAD_NAMES: readonly unknown[] = ['', '.', '..', 'a/b', 'a\\b', 'a\0b', '/abs', 'x'.repeat(256), 5, undefined];
const SEGMENT_NAMES = ['value-l0-000001.log', 'value-l255-8388607.log', 'value-000042.log'];

export function storageConformance(name: string, makeBackend: () => Promise<ConformanceBackend>, options: ConformanceOptions = {}): void {
  const s = suite(`storage conformance: ${name}`);
  const removeWhileOpen = options.removeWhileOpen ?? 'detach';

  /** Runs a test on a fresh backend whose open() records the handles, closed afterwards. */
  const t = (title: string, fn: (b: StorageBackend) => Promise<void> | void): void => {
    s(title, async () => {
      const h = await makeBackend();
      const opened: StorageFile[] = [];
      const inner = h.backend;
      const b: StorageBackend = {
        list: () => inner.list(),
        open: async (n: string, o?: OpenOptions) => {
          const f = await inner.open(n, o);
          opened.push(f);
          return f;
        },
        remove: (n: string) => inner.remove(n),
      };
      if (typeof inner.syncDir === 'function') b.syncDir = () => inner.syncDir!();
      try {
        await fn(b);
      } finally {
        for (const f of opened) {
          try {
            f.close();
          } catch {
            // the test's own failure matters more
          }
        }
        await h.cleanup();
      }
    });
  };

  /** A file holding `bytes`, open read-write. */
  const fileWith = async (b: StorageBackend, fname: string, bytes: Uint8Array): Promise<StorageFile> => {
    const f = await b.open(fname, { create: true });
    assert.is(f.write(bytes, 0), bytes.length);
    return f;
  };

  t('create, open, list and remove', async (b) => {
    assert.equal(await b.list(), []);
    const f = await b.open('a.log', { create: true });
    assert.is(f.size(), 0);
    f.close();
    assert.equal(await b.list(), ['a.log']);
    const g = await b.open('a.log');
    assert.is(g.size(), 0);
    g.close();
    await b.remove('a.log');
    assert.equal(await b.list(), []);
    await expectCodeAsync(() => b.open('a.log'), 'NOT_FOUND');
  });

  t('open of a missing file without create is NOT_FOUND; remove of a missing file is NOT_FOUND', async (b) => {
    await expectCodeAsync(() => b.open('missing.log'), 'NOT_FOUND');
    await expectCodeAsync(() => b.open('missing.log', { readOnly: true }), 'NOT_FOUND');
    await expectCodeAsync(() => b.open('missing.log', { create: false }), 'NOT_FOUND');
    await expectCodeAsync(() => b.remove('missing.log'), 'NOT_FOUND');
    assert.equal(await b.list(), [], 'nothing was created');
  });

  t('open with create keeps an existing file (no truncation)', async (b) => {
    (await fileWith(b, 'a.log', enc('keep me'))).close();
    const f = await b.open('a.log', { create: true });
    sameBytes(content(f), enc('keep me'));
    f.close();
  });

  t('open with create and readOnly creates an empty file behind a read-only handle', async (b) => {
    const f = await b.open('a.log', { create: true, readOnly: true });
    assert.is(f.size(), 0);
    expectCode(() => f.write(enc('x'), 0), 'INVALID_ARGUMENT');
    f.close();
    assert.equal(await b.list(), ['a.log']);
  });

  t('write then read back at various positions', async (b) => {
    const f = await b.open('a.log', { create: true });
    assert.is(f.write(enc('hello'), 0), 5);
    assert.is(f.write(enc('world'), 5), 5);
    assert.is(f.size(), 10);
    sameBytes(readAt(f, 0, 10), enc('helloworld'));
    sameBytes(readAt(f, 3, 4), enc('lowo'));
    sameBytes(readAt(f, 9, 1), enc('d'));
    assert.is(f.write(enc('!'), 10), 1);
    sameBytes(content(f), enc('helloworld!'));
    // Views with a byte offset, for both source and destination.
    const backing = enc('__XYZ__');
    assert.is(f.write(backing.subarray(2, 5), 1), 3);
    const big = new Uint8Array(12).fill(0xee);
    assert.is(f.read(big.subarray(4, 9), 0), 5);
    sameBytes(big, new Uint8Array([0xee, 0xee, 0xee, 0xee, ...enc('hXYZo'), 0xee, 0xee, 0xee]), 'read into a subarray');
    f.close();
  });

  t('short read at end of file, 0 past it', async (b) => {
    const f = await fileWith(b, 'a.log', enc('0123456789'));
    const dst = new Uint8Array(8);
    assert.is(f.read(dst, 5), 5);
    sameBytes(dst.subarray(0, 5), enc('56789'));
    assert.is(f.read(dst, 9), 1);
    assert.is(f.read(dst, 10), 0);
    assert.is(f.read(dst, 11), 0);
    assert.is(f.read(dst, 1_000_000), 0);
    assert.is((await b.open('empty.log', { create: true })).read(dst, 0), 0);
  });

  t('a hole reads as zeros', async (b) => {
    const f = await b.open('a.log', { create: true });
    assert.is(f.write(new Uint8Array([7]), 100), 1);
    assert.is(f.size(), 101);
    const all = readAt(f, 0, 200);
    assert.is(all.length, 101);
    sameBytes(all.subarray(0, 100), new Uint8Array(100), 'hole');
    assert.is(all[100], 7);
    // A second hole after data.
    f.write(new Uint8Array([8, 9]), 5000);
    assert.is(f.size(), 5002);
    sameBytes(readAt(f, 100, 4902), new Uint8Array([7, ...new Uint8Array(4899), 8, 9]));
  });

  t('overwrite in the middle', async (b) => {
    const f = await fileWith(b, 'a.log', enc('aaaaaaaaaa'));
    f.write(enc('BBB'), 4);
    assert.is(f.size(), 10);
    sameBytes(content(f), enc('aaaaBBBaaa'));
    f.write(enc('CCCCC'), 8); // overlaps the end: extends
    assert.is(f.size(), 13);
    sameBytes(content(f), enc('aaaaBBBaCCCCC'));
  });

  t('writev equals separate writes (empty arrays, views, overwrite, hole)', async (b) => {
    const f = await fileWith(b, 'v.log', enc('XXXXXXXXXXXX'));
    if (typeof f.writev !== 'function') return; // optional in the contract
    const g = await fileWith(b, 'w.log', enc('XXXXXXXXXXXX'));
    const backing = enc('..view..');
    const parts = [enc('ab'), new Uint8Array(0), enc('cde'), backing.subarray(2, 6), new Uint8Array(0), enc('f')];
    assert.is(f.writev(parts, 3), 10);
    let at = 3;
    for (const p of parts) at += g.write(p, at);
    sameBytes(content(f), content(g), 'writev vs write');
    sameBytes(content(f), enc('XXXabcdeviewf'));
    assert.is(f.writev([enc('zz')], 20), 2, 'writev past the end leaves a hole');
    assert.is(f.size(), 22);
    sameBytes(readAt(f, 13, 9), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 122, 122]));
  });

  t('writev of many small arrays (more than IOV_MAX) and of large arrays', async (b) => {
    const f = await b.open('v.log', { create: true });
    if (typeof f.writev !== 'function') return;
    const g = await b.open('w.log', { create: true });
    const src = noise(3000 * 13);
    const parts: Uint8Array[] = [];
    let off = 0;
    for (let i = 0; i < 3000; i++) {
      const n = (i * 7) % 13; // includes empty arrays
      parts.push(src.subarray(off, off + n));
      off += n;
    }
    const total = off;
    assert.is(f.writev(parts, 1), total);
    let at = 1;
    for (const p of parts) at += g.write(p, at);
    assert.is(f.size(), total + 1);
    sameBytes(content(f), content(g), 'writev vs write');
    sameBytes(readAt(f, 1, total), src.subarray(0, total));
    const big = [noise(1 << 20, 1), noise(3 << 20, 2), noise(5, 3)];
    const t0 = f.size();
    assert.is(f.writev(big, t0), (4 << 20) + 5);
    sameBytes(readAt(f, t0, (4 << 20) + 5), concat(big), 'large writev');
  });

  t('writev of nothing writes nothing', async (b) => {
    const f = await fileWith(b, 'v.log', enc('abc'));
    if (typeof f.writev !== 'function') return;
    assert.is(f.writev([], 0), 0);
    assert.is(f.writev([], 1000), 0);
    assert.is(f.writev([new Uint8Array(0), new Uint8Array(0)], 50), 0);
    assert.is(f.size(), 3, 'an empty writev past the end does not extend the file');
    sameBytes(content(f), enc('abc'));
  });

  t('large positions (2^31, 2^32 + 10): no 32-bit truncation', async (b) => {
    const f = await fileWith(b, 'big.log', enc('0123456789abcdef'));
    const p31 = 2 ** 31 + 5;
    const p32 = 2 ** 32 + 10;
    if (options.sparseLimitedByQuota === true) {
      try {
        f.write(enc('low'), p31);
      } catch (e) {
        assert.ok(e instanceof ValueLogError && e.code === 'IO', `a write past the quota is IO, got ${String(e)}`);
        assert.is(f.size(), 16, 'a failed write leaves the size');
        sameBytes(readAt(f, 0, 16), enc('0123456789abcdef'), 'a failed write leaves the bytes');
        return;
      }
    }
    assert.is(f.write(enc('low'), p31), 3);
    assert.is(f.size(), p31 + 3);
    assert.is(f.write(enc('high'), p32), 4);
    assert.is(f.size(), p32 + 4);
    sameBytes(readAt(f, p32 - 2, 10), new Uint8Array([0, 0, ...enc('high')]));
    sameBytes(readAt(f, p31, 3), enc('low'));
    sameBytes(readAt(f, 0, 16), enc('0123456789abcdef'), 'the start was not overwritten');
    if (typeof f.writev === 'function') {
      assert.is(f.writev([enc('v1'), enc('v2')], p32 + 100), 4);
      sameBytes(readAt(f, p32 + 98, 10), new Uint8Array([0, 0, ...enc('v1v2')]));
      assert.is(f.size(), p32 + 104);
    }
    sameBytes(readAt(f, 0, 16), enc('0123456789abcdef'), 'the start was not overwritten by writev');
    f.truncate(p32 + 2);
    assert.is(f.size(), p32 + 2);
    sameBytes(readAt(f, p32, 10), enc('hi'));
    f.truncate(16);
    assert.is(f.size(), 16);
    sameBytes(content(f), enc('0123456789abcdef'));
  });

  t('truncate shrinks and extends with zeros', async (b) => {
    const f = await fileWith(b, 'a.log', new Uint8Array(20).fill(0xff));
    f.truncate(5);
    assert.is(f.size(), 5);
    sameBytes(content(f), new Uint8Array(5).fill(0xff));
    f.truncate(15);
    assert.is(f.size(), 15);
    sameBytes(content(f), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, ...new Uint8Array(10)]), 'old bytes do not come back');
    f.write(new Uint8Array([1]), 30);
    sameBytes(readAt(f, 14, 17), new Uint8Array([...new Uint8Array(16), 1]));
    f.truncate(0);
    assert.is(f.size(), 0);
    assert.is(f.read(new Uint8Array(4), 0), 0);
    f.truncate(3);
    sameBytes(content(f), new Uint8Array(3));
    f.truncate(3);
    assert.is(f.size(), 3, 'truncate to the current size is a no-op');
  });

  t('size tracks every operation', async (b) => {
    const f = await b.open('a.log', { create: true });
    assert.is(f.size(), 0);
    f.write(enc('abc'), 0);
    assert.is(f.size(), 3);
    f.write(enc('d'), 1);
    assert.is(f.size(), 3);
    f.write(enc('e'), 9);
    assert.is(f.size(), 10);
    f.read(new Uint8Array(100), 0);
    assert.is(f.size(), 10, 'reads do not change the size');
    f.write(new Uint8Array(0), 50);
    assert.is(f.size(), 10, 'an empty write does not extend the file');
    f.truncate(4);
    assert.is(f.size(), 4);
    f.flush();
    assert.is(f.size(), 4);
    f.close();
    const g = await b.open('a.log');
    assert.is(g.size(), 4);
  });

  t('reopen after close keeps the content; close twice is a no-op', async (b) => {
    const data = noise(10_000, 5);
    const f = await fileWith(b, 'a.log', data);
    f.flush();
    f.close();
    f.close();
    const g = await b.open('a.log');
    sameBytes(content(g), data);
    g.close();
    const r = await b.open('a.log', { readOnly: true });
    sameBytes(content(r), data);
    r.close();
    r.close();
  });

  t('use after close is CLOSED', async (b) => {
    const f = await fileWith(b, 'a.log', enc('abc'));
    f.close();
    expectCode(() => f.read(new Uint8Array(3), 0), 'CLOSED', 'read');
    expectCode(() => f.write(enc('x'), 0), 'CLOSED', 'write');
    if (typeof f.writev === 'function') expectCode(() => f.writev!([enc('x')], 0), 'CLOSED', 'writev');
    expectCode(() => f.size(), 'CLOSED', 'size');
    expectCode(() => f.truncate(0), 'CLOSED', 'truncate');
    expectCode(() => f.flush(), 'CLOSED', 'flush');
    f.close();
    const g = await b.open('a.log');
    sameBytes(content(g), enc('abc'), 'nothing changed');
  });

  t('read-only handles read but reject write, writev and truncate with INVALID_ARGUMENT', async (b) => {
    (await fileWith(b, 'a.log', enc('abc'))).close();
    const r = await b.open('a.log', { readOnly: true });
    sameBytes(readAt(r, 0, 10), enc('abc'));
    assert.is(r.size(), 3);
    expectCode(() => r.write(enc('x'), 0), 'INVALID_ARGUMENT', 'write');
    expectCode(() => r.write(enc('x'), 10), 'INVALID_ARGUMENT', 'write past the end');
    if (typeof r.writev === 'function') expectCode(() => r.writev!([enc('x')], 0), 'INVALID_ARGUMENT', 'writev');
    expectCode(() => r.truncate(0), 'INVALID_ARGUMENT', 'truncate');
    expectCode(() => r.truncate(10), 'INVALID_ARGUMENT', 'truncate up');
    r.flush();
    assert.is(r.size(), 3);
    r.close();
    const g = await b.open('a.log');
    sameBytes(content(g), enc('abc'), 'nothing changed');
  });

  if (removeWhileOpen === 'detach') {
    t('remove while open: the handle keeps working, the name is gone, a new create is empty', async (b) => {
      const f = await fileWith(b, 'a.log', enc('old data'));
      await b.remove('a.log');
      assert.equal(await b.list(), []);
      await expectCodeAsync(() => b.open('a.log'), 'NOT_FOUND');
      sameBytes(content(f), enc('old data'), 'the open handle still reads');
      assert.is(f.write(enc('+more'), 8), 5);
      sameBytes(content(f), enc('old data+more'), 'and writes');
      const g = await b.open('a.log', { create: true });
      assert.is(g.size(), 0, 'a new create gets an empty file');
      g.write(enc('new'), 0);
      sameBytes(content(f), enc('old data+more'), 'the removed file is independent of the new one');
      f.truncate(2);
      sameBytes(content(g), enc('new'));
      f.close();
      g.close();
      assert.equal(await b.list(), ['a.log']);
      const h = await b.open('a.log');
      sameBytes(content(h), enc('new'));
    });
  } else {
    t('remove while open is LOCKED; after close the name goes and a new create is empty', async (b) => {
      const f = await fileWith(b, 'a.log', enc('old data'));
      await expectCodeAsync(() => b.remove('a.log'), 'LOCKED');
      sameBytes(content(f), enc('old data'));
      f.close();
      await b.remove('a.log');
      assert.equal(await b.list(), []);
      await expectCodeAsync(() => b.open('a.log'), 'NOT_FOUND');
      const g = await b.open('a.log', { create: true });
      assert.is(g.size(), 0);
    });
  }

  t('segment names of every lane/seq shape round-trip through list', async (b) => {
    for (const n of SEGMENT_NAMES) {
      const f = await b.open(n, { create: true });
      f.write(enc(n), 0);
      f.close();
    }
    assert.equal([...(await b.list())].sort(), [...SEGMENT_NAMES].sort());
    for (const n of SEGMENT_NAMES) {
      const f = await b.open(n, { readOnly: true });
      sameBytes(content(f), enc(n));
      f.close();
    }
    await b.remove(SEGMENT_NAMES[1]!);
    assert.equal([...(await b.list())].sort(), [SEGMENT_NAMES[0]!, SEGMENT_NAMES[2]!].sort());
  });

  t('invalid names are INVALID_ARGUMENT and create nothing', async (b) => {
    for (const bad of BAD_NAMES) {
      const what = JSON.stringify(bad) ?? String(bad);
      await expectCodeAsync(() => b.open(bad as string, { create: true }), 'INVALID_ARGUMENT', `create ${what}`);
      await expectCodeAsync(() => b.open(bad as string), 'INVALID_ARGUMENT', `open ${what}`);
      await expectCodeAsync(() => b.remove(bad as string), 'INVALID_ARGUMENT', `remove ${what}`);
    }
    assert.equal(await b.list(), []);
    const ok = 'x'.repeat(255);
    (await b.open(ok, { create: true })).close();
    assert.equal(await b.list(), [ok], 'a 255-byte name is fine');
  });

  t('invalid positions are INVALID_ARGUMENT and nothing is written', async (b) => {
    const orig = enc('0123456789');
    const f = await fileWith(b, 'a.log', orig);
    for (const bad of BAD_POSITIONS) {
      const at = bad as number;
      const what = String(bad);
      const dst = new Uint8Array(4).fill(0xee);
      expectCode(() => f.read(dst, at), 'INVALID_ARGUMENT', `read at ${what}`);
      sameBytes(dst, new Uint8Array(4).fill(0xee), `read at ${what} left dst alone`);
      expectCode(() => f.write(enc('XY'), at), 'INVALID_ARGUMENT', `write at ${what}`);
      if (typeof f.writev === 'function') expectCode(() => f.writev!([enc('XY'), enc('Z')], at), 'INVALID_ARGUMENT', `writev at ${what}`);
      expectCode(() => f.truncate(at), 'INVALID_ARGUMENT', `truncate to ${what}`);
      assert.is(f.size(), 10, `size after ${what}`);
      sameBytes(content(f), orig, `content after ${what}`);
    }
    // The end of a write must be a safe integer too.
    expectCode(() => f.write(enc('XYZ'), Number.MAX_SAFE_INTEGER - 1), 'INVALID_ARGUMENT', 'write ending past 2^53');
    if (typeof f.writev === 'function') expectCode(() => f.writev!([enc('XY'), enc('Z')], Number.MAX_SAFE_INTEGER - 1), 'INVALID_ARGUMENT', 'writev ending past 2^53');
    // Buffers that are not Uint8Array, including one bad entry after good ones in a writev.
    expectCode(() => f.write('XY' as unknown as Uint8Array, 0), 'INVALID_ARGUMENT', 'write of a string');
    expectCode(() => f.write([1, 2] as unknown as Uint8Array, 0), 'INVALID_ARGUMENT', 'write of an array');
    expectCode(() => f.read(null as unknown as Uint8Array, 0), 'INVALID_ARGUMENT', 'read into null');
    if (typeof f.writev === 'function') {
      expectCode(() => f.writev!([enc('XY'), 'Z' as unknown as Uint8Array], 0), 'INVALID_ARGUMENT', 'writev with a bad entry');
      expectCode(() => f.writev!(enc('XY') as unknown as Uint8Array[], 0), 'INVALID_ARGUMENT', 'writev of a non-array');
    }
    assert.is(f.size(), 10);
    sameBytes(content(f), orig, 'content after bad buffers');
  });

  t('zero-length reads and writes', async (b) => {
    const f = await fileWith(b, 'a.log', enc('abc'));
    const empty = new Uint8Array(0);
    assert.is(f.read(empty, 0), 0);
    assert.is(f.read(empty, 2), 0);
    assert.is(f.read(empty, 1_000_000), 0);
    assert.is(f.write(empty, 0), 0);
    assert.is(f.write(empty, 3), 0);
    assert.is(f.write(empty, 1_000_000), 0);
    assert.is(f.size(), 3);
    sameBytes(content(f), enc('abc'));
    const g = await b.open('empty.log', { create: true });
    assert.is(g.write(empty, 0), 0);
    assert.is(g.size(), 0);
  });

  t('flush and syncDir do not throw', async (b) => {
    const f = await b.open('a.log', { create: true });
    f.flush();
    f.write(noise(5000), 0);
    f.flush();
    f.flush();
    if (typeof b.syncDir === 'function') await b.syncDir();
    f.close();
    await b.remove('a.log');
    if (typeof b.syncDir === 'function') await b.syncDir();
  });

  t('two files open at once are independent', async (b) => {
    const x = await b.open('x.log', { create: true });
    const y = await b.open('y.log', { create: true });
    x.write(enc('xxxx'), 0);
    y.write(enc('yy'), 0);
    x.write(enc('X'), 10);
    y.write(enc('Y'), 1);
    assert.is(x.size(), 11);
    assert.is(y.size(), 2);
    y.truncate(1);
    sameBytes(content(x), enc('xxxx\0\0\0\0\0\0X'));
    sameBytes(content(y), enc('y'));
    x.close();
    sameBytes(content(y), enc('y'), 'closing one leaves the other open');
    assert.equal([...(await b.list())].sort(), ['x.log', 'y.log']);
  });

  t('a 4 MiB write/read round trip', async (b) => {
    const data = noise(4 * 1024 * 1024 + 3, 42);
    const f = await b.open('big.log', { create: true });
    assert.is(f.write(data, 1), data.length);
    assert.is(f.size(), data.length + 1);
    const back = new Uint8Array(data.length);
    assert.is(f.read(back, 1), data.length);
    sameBytes(back, data, 'whole read');
    // In odd-sized chunks.
    const chunk = new Uint8Array(65_537);
    for (let at = 0; at < data.length; at += chunk.length) {
      const n = f.read(chunk, at + 1);
      assert.is(n, Math.min(chunk.length, data.length - at));
      sameBytes(chunk.subarray(0, n), data.subarray(at, at + n), `chunk at ${at}`);
    }
    f.close();
    const g = await b.open('big.log', { readOnly: true });
    const again = new Uint8Array(data.length + 10);
    assert.is(g.read(again, 0), data.length + 1);
    assert.is(again[0], 0);
    sameBytes(again.subarray(1, data.length + 1), data, 'after reopen');
  });

  s.run();
}
