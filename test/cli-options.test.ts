// @runtimes node deno bun: the CLI is a command run as a subprocess on node:fs; a browser has neither.
// The `valuelog` CLI's edges: missing directories and dictionaries, options per command, output into
// a slow or closed pipe, read-only commands beside the process that has the log open, messages.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dictFileName, encodeFileId, init, NodeStorage, segmentFileName, ValueLog, type ValuePtr } from '../src/index.node.js';
import { jsonDocs } from './helpers.js';
import { runScript, runtime, scriptCommand } from './subprocess.js';

await init();

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'cli.js');
const test = suite(`valuelog CLI options and edges (${runtime})`);
const F1 = encodeFileId(0, 1);
let dir = '';
let ptrs: ValuePtr[] = [];
const docs = jsonDocs(400, 200, 3);

test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'valuelog-cli2-'));
  const log = await ValueLog.open(new NodeStorage(dir), { compression: 'lz4' });
  ptrs = log.putMany(docs);
  await log.commit();
  log.markDead(ptrs.slice(200));
  await log.close();
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** Every message line starts with one `valuelog:` at most. */
function onePrefix(text: string): void {
  assert.not.match(text, /valuelog:\s*valuelog:/, text);
}

test('a directory that does not exist: read-only commands exit 1 and compact creates nothing', () => {
  const missing = join(dir, 'nope');
  for (const cmd of ['verify', 'inspect', 'stats', 'compact']) {
    const r = runScript(cli, [cmd, missing]);
    assert.is(r.code, 1, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, `valuelog: ${cmd}: ${missing}: no such directory`);
    onePrefix(r.stderr);
  }
  assert.not.ok(existsSync(missing), 'compact did not create the directory');
  const r = runScript(cli, ['dump', join(missing, segmentFileName(F1))]);
  assert.is(r.code, 1);
});

