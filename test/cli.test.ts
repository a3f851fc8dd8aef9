// @runtimes node deno bun: the CLI is a command run as a subprocess on node:fs; a browser has neither.
// The `valuelog` CLI, run as a subprocess in the same runtime as the tests.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFileId, init, NodeStorage, segmentFileName, sidecarName, ValueLog, zstdDictionaryId, type ValuePtr } from '../src/index.node.js';
import { runScript, runtime } from './subprocess.js';

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


test.run();
