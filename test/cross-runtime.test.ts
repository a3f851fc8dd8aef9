// Cross-runtime proof (issue 4): the same inputs produce byte-identical segment files in Node, Deno,
// Bun and Chromium, and a segment written in any one reads back, with the same pointers, in every
// other. Runs in all four runtimes (no static node:* import).
//
// 1. The workload of test/fixtures/cross-workload.ts (ValueLog with none/Snappy/LZ4, lanes, rotation,
//    empty and larger-than-the-buffer values, dead marks; Writer frames with zstd and a trained
//    dictionary) is written to this runtime's persistent backend and to MemoryStorage; the SHA-256 of
//    every file, the dictionary's and every value's, and every pointer, must equal the goldens in
//    test/fixtures/cross-runtime/ (digests.json, pointers.json). Equal digests in every runtime are
//    byte-identical files.
// 2. The segment files Node wrote (committed beside the goldens) are copied into a fresh persistent
//    backend (OPFS in Chromium) and every value is read back through ValueLog.get, a Manager set and a
//    Reader scan, with the committed pointers. As every runtime's own output equals Node's, this reads
//    what any runtime writes.
// 3. A flipped byte in a fixture changes its digest and fails every read path (the checks can fail).
//
// Regenerate the goldens and fixtures (after a deliberate format or workload change), in Node only:
//   npm run build && VALUELOG_UPDATE_GOLDEN=1 VALUELOG_RUNTIMES=node node test/run.mjs cross
// and review the diff: a changed digest means every previously written segment changes too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, Manager, parseSegmentFileName, ptrRecordLength, Reader, ValueLog, type StorageBackend, type ValuePtr } from '../src/index.js';
import { memoryBackend, persistentBackend, readRepoFile, runtime, type TestBackend } from './env.js';
import { DICT_ID, logOptions, SCENARIOS, workloadDictionary, writeScenario, type Scenario } from './fixtures/cross-workload.js';
import { expectCode, expectCodeAsync, hex } from './helpers.js';

await init();

const test = suite('cross-runtime');
const FIXTURES = new URL('../../test/fixtures/cross-runtime/', import.meta.url);
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
const UPDATE = runtime === 'node' && env?.VALUELOG_UPDATE_GOLDEN === '1';

/** A value's pointer and the SHA-256 of its bytes: [offset, length, fileId, sha256]. */
type Row = [number, number, number, string];
interface Goldens {
  comment: string;
  dictionary: string;
  /** "scenario/file name" → SHA-256 and size of every file the workload leaves behind. */
  files: Record<string, { sha256: string; bytes: number }>;
}
type Pointers = Record<Scenario, Row[]>;

async function sha256(bytes: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}

async function rowsOf(values: readonly Uint8Array[], ptrs: readonly ValuePtr[]): Promise<Row[]> {
  return Promise.all(values.map(async (v, i) => [ptrs[i]!.offset, ptrs[i]!.length, ptrs[i]!.fileId >>> 0, await sha256(v)] as Row));
}

async function readAll(storage: StorageBackend, name: string): Promise<Uint8Array> {
  const f = await storage.open(name, { readOnly: true });
  try {
    const buf = new Uint8Array(f.size());
    assert.is(f.read(buf, 0), buf.length, `short read of ${name}`);
    return buf;
  } finally {
    f.close();
  }
}

/** "scenario/name" → bytes of every file in the storage. */
async function filesOf(scenario: Scenario, storage: StorageBackend): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const name of await storage.list()) out.set(`${scenario}/${name}`, await readAll(storage, name));
  return out;
}

async function digestsOf(files: Map<string, Uint8Array>): Promise<Goldens['files']> {
  const out: Goldens['files'] = {};
  for (const [key, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[key] = { sha256: await sha256(bytes), bytes: bytes.length };
  return out;
}

/** The files whose digest (or presence) differs from the goldens. */
function mismatches(actual: Goldens['files'], golden: Goldens['files']): string[] {
  const keys = [...new Set([...Object.keys(actual), ...Object.keys(golden)])].sort();
  return keys.filter((k) => actual[k]?.sha256 !== golden[k]?.sha256 || actual[k]?.bytes !== golden[k]?.bytes);
}

/** Resolves the workload's one dictionary id. */
const dictLookup = (dict: Uint8Array) => (id: bigint) => (id === BigInt(DICT_ID) ? dict : undefined);

async function readJson<T>(name: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await readRepoFile(new URL(name, FIXTURES)))) as T;
}

