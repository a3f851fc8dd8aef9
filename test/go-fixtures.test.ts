// Segments written by the Go package (test/fixtures/go-v0.3.0, see its README) read in every
// runtime: every value by pointer (Manager, ValueSet, readUnsafe; checksums on and off) and by scan
// (Reader), with the Go writer's pointers bit-identical (and their 16-byte form); the values are
// regenerated from the manifest's generator descriptions (not stored twice); the torn copy ends in
// UNEXPECTED_EOF where the README says; ValueLog.open reads all of them given the dictionaries; the
// TypeScript writer, given the Go writer's inputs, writes the uncompressed segments byte for byte.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeValuePtr,
  encodeFrame,
  encodeValuePtr,
  init,
  Manager,
  MemoryStorage,
  parseSegmentFileName,
  Reader,
  ValueLog,
  Writer,
  type LogRecord,
  type StorageBackend,
  type ValuePtr,
} from '../src/index.js';
import { persistentBackend, readRepoFile } from './env.js';
import { expectCode, expectCodeAsync, hex, unhex } from './helpers.js';

await init();

const test = suite('go-fixtures');
const DIR = new URL('../../test/fixtures/go-v0.3.0/', import.meta.url);

interface Gen { kind: 'rand' | 'json' | 'pattern'; seed: string; len: number }
interface ValueRow { case: string; file: string; rid: string; dictId: number; ptr: ValuePtr; ptrHex: string; len: number; sha256: string; b64?: string; gen: Gen }
interface Manifest {
  dicts: Array<{ id: number; file: string; sha256: string; len: number }>;
  segments: Array<{ file: string; fileId: number; lane: number; seq: number; size: number; sha256: string }>;
  values: ValueRow[];
}

const enc = new TextEncoder();
async function sha256(b: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>)));
}

/** A value from its generator description (see the fixture README). */
async function generate(g: Gen): Promise<Uint8Array> {
  const out = new Uint8Array(g.len);
  let at = 0;
  for (let i = 0; at < g.len; i++) {
    let chunk: Uint8Array;
    if (g.kind === 'rand') chunk = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(`${g.seed}:${i}`)));
    else if (g.kind === 'json') chunk = enc.encode(`{"id":${i},"seed":"${g.seed}","user":"user-${i % 37}","active":${i % 3 === 0},"score":${(i * 7919) % 1000},"tags":["alpha","beta","gamma"]}\n`);
    else {
      const seedLen = enc.encode(g.seed).length;
      for (let j = 0; j < g.len; j++) out[j] = (j * 31 + seedLen) % 256;
      return out;
    }
    out.set(chunk.subarray(0, Math.min(chunk.length, g.len - at)), at);
    at += chunk.length;
  }
  return out;
}

const json = async <T>(url: URL): Promise<T> => JSON.parse(new TextDecoder().decode(await readRepoFile(url))) as T;
const manifest = await json<Manifest>(new URL('manifest.json', DIR));
const torn = await json<Manifest>(new URL('torn-tail/manifest.json', DIR));
const dicts = new Map<bigint, Uint8Array>();
for (const d of manifest.dicts) dicts.set(BigInt(d.id), await readRepoFile(new URL(d.file, DIR)));
const segments = new Map<string, Uint8Array>();
for (const s of manifest.segments) segments.set(s.file, await readRepoFile(new URL(s.file, DIR)));
const tornBytes = await readRepoFile(new URL('torn-tail/value-l1-000001.log', DIR));
const values = await Promise.all(manifest.values.map((v) => generate(v.gen)));
const lookup = (id: bigint) => dicts.get(id);

async function copyInto(storage: StorageBackend, files: Map<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of files) {
    const f = await storage.open(name, { create: true });
    f.write(bytes, 0);
    f.flush();
    f.close();
  }
}

async function withCopy(files: Map<string, Uint8Array>, fn: (storage: StorageBackend) => Promise<void>): Promise<void> {
  const { storage, cleanup } = await persistentBackend.make();
  try {
    await copyInto(storage, files);
    await fn(storage);
  } finally {
    await cleanup();
  }
}

