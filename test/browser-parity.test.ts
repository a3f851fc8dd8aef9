// @runtimes node: it drives pages of one Chromium from Node through playwright-core.
// The browser face returns what the Node face returns: compact() a PointerRemap (onRemap run in the
// calling page, remote tabs included, while the owner's compaction waits with nothing deleted),
// snapshots with the same misuse errors, values() and isDead() — from the owning tab and from a
// tab that routes its calls to it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ValuePtr } from '../src/index.js';

import { closeTabs, isOwner, newTab, vl, type Page } from './tabs-harness.js';

/** Values of ~600 bytes: 300 of them fill three 64 KiB segments, so the first ones are sealed. */
const values = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}-${'x'.repeat(560 + (i % 97))}`);

const key = (p: ValuePtr): string => `${p.fileId}:${p.offset}:${p.length}`;
const logName = `parity-${Date.now().toString(36)}`;
let a: Page;
let b: Page;
let ptrs: ValuePtr[] = [];
let all: string[] = [];
const dead = new Set<number>();

/** Puts in batches of 50 with a commit each: a segment rotates once its successor is open (in the background). */
async function putInBatches(tab: Page, vals: string[]): Promise<ValuePtr[]> {
  const out: ValuePtr[] = [];
  for (let i = 0; i < vals.length; i += 50) {
    out.push(...(await vl<ValuePtr[]>(tab, 'putMany', vals.slice(i, i + 50))));
    await vl(tab, 'commit');
  }
  return out;
}

type CompactResult = {
  seen: { isRemap?: boolean; size?: number; probe?: string[] };
  isRemap: boolean;
  size: number;
  pairs: Array<[ValuePtr, ValuePtr]>;
  compactedSegments: number[];
  skipped: number;
  deleteErrors: number;
  lookup: ValuePtr | undefined;
};

test('setup: two tabs, a log of several sealed segments with two thirds of the first ones dead', async () => {
  a = await newTab();
  b = await newTab();
  assert.is(await vl<boolean>(a, 'open', logName, { compression: 'none', segmentSize: 64 * 1024 }), true);
  assert.is(await vl<boolean>(b, 'open', logName), false);
  all = values('p', 300);
  ptrs = await putInBatches(a, all);
  const victims = ptrs.filter((p, i) => p.fileId === ptrs[0]!.fileId && i % 3 !== 0);
  ptrs.forEach((p, i) => victims.includes(p) && dead.add(i));
  assert.ok(victims.length > 20, `${victims.length} values die`);
  assert.ok(ptrs.some((p) => p.fileId !== ptrs[0]!.fileId), 'the values span several segments');
  assert.is(await vl<number>(b, 'markDead', victims), victims.length);
  await vl(b, 'commit');
});

test('isDead and values() from the owner and from the remote tab', async () => {
  const deadPtrs = [...dead].map((i) => ptrs[i]!);
  const livePtrs = ptrs.filter((_, i) => !dead.has(i));
  for (const tab of [a, b]) {
    assert.equal(await vl<boolean[]>(tab, 'isDead', [deadPtrs[0], livePtrs[0]]), [true, false]);
    const seen = await vl<Array<{ ptr: ValuePtr; value: string }>>(tab, 'values');
    assert.equal(seen.map((x) => x.value), all.filter((_, i) => !dead.has(i)));
    assert.equal(seen.map((x) => key(x.ptr)), livePtrs.map(key));
    const firstTen = await vl<Array<{ ptr: ValuePtr; value: string }>>(tab, 'values', 10);
    assert.is(firstTen.length, 10);
  }
});

test('snapshot misuse: a read or a release after release is INVALID_ARGUMENT, as in Node', async () => {
  for (const tab of [a, b]) {
    const r = await vl<{ before: string; codes: string[] }>(tab, 'snapshotMisuse', ptrs[0]);
    assert.equal(r, { before: all[0], codes: ['INVALID_ARGUMENT', 'INVALID_ARGUMENT'] });
  }
});

test('compact(): onProgress is refused with INVALID_ARGUMENT (it would run in the worker)', async () => {
  try {
    await vl(b, 'compact', 'progress');
    assert.unreachable('onProgress accepted');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'INVALID_ARGUMENT');
  }
});

test('compact(): an onRemap that throws (in a remote tab and in the owner) rejects compact with its error; nothing is deleted', async () => {
  const live = ptrs.filter((p, i) => !dead.has(i) && p.fileId === ptrs[0]!.fileId);
  for (const [tab, mode, code] of [[b, 'throw', 'IO'], [a, 'throwCode', 'CORRUPT']] as const) {
    try {
      await vl(tab, 'compact', mode, 0, live.slice(0, 3));
      assert.unreachable('compact resolved');
    } catch (e) {
      assert.is((e as { code?: string }).code, code, String(e));
    }
    assert.equal(await vl<string[]>(a, 'getMany', live), live.map((p) => all[ptrs.indexOf(p)]!), 'the old pointers still read');
  }
});

test('compact(): onRemap in a remote tab gets a PointerRemap while the old segments still exist; compact returns one', async () => {
  const live = ptrs.filter((p, i) => !dead.has(i) && p.fileId === ptrs[0]!.fileId);
  const r = await vl<CompactResult>(b, 'compact', 'ok', 0, live.slice(0, 3));
  assert.equal(r.seen, { isRemap: true, size: r.size, probe: live.slice(0, 3).map((p) => all[ptrs.indexOf(p)]!) });
  assert.ok(r.isRemap, 'compact() resolves to a PointerRemap');
  assert.is(r.size, live.length, 'every live value of the compacted segment moved');
  assert.ok(r.compactedSegments.includes(ptrs[0]!.fileId));
  assert.is(r.skipped, 0);
  assert.is(r.deleteErrors, 0);
  assert.equal(r.lookup, r.pairs[0]![1], 'remap.get(old) is the new pointer');
  const moved = new Map(r.pairs.map(([o, n]) => [key(o), n]));
  const now = ptrs.map((p) => moved.get(key(p)) ?? p).filter((_, i) => !dead.has(i));
  assert.equal(await vl<string[]>(a, 'getMany', now), all.filter((_, i) => !dead.has(i)), 'every live value reads at its new pointer');
  try {
    await vl(a, 'get', live[0]);
    assert.unreachable('an old pointer still read after the compaction');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'NOT_FOUND');
  }
});

test('compact(): an onRemap that outlives remapTimeoutMs is undone (IO), nothing deleted; compact without onRemap returns a PointerRemap', async () => {
  await vl(b, 'close');
  await vl(a, 'close');
  const name = `${logName}-timeout`;
  assert.is(await vl<boolean>(a, 'open', name, { compression: 'none', segmentSize: 64 * 1024, remapTimeoutMs: 300 }), true);
  assert.is(await vl<boolean>(b, 'open', name), false);
  const p = await putInBatches(a, values('t', 300));
  const victims = p.filter((x, i) => x.fileId === p[0]!.fileId && i % 2 === 1);
  await vl(a, 'markDead', victims);
  await vl(a, 'commit');
  const survivors = p.filter((x, i) => x.fileId === p[0]!.fileId && i % 2 === 0);
  try {
    await vl(b, 'compact', 'hang', 1500);
    assert.unreachable('compact resolved');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'IO', String(e));
    assert.match(String(e), /300 ms/);
  }
  assert.equal(await vl<string[]>(b, 'getMany', survivors), survivors.map((x) => values('t', 300)[p.indexOf(x)]!));
  const r = await vl<CompactResult>(b, 'compact', 'none');
  assert.ok(r.isRemap);
  assert.is(r.size, survivors.length);
  await vl(b, 'close');
  await vl(a, 'close');
});

test.after(closeTabs);

test.run();