/** Copies the committed files of a scenario into an empty storage. */
async function loadFixture(scenario: Scenario, storage: StorageBackend, goldens: Goldens): Promise<void> {
  for (const key of Object.keys(goldens.files).filter((k) => k.startsWith(`${scenario}/`))) {
    const bytes = await readRepoFile(new URL(key, FIXTURES));
    const f = await storage.open(key.slice(scenario.length + 1), { create: true });
    f.write(bytes, 0);
    f.flush();
    f.close();
  }
}

/** Node only (VALUELOG_UPDATE_GOLDEN=1): rewrites test/fixtures/cross-runtime/ from this run's output. */
async function writeGoldens(dict: Uint8Array, files: Map<string, Uint8Array>, pointers: Pointers): Promise<void> {
  const [{ mkdirSync, rmSync, writeFileSync }, { dirname }, { fileURLToPath }] = await Promise.all([import('node:fs'), import('node:path'), import('node:url')]);
  const root = fileURLToPath(FIXTURES);
  rmSync(root, { recursive: true, force: true });
  for (const [key, bytes] of files) {
    const path = fileURLToPath(new URL(key, FIXTURES));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }
  writeFileSync(fileURLToPath(new URL('dictionary.bin', FIXTURES)), dict);
  const goldens: Goldens = {
    comment: 'Written by test/cross-runtime.test.ts with VALUELOG_UPDATE_GOLDEN=1 in Node; every runtime must reproduce these digests.',
    dictionary: await sha256(dict),
    files: await digestsOf(files),
  };
  writeFileSync(fileURLToPath(new URL('digests.json', FIXTURES)), JSON.stringify(goldens, null, 2) + '\n');
  // One row per line, so that a diff shows which values moved.
  const body = SCENARIOS.map((s) => `  ${JSON.stringify(s)}: [\n${pointers[s].map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]`).join(',\n');
  writeFileSync(fileURLToPath(new URL('pointers.json', FIXTURES)), `{\n${body}\n}\n`);
  console.log(`  cross-runtime: goldens rewritten in ${root}`);
}

async function workloadMatchesGoldens(backend: TestBackend): Promise<void> {
  const dict = workloadDictionary();
  const files = new Map<string, Uint8Array>();
  const pointers = {} as Pointers;
  for (const scenario of SCENARIOS) {
    const { storage, cleanup } = await backend.make();
    try {
      const { values, ptrs } = await writeScenario(scenario, storage, dict);
      pointers[scenario] = await rowsOf(values, ptrs);
      for (const [k, v] of await filesOf(scenario, storage)) files.set(k, v);
    } finally {
      await cleanup();
    }
  }
  if (UPDATE && backend === persistentBackend) await writeGoldens(dict, files, pointers);
  const goldens = await readJson<Goldens>('digests.json');
  assert.is(await sha256(dict), goldens.dictionary, 'the trained dictionary');
  const actual = await digestsOf(files);
  assert.equal(mismatches(actual, goldens.files), [], `${runtime}/${backend.name}: files whose bytes differ from the goldens`);
  assert.equal(actual, goldens.files);
  const golden = await readJson<Pointers>('pointers.json');
  for (const s of SCENARIOS) assert.equal(pointers[s], golden[s], `${s}: pointers and value digests`);
}

test(`the workload writes the golden bytes and pointers (${runtime}, ${persistentBackend.name})`, () => workloadMatchesGoldens(persistentBackend));
test(`the workload writes the golden bytes and pointers (${runtime}, memory)`, () => workloadMatchesGoldens(memoryBackend));

/** Every value of a scenario read back through ValueLog, a Manager set and Reader scans. */
async function readBack(scenario: Scenario, storage: StorageBackend, rows: readonly Row[], dict: Uint8Array): Promise<void> {
  const ptr = ([offset, length, fileId]: Row): ValuePtr => ({ offset, length, fileId });
  const lookup = dictLookup(dict);
  if (scenario !== 'zstd-dict') {
    // The facade has no dictionary store yet, so zstd frames are read through Manager and Reader only.
    const log = await ValueLog.open(storage, logOptions(scenario));
    assert.equal(log.stats().recovered, [], `${scenario}: nothing to recover`);
    for (const [i, r] of rows.entries()) assert.is(await sha256(log.get(ptr(r))), r[3], `${scenario}: ValueLog.get of value ${i}`);
    await log.close();
  }
  const m = await Manager.open(storage);
  m.setDictLookup(lookup);
  const set = await m.currentSet();
  for (const [i, r] of rows.entries()) assert.is(await sha256(set.read(ptr(r))), r[3], `${scenario}: Manager read of value ${i}`);
  await m.release(set);
  await m.close();
  let scanned = 0;
  for (const name of await storage.list()) {
    const id = parseSegmentFileName(name);
    if (id === undefined) continue;
    const reader = await Reader.open(storage, id);
    reader.setDictLookup(lookup);
    const got: Row[] = [];
    for (const e of reader) got.push([e.ptr.offset, e.ptr.length, e.ptr.fileId >>> 0, await sha256(e.value!)]);
    reader.close();
    assert.equal(got, rows.filter((r) => r[2] === id), `${scenario}: scan of ${name}`);
    scanned += got.length;
  }
  assert.is(scanned, rows.length, `${scenario}: every value scanned once`);
}

