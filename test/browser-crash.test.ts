// @runtimes node: it SIGKILLs a whole Chromium from Node and relaunches it on the same profile.
// Crash safety on OPFS: a page writes and commits in a loop through valuelog/browser; Chromium is
// killed (SIGKILL of every process of the browser) at a random moment; a new Chromium on the same
// profile opens the log, recovering a torn tail if there is one, and every value whose commit() had
// resolved reads back byte-equal at its pointer. Several rounds, each continuing the same log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ValuePtr } from '../src/index.js';

interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: (arg: never) => T | Promise<T>, arg?: unknown): Promise<T>;
  waitForFunction(fn: () => unknown): Promise<unknown>;
  on(event: 'console', fn: (m: { text(): string }) => void): void;
}
interface Chromium {
  newPage(): Promise<Page>;
  close(): Promise<void>;
  kill(): void;
}
interface ServerModule {
  startServer(): Promise<{ url: string; close(): Promise<void> }>;
  launchChromium(o: { profile: string }): Promise<Chromium>;
}

const { startServer, launchChromium } = (await import(new URL('../../test/browser/server.mjs', import.meta.url).href)) as ServerModule;
const ROUNDS = Number(process.env.VALUELOG_BROWSER_CRASHES ?? 6);
const expected = (n: number): string => `crash-${n}-${'#'.repeat(n % 700)}`;
type Result<T> = { ok?: T; err?: { code: string; message: string } };

async function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  const r = (await page.evaluate(
    (([m, a]: [string, unknown[]]) => (window as unknown as { vl: Record<string, (...x: unknown[]) => Promise<unknown>> }).vl[m]!(...a)) as (arg: never) => Promise<unknown>,
    [method, args],
  )) as Result<T>;
  if (r.err !== undefined) throw new Error(`${method}: ${r.err.code}: ${r.err.message}`);
  return r.ok as T;
}

test(`${ROUNDS} SIGKILLs of Chromium mid-write: every committed value survives on OPFS`, async () => {
  const server = await startServer();
  const profile = mkdtempSync(join(tmpdir(), 'valuelog-crash-chromium-'));
  const committed = new Map<number, ValuePtr>();
  let next = 0;
  let tornTails = 0;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      const chromium = await launchChromium({ profile });
      const page = await chromium.newPage();
      const reported: Array<{ n: number; ptrs: ValuePtr[] }> = [];
      const failures: string[] = [];
      page.on('console', (m) => {
        const t = m.text();
        if (t.startsWith('\u0002')) reported.push(JSON.parse(t.slice(1)) as { n: number; ptrs: ValuePtr[] });
        else if (t.startsWith('\u0003')) failures.push(t.slice(1));
      });
      await page.goto(`${server.url}/test/browser/tabs.html`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      // A new browser on the same profile: the log opens (recovering), and everything committed
      // before the last kill is there.
      assert.is(await call<boolean>(page, 'open', 'crash', { segmentSize: 256 * 1024, lockWaitMs: 20_000 }), true);
      const stats = await call<{ recovered: number }>(page, 'stats');
      tornTails += stats.recovered;
      const ns = [...committed.keys()];
      const got = await call<string[]>(page, 'getMany', ns.map((n) => committed.get(n)));
      ns.forEach((n, i) => {
        if (got[i] !== expected(n)) assert.unreachable(`round ${round}: value ${n} reads ${JSON.stringify(got[i]?.slice(0, 40))}`);
      });
      if (round === ROUNDS) {
        await chromium.close();
        break;
      }
      await page.evaluate(((from: number) => (window as unknown as { vl: { writeLoop(f: number): void } }).vl.writeLoop(from)) as (arg: never) => void, next);
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 600)));
      chromium.kill();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(failures, [], 'the write loop ran until the kill');
      for (const { n, ptrs } of reported) ptrs.forEach((p, j) => committed.set(n + j, p));
      assert.ok(reported.length > 0, `round ${round}: some commits resolved before the kill`);
      next = Math.max(next, ...reported.map((r) => r.n + 20)) + 1000; // uncommitted numbers are never reused
    }
    console.log(`browser crash: ${ROUNDS} SIGKILLs of Chromium, ${committed.size} committed values verified after each, ${tornTails} torn tails truncated on reopen`);
  } finally {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test.run();
