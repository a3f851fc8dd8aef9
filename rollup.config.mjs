// Bundles the compiled ESM (build/src, from `tsc`) into one file per target:
// - dist/valuelog.node.js: Node, Deno and Bun (universal API + NodeStorage on node:fs);
// - dist/valuelog.browser.js: pages and workers (no node:* imports);
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

export default [
  { input: 'build/src/index.node.js', output: { file: 'dist/valuelog.node.js', format: 'es' }, external, plugins: [copyTypes] },
  {
    input: 'build/src/cli/main.js',
    output: { file: 'dist/cli.js', format: 'es', banner: '#!/usr/bin/env node', inlineDynamicImports: true },
    external,
  },
  {
    input: 'build/src/index.js',
    output: { file: 'dist/valuelog.browser.js', format: 'es' },
    external: (id) => {
      if (id.startsWith('node:')) throw new Error(`the browser build must not import ${id}`);
      return false;
    },
  },
];
