// A static file server over the repository for the Chromium tier, benches and the example test. It
// serves on 127.0.0.1 (a secure origin, so OPFS works) and rewrites bare import specifiers in
// JavaScript ('uvu', 'uvu/assert', 'kleur', ...) to the files Node's resolution would pick under the
// "browser"/"import" conditions: the compiled tests then load as they are, with no bundler. node:*
// specifiers become a module that throws when loaded, so a file that needs Node fails loudly.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.log': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

const CONDITIONS = ['browser', 'import', 'module', 'default'];

function pickExport(target) {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = pickExport(t);
      if (r) return r;
    }
    return undefined;
  }
  if (target && typeof target === 'object') {
    for (const c of CONDITIONS) if (c in target) {
      const r = pickExport(target[c]);
      if (r) return r;
    }
  }
  return undefined;
}

const resolved = new Map();

/** The URL path of a bare specifier's file in node_modules, or undefined. */
export function resolveBare(spec) {
  if (resolved.has(spec)) return resolved.get(spec);
  const parts = spec.split('/');
  const pkgName = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const sub = spec.slice(pkgName.length);
  const pkgDir = join(repoRoot, 'node_modules', pkgName);
  let out;
  if (existsSync(join(pkgDir, 'package.json'))) {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    let file;
    if (pkg.exports !== undefined) {
      const exp = typeof pkg.exports === 'string' || Array.isArray(pkg.exports) || !Object.keys(pkg.exports).some((k) => k.startsWith('.')) ? { '.': pkg.exports } : pkg.exports;
      file = pickExport(exp[`.${sub}`]);
    } else if (sub) file = sub.slice(1);
    else file = pkg.module ?? pkg.main ?? 'index.js';
    if (file) out = `/node_modules/${pkgName}/${normalize(file).split(sep).join('/')}`;
  }
  resolved.set(spec, out);
  return out;
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g;

/** Rewrites bare and node:* specifiers of a JavaScript module. */
export function rewriteImports(code) {
  return code.replace(SPECIFIER, (whole, lead, quote, spec) => {
    if (spec.startsWith('.') || spec.startsWith('/') || /^[a-z]+:\/\//.test(spec) || spec.startsWith('data:')) return whole;
    if (spec.startsWith('node:')) return `${lead}${quote}/__node/${spec.slice(5)}${quote}`;
    const target = resolveBare(spec);
    return target ? `${lead}${quote}${target}${quote}` : whole;
  });
}

/**
 * Starts the server; resolves to { url, close() }. `routes` maps extra URL paths to handlers
 * (req, res) for pages that need a server side (benches posting results).
 */
export function startServer({ root = repoRoot, routes = {} } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = routes[url.pathname];
    if (route) return route(req, res);
    if (url.pathname.startsWith('/__node/')) {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      return res.end(`throw new Error('node:${url.pathname.slice(8)} is not available in a browser');\n`);
    }
    const path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (relative(root, path).startsWith('..')) {
      res.writeHead(403);
      return res.end();
    }
    let file = path;
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end(`not found: ${url.pathname}`);
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    let body = readFileSync(file);
    if (type === 'text/javascript') body = Buffer.from(rewriteImports(body.toString('utf8')));
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'content-length': body.length });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

/** Chromium flags for this machine's closed network (see the developers' guide). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const CHROMIUM_PATH = process.env.VALUELOG_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium through playwright-core with a fresh on-disk profile, removed on
 * close() (or with `profile`, a directory that is kept: relaunching on it finds the same OPFS). On disk, because a plain playwright context is off the record: Chromium then keeps OPFS
 * and IndexedDB in memory, where flush() costs nothing and durability proves nothing. `options` go
 * to launchPersistentContext (viewport, ...). Resolves to { context, version, newPage(), close() }.
 */
export async function launchChromium({ profile: keep, ...options } = {}) {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium is not installed at ${CHROMIUM_PATH} (Debian: apt-get install -y chromium; or set VALUELOG_CHROMIUM)`);
  const { chromium } = await import('playwright-core');
  const profile = keep ?? mkdtempSync(join(tmpdir(), 'valuelog-chromium-'));
  const drop = () => {
    if (keep === undefined) rmSync(profile, { recursive: true, force: true });
  };
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, ...options });
  } catch (e) {
    drop();
    throw e;
  }
  return {
    context,
    profile,
    version: context.browser()?.version() ?? 'unknown',
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      drop();
    },
    /** SIGKILLs every process of this browser (found by its profile directory): a crash. */
    kill: () => {
      spawnSync('pkill', ['-KILL', '-f', '--', `--user-data-dir=${profile}`]);
    },
  };
}

/**
 * Relays a page's output to stdout: console messages that start with \u0001 are text the page (or
 * its worker) streams as is; console errors and uncaught page errors are prefixed.
 */
export function relayConsole(page) {
  page.on('console', (m) => {
    const t = m.text();
    if (t.startsWith('\u0001')) process.stdout.write(t.slice(1));
    else if (m.type() === 'error') process.stdout.write(`[page] ${t}\n`);
  });
  page.on('pageerror', (e) => process.stdout.write(`[page error] ${e.message}\n`));
}
