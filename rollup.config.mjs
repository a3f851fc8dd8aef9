// Bundles the compiled ESM (build/src, from `tsc`) for the package:
// - dist/valuelog.node.js: Node, Deno and Bun (universal API + NodeStorage on node:fs);
// - dist/valuelog.browser.js: pages and workers (no node:* imports, checked below);
// - dist/cli.js: the `valuelog` command (Node, Deno, Bun);
//   these three are one build, so the code they share (the library and the WebAssembly module,
//   inlined as base64 by the generated src/codec/wasm-binary.ts) is in shared chunks under
//   dist/chunks/ and the package carries the module once for them;
// - dist/valuelog.client.js (`valuelog/browser`, small: no codecs) and dist/valuelog.worker.js (the
//   worker it starts, found next to it by new URL('./valuelog.worker.js', import.meta.url)): the
//   worker stays one self-contained file because bundlers copy it as an asset, imports and all.
import { cpSync, mkdirSync } from 'node:fs';

const copyTypes = {
  name: 'copy-types',
  writeBundle() {
    mkdirSync('dist/types', { recursive: true });
    // The base64 module's declarations are not public (and would be half a megabyte).
    cpSync('build/src', 'dist/types/src', { recursive: true, filter: (p) => !p.endsWith('.js') && !p.endsWith('wasm-binary.d.ts') });
  },
};

const external = (id) => id.startsWith('node:');
const browserOnly = (id) => {
  if (id.startsWith('node:')) throw new Error(`a browser build must not import ${id}`);
  return false;
};

/** Fails the build if anything the browser entry loads (its chunks, transitively) imports node:*. */
const browserGraphHasNoNode = {
  name: 'browser-graph-has-no-node',
  generateBundle(_options, bundle) {
    const seen = new Set();
    const visit = (file, path) => {
      if (seen.has(file)) return;
      seen.add(file);
      const chunk = bundle[file];
      for (const id of [...chunk.imports, ...chunk.dynamicImports]) {
        if (id.startsWith('node:')) this.error(`dist/valuelog.browser.js loads ${id} through ${[...path, file].join(' -> ')}`);
        if (bundle[id]) visit(id, [...path, file]);
      }
    };
    visit('valuelog.browser.js', []);
  },
};

export default [
  {
    input: { 'valuelog.node': 'build/src/index.node.js', 'valuelog.browser': 'build/src/index.js', cli: 'build/src/cli/main.js' },
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name]-[hash].js',
      banner: (chunk) => (chunk.isEntry && chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
    },
    external,
    plugins: [copyTypes, browserGraphHasNoNode],
  },
  ...[
    ['build/src/browser/client.js', 'dist/valuelog.client.js'],
    ['build/src/browser/valuelog.worker.js', 'dist/valuelog.worker.js'],
  ].map(([input, file]) => ({ input, output: { file, format: 'es' }, external: browserOnly })),
];