function samePtr(a: ValuePtr, b: ValuePtr, what: string): void {
  assert.equal({ offset: a.offset, length: a.length >>> 0, fileId: a.fileId >>> 0 }, { offset: b.offset, length: b.length, fileId: b.fileId }, what);
}

test('the fixture files are the ones the manifest describes; the values regenerate to its digests', async () => {
  assert.is(manifest.values.length, 795);
  for (const s of manifest.segments) {
    assert.is(segments.get(s.file)!.length, s.size, s.file);
    assert.is(await sha256(segments.get(s.file)!), s.sha256, s.file);
    assert.is(parseSegmentFileName(s.file), s.fileId, s.file);
  }
  for (const d of manifest.dicts) assert.is(await sha256(dicts.get(BigInt(d.id))!), d.sha256, d.file);
  for (let i = 0; i < values.length; i++) {
    const v = manifest.values[i]!;
    assert.is(values[i]!.length, v.len);
    assert.is(await sha256(values[i]!), v.sha256, `value ${i} (${v.case})`);
    if (v.b64 !== undefined) assert.is(btoa(String.fromCharCode(...values[i]!)), v.b64);
  }
});

test("the Go writer's pointers and their 16-byte serialisation round-trip bit for bit", () => {
  for (const v of manifest.values) {
    assert.is(hex(encodeValuePtr(v.ptr)), v.ptrHex, v.case);
    samePtr(decodeValuePtr(unhex(v.ptrHex)), v.ptr, v.case);
  }
});

test('every value reads by scan (Reader) with the Go pointers and RIDs, checksums on and off', async () => {
  await withCopy(segments, async (storage) => {
    for (const off of [false, true]) {
      let i = 0;
      for (const s of manifest.segments) {
        const r = await Reader.open(storage, s.fileId);
        r.setDictLookup(lookup);
        if (off) r.disableChecksum();
        for (const e of r) {
          const v = manifest.values[i]!;
          assert.is(v.file, s.file);
          assert.is(e.rid, BigInt(v.rid), `rid of value ${i}`);
          samePtr(e.ptr, v.ptr, `pointer of value ${i} (${v.case})`);
          assert.ok(hex(e.value!) === hex(values[i]!), `value ${i} (${v.case})`);
          i++;
        }
        assert.is(r.offset, s.size);
        r.close();
      }
      assert.is(i, 795);
    }
  });
});

test('every value reads by pointer: Manager, ValueSet, readUnsafe, checksums on and off', async () => {
  await withCopy(segments, async (storage) => {
    const m = await Manager.open(storage);
    m.setDictLookup(lookup);
    try {
      for (const off of [false, true]) {
        m.setDisableReadChecksum(off);
        const set = await m.currentSet();
        assert.is(set.files.size, 4);
        manifest.values.forEach((v, i) => {
          const ptr = decodeValuePtr(unhex(v.ptrHex));
          const want = hex(values[i]!);
          assert.ok(hex(m.read(ptr)) === want, `Manager.read ${i} (${v.case})`);
          assert.ok(hex(set.read(ptr)) === want, `ValueSet.read ${i}`);
          assert.ok(hex(m.readUnsafe(ptr)) === want, `readUnsafe ${i}`);
        });
        await m.release(set);
      }
    } finally {
      await m.close();
    }
  });
});

test('a dictionary frame without its dictionary is MISSING_DICT, never other bytes', async () => {
  await withCopy(segments, async (storage) => {
    const m = await Manager.open(storage);
    try {
      const v = manifest.values.find((x) => x.case === 'dict7-k7')!;
      expectCode(() => m.read(v.ptr), 'MISSING_DICT');
    } finally {
      await m.close();
    }
  });
});

