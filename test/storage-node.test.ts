// @runtimes node deno bun: NodeStorage is node:fs, which a browser does not have.
// What only NodeStorage can show: file modes, no append mode, directory handling and error mapping.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueLogError } from '../src/errors.js';
import { NodeStorage } from '../src/storage/node.js';
import { expectCode, expectCodeAsync } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'valuelog-storage-'));
}

const node = suite('NodeStorage specifics');
let dir = '';
node.before.each(() => {
  dir = tempDir();
});
node.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

node('files are created with mode 0600', async () => {
  const st = new NodeStorage(dir);
  (await st.open('a.log', { create: true })).close();
  assert.is(statSync(join(dir, 'a.log')).mode & 0o777, 0o600);
});

node('files are not opened in append mode: a write at 0 overwrites', async () => {
  const st = new NodeStorage(dir);
  const f = await st.open('a.log', { create: true });
  f.write(enc('0123456789'), 0);
  f.write(enc('AB'), 0);
  f.writev!([enc('C'), enc('D')], 4);
  assert.is(f.size(), 10);
  assert.is(dec(readFileSync(join(dir, 'a.log'))), 'AB23CD6789');
  f.close();
  const g = await st.open('a.log'); // the reopen path ('r+') too
  g.write(enc('xy'), 1);
  g.close();
  assert.is(dec(readFileSync(join(dir, 'a.log'))), 'Axy3CD6789');
});

node('the directory is created on first create; a missing directory lists empty', async () => {
  const sub = join(dir, 'a', 'b', 'c');
  const st = new NodeStorage(sub);
  assert.equal(await st.list(), []);
  await expectCodeAsync(() => st.open('x.log'), 'NOT_FOUND');
  await expectCodeAsync(() => st.remove('x.log'), 'NOT_FOUND');
  await st.syncDir(); // nothing to sync yet: not an error
  assert.not.ok(existsSync(sub), 'reading does not create the directory');
  const f = await st.open('x.log', { create: true });
  f.write(enc('hi'), 0);
  f.close();
  assert.ok(statSync(sub).isDirectory());
  assert.equal(await st.list(), ['x.log']);
  assert.is(dec(readFileSync(join(sub, 'x.log'))), 'hi');
});

node('list shows regular files only, sorted', async () => {
  mkdirSync(join(dir, 'sub.log'));
  writeFileSync(join(dir, 'b.log'), 'b');
  writeFileSync(join(dir, 'a.log'), 'a');
  assert.equal(await new NodeStorage(dir).list(), ['a.log', 'b.log']);
});

node('error mapping: ENOENT is NOT_FOUND, a directory in the way is IO naming the path', async () => {
  const st = new NodeStorage(dir);
  await expectCodeAsync(() => st.remove('nope.log'), 'NOT_FOUND');
  await expectCodeAsync(() => st.open('nope.log'), 'NOT_FOUND');
  mkdirSync(join(dir, 'd.log'));
  const e = await expectCodeAsync(() => st.open('d.log'), 'IO');
  assert.match(e.message, join(dir, 'd.log'));
  assert.ok(e.cause !== undefined, 'the Node error is kept as cause');
  await expectCodeAsync(() => st.open('d.log', { create: true }), 'IO');
  const r = await expectCodeAsync(() => st.open('d.log', { readOnly: true }), 'IO');
  assert.match(r.message, 'not a regular file');
  const rm = await expectCodeAsync(() => st.remove('d.log'), 'IO');
  assert.match(rm.message, 'remove');
  assert.ok(statSync(join(dir, 'd.log')).isDirectory(), 'the directory is untouched');
});

node('a directory path that is a file: list, create and syncDir fail with IO', async () => {
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  const st = new NodeStorage(file);
  await expectCodeAsync(() => st.list(), 'IO');
  await expectCodeAsync(() => st.open('a.log', { create: true }), 'IO');
  await expectCodeAsync(() => st.open('a.log'), 'IO'); // ENOTDIR, not ENOENT
});

node('syncDir succeeds on an existing directory; two storages share one directory', async () => {
  const a = new NodeStorage(dir);
  const b = new NodeStorage(dir);
  await a.syncDir();
  (await a.open('x.log', { create: true })).close();
  assert.equal(await b.list(), ['x.log']);
  await b.remove('x.log');
  assert.equal(await a.list(), []);
});

node('an invalid directory argument is INVALID_ARGUMENT', () => {
  expectCode(() => new NodeStorage(''), 'INVALID_ARGUMENT');
  expectCode(() => new NodeStorage(undefined as unknown as string), 'INVALID_ARGUMENT');
});

node('a directory that cannot be created is an IO error, not a hang (Node recursive mkdir loops under /proc)', async () => {
  const e = await expectCodeAsync(async () => (await new NodeStorage('/proc/valuelog-nope/sub').open('a.log', { create: true })).close(), 'IO');
  assert.match(e.message, /cannot create directory|create directory/);
  const e2 = await expectCodeAsync(async () => (await new NodeStorage('/proc/valuelog-nope').open('a.log', { create: true })).close(), 'IO');
  assert.match(e2.message, /\/proc\/valuelog-nope/);
});

node('a nested directory is created level by level', async () => {
  const st = new NodeStorage(join(dir, 'a', 'b', 'c'));
  (await st.open('x.log', { create: true })).close();
  assert.ok(existsSync(join(dir, 'a', 'b', 'c', 'x.log')));
});

node.run();

