// @runtimes node deno bun: the lock is taken by separate processes (spawned, SIGKILLed); a browser cannot spawn them.
// One owner per log: the directory lock (in-process and between processes, stale-lock takeover after
// SIGKILL, two racers taking over one stale lock), and read-only opens beside a live writer.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, LOCK_FILE_NAME, MemoryStorage, NodeStorage, segmentFileName, encodeFileId, ValueLog, ValueLogError, type StorageBackend, type ValuePtr } from '../src/index.node.js';
import { crashValue } from './fixtures/crash-values.js';
import { assertOneWinnerEach, expectCode, expectCodeAsync, hex, noise, utf8 } from './helpers.js';
import { runtime, scriptCommand } from './subprocess.js';

await init();

const here = dirname(fileURLToPath(import.meta.url));
const child = join(here, 'fixtures', 'owner-child.js');
const cli = join(here, '..', '..', 'dist', 'cli.js');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'valuelog-own-'));

interface Running {
  pid: number;
  lines: string[];
  /** Resolves with the first line starting with `prefix`. */
  line(prefix: string): Promise<string>;
  done: Promise<{ code: number | null; signal: string | null; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
  endInput(): void;
}

function start(args: string[]): Running {
  const c = scriptCommand(child, args);
  const p = spawn(c.cmd, c.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ prefix: string; resolve(l: string): void }> = [];
  let buf = '';
  let stderr = '';
  p.stdout!.setEncoding('utf8');
  p.stdout!.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(l);
      for (const w of waiters.splice(0)) {
        if (l.startsWith(w.prefix)) w.resolve(l);
        else waiters.push(w);
      }
    }
  });
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return {
    pid: p.pid!,
    lines,
    line: (prefix) => {
      const have = lines.find((l) => l.startsWith(prefix));
      if (have !== undefined) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        waiters.push({ prefix, resolve });
        void done.then((d) => reject(new Error(`child ended (${d.code ?? d.signal}) before printing ${prefix}: ${d.stderr}`)));
      });
    },
    done,
    kill: (s) => p.kill(s),
    endInput: () => p.stdin!.end(),
  };
}

async function runChild(args: string[]): Promise<{ out: string; code: number | null; stderr: string }> {
  const r = start(args);
  const d = await r.done;
  return { out: r.lines.join('\n'), code: d.code, stderr: d.stderr };
}

