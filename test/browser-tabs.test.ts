// @runtimes node: it drives pages of one Chromium from Node through playwright-core.
// valuelog/browser across tabs: pages of one origin in one Chromium elect one owner with Web Locks;
// the others route calls to it over a BroadcastChannel; when the owner's page goes away (pagehide or
// a closed tab) the next page opens the log, recovers it, and serves everyone, with every committed
// value intact and the same pointers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ValuePtr } from '../src/index.js';

import { closeTabs, isOwner, newTab, vl, type Page } from './tabs-harness.js';

const logName = `tabs-${Date.now().toString(36)}`;

const values = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}-${'x'.repeat(i % 97)}`);

let a: Page;
let b: Page;
let c: Page;
let fromA: ValuePtr[] = [];
let fromB: ValuePtr[] = [];

test('the first tab owns the log; a second tab joins as a client of it', async () => {
  a = await newTab();
  b = await newTab();
  assert.is(await vl<boolean>(a, 'open', logName, { compression: 'lz4', segmentSize: 256 * 1024 }), true);
  assert.is(await vl<boolean>(b, 'open', logName), false);
  assert.is(await isOwner(a), true);
  assert.is(await isOwner(b), false);
});

test('writes from either tab land in one log; each tab reads the other\'s values by pointer', async () => {
  fromA = await vl<ValuePtr[]>(a, 'putMany', values('a', 500));
  await vl(a, 'commit');
  fromB = await vl<ValuePtr[]>(b, 'putMany', values('b', 500));
  fromB.push(await vl<ValuePtr>(b, 'put', 'b-single'));
  await vl(b, 'commit');
  assert.equal(await vl<string[]>(b, 'getMany', fromA), values('a', 500));
  assert.equal(await vl<string[]>(a, 'getMany', fromB), [...values('b', 500), 'b-single']);
  assert.equal(await vl<string[]>(b, 'snapshotRead', fromA.slice(0, 10)), values('a', 10));
  // A value with a buffer of its own (over the 4 KiB slab size) is transferred from the worker as is.
  const big = 'L'.repeat(100_000) + 'end';
  const bigPtr = await vl<ValuePtr>(b, 'put', big);
  assert.is(await vl<string>(a, 'get', bigPtr), big);
  assert.is(await vl<string>(b, 'get', bigPtr), big);
  assert.is(await vl<string>(a, 'get', bigPtr), big, 'a second read of the same value (nothing was detached)');
  const stats = await vl<{ puts: number; commits: number }>(b, 'stats');
  assert.is(stats.puts, 1002, 'one log counted every put, whichever tab made it');
});

test('errors cross tabs with their code', async () => {
  let code = '';
  try {
    await vl(b, 'get', { fileId: 1, offset: 1, length: 5 });
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'CORRUPT', 'a pointer below the header is CORRUPT in the owner and in the client');
});

test('the owner navigates away (pagehide): the other tab opens the log and keeps every committed value', async () => {
  const uncommitted = await vl<ValuePtr>(a, 'put', 'never committed');
  assert.ok(uncommitted.length > 0);
  await a.goto('about:blank');
  await b.waitForFunction(() => (window as unknown as { vl: { owner(): boolean } }).vl.owner(), undefined, { timeout: 20_000 });
  assert.equal(await vl<string[]>(b, 'getMany', fromA), values('a', 500));
  assert.equal(await vl<string[]>(b, 'getMany', fromB), [...values('b', 500), 'b-single']);
  const more = await vl<ValuePtr[]>(b, 'putMany', values('b2', 50));
  await vl(b, 'commit');
  assert.equal(await vl<string[]>(b, 'getMany', more), values('b2', 50));
  fromB.push(...more);
  assert.equal(await b.evaluate((() => (window as unknown as { ownerChanges: boolean[] }).ownerChanges) as (arg: never) => boolean[]), [true]);
});

test('a new tab joins the new owner; when that tab is closed outright, the newcomer takes over', async () => {
  c = await newTab();
  assert.is(await vl<boolean>(c, 'open', logName), false);
  assert.equal(await vl<string[]>(c, 'getMany', fromB.slice(-50)), values('b2', 50));
  await b.close();
  await c.waitForFunction(() => (window as unknown as { vl: { owner(): boolean } }).vl.owner(), undefined, { timeout: 20_000 });
  assert.equal(await vl<string[]>(c, 'getMany', fromA), values('a', 500));
  assert.equal(await vl<string[]>(c, 'getMany', fromB), [...values('b', 500), 'b-single', ...values('b2', 50)]);
  const p = await vl<ValuePtr>(c, 'put', 'from c');
  await vl(c, 'commit');
  assert.is(await vl<string>(c, 'get', p), 'from c');
});

test('close() hands the log on at once; calls after close are CLOSED', async () => {
  const d = await newTab();
  assert.is(await vl<boolean>(d, 'open', logName), false);
  await vl(c, 'close');
  await d.waitForFunction(() => (window as unknown as { vl: { owner(): boolean } }).vl.owner(), undefined, { timeout: 20_000 });
  assert.equal(await vl<string[]>(d, 'getMany', fromA.slice(0, 5)), values('a', 5));
  let code = '';
  try {
    await vl(c, 'get', fromA[0]);
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'CLOSED');
  await vl(d, 'close');
});

test('a tab that holds the lock but serves nothing: open() gives up with LOCKED after openTimeoutMs', async () => {
  const name = `${logName}-hung`;
  const holder = await newTab();
  await holder.evaluate(((n: string) => (window as unknown as { vl: { holdLock(n: string): void } }).vl.holdLock(n)) as (arg: never) => void, name);
  const waiter = await newTab();
  const t0 = Date.now();
  let code = '';
  try {
    await vl(waiter, 'open', name, { openTimeoutMs: 500 });
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'LOCKED');
  assert.ok(Date.now() - t0 < 10_000);
  await holder.close();
  await waiter.close();
});

test('a worker that fails to start: open() rejects with IO and the lock passes on', async () => {
  const name = `${logName}-broken`;
  const broken = await newTab();
  let code = '';
  try {
    await vl(broken, 'open', name, { workerUrl: '/test/browser/no-such-worker.js' });
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'IO');
  const next = await newTab();
  assert.is(await vl<boolean>(next, 'open', name), true, 'the next tab gets the lock');
  await vl(next, 'close');
  await broken.close();
  await next.close();
});

test('a worker that never answers: open() settles with LOCKED within openTimeoutMs and the lock passes on', async () => {
  const name = `${logName}-silent`;
  const silent = await newTab();
  const t0 = Date.now();
  let code = '';
  try {
    await vl(silent, 'open', name, { workerUrl: '/test/browser/silent-worker.js', openTimeoutMs: 700 });
  } catch (e) {
    code = (e as { code: string }).code;
  }
  assert.is(code, 'LOCKED');
  assert.ok(Date.now() - t0 < 5_000, `open() settled after ${Date.now() - t0} ms`);
  const next = await newTab();
  assert.is(await vl<boolean>(next, 'open', name, { openTimeoutMs: 5_000 }), true, 'the silent tab gave the lock up');
  await vl(next, 'close');
  await silent.close();
  await next.close();
});

test.after(closeTabs);

test.run();
