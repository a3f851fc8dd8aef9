// @runtimes node: it builds examples/browser with Vite's JS API and drives the built page in Chromium through playwright-core.
// The example page (examples/browser), built by Vite with no configuration and served as static
// files on 127.0.0.1: it opens valuelog/browser, writes and reads values through its UI, shows stats,
// and a second tab joins as a client. A screenshot goes to examples/browser/screenshot.png (rewritten
// only when its bytes change), and the sizes of what a browser downloads must stay under ceilings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

interface Page {
  goto(url: string): Promise<unknown>;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  innerText(selector: string): Promise<string>;
  waitForFunction(fn: (arg: never) => unknown, arg?: unknown, opts?: { timeout?: number }): Promise<unknown>;
  screenshot(opts: { fullPage?: boolean; style?: string; animations?: 'disabled' }): Promise<Uint8Array>;
  on(event: 'pageerror', fn: (e: Error) => void): void;
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface ServerModule {
  startServer(opts: { root: string }): Promise<{ url: string; close(): Promise<void> }>;
  launchChromium(opts?: { viewport?: { width: number; height: number } }): Promise<Browser>;
  repoRoot: string;
}
interface SizeRow {
  key: string;
  what: string;
  raw: number;
  gzip: number;
}
interface SizeModule {
  buildExample(outDir: string, cacheDir?: string): Promise<void>;
  sizeReport(opts: { exampleDist?: string }): { rows: SizeRow[]; wasm: { binary: { raw: number; gzip: number }; base64: { raw: number; gzip: number } } };
  markdown(report: ReturnType<SizeModule['sizeReport']>): string;
}

const { startServer, launchChromium, repoRoot } = (await import(new URL('../../test/browser/server.mjs', import.meta.url).href)) as ServerModule;
const sizes = (await import(new URL('../../scripts/size-report.mjs', import.meta.url).href)) as SizeModule;

const tmp = mkdtempSync(join(tmpdir(), 'valuelog-example-'));
const outDir = join(tmp, 'dist');
const screenshotPath = join(repoRoot, 'examples', 'browser', 'screenshot.png');
const pageErrors: string[] = [];

let server: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let owner: Page;

const text = (page: Page, id: string): Promise<string> => page.textContent(`#${id}`).then((t) => t ?? '');
/** Waits until #id's text satisfies the expectation (a string for equality, a RegExp to match). */
async function waitText(page: Page, id: string, want: string | RegExp, timeout = 15_000): Promise<void> {
  const [source, flags, exact] = typeof want === 'string' ? ['', '', want] : [want.source, want.flags, undefined];
  try {
    await page.waitForFunction(
      (([i, s, f, e]: [string, string, string, string | undefined]) => {
        const t = document.getElementById(i)?.textContent ?? '';
        return e !== undefined ? t === e : new RegExp(s, f).test(t);
      }) as (arg: never) => boolean,
      [id, source, flags, exact],
      { timeout },
    );
  } catch {
    assert.unreachable(`#${id} shows ${JSON.stringify(await text(page, id))}, expected ${String(want)}; #error: ${JSON.stringify(await text(page, 'error'))}; page errors: ${pageErrors.join(' | ')}`);
  }
}

/** Scanlines of an 8-bit non-interlaced PNG (as Chromium writes them), still filtered. */
function scanlines(png: Buffer): { width: number; height: number; rows: Buffer[] } {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = raw.length / height;
  return { width, height, rows: Array.from({ length: height }, (_, y) => raw.subarray(y * stride, (y + 1) * stride)) };
}

/**
 * How many scanlines differ (all of them when the sizes do). Headless Chromium's software raster
 * antialiases a rounded corner slightly differently from run to run, so the committed screenshot is
 * rewritten only when the page really looks different, not on every run.
 */
function differingRows(a: Buffer, b: Buffer): number {
  const x = scanlines(a);
  const y = scanlines(b);
  if (x.width !== y.width || x.height !== y.height) return Math.max(x.height, y.height);
  return x.rows.filter((r, i) => !r.equals(y.rows[i]!)).length;
}

async function openTab(): Promise<Page> {
  const page = await browser!.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(`${server!.url}/`);
  await waitText(page, 'status', 'ready');
  return page;
}

test('the example type-checks against the published types (dist/types, through the package name)', () => {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(repoRoot, 'examples', 'browser')], { encoding: 'utf8' });
  assert.is(r.status, 0, `tsc -p examples/browser:\n${r.stdout}${r.stderr}`);
});