/** Runs the CLI asynchronously (so that the test keeps reading its children meanwhile). */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = scriptCommand(cli, args);
  return new Promise((resolve, reject) => {
    const p = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Pointers of every "C" line (commits that returned), by value index. */
function acked(lines: string[]): Array<{ index: number; ptr: ValuePtr }> {
  const out: Array<{ index: number; ptr: ValuePtr }> = [];
  for (const l of lines) {
    const m = /^C (\d+) (\d+) (.*)$/.exec(l);
    if (m === null) continue;
    (JSON.parse(m[3]!) as ValuePtr[]).forEach((ptr, i) => out.push({ index: Number(m[1]) + i, ptr }));
  }
  return out;
}

/** A pid that is not running: a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, runtime === 'deno' ? ['eval', '0'] : ['-e', '0']);
  return r.pid!;
}

function staleLock(dir: string, fields: Record<string, unknown>): void {
  const token = Array.from({ length: 24 }, (_, i) => 'abcdef0123456789'[(i * 7 + Number(fields.pid ?? 1)) % 16]).join('');
  writeFileSync(join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: deadPid(), host: hostname(), runtime: 'node v0', since: '2026-01-01T00:00:00.000Z', token, ...fields }));
}

// ---------------------------------------------------------------------------------------------------

const lock = suite(`directory lock (${runtime})`);

lock('a second open in this process gets LOCKED naming the holder; close() releases; the lock file is hidden', async () => {
  const dir = tmp();
  try {
    const a = await ValueLog.open(new NodeStorage(dir));
    assert.ok(existsSync(join(dir, LOCK_FILE_NAME)));
    const holder = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as { pid: number; host: string; runtime: string; since: string; token: string };
    assert.is(holder.pid, process.pid);
    assert.is(holder.host, hostname());
    assert.match(holder.runtime, runtime);
    assert.is(a.stats().lock!.tookOver, false);
    const e = await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED');
    assert.match(e.message, `pid ${process.pid} on host ${hostname()}`);
    assert.match(e.message, holder.since);
    assert.match(e.message, /readOnly/);
    assert.not.match(e.message, /valuelog: valuelog/);
    assert.not.ok((await new NodeStorage(dir).list()).some((n) => n.includes('lock')), 'list() hides the lock files');
    await a.close();
    assert.not.ok(existsSync(join(dir, LOCK_FILE_NAME)), 'close() removed the lock file');
    const b = await ValueLog.open(new NodeStorage(dir));
    assert.is(b.stats().lock!.tookOver, false, 'a clean close is no takeover');
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

lock('a refused open creates nothing: LOCKED in a fresh directory, and a failure after the lock', async () => {
  const dir = tmp();
  try {
    staleLock(dir, { host: 'some-other-host' });
    const e = await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED');
    assert.match(e.message, /another host: pid \d+ on host some-other-host/);
    assert.match(e.message, /never taken over automatically/);
    assert.equal(readdirSync(dir), [LOCK_FILE_NAME], 'nothing created, the foreign lock untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A backend whose segment reads fail: open fails after it took the lock and wrote the marker.
  const mem = new MemoryStorage();
  const seed = await ValueLog.open(mem);
  seed.put(new Uint8Array(10));
  await seed.close();
  const before = await mem.list();
  const failing: StorageBackend = {
    list: () => mem.list(),
    open: (name, opts) => (opts?.readOnly === true && name.endsWith('.log') ? Promise.reject(new ValueLogError('IO', 'valuelog: injected')) : mem.open(name, opts)),
    remove: (name) => mem.remove(name),
    lock: () => mem.lock(),
  };
  await expectCodeAsync(() => ValueLog.open(failing), 'IO');
  assert.equal(await mem.list(), before, 'the marker the failed open wrote is gone, the segment untouched');
  const ok = await ValueLog.open(mem); // and the lock was released
  await ok.close();
});

lock('MemoryStorage: a second open gets LOCKED; abandonLock() models a dead holder (tookOver)', async () => {
  const mem = new MemoryStorage();
  const a = await ValueLog.open(mem);
  const p = a.put(utf8('kept'));
  await a.commit();
  assert.match((await expectCodeAsync(() => ValueLog.open(mem), 'LOCKED')).message, /MemoryStorage is locked/);
  assert.equal(await mem.list(), [segmentFileName(encodeFileId(0, 1)), 'valuelog.dirty'].sort(), 'the marker of an open log (see DIRTY_MARKER)');
  mem.abandonLock();
  const b = await ValueLog.open(mem);
  assert.is(b.stats().lock!.tookOver, true);
  assert.equal(b.get(p), utf8('kept'));
  await b.close();
  await a.close(); // the abandoned one releasing late does not release b's successor
  const c = await ValueLog.open(mem);
  assert.is(c.stats().lock!.tookOver, false);
  await c.close();
});

lock('stale locks: a dead pid, a reused pid and a rebooted host are taken over; a live pid and garbage are not', async () => {
  const dir = tmp();
  try {
    staleLock(dir, {});
    let log = await ValueLog.open(new NodeStorage(dir));
    assert.is(log.stats().lock!.tookOver, true, 'dead pid');
    await log.close();
    // pid 1 is alive, but not the process that started at tick 1 (pid reuse), where /proc tells.
    if (existsSync('/proc/1/stat')) {
      staleLock(dir, { pid: 1, start: '1' });
      log = await ValueLog.open(new NodeStorage(dir));
      assert.is(log.stats().lock!.tookOver, true, 'reused pid');
      await log.close();
    }
    if (existsSync('/proc/sys/kernel/random/boot_id')) {
      staleLock(dir, { pid: 1, boot: 'an-earlier-boot' });
      log = await ValueLog.open(new NodeStorage(dir));
      assert.is(log.stats().lock!.tookOver, true, 'rebooted since');
      await log.close();
    }
    staleLock(dir, { pid: 1 });
    const e = await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED');
    assert.match(e.message, 'pid 1 on host');
    writeFileSync(join(dir, LOCK_FILE_NAME), 'not json');
    assert.match((await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED')).message, /not a valuelog lock file/);
    // A takeover in progress by a live process (a claim on the stale token): LOCKED, naming the taker.
    staleLock(dir, {});
    const token = (JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as { token: string }).token;
    const claim = join(dir, `${LOCK_FILE_NAME}.takeover.${token}`);
    writeFileSync(claim, JSON.stringify({ pid: 1, host: hostname(), runtime: 'x', since: 'x', token: 'eeeeeeeeeeeeeeeeeeeeeeee' }));
    assert.match((await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED')).message, /its holder died and pid 1 on host .* is taking the lock over/);
    // A claim left by a takeover that died half-way does not block the next one.
    writeFileSync(join(dir, `${LOCK_FILE_NAME}.takeover.${token}`), JSON.stringify({ pid: deadPid(), host: hostname(), runtime: 'x', since: 'x', token: 'ffffffffffffffffffffffff' }));
    log = await ValueLog.open(new NodeStorage(dir));
    assert.is(log.stats().lock!.tookOver, true, 'dead claimer');
    await log.close();
    assert.equal(readdirSync(dir).filter((n) => n.startsWith(LOCK_FILE_NAME)), [], 'no lock files left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

lock('two writer processes: the second gets LOCKED naming the first\'s pid; after it closes, the next open succeeds', async () => {
  const dir = tmp();
  try {
    const a = start(['hold', dir]);
    await a.line('R ');
    const b = await runChild(['open', dir]);
    assert.is(b.code, 0, b.stderr);
    assert.match(b.out, /^LOCKED /);
    assert.match(b.out, `pid ${a.pid} on host ${hostname()}`);
    await expectCodeAsync(() => ValueLog.open(new NodeStorage(dir)), 'LOCKED');
    a.endInput();
    assert.is((await a.done).code, 0);
    const c = await runChild(['open', dir]);
    assert.match(c.out, /^OK \{.*"tookOver":false/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

lock('SIGKILL of the lock holder: the next opener takes over and every committed value reads back', async () => {
  const dir = tmp();
  try {
    const w = start(['write', dir, '100000']);
    await w.line('R ');
    while (acked(w.lines).length < 300) await new Promise((r) => setTimeout(r, 20));
    w.kill('SIGKILL');
    await w.done;
    const acks = acked(w.lines);
    const stale = JSON.parse(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')) as { pid: number };
    assert.is(stale.pid, w.pid, 'the dead holder\'s lock file is still there');
    const log = await ValueLog.open(new NodeStorage(dir), { lanes: 2 });
    assert.is(log.stats().lock!.tookOver, true);
    for (const a of acks) assert.equal(log.get(a.ptr), crashValue(0, a.index), `value ${a.index}`);
    await log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// 20 races per runtime in npm test; VALUELOG_RACES=200 for a longer sweep.
const RACES = Number(process.env.VALUELOG_RACES ?? 20);

lock(`two racers take over the same stale lock at once, ${RACES} times: exactly one wins each time`, async () => {
  const dirs = Array.from({ length: RACES }, () => tmp());
  try {
    for (const d of dirs) staleLock(d, {});
    const gap = 150;
    const at = Date.now() + (runtime === 'node' ? 1500 : 2500); // both children are up by then
    const [r1, r2] = await Promise.all([runChild(['race', String(at), String(gap), ...dirs]), runChild(['race', String(at), String(gap), ...dirs])]);
    assert.is(r1.code, 0, r1.stderr);
    assert.is(r2.code, 0, r2.stderr);
    assertOneWinnerEach([r1.out, r2.out], dirs.length);
    for (const d of dirs) assert.equal(readdirSync(d).filter((n) => n.startsWith(LOCK_FILE_NAME)), [], 'no lock files left behind');
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

lock.run();

// ---------------------------------------------------------------------------------------------------

const ro = suite(`read-only open (${runtime})`);

ro('writes, truncates and creates nothing; every mutation rejects with INVALID_ARGUMENT', async () => {
  const mem = new MemoryStorage();
  const empty = await ValueLog.open(mem, { readOnly: true });
  assert.equal(await mem.list(), [], 'an empty storage stays empty');
  assert.is(empty.stats().readOnly, true);
  assert.is(empty.stats().lock, undefined);
  await empty.close();
  const w = await ValueLog.open(mem, { compression: 'lz4' });
  const ptrs = w.putMany(Array.from({ length: 50 }, (_, i) => utf8(`value ${i} `.repeat(20))));
  await w.commit();
  w.markDead(ptrs[0]!);
  await w.commit();
  w.put(utf8('torn')); // put but never committed: cut in half below, as a crash would leave it
  await w.commit();
  const name = segmentFileName(encodeFileId(0, 1));
  const f = await mem.open(name);
  const size = f.size();
  f.truncate(size - 3);
  const files = await mem.list();
  const r = await ValueLog.open(mem, { readOnly: true }); // beside the writer: no lock taken
  assert.is((await mem.open(name)).size(), size - 3, 'the torn tail was not truncated');
  assert.equal(await mem.list(), files);
  assert.equal(r.stats().recovered, []);
  assert.is(r.stats().segments[0]!.deadValues, 1, 'dead marks are read');
  ptrs.forEach((p, i) => assert.equal(r.get(p), utf8(`value ${i} `.repeat(20))));
  for (const [what, fn] of [
    ['put', () => r.put(utf8('x'))],
    ['putMany', () => r.putMany([utf8('x')])],
    ['markDead', () => r.markDead(ptrs[1]!)],
  ] as const) assert.match(expectCode(fn, 'INVALID_ARGUMENT').message, /read-only/, what);
  for (const fn of [() => r.commit(), () => r.compact(), () => r.trainDictionary({ samples: ptrs.map((p) => r.get(p)) })]) {
    assert.match((await expectCodeAsync(fn, 'INVALID_ARGUMENT')).message, /read-only/);
  }
  const snap = await r.snapshot();
  assert.equal(snap.get(ptrs[3]!), utf8(`value 3 `.repeat(20)));
  await snap.release();
  await r.close();
  await w.close().catch(() => undefined);
});

ro('sees a writer beside it: appended records at once, new segments and dictionaries after refresh()', async () => {
  const mem = new MemoryStorage();
  const w = await ValueLog.open(mem, { segmentSize: 64 * 1024, compression: 'zstd-dict', dictionary: { size: 2048, trainAfterBytes: 0 } });
  const first = w.put(utf8('first'));
  await w.commit();
  const r = await ValueLog.open(mem, { readOnly: true });
  const second = w.put(utf8('second'));
  await w.commit();
  assert.equal(r.get(second), utf8('second'), 'appended to a tracked segment: readable at once');
  const docs = Array.from({ length: 400 }, (_, i) => utf8(JSON.stringify({ id: i, name: `user ${i % 17}`, noise: hex(noise(60, i + 1)) })));
  let ptrs: ValuePtr[] = [];
  const activeSeq = () => w.stats().segments.find((s) => s.active)!.seq;
  for (let i = 0; activeSeq() === 1 && i < 100 * docs.length; i += 20) {
    ptrs.push(...w.putMany(docs.slice(i % docs.length, (i % docs.length) + 20)));
    await w.commit();
    await w.idle();
  }
  await w.trainDictionary();
  const late = w.putMany(docs.slice(0, 20));
  await w.commit();
  assert.ok(w.stats().segments.length > 1, 'the writer rotated');
  const newest = late[0]!;
  assert.ok(newest.fileId !== first.fileId);
  expectCode(() => r.get(newest), 'NOT_FOUND', 'a segment created after open or refresh');
  await r.refresh();
  ptrs.forEach((p, i) => assert.equal(r.get(p), docs[i % docs.length]));
  late.forEach((p, i) => assert.equal(r.get(p), docs[i]));
  assert.equal(r.get(first), utf8('first'));
  assert.ok(r.stats().dictionaries.current !== undefined, 'the new dictionary was loaded');
  await r.close();
  await w.close();
});

ro('a writer process beside a read-only opener and a `valuelog verify` loop: no false damage, nothing truncated, every value intact', async () => {
  const dir = tmp();
  try {
    const w = start(['write', dir, '500']);
    await w.line('R ');
    const r = await ValueLog.open(new NodeStorage(dir), { readOnly: true });
    const sizes = new Map<string, number>();
    let verifies = 0, reads = 0;
    let finished = false;
    void w.done.then(() => (finished = true));
    while (!finished || verifies === 0) {
      const v = await runCli(['verify', dir]);
      assert.is(v.code, 0, `verify #${verifies}: ${v.stdout}${v.stderr}`);
      assert.match(v.stdout, /^OK: /m);
      verifies++;
      await r.refresh();
      for (const a of acked(w.lines)) {
        assert.equal(r.get(a.ptr), crashValue(0, a.index), `value ${a.index} read beside the writer`);
        reads++;
      }
      for (const s of r.stats().segments) {
        assert.ok(s.bytes >= (sizes.get(s.name) ?? 0), `${s.name} never shrinks`);
        sizes.set(s.name, s.bytes);
      }
    }
    const d = await w.done;
    assert.is(d.code, 0, d.stderr);
    await r.close();
    assert.ok(verifies >= 1 && reads > 0);
    const acks = acked(w.lines);
    assert.ok(acks.length > 1000);
    const log = await ValueLog.open(new NodeStorage(dir), { lanes: 2 });
    assert.equal(log.stats().recovered, [], 'the writer\'s log needed no recovery');
    for (const a of acks) assert.equal(log.get(a.ptr), crashValue(0, a.index));
    await log.close();
    console.log(`beside a writer: ${verifies} verify runs, ${reads} reads by a read-only opener, ${acks.length} acknowledged values intact`);
    const last = await runCli(['verify', dir]);
    assert.is(last.code, 0, last.stdout);
    assert.ok(statSync(dir).isDirectory());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

ro.run();