test('the torn copy: 144 values, then UNEXPECTED_EOF at offset 15480; its 5 cut values fail by pointer', async () => {
  assert.is(tornBytes.length, torn.segments[0]!.size);
  assert.is(hex(tornBytes), hex(segments.get('value-l1-000001.log')!.subarray(0, tornBytes.length)));
  await withCopy(new Map([['value-l1-000001.log', tornBytes]]), async (storage) => {
    for (const off of [false, true]) {
      const r = await Reader.open(storage, torn.segments[0]!.fileId);
      r.setDictLookup(lookup);
      if (off) r.disableChecksum(); // ours stays strict with checksums off: no value of a cut frame
      let n = 0;
      expectCode(() => {
        for (let e = r.next(); e !== undefined; e = r.next()) {
          assert.ok(hex(e.value!) === hex(values[manifest.values.indexOf(manifest.values.find((x) => x.rid === torn.values[n]!.rid)!)]!));
          n++;
        }
      }, 'UNEXPECTED_EOF');
      assert.is(n, 144);
      assert.is(r.offset, 15480);
      r.close();
    }
    const m = await Manager.open(storage);
    m.setDictLookup(lookup);
    try {
      torn.values.forEach((v, i) => {
        if (i < 144) assert.is(m.read(v.ptr).length, v.len);
        else expectCode(() => m.read(v.ptr), 'UNEXPECTED_EOF', `cut value ${i}`);
      });
    } finally {
      await m.close();
    }
  });
});

test('ValueLog.open with the dictionaries reads all 795 values (read-write and read-only), writes no segment', async () => {
  for (const readOnly of [false, true]) {
    for (const form of ['map', 'function'] as const) {
      await withCopy(segments, async (storage) => {
        const before = (await storage.list()).filter((n) => parseSegmentFileName(n) !== undefined).sort();
        const log = await ValueLog.open(storage, { readOnly, lanes: 1, dictionaries: form === 'map' ? dicts : lookup });
        manifest.values.forEach((v, i) => assert.ok(hex(log.get(v.ptr)) === hex(values[i]!), `${form} ${readOnly} ${i}`));
        let n = 0;
        for await (const _ of log.values()) n++;
        if (!readOnly) assert.is(n, 795);
        await log.close();
        const after = (await storage.list()).filter((n) => parseSegmentFileName(n) !== undefined).sort();
        assert.equal(after, before);
        for (const s of manifest.segments) {
          const f = await storage.open(s.file, { readOnly: true });
          assert.is(f.size(), s.size, `${s.file} untouched`);
          f.close();
        }
      });
    }
  }
  // Without them: the dictionary frames fail, everything else reads.
  await withCopy(segments, async (storage) => {
    const log = await ValueLog.open(storage, { readOnly: true });
    let missing = 0;
    for (const v of manifest.values) {
      try {
        log.get(v.ptr);
      } catch (e) {
        assert.is((e as { code?: string }).code, 'MISSING_DICT');
        missing++;
      }
    }
    assert.is(missing, 146);
    await log.close();
  });
});

test('options.dictionaries is validated; other bytes for a stored id are DICT_MISMATCH', async () => {
  const storage = new MemoryStorage();
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: 'dict-7.zdict' as never }), 'INVALID_ARGUMENT');
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: new Map([[0, dicts.get(7n)!]]) }), 'INVALID_ARGUMENT');
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: new Map([[9, dicts.get(7n)!]]) }), 'INVALID_ARGUMENT'); // header says 7
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: { '7': 'x' } as never }), 'INVALID_ARGUMENT');
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: new Map([[7, new Uint8Array(0)]]) }), 'INVALID_ARGUMENT');
  const log = await ValueLog.open(storage, { dictionaries: { '7': dicts.get(7n)! } });
  await log.close();
  const { DictionaryStore } = await import('../src/dictionaries.js');
  const store = await DictionaryStore.open(storage);
  assert.equal(await store.importDictionary(dicts.get(9n)!, 9), { id: 9n, created: true });
  assert.equal(await store.importDictionary(dicts.get(9n)!, 9), { id: 9n, created: false });
  assert.equal(await store.importDictionary(dicts.get(7n)!, 7), { id: 7n, created: true }); // below 9: foreign ids
  await expectCodeAsync(() => store.importDictionary(dicts.get(9n)!, 7), 'DICT_MISMATCH');
  const other = dicts.get(9n)!.slice();
  other[other.length - 1]! ^= 1;
  await expectCodeAsync(() => ValueLog.open(storage, { dictionaries: new Map([[9n, other]]) }), 'DICT_MISMATCH');
  const again = await ValueLog.open(storage, { dictionaries: new Map([[9n, dicts.get(9n)!]]) });
  await again.close();
});

