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
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * dist/THIRD-PARTY-LICENSES.md: the licences of the third-party code compiled into the WebAssembly
 * module, which every bundle inlines. A link map of the module (-Wl,-Map) lists, besides zstd and this
 * project's objects, only wasi-libc's libc.a (dlmalloc, musl-derived string and stdio code): no
 * compiler-rt or C++ runtime. The zstd version is read from the pinned amalgamation that
 * scripts/build-wasm.mjs compiles, so the notice names what is really in the module.
 */
export function thirdPartyLicenses() {
  const zstd = readFileSync('node_modules/@cloudpss/zstd/lib/zstd.c', 'utf8');
  const part = (name) => zstd.match(new RegExp(`#define ZSTD_VERSION_${name}\\s+(\\d+)`))?.[1];
  const version = [part('MAJOR'), part('MINOR'), part('RELEASE')];
  if (version.includes(undefined)) throw new Error('rollup: the zstd amalgamation has no ZSTD_VERSION_* defines');
  const text = (f) => readFileSync(`licenses/${f}`, 'utf8').trimEnd();
  // zstd's BSD licence text, read from the pinned npm package zstddec (whose LICENSE carries it),
  // and the copyright line of the amalgamation that is compiled in.
  const zstddec = readFileSync('node_modules/zstddec/LICENSE', 'utf8');
  const bsdAt = zstddec.indexOf('BSD License');
  if (bsdAt < 0 || !zstddec.includes('For Zstandard software', bsdAt)) throw new Error('rollup: node_modules/zstddec/LICENSE no longer carries the zstd BSD licence');
  const holder = zstd.match(/^ \* (Copyright \(c\) .+)$/m)?.[1]?.trim();
  if (holder === undefined) throw new Error('rollup: no copyright line in the zstd amalgamation');
  const zstdLicence = zstddec.slice(bsdAt).trimEnd();
  return `# Third-party code in valuelog

valuelog itself is MIT licensed (see LICENSE). Its WebAssembly module, which every bundle in
dist/ carries inlined, is compiled from this project's own C (CRC-32C, LZ4 block, Snappy; MIT) and
from the following third-party code.

## Zstandard ${version.join('.')} (BSD-3-Clause)

Compressed frames, dictionaries and dictionary training. The single-file amalgamation of the
pinned npm package @cloudpss/zstd is compiled in; it includes xxHash (same authors, same licence).
zstd is dual-licensed BSD-3-Clause or GPLv2; valuelog uses it under the BSD licence. The source
compiled in says: "${holder} All rights reserved."
The licence (zstd's LICENSE file, as the npm package zstddec ships it):

\`\`\`text
${zstdLicence}
\`\`\`

## wasi-libc (memory, string and stdio functions linked into the module)

The module links objects of the WebAssembly toolchain's C library (@yowasp/clang's wasi-libc). Its own
code is under Apache-2.0 WITH LLVM-exception (or Apache-2.0, or MIT); its memory allocator is
dlmalloc (CC0, public domain); the parts derived from musl libc are under this licence:

\`\`\`text
${text('musl.txt')}
\`\`\`
`;
}

const copyTypes = {
  name: 'copy-types',
  writeBundle() {
    mkdirSync('dist/types', { recursive: true });
    // The base64 module's declarations are not public (and would be half a megabyte).
    cpSync('build/src', 'dist/types/src', { recursive: true, filter: (p) => !p.endsWith('.js') && !p.endsWith('wasm-binary.d.ts') });
    writeFileSync('dist/THIRD-PARTY-LICENSES.md', thirdPartyLicenses());
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
