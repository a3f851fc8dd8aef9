// @runtimes node deno bun: the CLI is a command run as a subprocess on node:fs; a browser has neither.
// `valuelog compact` never deletes before its remap is durable: a --remap path that cannot be written
// stops it before anything is compacted; a damaged segment is skipped and reported.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeFileId, init, NodeStorage, segmentFileName, ValueLog, type ValuePtr } from '../src/index.node.js';
import { noise } from './helpers.js';
import { runScript, runtime } from './subprocess.js';

await init();

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const test = suite(`valuelog compact (${runtime})`);
let dir = '';
let vals: Array<{ ptr: ValuePtr; value: Uint8Array }> = [];

test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'valuelog-compact-cli-'));
  const log = await ValueLog.open(new NodeStorage(dir), { segmentSize: 64 * 1024 });
  vals = [];
  for (let b = 0; b < 40; b++) {
    const values = Array.from({ length: 10 }, (_, i) => noise(400, b * 10 + i + 1));
    log.putMany(values).forEach((ptr, i) => vals.push({ ptr, value: values[i]! }));
    await log.commit();
  }
  log.markDead(vals.filter((_, i) => i % 2 === 0 && i < 300).map((v) => v.ptr));
  await log.close();
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** Every file of the directory with its bytes. */
function contents(): Map<string, string> {
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n)).toString('base64')]));
}

for (const bad of ['/nonexistent-dir/x', '<dir>']) {
  test(`--remap ${bad}: exits non-zero before compacting, nothing deleted or changed`, async () => {
    const before = contents();
    const r = runScript(cli, ['compact', dir, '--min-garbage-ratio', '0.3', '--remap', bad === '<dir>' ? dir : bad]);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /cannot write the remap file/);
    assert.equal(contents(), before);
    const log = await ValueLog.open(new NodeStorage(dir));
    for (const v of vals) assert.equal(log.get(v.ptr), v.value);
    await log.close();
  });
}

test('--remap FILE: written and synced before the old segments go; a damaged segment is skipped and reported', async () => {
  // Damage a record in the middle of segment 2.
  const seg2 = join(dir, segmentFileName(encodeFileId(0, 2)));
  const bytes = readFileSync(seg2);
  const at = vals.filter((v) => v.ptr.fileId === encodeFileId(0, 2))[30]!.ptr.offset + 40;
  bytes[at]! ^= 0xff;
  writeFileSync(seg2, bytes);
  const remapFile = join(dir, 'remap.jsonl');
  const r = runScript(cli, ['compact', dir, '--min-garbage-ratio', '0.3', '--remap', remapFile]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipped value-l0-000002\.log: .*corrupt/i);
  assert.match(r.stderr, /skipped 1 damaged segment/);
  const remap = readFileSync(remapFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { old: ValuePtr; new: ValuePtr });
  assert.ok(remap.length > 0);
  assert.ok(readdirSync(dir).includes(segmentFileName(encodeFileId(0, 2))), 'the damaged segment is kept');
  assert.not.ok(readdirSync(dir).includes(segmentFileName(encodeFileId(0, 1))), 'the other one is compacted');
  assert.equal(readdirSync(dir).filter((n) => n.startsWith('compact-')), []);
  const key = (p: ValuePtr) => `${p.fileId}:${p.offset}:${p.length}`;
  const moved = new Map(remap.map((m) => [key(m.old), m.new]));
  const log = await ValueLog.open(new NodeStorage(dir));
  for (const [i, v] of vals.entries()) {
    if ((i % 2 === 0 && i < 300) || v.ptr.fileId === encodeFileId(0, 2)) continue;
    assert.equal(log.get(moved.get(key(v.ptr)) ?? v.ptr), v.value);
  }
  await log.close();
});

test.run();
