// The Chromium tier's test runner, in a dedicated module worker (where OPFS sync access handles
// exist): imports the compiled test files named by the page and runs them with uvu, the same way
// test/uvu-runner.mjs does in Node, Deno and Bun. uvu's output streams back to the page as text.
const post = (text) => self.postMessage({ text });

// uvu writes through process.stdout.write when it sees one (partial lines, as in a terminal) and
// sets process.exitCode at the end: give it just that. Tests tell runtimes apart by
// process.versions.node, which this stand-in does not have.
globalThis.process = {
  argv: [],
  stdout: { write: (s) => post(String(s)) },
  hrtime: (prev) => {
    const t = performance.now();
    const now = [Math.floor(t / 1e3), Math.round((t % 1e3) * 1e6)];
    if (!prev) return now;
    let s = now[0] - prev[0];
    let ns = now[1] - prev[1];
    if (ns < 0) { s--; ns += 1e9; }
    return [s, ns];
  },
  on() {},
  exitCode: 0,
};
console.log = (...args) => post(args.map(String).join(' ') + '\n');
console.warn = console.log;

self.addEventListener('unhandledrejection', (e) => post(`\nunhandled rejection: ${e.reason?.stack ?? e.reason}\n`));
self.addEventListener('error', (e) => post(`\nuncaught error: ${e.message}\n`));

self.onmessage = async ({ data }) => {
  try {
    globalThis.UVU_DEFER = 1;
    globalThis.UVU_QUEUE = [];
    const uvu = await import('uvu');
    let index = 0;
    for (const file of data.files) {
      globalThis.UVU_INDEX = index++;
      globalThis.UVU_QUEUE.push([file]);
      await import(`${data.dir}/${file}`);
    }
    await uvu.exec(false);
    self.postMessage({ done: true, code: globalThis.process.exitCode ?? 0 });
  } catch (e) {
    post(`\nworker: ${e?.stack ?? e}\n`);
    self.postMessage({ done: true, code: 1 });
  }
};
