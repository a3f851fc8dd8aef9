// @runtimes node deno bun: the test kills child processes with SIGKILL; a browser cannot spawn them.
// Crash safety, tested for real: a child process appends and commits in a loop (two lanes, 256 KiB
// segments, so rotations happen) and is killed with SIGKILL at random moments. After every kill,
// ValueLog.open recovers and every value whose commit() had returned must read back byte-equal; at the
// end every segment must scan cleanly. The child runs in the same runtime as the test (Node, Deno, Bun).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, NodeStorage, parseSegmentFileName, Reader, SeededRandom, ValueLog, type ValuePtr } from '../src/index.node.js';
import { crashValue } from './fixtures/crash-values.js';
import { runtime, scriptCommand } from './subprocess.js';

await init();

// 200 kills per runtime (about 30 s each here); VALUELOG_CRASH_KILLS overrides it for quick local runs.
const KILLS = Number(process.env.VALUELOG_CRASH_KILLS ?? 200);
const TIME_BUDGET_MS = 240_000;
const child = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'crash-child.js');

interface Ack {
  run: number;
  index: number;
  ptr: ValuePtr;
}

/** Starts the child, kills it `delayMs` after it is ready (or lets it finish), returns its acks. */
function runChild(dir: string, run: number, seed: number, delayMs: number): Promise<{ acks: Ack[]; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const c = scriptCommand(child, [dir, String(run), String(seed)]);
    const p = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (d: string) => {
      if (out.length === 0 && d.startsWith('R')) {
        setTimeout(() => {
          killed = p.kill('SIGKILL');
        }, delayMs);
      }
      out += d;
    });
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) return reject(new Error(`child exited with ${code}: ${err}`));
      const acks: Ack[] = [];
      // Only complete lines count: a line cut by the kill was never acknowledged.
      for (const line of out.split('\n').slice(0, out.endsWith('\n') ? undefined : -1)) {
        if (!line.startsWith('C ')) continue;
        const [, r, first, n, json] = line.match(/^C (\d+) (\d+) (\d+) (.*)$/) ?? [];
        const ptrs = JSON.parse(json!) as ValuePtr[];
        assert.is(ptrs.length, Number(n));
        ptrs.forEach((ptr, i) => acks.push({ run: Number(r), index: Number(first) + i, ptr }));
      }
      resolve({ acks, killed: killed || signal === 'SIGKILL' });
    });
  });
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const test = suite(`crash safety (${runtime})`);

test(`${KILLS} SIGKILLs at random moments: every committed value survives, every segment scans cleanly`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'valuelog-crash-'));
  const rng = new SeededRandom(2026);
  const all: Ack[] = [];
  const started = Date.now();
  let kills = 0;
  let truncations = 0;
  try {
    for (let run = 1; kills < KILLS; run++) {
      if (Date.now() - started > TIME_BUDGET_MS) break;
      const { acks, killed } = await runChild(dir, run, rng.uint32(), rng.intn(40));
      if (killed) kills++;
      all.push(...acks);
      const log = await ValueLog.open(new NodeStorage(dir), { segmentSize: 256 * 1024, lanes: 2 });
      truncations += log.stats().recovered.length;
      // This run's commits, and a sample of every earlier one.
      const check = [...acks];
      for (let i = 0; i < 50 && all.length > 0; i++) check.push(all[rng.intn(all.length)]!);
      for (const a of check) {
        const got = log.get(a.ptr);
        if (!same(got, crashValue(a.run, a.index))) assert.unreachable(`run ${a.run} value ${a.index} at ${JSON.stringify(a.ptr)} read back wrong after kill ${kills}`);
      }
      await log.close();
    }
    assert.ok(kills >= KILLS, `only ${kills} kills within the ${TIME_BUDGET_MS / 1000} s budget`);
    // Finally: every acknowledged value, and a checksum-verified scan of every segment.
    const storage = new NodeStorage(dir);
    const log = await ValueLog.open(storage, { segmentSize: 256 * 1024, lanes: 2 });
    for (const a of all) if (!same(log.get(a.ptr), crashValue(a.run, a.index))) assert.unreachable(`value ${a.run}/${a.index} wrong at the end`);
    await log.close();
    let records = 0;
    for (const name of await storage.list()) {
      const id = parseSegmentFileName(name);
      if (id === undefined) continue;
      const r = await Reader.open(storage, id);
      r.disableValueDecode();
      for (const _ of r) records++;
      r.close();
    }
    assert.ok(records >= all.length / 128, 'segments hold the acknowledged values');
    console.log(`crash (${runtime}): ${kills} kills, ${all.length} committed values verified, ${truncations} torn tails truncated, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