test(`segments written by Node read back here with the same pointers (${runtime}, ${persistentBackend.name})`, async () => {
  const goldens = await readJson<Goldens>('digests.json');
  const pointers = await readJson<Pointers>('pointers.json');
  const dict = await readRepoFile(new URL('dictionary.bin', FIXTURES));
  assert.is(await sha256(dict), goldens.dictionary, 'the committed dictionary');
  for (const scenario of SCENARIOS) {
    assert.ok(pointers[scenario].length > 0, `${scenario}: pointers committed`);
    const { storage, cleanup } = await persistentBackend.make();
    try {
      await loadFixture(scenario, storage, goldens);
      const own = (d: Goldens['files']) => Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith(`${scenario}/`)));
      assert.equal(await digestsOf(await filesOf(scenario, storage)), own(goldens.files), `${scenario}: the committed files are the golden ones`);
      await readBack(scenario, storage, pointers[scenario], dict);
      assert.equal(await digestsOf(await filesOf(scenario, storage)), own(goldens.files), `${scenario}: reading changed no byte`);
    } finally {
      await cleanup();
    }
  }
});

test(`a flipped byte changes the digest and fails every read path (${runtime}, ${persistentBackend.name})`, async () => {
  const goldens = await readJson<Goldens>('digests.json');
  const pointers = await readJson<Pointers>('pointers.json');
  const dict = await readRepoFile(new URL('dictionary.bin', FIXTURES));
  for (const scenario of ['plain', 'zstd-dict'] as const) {
    const rows = pointers[scenario];
    // The largest record of a sealed (not last) segment: open() recovers only the active segments' tails.
    const lastId = Math.max(...rows.map((r) => r[2]));
    const recordLength = (r: Row) => ptrRecordLength({ offset: r[0], length: r[1], fileId: r[2] });
    const [offset, length, fileId] = rows.filter((r) => r[2] !== lastId).reduce((a, b) => (recordLength(b) > recordLength(a) ? b : a));
    const name = Object.keys(goldens.files).find((k) => k.startsWith(`${scenario}/`) && parseSegmentFileName(k.slice(scenario.length + 1)) === fileId)!;
    const { storage, cleanup } = await persistentBackend.make();
    try {
      await loadFixture(scenario, storage, goldens);
      const f = await storage.open(name.slice(scenario.length + 1));
      // The middle of the record's body (header at offset - 4, body from offset + 16); the CRC covers it.
      const at = offset + 16 + Math.floor((recordLength([offset, length, fileId, '']) - 16) / 2);
      const b = new Uint8Array(1);
      f.read(b, at);
      b[0]! ^= 0x01;
      f.write(b, at);
      f.close();
      assert.equal(mismatches(await digestsOf(await filesOf(scenario, storage)), goldens.files).filter((k) => k.startsWith(`${scenario}/`)), [name], `${scenario}: only the damaged file's digest differs`);
      const ptr: ValuePtr = { offset, length, fileId };
      if (scenario === 'plain') {
        const log = await ValueLog.open(storage, logOptions(scenario));
        expectCode(() => log.get(ptr), 'CORRUPT', 'ValueLog.get');
        await log.close();
      }
      const m = await Manager.open(storage);
      m.setDictLookup(dictLookup(dict));
      const set = await m.currentSet();
      expectCode(() => set.read(ptr), 'CORRUPT', 'Manager read');
      await m.release(set);
      await m.close();
      const reader = await Reader.open(storage, fileId);
      reader.setDictLookup(dictLookup(dict));
      await expectCodeAsync(async () => {
        for (const _ of reader);
      }, 'CORRUPT', 'Reader scan');
      assert.is(reader.offset, offset - 4, 'the scan stops at the damaged record');
      reader.close();
    } finally {
      await cleanup();
    }
  }
});

test.run();
