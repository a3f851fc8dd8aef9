// @runtimes node deno bun: the CLI is a command run as a subprocess on node:fs; a browser has neither.
// The `valuelog` CLI, run as a subprocess in the same runtime as the tests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeDictFile, DICT_HIGHWATER_NAME, dictFileName, encodeFileId, init, NodeStorage, segmentFileName, sidecarName, ValueLog, zstdDictionaryId, type ValuePtr } from '../src/index.node.js';
import { expectCode, jsonDocs } from './helpers.js';
import { runScript, runtime, scriptCommand } from './subprocess.js';

await init();

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const test = suite(`valuelog CLI (${runtime})`);
const F1 = encodeFileId(0, 1);
let dir = '';
let ptrs: ValuePtr[] = [];
const docs = Array.from({ length: 600 }, (_, i) => new TextEncoder().encode(JSON.stringify({ id: i, user: `user-${i % 40}`, note: 'lorem ipsum '.repeat(1 + (i % 9)) })));

test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'valuelog-cli-'));
  const log = await ValueLog.open(new NodeStorage(dir), { segmentSize: 64 * 1024, compression: 'lz4' });
  ptrs = [];
  for (let b = 0; b < 60; b++) {
    ptrs.push(...log.putMany(docs.slice(b * 10, b * 10 + 10)));
    await log.commit();
  }
  log.markDead(ptrs.slice(0, 250));
  await log.close();
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('inspect: segments, codecs, ratio, garbage', () => {
  const r = runScript(cli, ['inspect', dir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'value-l0-000001.log');
  assert.match(r.stdout, /codecs \(frames\): lz4 \d+/);
  assert.match(r.stdout, /600 values/);
  assert.match(r.stdout, /garbage: \d+ bytes marked dead/);
});

test('verify: OK on a sound log; exit 1 naming segment and offset on damage; never writes', () => {
  let r = runScript(cli, ['verify', dir]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^OK: \d+ segment\(s\), 600 values verified/m);
  const path = join(dir, segmentFileName(F1));
  const bytes = readFileSync(path);
  const at = ptrs[20]!.offset - 4 + 40;
  bytes[at]! ^= 0xff;
  writeFileSync(path, bytes); // damage behind the library's back
  const before = statSync(path).size;
  r = runScript(cli, ['verify', dir]);
  assert.is(r.code, 1);
  assert.match(r.stdout, `value-l0-000001.log: offset ${ptrs[20]!.offset - 4}: CORRUPT`);
  assert.match(r.stdout, /^DAMAGED/m);
  assert.is(statSync(path).size, before, 'verify did not truncate anything');
});

test('dump: one JSON line per value, values with --values', () => {
  const r = runScript(cli, ['dump', join(dir, segmentFileName(F1)), '--values']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rid: string; ptr: ValuePtr; size: number; value: string });
  assert.ok(lines.length > 100);
  assert.equal(lines[0]!.ptr, ptrs[0]);
  assert.is(Buffer.from(lines[3]!.value, 'base64').toString(), new TextDecoder().decode(docs[3]!));
  assert.is(lines[3]!.size, docs[3]!.length);
});

test('stats: garbage per segment as JSON', () => {
  const r = runScript(cli, ['stats', dir]);
  assert.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { segments: Array<{ segment: string; deadValues: number; garbageRatio: number }>; deadBytes: number };
  assert.is(s.segments.reduce((a, x) => a + x.deadValues, 0), 250);
  assert.ok(s.deadBytes > 0);
});

test('compact: remap to a file, the compacted segment and its sidecar are gone, values readable at the new pointers', async () => {
  const remapFile = join(dir, 'remap.jsonl');
  const r = runScript(cli, ['compact', dir, '--min-garbage-ratio', '0.3', '--remap', remapFile]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /compacted [1-9]\d* segment\(s\)/);
  assert.match(r.stderr, /^compact: 100%$/m, 'plain progress lines when stderr is not a terminal');
  const remap = readFileSync(remapFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { old: ValuePtr; new: ValuePtr });
  assert.ok(remap.length > 0);
  assert.not.ok(existsSync(join(dir, segmentFileName(F1))));
  assert.not.ok(existsSync(join(dir, sidecarName(F1))));
  const log = await ValueLog.open(new NodeStorage(dir));
  for (const m of remap) {
    const i = ptrs.findIndex((p) => p.offset === m.old.offset && p.length === m.old.length && p.fileId === m.old.fileId);
    assert.equal(log.get(m.new), docs[i]);
  }
  await log.close();
});

