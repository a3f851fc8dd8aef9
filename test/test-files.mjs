// Which compiled test files run in which runtime. A file that cannot run everywhere says so in its
// first line, `// @runtimes node deno bun: why`, and the runners list it as not run, with that
// reason. A file that imports node:* without such a line is an error in the browser tier.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DECL = /^\/\/ @runtimes ([a-z ]+):\s*(.*)$/m;

/** { run: files for `runtime`, notRun: [{ file, reason }] } for the *.test.js files of `dir`. */
export function selectTestFiles(dir, runtime, prefix = '') {
  const run = [];
  const notRun = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.test.js')).sort()) {
    const head = readFileSync(join(dir, file), 'utf8').slice(0, 600);
    const m = DECL.exec(head);
    if (m && !m[1].trim().split(/\s+/).includes(runtime)) notRun.push({ file, reason: `runs in ${m[1].trim()} only: ${m[2].trim()}` });
    else run.push(file);
  }
  return { run, notRun };
}

/** The summary line every runner prints for files it did not run; test/run.mjs counts them. */
export function reportNotRun(notRun) {
  for (const { file, reason } of notRun) console.log(`  not run here: ${file} (${reason})`);
  console.log(`  Files not run: ${notRun.length}`);
}
