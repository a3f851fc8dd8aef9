// Drives pages of test/browser/tabs.html in one Chromium (one on-disk profile, so the pages share an
// origin's OPFS) for the tests of valuelog/browser across tabs.
type Result<T> = { ok: T; err?: undefined } | { ok?: undefined; err: { code: string; message: string; name: string } };
export interface Page {
  goto(url: string): Promise<unknown>;
  close(): Promise<void>;
  evaluate<T>(fn: (arg: never) => T | Promise<T>, arg?: unknown): Promise<T>;
  waitForFunction(fn: () => unknown, arg?: unknown, opts?: { timeout?: number }): Promise<unknown>;
  on(event: string, fn: (x: { text(): string; message?: string }) => void): void;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface ServerModule {
  startServer(): Promise<{ url: string; close(): Promise<void> }>;
  launchChromium(): Promise<Browser>;
}

const { startServer, launchChromium } = (await import(new URL('../../test/browser/server.mjs', import.meta.url).href)) as ServerModule;
/**
 * The server and the Chromium (one on-disk profile: the pages share an origin's OPFS) of the suite
 * that runs now: started by its first newTab(), ended by closeTabs() in its after hook. Test files
 * share this module in one process, so each suite gets a session of its own.
 */
let session: Promise<{ server: { url: string; close(): Promise<void> }; browser: Browser }> | undefined;

/** Opens test/browser/tabs.html in a new page once its helpers are ready. */
export async function newTab(): Promise<Page> {
  session ??= (async () => ({ server: await startServer(), browser: await launchChromium() }))();
  const { server, browser } = await session;
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${server.url}/test/browser/tabs.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

/** Ends the current session (its pages with it); the next newTab() starts another. */
export async function closeTabs(): Promise<void> {
  const s = session;
  session = undefined;
  if (s === undefined) return;
  const { server, browser } = await s;
  await browser.close();
  await server.close();
}

/** Calls window.vl[method](...args) in the page and unwraps { ok } or throws with the error code. */
export async function vl<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  const r = (await page.evaluate(
    (([m, a]: [string, unknown[]]) => (window as unknown as { vl: Record<string, (...x: unknown[]) => Promise<unknown>> }).vl[m]!(...a)) as (arg: never) => Promise<unknown>,
    [method, args],
  )) as Result<T>;
  if (r.err !== undefined) throw Object.assign(new Error(`${method}: ${r.err.code}: ${r.err.message}`), { code: r.err.code });
  return r.ok;
}

/** Whether the page's log owns the log. */
export const isOwner = (page: Page): Promise<boolean> => page.evaluate((() => (window as unknown as { vl: { owner(): boolean } }).vl.owner()) as (arg: never) => boolean);
