// Bundles the compiled ESM (build/src, from `tsc`) into one file per target:
// - dist/valuelog.node.js: Node, Deno and Bun (universal API + NodeStorage on node:fs);
// - dist/valuelog.browser.js: pages and workers (no node:* imports);
// - dist/valuelog.client.js (`valuelog/browser`, small: no codecs) and dist/valuelog.worker.js (the
//   worker it starts, found next to it by new URL('./valuelog.worker.js', import.meta.url));
// - dist/cli.js: the `valuelog` command (Node, Deno, Bun).
// The WebAssembly module is inlined as base64 by the generated src/codec/wasm-binary.ts, so no asset
// copying or bundler configuration is needed on the user's side.
import { cpSync, mkdirSync } from 'node:fs';

const copyTypes = {
  name: 'copy-types',
  writeBundle() {
    mkdirSync('dist/types', { recursive: true });
    cpSync('build/src', 'dist/types/src', { recursive: true, filter: (p) => !p.endsWith('.js') });
  },
};

const external = (id) => id.startsWith('node:');
const browserOnly = (id) => {
  if (id.startsWith('node:')) throw new Error(`a browser build must not import ${id}`);
  return false;
};

export default [
  { input: 'build/src/index.node.js', output: { file: 'dist/valuelog.node.js', format: 'es' }, external, plugins: [copyTypes] },
  {
    input: 'build/src/cli/main.js',
    output: { file: 'dist/cli.js', format: 'es', banner: '#!/usr/bin/env node', inlineDynamicImports: true },
    external,
  },
  ...[
    ['build/src/index.js', 'dist/valuelog.browser.js'],
    ['build/src/browser/client.js', 'dist/valuelog.client.js'],
    ['build/src/browser/valuelog.worker.js', 'dist/valuelog.worker.js'],
  ].map(([input, file]) => ({ input, output: { file, format: 'es' }, external: browserOnly })),
];
