// @runtimes node deno bun: mounts a real tmpfs (as root) and runs the CLI as a subprocess; a browser can do neither.
// A real full disk: a 4 MiB tmpfs is filled with puts and commits until a commit (or a put that has to
// flush) fails with ENOSPC. Every acknowledged value must read back, in the same log, after a
// read-only reopen on the still full disk, and after space is freed and writing continued; the CLI
// then verifies the log. Skipped, with the reason printed, where mounting is not possible.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, NodeStorage, ValueLog, ValueLogError, type ValuePtr } from '../src/index.node.js';
import { noise } from './helpers.js';
import { runScript, runtime } from './subprocess.js';

await init();

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const test = suite(`full disk (${runtime})`);

/** Mounts a tmpfs of `size` at a new directory; undefined (and why) where that is not possible. */
function mountTmpfs(size: string): { dir: string } | { skip: string } {
  if (process.platform !== 'linux') return { skip: `tmpfs mounts need Linux (this is ${process.platform})` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { skip: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `mount -t tmpfs failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}` };
  }
  return { dir };
}

function unmount(dir: string): void {
  spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

const value = (i: number): Uint8Array => noise(500 + (i % 7) * 300, i + 1);

test('fill a 4 MiB tmpfs until ENOSPC: every acknowledged value reads back; free space, reopen, continue, verify', async () => {
  const m = mountTmpfs('4m');
  if ('skip' in m) {
    console.log(`full-disk test skipped: ${m.skip}`);
    return;
  }
  try {
    const logDir = join(m.dir, 'log');
    mkdirSync(logDir);
    writeFileSync(join(m.dir, 'filler'), new Uint8Array(1024 * 1024)); // freed later
    const acked: Array<{ i: number; ptr: ValuePtr }> = [];
    let log = await ValueLog.open(new NodeStorage(logDir), { segmentSize: 256 * 1024 });
    let failure: unknown;
    let next = 0;
    for (let batch = 0; batch < 10_000 && failure === undefined; batch++) {
      let ptrs: ValuePtr[];
      const first = next;
      try {
        ptrs = log.putMany(Array.from({ length: 8 }, (_, k) => value(first + k)));
        next += 8;
        await log.commit();
      } catch (e) {
        failure = e;
        break;
      }
      ptrs.forEach((ptr, k) => acked.push({ i: first + k, ptr }));
    }
    assert.ok(failure instanceof ValueLogError, `the full disk surfaced as a ValueLogError: ${String(failure)}`);
    assert.is((failure as ValueLogError).code, 'IO');
    assert.match((failure as ValueLogError).message, /ENOSPC|no space/i);
    assert.ok(acked.length > 1000, `${acked.length} values were acknowledged before the disk filled`);
    // In the same log: what was acknowledged reads back (a failed commit does not undo earlier ones).
    for (const a of acked) assert.equal(log.get(a.ptr), value(a.i), `value ${a.i} in the log that hit ENOSPC`);
    // What the log does next: another commit either fails the same way or, once it succeeds, is durable.
    const after = await log.commit().then(() => 'resolved', (e: unknown) => (e instanceof ValueLogError ? e.code : String(e)));
    console.log(`full disk (${runtime}): ${acked.length} values acknowledged, then ${(failure as ValueLogError).message}; a further commit ${after}`);
    await log.close().catch(() => undefined); // its last sync may fail again on the full disk; the lock is released anyway
    // The disk is still full: a read-only open needs no space and sees every acknowledged value.
    const ro = await ValueLog.open(new NodeStorage(logDir), { readOnly: true });
    for (const a of acked) assert.equal(ro.get(a.ptr), value(a.i), `value ${a.i} read-only on the full disk`);
    await ro.close();
    // Free space, reopen read-write, continue.
    rmSync(join(m.dir, 'filler'));
    log = await ValueLog.open(new NodeStorage(logDir), { segmentSize: 256 * 1024 });
    for (const a of acked) assert.equal(log.get(a.ptr), value(a.i), `value ${a.i} after reopen`);
    const more: Array<{ i: number; ptr: ValuePtr }> = [];
    for (let batch = 0; batch < 40; batch++) {
      const first = next;
      const ptrs = log.putMany(Array.from({ length: 8 }, (_, k) => value(first + k)));
      next += 8;
      await log.commit();
      ptrs.forEach((ptr, k) => more.push({ i: first + k, ptr }));
    }
    await log.close();
    const v = runScript(cli, ['verify', logDir]);
    assert.is(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^OK: /m);
    log = await ValueLog.open(new NodeStorage(logDir), { readOnly: true });
    for (const a of [...acked, ...more]) assert.equal(log.get(a.ptr), value(a.i), `value ${a.i} at the end`);
    await log.close();
  } finally {
    unmount(m.dir);
  }
});

test.run();
