// Runs the compiled uvu test files in whichever runtime executes this script (Node, Deno, Bun), the
// way uvu's own CLI does (deferred suites, then one exec), but as ESM so that every runtime can load
// test modules that use top-level await. Usage: <runtime> test/uvu-runner.mjs [dir] [file prefix]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { reportNotRun, selectTestFiles } from './test-files.mjs';

const [dir = 'build/test', prefix = ''] = process.argv.slice(2);
const runtime = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';
const { run, notRun } = selectTestFiles(dir, runtime, prefix);
globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [];
const uvu = await import('uvu');
let index = 0;
for (const file of run) {
  globalThis.UVU_INDEX = index++;
  globalThis.UVU_QUEUE.push([file]);
  await import(pathToFileURL(resolve(dir, file)).href);
}
reportNotRun(notRun);
await uvu.exec(false);