test('a torn segment of a lane beyond the lanes option is recovered (read-only: read up to its valid prefix)', async () => {
  for (const readOnly of [true, false]) {
    await withCopy(new Map([['value-l1-000001.log', tornBytes]]), async (storage) => {
      const log = await ValueLog.open(storage, { readOnly, lanes: 1, dictionaries: dicts });
      const rec = log.stats().recovered;
      if (readOnly) assert.equal(rec, []);
      else assert.equal(rec.map((r) => [r.segment, r.validBytes, r.droppedBytes, r.maxRid]), [['value-l1-000001.log', 15480, 200, '615']]);
      let n = 0;
      for await (const { value } of log.values()) assert.ok(hex(value) === hex(values[manifest.values.findIndex((x) => x.rid === torn.values[n]!.rid)]!), `value ${n++}`);
      assert.is(n, 144);
      const cut = torn.values[144]!.ptr;
      expectCode(() => log.get(cut), 'UNEXPECTED_EOF');
      if (!readOnly) {
        // Its lane continues in a fresh segment, so that no lost pointer names a later value.
        assert.ok((await storage.list()).includes('value-l1-000002.log'));
        const ptr = log.put(enc.encode('after'));
        await log.commit();
        assert.is(new TextDecoder().decode(log.get(ptr)), 'after');
      }
      await log.close();
      const f = await storage.open('value-l1-000001.log', { readOnly: true });
      assert.is(f.size(), readOnly ? tornBytes.length : 15480);
      f.close();
      if (!readOnly) {
        const again = await ValueLog.open(storage, { lanes: 4, dictionaries: dicts });
        const p = again.put(enc.encode('x'), { lane: 1 });
        assert.is(p.fileId >>> 0, parseSegmentFileName('value-l1-000002.log'));
        await again.close();
      }
    });
  }
});

/** The Go writer's calls for the uncompressed segments, replayed on the TypeScript writer. */
async function replay(file: string): Promise<Uint8Array> {
  const storage = new MemoryStorage();
  const rows = manifest.values.map((v, i) => ({ v, value: values[i]! })).filter((x) => x.v.file === file);
  const id = manifest.segments.find((s) => s.file === file)!.fileId;
  const w = await Writer.open(storage, id);
  for (let i = 0; i < rows.length; ) {
    const c = rows[i]!.v.case;
    let j = i;
    while (j < rows.length && rows[j]!.v.case === c) j++;
    const recs: LogRecord[] = rows.slice(i, j).map((x) => ({ rid: BigInt(x.v.rid), value: x.value }));
    const k = Number(/-k(\d+)$/.exec(c)?.[1] ?? '1');
    if (c.endsWith('plain')) for (const r of recs) w.append(r.rid, r.value);
    else if (c.includes('writev')) w.appendRawFrames(recs, k);
    else if (c.includes('encoded')) w.appendEncodedFrame(encodeFrame(0, undefined, recs).body, recs.length);
    else if (c === 'rawrecord-copy') {
      // The on-disk bytes of the 4 KiB plain record, with its original pointer.
      const src = manifest.values.find((x) => x.case === 'plain' && x.len === 4096)!;
      const start = src.ptr.offset - 4;
      const len = src.ptr.length & 0x00ffffff;
      w.appendRawRecord(segments.get(src.file)!.slice(start, start + 4 + len), src.ptr.length);
    } else for (let a = 0; a < recs.length; a += k) w.appendFrame(recs.slice(a, a + k));
    i = j;
  }
  w.close();
  const f = await storage.open(segmentNameOf(file), { readOnly: true });
  const out = new Uint8Array(f.size());
  f.read(out, 0);
  f.close();
  return out;
}
const segmentNameOf = (file: string) => file;

test('the TypeScript writer given the Go inputs writes the uncompressed segments byte for byte', async () => {
  for (const file of ['value-l0-000001.log', 'value-l3-000007.log']) {
    const ours = await replay(file);
    assert.is(ours.length, segments.get(file)!.length, file);
    assert.ok(await sha256(ours) === (await sha256(segments.get(file)!)), `${file} byte-identical`);
  }
});

test.run();
