// @runtimes node deno bun: runs the CLI (dist/cli.js) as a subprocess on node:fs; a browser has neither.
// The Go-written log of test/fixtures/go-v0.3.0 through the `valuelog` command: `verify` with the
// dictionaries verifies all 795 values (and without them reports the frames it cannot decode), and
// `dict import` stores them so that the facade and plain `verify` read everything.
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, NodeStorage, ValueLog } from '../src/index.node.js';
import { runScript, runtime } from './subprocess.js';

await init();

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const fixtures = join(root, 'test', 'fixtures', 'go-v0.3.0');
const dict7 = join(fixtures, 'dicts', 'dict-7.zdict');
const dict9 = join(fixtures, 'dicts', 'dict-9.zdict');
const test = suite(`Go log through the CLI (${runtime})`);
let dir = '';

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'valuelog-go-'));
  for (const f of readdirSync(fixtures)) if (f.endsWith('.log')) cpSync(join(fixtures, f), join(dir, f));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('verify with --dict verifies all 795 values; without, it names the frames it cannot decode', () => {
  const ok = runScript(cli, ['verify', dir, '--dict', `7=${dict7}`, '--dict', `9=${dict9}`]);
  assert.is(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, 'OK: 4 segment(s), 795 values verified');
  const missing = runScript(cli, ['verify', dir]);
  assert.is(missing.code, 1);
  assert.match(missing.stdout, 'FAILED');
  assert.match(missing.stdout, 'value-l1-000001.log');
});

test('dict import: under its own id, idempotent, other bytes refused; then everything reads', async () => {
  const before = readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => [f, statSync(join(dir, f)).size]);
  let r = runScript(cli, ['dict', 'import', dir, dict9]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'as dictionary 9');
  r = runScript(cli, ['dict', 'import', dir, dict7]); // below 9: the foreign log's ids, not allocated ones
  assert.is(r.code, 0, r.stderr);
  r = runScript(cli, ['dict', 'import', dir, dict7]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'nothing changed');
  r = runScript(cli, ['dict', 'import', dir, join(fixtures, 'manifest.json')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'not a zstd dictionary');
  r = runScript(cli, ['dict', 'export', dir, dict7]);
  assert.is(r.code, 2);
  r = runScript(cli, ['verify', dir]);
  assert.is(r.code, 0, r.stdout);
  assert.match(r.stdout, '795 values verified');
  const log = await ValueLog.open(new NodeStorage(dir), { readOnly: true });
  let n = 0;
  for await (const _ of log.values()) n++;
  assert.is(n, 795);
  await log.close();
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => [f, statSync(join(dir, f)).size]), before);
});

test('dict import refuses other bytes for an id the store holds (DICT_MISMATCH)', async () => {
  let r = runScript(cli, ['dict', 'import', dir, dict7]);
  assert.is(r.code, 0, r.stderr);
  // A different dictionary carrying id 7 in its header.
  const other = join(dir, 'other.zdict');
  const { readFileSync, writeFileSync } = await import('node:fs');
  const b = new Uint8Array(readFileSync(dict9));
  b.set([7, 0, 0, 0], 4);
  writeFileSync(other, b);
  r = runScript(cli, ['dict', 'import', dir, other]);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'already holds other bytes as dictionary 7');
});

test.run();
