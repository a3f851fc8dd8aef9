// @runtimes node deno bun: SIGKILL of child processes; a browser cannot spawn them.
// Compaction under SIGKILL: a child application puts, deletes and compacts in a loop (holding a
// snapshot as documented, or through onRemap) and is killed at random moments inside compact().
// After every kill the test reopens the log as the application would: every acknowledged value (its
// put was committed; if the child had recorded a remap for it, at the new pointer) must read back byte
// for byte. At the end, after one more open + compact(), no orphaned copy may be live: every live
// value is either the one the index points at, or a value whose put was never acknowledged.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { init, NodeStorage, parseSegmentFileName, Reader, SeededRandom, ValueLog, type ValuePtr } from '../src/index.node.js';
import { ptrKey } from '../src/format/pointer.js';
import { GarbageTracker } from '../src/garbage.js';
import { compactionCrashId, compactionCrashValue } from './fixtures/crash-values.js';
import { runtime, scriptCommand } from './subprocess.js';

await init();

// 50 kills per runtime by default (VALUELOG_COMPACT_KILLS raises it), within a time budget.
const KILLS = Number(process.env.VALUELOG_COMPACT_KILLS ?? 50);
const TIME_BUDGET_MS = Number(process.env.VALUELOG_COMPACT_BUDGET_MS ?? Math.max(60_000, KILLS * 1500));
const OPTS = { segmentSize: 64 * 1024, bufferSize: 64 * 1024, lanes: 2 };
const child = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'compaction-crash-child.js');

interface Outcome {
  killed: boolean;
  /** The last of the "S" / "E" lines was "S": the kill landed inside compact(). */
  insideCompact: boolean;
  /** Ids of a deletion that was announced but not confirmed. */
  unconfirmed: string[];
}

/** How long each compaction the children reported took (from its "S" line to its "E" line). */
const compactionMs: number[] = [];

/** The window a kill is drawn from: the median compaction so far, within 5-60 ms (60 before any). */
function compactionWindowMs(): number {
  if (compactionMs.length === 0) return 60;
  const sorted = [...compactionMs].sort((a, b) => a - b);
  return Math.max(5, Math.min(60, sorted[sorted.length >> 1]!));
}