// util-linux `script` runs the command on a pseudo-terminal: there the progress is one redrawn bar.
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasScript) console.log('cli.test: util-linux `script` is missing; the terminal progress test is skipped');
(hasScript ? test : test.skip)('verify on a terminal draws a progress bar (util-linux script provides the terminal)', () => {
  const c = scriptCommand(cli, ['verify', dir]);
  const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const r = spawnSync('script', ['-qec', [c.cmd, ...c.args].map(quote).join(' '), '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\rverify \[#+\] 100%/);
  assert.not.match(r.stdout, /^verify: \d+%$/m, 'no plain progress lines on a terminal');
});

test('train-dict writes a dictionary with the requested id', () => {
  const out = join(dir, 'dict.bin');
  const r = runScript(cli, ['train-dict', dir, '--id', '42', '--size', '8192', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.is(zstdDictionaryId(new Uint8Array(readFileSync(out))), 42);
});

test('usage errors exit 2 with the usage text', () => {
  for (const args of [[], ['nope'], ['inspect'], ['train-dict', dir, '--id', 'x']]) {
    const r = runScript(cli, args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stdout + r.stderr, 'usage: valuelog');
  }
});


test('demo --dir keeps its ValueLog directories and ends with CLI commands that work on them', () => {
  const out = join(dir, 'demo');
  process.env.VALUELOG_DEMO_COUNT = '2000';
  let r;
  try {
    r = runScript(cli, ['demo', '--dir', out]);
  } finally {
    delete process.env.VALUELOG_DEMO_COUNT;
  }
  assert.is(r.code, 0, r.stderr);
  for (const mode of ['none', 'snappy', 'lz4', 'zstd-dict']) assert.match(r.stdout, new RegExp(`^${mode}\\s+2,000`, 'm'));
  assert.match(r.stdout, `The logs are kept in ${out}`);
  const verifyLine = r.stdout.split('\n').find((l) => l.includes('npx valuelog verify'))!;
  const target = verifyLine.trim().split(' ').pop()!;
  const v = runScript(cli, ['verify', target]);
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /OK: .*2000 values verified/);
  assert.is(runScript(cli, ['demo', '--dir', out]).code, 1, 'an existing directory is refused');
});

test.run();

// ---------------------------------------------------------------------------------------------
// Dictionaries on NodeStorage, and the CLI finding a log's dictionaries by itself.

const dtest = suite(`dictionaries on NodeStorage and in the CLI (${runtime})`);
let ddir = '';
let dptrs: ValuePtr[] = [];
const jdocs = jsonDocs(1200, 300, 5);

dtest.before.each(async () => {
  ddir = mkdtempSync(join(tmpdir(), 'valuelog-dict-'));
  const log = await ValueLog.open(new NodeStorage(ddir), { compression: 'zstd-dict', dictionary: { size: 8192, trainAfterBytes: 0 } });
  dptrs = log.putMany(jdocs.slice(0, 200));
  assert.is(await log.trainDictionary(), 1n);
  dptrs.push(...log.putMany(jdocs.slice(200, 1000)));
  await log.close();
});
dtest.after.each(() => rmSync(ddir, { recursive: true, force: true }));

dtest('the dictionary file is on disk, and a reopened log reads every value with it', async () => {
  const file = new Uint8Array(readFileSync(join(ddir, dictFileName(1))));
  assert.is(zstdDictionaryId(decodeDictFile(file, 1n)), 1);
  assert.ok(existsSync(join(ddir, DICT_HIGHWATER_NAME)));
  const log = await ValueLog.open(new NodeStorage(ddir), { compression: 'zstd-dict' });
  assert.is(log.stats().dictionaries.current, 1);
  dptrs.forEach((p, i) => assert.equal(log.get(p), jdocs[i]));
  const more = log.putMany(jdocs.slice(1000, 1200));
  assert.is(log.stats().compression.frames.lz4, 0);
  await log.close();
  const again = await ValueLog.open(new NodeStorage(ddir));
  more.forEach((p, i) => assert.equal(again.get(p), jdocs[1000 + i]));
  await again.close();
});

dtest('a deleted dictionary file gives MISSING_DICT, a damaged one CORRUPT, never other bytes', async () => {
  const path = join(ddir, dictFileName(1));
  const bytes = readFileSync(path);
  const late = dptrs[600]!;
  rmSync(path);
  let log = await ValueLog.open(new NodeStorage(ddir));
  assert.match(expectCode(() => log.get(late), 'MISSING_DICT').message, /dictionary 1\b/);
  assert.equal(log.get(dptrs[0]!), jdocs[0], 'values written before the dictionary still read');
  await log.close();
  bytes[bytes.length - 5]! ^= 0x10;
  writeFileSync(path, bytes);
  log = await ValueLog.open(new NodeStorage(ddir));
  expectCode(() => log.get(late), 'CORRUPT');
  assert.is(log.stats().dictionaries.damaged[0]!.file, dictFileName(1));
  await log.close();
  const r = runScript(cli, ['verify', ddir]);
  assert.is(r.code, 1, r.stdout);
  assert.match(r.stdout, `${dictFileName(1)}: DAMAGED`);
});

dtest('verify, dump and inspect find the store\'s dictionaries without --dict', () => {
  let r = runScript(cli, ['verify', ddir]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^OK: \d+ segment\(s\), 1000 values verified$/m);
  r = runScript(cli, ['dump', join(ddir, segmentFileName(F1)), '--values']);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: string });
  assert.is(lines.length, 1000);
  assert.is(Buffer.from(lines[700]!.value, 'base64').toString(), new TextDecoder().decode(jdocs[700]!));
  r = runScript(cli, ['inspect', ddir]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /codecs \(frames\): .*zstd-dict \d+/);
  assert.match(r.stdout, /^dictionaries: 1 \(\d+ bytes\); newest 1$/m);
});

dtest('train-dict --add stores a new dictionary under the next id; the log then uses it', async () => {
  let r = runScript(cli, ['train-dict', ddir, '--add', '--size', '4096']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, `id 2, ${dictFileName(2)}`);
  assert.ok(existsSync(join(ddir, dictFileName(2))));
  r = runScript(cli, ['train-dict', ddir, '--add', '--id', '9', '--size', '4096']);
  assert.is(r.code, 2, 'ids are the store\'s to allocate');
  const log = await ValueLog.open(new NodeStorage(ddir), { compression: 'zstd-dict' });
  assert.is(log.stats().dictionaries.current, 2);
  const p = log.put(jdocs[1100]!);
  assert.is(log.stats().dictionaries.dictionaries.find((d) => d.id === 2)!.values, 1);
  assert.equal(log.get(p), jdocs[1100]);
  dptrs.forEach((q, i) => assert.equal(log.get(q), jdocs[i]));
  await log.close();
});

dtest('compact --compression zstd-dict re-frames with the store\'s dictionary', async () => {
  const log = await ValueLog.open(new NodeStorage(ddir), { segmentSize: 64 * 1024 });
  // The first segment is past 64 KiB: once the next one is open, the log rotates and seals it.
  const extra = log.putMany(jdocs.slice(0, 50));
  await log.idle();
  log.putMany(jdocs.slice(50, 100));
  await log.commit();
  assert.ok(log.stats().segments.some((x) => x.fileId === F1 && !x.active), 'the first segment is sealed');
  log.markDead(dptrs.filter((_, i) => i % 2 === 0));
  await log.close();
  const remapFile = join(ddir, 'remap.jsonl');
  const r = runScript(cli, ['compact', ddir, '--min-garbage-ratio', '0', '--compression', 'zstd-dict', '--remap', remapFile]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /compacted [1-9]\d* segment\(s\)/);
  assert.match(r.stderr, /^compact: 100%$/m, 'plain progress lines when stderr is not a terminal');
  const remap = readFileSync(remapFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { old: ValuePtr; new: ValuePtr });
  assert.ok(remap.length >= 500, `${remap.length} moved`);
  const again = await ValueLog.open(new NodeStorage(ddir));
  const all = [...dptrs, ...extra];
  for (const m of remap) {
    const i = all.findIndex((p) => p.offset === m.old.offset && p.length === m.old.length && p.fileId === m.old.fileId);
    assert.ok(i >= 1000 || i % 2 === 1, `only live values move (${i})`);
    assert.equal(again.get(m.new), i >= 1000 ? jdocs[i - 1000] : jdocs[i]);
  }
  await again.close();
  assert.match(runScript(cli, ['inspect', ddir]).stdout, /zstd-dict \d+/);
});

dtest.run();
