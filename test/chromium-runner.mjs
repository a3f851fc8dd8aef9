// The Chromium tier: serves the repository on 127.0.0.1, opens test/browser/index.html in headless
// Debian Chromium (playwright-core), and runs the compiled test files in a dedicated worker with OPFS.
// Prints uvu's output and summary like test/uvu-runner.mjs does. Usage: node test/chromium-runner.mjs [dir] [prefix]
import { relative, resolve } from 'node:path';
import { launchChromium, relayConsole, repoRoot, startServer } from './browser/server.mjs';
import { reportNotRun, selectTestFiles } from './test-files.mjs';

const [dir = 'build/test', prefix = ''] = process.argv.slice(2);
const { run, notRun } = selectTestFiles(dir, 'chromium', prefix);
const TIMEOUT_MS = Number(process.env.VALUELOG_CHROMIUM_TIMEOUT ?? 15 * 60 * 1000);

const server = await startServer();
let browser;
let code = 1;
try {
  browser = await launchChromium();
  const page = await browser.newPage();
  relayConsole(page);
  const urlDir = '/' + relative(repoRoot, resolve(dir)).split('\\').join('/');
  console.log(`chromium ${browser.version} (on-disk profile): ${run.length} test files`);
  reportNotRun(notRun);
  await page.goto(`${server.url}/test/browser/index.html?dir=${encodeURIComponent(urlDir)}&files=${encodeURIComponent(JSON.stringify(run))}`);
  const handle = await page.waitForFunction(() => window.__result, undefined, { timeout: TIMEOUT_MS, polling: 250 });
  code = (await handle.jsonValue()).code;
} catch (e) {
  console.log(`chromium tier failed: ${e?.message ?? e}`);
  code = 1;
} finally {
  await browser?.close();
  await server.close();
}
process.exit(code);