/** Runs the child on the index, applies what it printed to the index, returns how it ended. */
function runChild(dir: string, stateFile: string, run: number, seed: number, index: Map<string, ValuePtr>, acked: Set<string>, rng: SeededRandom): Promise<Outcome> {
  writeFileSync(stateFile, JSON.stringify([...index]));
  // Killed a random moment after a random one of the first compactions starts.
  const atCompaction = 1 + rng.intn(3);
  // Scaled to how long compactions took so far in this run, so that most kills land inside one on a
  // fast machine too (a fixed 0-60 ms window let more than half of them land after it ended).
  const delay = Math.floor((rng.intn(60) * compactionWindowMs()) / 60);
  return new Promise((resolve, reject) => {
    const c = scriptCommand(child, [dir, String(run), String(seed), stateFile]);
    const p = spawn(c.cmd, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    let starts = 0;
    let inCompact = false;
    let startedAt = 0;
    let pending: string[] | undefined;
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const kind = line[0];
        if (kind === 'C' || kind === 'M') {
          for (const [id, ptr] of JSON.parse(line.slice(2)) as Array<[string, ValuePtr]>) {
            index.set(id, ptr);
            if (kind === 'C') acked.add(id);
            note(id, `${kind}${run}:${ptrKey(ptr)}`);
          }
        } else if (kind === 'K') {
          pending = JSON.parse(line.slice(2)) as string[];
        } else if (kind === 'k') {
          for (const id of pending!) {
            index.delete(id);
            note(id, `k${run}`);
          }
          pending = undefined;
        } else if (kind === 'E') {
          inCompact = false;
          compactionMs.push(Date.now() - startedAt);
        } else if (kind === 'S') {
          inCompact = true;
          startedAt = Date.now();
          if (++starts === atCompaction) setTimeout(() => p.kill('SIGKILL'), delay);
        }
      }
    });
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}: ${err}`));
      resolve({ killed: true, insideCompact: inCompact, unconfirmed: pending ?? [] });
    });
  });
}

/** Debugging aid: what happened to each id (printed for a failure). */
const history = new Map<string, string[]>();
function note(id: string, what: string): void {
  history.set(id, [...(history.get(id) ?? []), what]);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkIndex(log: ValueLog, index: Map<string, ValuePtr>, when: string): void {
  for (const [id, ptr] of index) {
    let got: Uint8Array;
    try {
      got = log.get(ptr);
    } catch (e) {
      assert.unreachable(`${when}: value ${id} at ${JSON.stringify(ptr)} unreadable: ${String(e)}`);
      return;
    }
    if (!same(got, compactionCrashValue(id))) assert.unreachable(`${when}: value ${id} at ${JSON.stringify(ptr)} reads back wrong`);
  }
}

const test = suite(`compaction crash safety (${runtime})`);

test(`${KILLS} SIGKILLs inside compact(): nothing acknowledged is lost, no orphaned copy stays live`, async () => {
  const root = mkdtempSync(join(tmpdir(), 'valuelog-compact-crash-'));
  const dir = join(root, 'log');
  const stateFile = join(root, 'index.json');
  const rng = new SeededRandom(1010);
  const index = new Map<string, ValuePtr>();
  const acked = new Set<string>();
  const started = Date.now();
  let kills = 0;
  let inside = 0;
  let intents = 0;
  let remaps = 0;
  try {
    for (let run = 1; kills < KILLS && Date.now() - started < TIME_BUDGET_MS; run++) {
      const o = await runChild(dir, stateFile, run, rng.uint32(), index, acked, rng);
      kills++;
      if (o.insideCompact) inside++;
      const files = readdirSync(dir).filter((n) => n.startsWith('compact-'));
      if (files.length > 0) for (const id of index.keys()) note(id, `[${run}:${files.join(',')}]`);
      for (const n of readdirSync(dir)) {
        if (n.endsWith('.intent')) intents++;
        else if (n.endsWith('.remap') && n.startsWith('compact-')) remaps++;
      }
      const log = await ValueLog.open(new NodeStorage(dir), OPTS);
      checkIndex(log, index, `after kill ${kills}`);
      // The application finishes a deletion it cannot know was committed.
      if (o.unconfirmed.length > 0) {
        log.markDead(o.unconfirmed.map((id) => index.get(id)!));
        await log.commit();
        for (const id of o.unconfirmed) {
          index.delete(id);
          note(id, `K?${run}`);
        }
      }
      await log.close();
    }
    assert.ok(kills >= KILLS, `only ${kills} kills within ${TIME_BUDGET_MS / 1000} s`);
    assert.ok(inside >= kills / 2, `only ${inside} of ${kills} kills landed inside compact()`);

    // One more open + compact(), the remap applied to the index, then a scan of everything live.
    const storage = new NodeStorage(dir);
    const log = await ValueLog.open(storage, OPTS);
    const remap = await log.compact({
      minGarbageRatio: 0.3,
      onRemap: (r) => {
        for (const [id, p] of index) {
          const n = r.get(p);
          if (n !== undefined) index.set(id, n);
        }
      },
    });
    checkIndex(log, index, 'after the final compaction');
    await log.close();
    const garbage = new GarbageTracker();
    const live = new Map<string, number>();
    let unacked = 0;
    let orphans = 0;
    for (const name of await storage.list()) {
      const id = parseSegmentFileName(name);
      if (id === undefined) continue;
      await garbage.load(storage, id);
      const r = await Reader.open(storage, id);
      for (const e of r) {
        if (garbage.isDead(e.ptr)) continue;
        const vid = compactionCrashId(e.value!);
        const want = index.get(vid);
        if (want !== undefined && ptrKey(want) === ptrKey(e.ptr)) live.set(vid, (live.get(vid) ?? 0) + 1);
        else if (acked.has(vid)) {
          orphans++; // a live copy nothing points at, or a deleted value
          if (orphans <= 5) console.log(`orphan ${vid} at ${ptrKey(e.ptr)} rid ${e.rid}; index ${want ? ptrKey(want) : 'none'}; ${(history.get(vid) ?? []).join(' ')}`);
        }
        else unacked++; // its put never returned: the application never saw its pointer
      }
      r.close();
    }
    assert.is(orphans, 0, 'live values that the index does not reference');
    assert.is(live.size, index.size, 'every referenced value is live');
    assert.ok([...live.values()].every((n) => n === 1));
    const left = (await storage.list()).filter((n) => n.startsWith('compact-'));
    assert.equal(left, [], 'no compaction records left');
    console.log(
      `compaction crash (${runtime}): ${kills} kills (${inside} inside compact(); left ${intents} .intent and ${remaps} .remap records), ${acked.size} acknowledged values, ${index.size} referenced at the end and all live, ` +
        `0 orphaned copies, ${unacked} never-acknowledged values, final run moved ${remap.size}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