test('Vite builds the example with no configuration: a page script and the worker as a separate asset', async () => {
  await sizes.buildExample(outDir, join(tmp, 'vite-cache'));
  assert.ok(existsSync(join(outDir, 'index.html')));
  const html = readFileSync(join(outDir, 'index.html'), 'utf8');
  const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"><\/script>/.exec(html)?.[1];
  assert.ok(script, 'index.html loads one module script from /assets/');
  const code = readFileSync(join(outDir, script!), 'utf8');
  const workerUrl = /new URL\(\s*[`'"](\/assets\/valuelog\.worker-[\w-]+\.js)[`'"]/.exec(code)?.[1];
  assert.ok(workerUrl, 'the client\'s new URL(\'./valuelog.worker.js\', import.meta.url) was rewritten to the hashed worker asset');
  const worker = readFileSync(join(outDir, workerUrl!));
  assert.equal(worker, readFileSync(join(repoRoot, 'dist', 'valuelog.worker.js')), 'the worker asset is dist/valuelog.worker.js, copied as it is');
  const assets = readdirSync(join(outDir, 'assets')).sort();
  assert.equal(assets, [script!.slice('/assets/'.length), workerUrl!.slice('/assets/'.length)].sort(), 'two assets, no .wasm file (the module is inlined)');
});

test('the built page opens the log in this tab (the owner) and writes, commits and reads back a value', async () => {
  server = await startServer({ root: outDir });
  browser = await launchChromium({ viewport: { width: 900, height: 1000 } });
  owner = await openTab();
  assert.match(await text(owner, 'role'), /^owner tab/);
  assert.is(await text(owner, 'stat-puts'), '0');
  await owner.fill('#value', 'hello from the example test');
  await owner.click('#put');
  await waitText(owner, 'last-read', 'hello from the example test');
  assert.match(await text(owner, 'last-ptr'), /^\{ fileId: 0x[0-9a-f]{8}, offset: \d+, length: 0x[0-9a-f]{8} \}$/);
  assert.is(await text(owner, 'stat-puts'), '1');
  assert.is(await text(owner, 'stat-commits'), '1');
  assert.is(await text(owner, 'stat-segments'), '1');
});

test('"Write 1,000 values" writes, commits and reads every value back; the stats follow', async () => {
  await owner.click('#write1000');
  await waitText(owner, 'bulk-result', 'wrote 1,000 values, committed, read 1,000 of 1,000 back intact');
  assert.is(await text(owner, 'stat-puts'), '1,001');
  assert.is(await text(owner, 'stat-commits'), '2');
  assert.is(await text(owner, 'stat-held'), '1,001');
  const bytes = Number((await text(owner, 'stat-bytes')).replace(/,/g, ''));
  assert.ok(bytes > 1000 * 40 && bytes < 1000 * 200, `segment bytes ${bytes} fit 1,001 small JSON values`);
});

test('a second tab joins as a client: its writes go to the owner and read back; the owner sees them', async () => {
  const second = await openTab();
  assert.match(await text(second, 'role'), /^client tab/);
  assert.is(await text(second, 'stat-puts'), '1,001', 'the client shows the owner\'s log');
  await second.fill('#value', 'written in the second tab');
  await second.click('#put');
  await waitText(second, 'last-read', 'written in the second tab');
  assert.is(await text(second, 'stat-puts'), '1,002');
  await owner.click('#readall');
  await waitText(owner, 'bulk-result', 'read 1,001 of 1,001 values back intact');
  assert.is(await text(owner, 'stat-puts'), '1,002');
  assert.is(await text(owner, 'stat-commits'), '3');
  assert.match(await text(owner, 'role'), /^owner tab/);
});

test('the page shows what it did, with no error; the screenshot is a real PNG', async () => {
  const body = await owner.innerText('body');
  for (const want of ['valuelog in the browser', 'Status: ready', 'owner tab (runs the log worker)', 'hello from the example test', 'read 1,001 of 1,001 values back intact', '{"n":1000,"user":"user-0","tags":["example","odd"]}']) {
    assert.ok(body.includes(want), `the page shows ${JSON.stringify(want)}`);
  }
  assert.is(await text(owner, 'error'), '');
  assert.equal(pageErrors, [], 'no page errors');
  // The timing line is the one thing that differs between runs; hidden so the PNG is reproducible.
  const png = Buffer.from(await owner.screenshot({ fullPage: true, animations: 'disabled', style: '#bulk-time { visibility: hidden }' }));
  assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.is(png.toString('latin1', 12, 16), 'IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.ok(width === 900 && height >= 600, `screenshot ${width}x${height}`);
  assert.ok(png.length > 20_000, `a screenshot of a rendered page, not a blank one (${png.length} bytes)`);
  if (!existsSync(screenshotPath) || differingRows(readFileSync(screenshotPath), png) > 8) writeFileSync(screenshotPath, png);
});

test('what a browser downloads stays small (gzip -9), and the module is inlined once', () => {
  const report = sizes.sizeReport({ exampleDist: outDir });
  console.log(sizes.markdown(report).replace(/^/gm, '    '));
  const gzip = Object.fromEntries(report.rows.map((r) => [r.key, r.gzip]));
  const KiB = 1024;
  const ceilings: Record<string, number> = {
    client: 20 * KiB,
    examplePage: 20 * KiB,
    worker: 300 * KiB,
    browser: 300 * KiB,
    example: 320 * KiB,
  };
  for (const [key, max] of Object.entries(ceilings)) {
    assert.ok(gzip[key]! > 0 && gzip[key]! < max, `${key}: ${gzip[key]} bytes gzipped, ceiling ${max}`);
  }
  // The module is inlined deflated: its base64 text gzips to no more than the binary itself would.
  assert.ok(report.wasm.base64.gzip <= report.wasm.binary.gzip * 1.05, `inlined ${report.wasm.base64.gzip} bytes gzipped, the binary ${report.wasm.binary.gzip}`);
  // The client has no codecs: no inlined module in the page script.
  assert.ok(gzip.client! < report.wasm.binary.gzip / 10, 'the page-side client does not carry the WebAssembly module');
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