test('verify fails when a dictionary file is missing: values that cannot be decoded are not OK', async () => {
  const d = mkdtempSync(join(tmpdir(), 'valuelog-cli2-dict-'));
  try {
    const log = await ValueLog.open(new NodeStorage(d), { compression: 'zstd-dict', dictionary: { size: 4096, trainAfterBytes: 0 } });
    log.putMany(docs.slice(0, 100));
    await log.trainDictionary();
    log.putMany(docs.slice(100));
    await log.close();
    assert.is(runScript(cli, ['verify', d]).code, 0);
    rmSync(join(d, dictFileName(1)));
    const r = runScript(cli, ['verify', d]);
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stdout, /^FAILED: /m);
    assert.match(r.stdout, /cannot be decoded/);
    onePrefix(r.stdout);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('unknown options are rejected per command (exit 2), naming the option and what the command takes', () => {
  const cases: Array<[string[], RegExp]> = [
    [['compact', dir, '--min-garbge-ratio', '0.9'], /compact: unknown option --min-garbge-ratio \(compact takes --min-garbage-ratio/],
    [['inspect', dir, '--values'], /inspect: unknown option --values \(inspect takes no options\)/],
    [['verify', dir, '--values'], /verify: unknown option --values/],
    [['dump', join(dir, segmentFileName(F1)), '--dict', 'x'], /dump: unknown option --dict/],
    [['stats', dir, '-x'], /stats: unknown option -x/],
    [['dump', join(dir, segmentFileName(F1)), '--values=yes'], /--values takes no value/],
    [['inspect', dir, 'extra'], /unexpected argument "extra"/],
    [['verify', dir, '--dict'], /--dict needs a value/],
    [['--bogus'], /unknown option --bogus/],
  ];
  const before = readdirSync(dir).sort();
  for (const [args, msg] of cases) {
    const r = runScript(cli, args);
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, msg);
    assert.match(r.stderr, 'usage: valuelog');
    onePrefix(r.stderr);
  }
  assert.equal(readdirSync(dir).sort(), before, 'a rejected compact changed nothing');
});

test('--help, -h and --version', () => {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  for (const args of [['--help'], ['-h'], ['help'], ['verify', '--help'], ['compact', dir, '-h']]) {
    const r = runScript(cli, args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.stdout, 'usage: valuelog');
  }
  const v = runScript(cli, ['--version']);
  assert.is(v.code, 0);
  assert.is(v.stdout.trim(), `valuelog ${version}`);
  const none = runScript(cli, []);
  assert.is(none.code, 2);
  assert.match(none.stderr, 'usage: valuelog');
});

test('read-only commands work beside the process that has the log open; compact and train-dict --add get LOCKED, one prefix', async () => {
  const log = await ValueLog.open(new NodeStorage(dir), { compression: 'lz4' });
  try {
    log.putMany(docs.slice(0, 10));
    await log.commit();
    const sizes = () => readdirSync(dir).sort().map((n) => `${n}:${statSync(join(dir, n)).size}`);
    const before = sizes();
    for (const args of [['inspect', dir], ['verify', dir], ['stats', dir], ['dump', join(dir, segmentFileName(F1))]]) {
      const r = runScript(cli, args);
      assert.is(r.code, 0, `${args[0]}: ${r.stdout}${r.stderr}`);
    }
    assert.equal(sizes(), before, 'the read-only commands changed nothing');
    const c = runScript(cli, ['compact', dir, '--min-garbage-ratio', '0']);
    assert.is(c.code, 1);
    assert.match(c.stderr, /^valuelog: .* is locked: the log is open in pid \d+/m);
    onePrefix(c.stderr);
    const t = runScript(cli, ['train-dict', dir, '--add', '--size', '4096']);
    assert.is(t.code, 1, 'train-dict --add writes the store: it needs the lock too');
    assert.match(t.stderr, /is locked/);
  } finally {
    await log.close();
  }
});

test('inspect on a truncated segment: garbage clamped to 100%, and it says the sidecar names offsets past the end', () => {
  const path = join(dir, segmentFileName(F1));
  truncateSync(path, Math.floor(statSync(path).size / 3));
  const r = runScript(cli, ['inspect', dir]);
  assert.is(r.code, 0, r.stderr);
  for (const m of r.stdout.matchAll(/(\d+\.\d)%/g)) assert.ok(Number(m[1]) <= 100, `garbage ${m[1]}%`);
  assert.match(r.stdout, /value-l0-000001\.dead: counts \d+ dead bytes for a \d+-byte segment; \d+ of its dead pointers name offsets past the segment's end/);
  assert.match(r.stdout, /incomplete last record|DAMAGED/);
  const v = runScript(cli, ['verify', dir]);
  assert.is(v.code, 0, 'a torn tail of the active segment is not damage');
  assert.match(v.stdout, /incomplete last record/);
});

/** Runs the CLI with a reader that takes its output slowly (pauses after every chunk). */
function slowRead(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = scriptCommand(cli, args);
  return new Promise((resolve, reject) => {
    const p = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => {
      chunks.push(d);
      p.stdout!.pause();
      setTimeout(() => p.stdout!.resume(), 2);
    });
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8'), stderr }));
  });
}

test('dump --values into a slow pipe: every line arrives, exit 0; into a pipe closed early: stops, exit 141', async () => {
  const d = mkdtempSync(join(tmpdir(), 'valuelog-cli2-big-'));
  try {
    const log = await ValueLog.open(new NodeStorage(d), { segmentSize: 256 * 1024 * 1024 });
    const big = jsonDocs(2000, 400, 9);
    const all: ValuePtr[] = [];
    for (let i = 0; i < 10; i++) all.push(...log.putMany(big));
    await log.close();
    const seg = join(d, segmentFileName(F1));
    const r = await slowRead(['dump', seg, '--values']);
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.is(lines.pop(), '', 'output ends with a newline');
    assert.is(lines.length, all.length, 'every line arrived');
    lines.forEach((l, i) => {
      const j = JSON.parse(l) as { ptr: ValuePtr; value: string };
      if (i % 997 === 0) assert.is(Buffer.from(j.value, 'base64').toString(), new TextDecoder().decode(big[i % big.length]!));
      assert.equal(j.ptr, all[i]);
    });
    assert.match(r.stderr, `${all.length} values`);
    const c = scriptCommand(cli, ['dump', seg, '--values']);
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let got = 0;
      p.stdout!.on('data', (b: Buffer) => {
        got += b.length;
        if (got > 1000) p.stdout!.destroy(); // like `| head -c 1000`
      });
      p.on('close', (k) => resolve(k));
    });
    assert.is(code, 141);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test.run();
