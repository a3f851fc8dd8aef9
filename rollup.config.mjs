// Bundles the compiled ESM (build/src, from `tsc`) into one file per target. The WebAssembly module is
// inlined as base64 by the generated src/codec/wasm-binary.ts, so no asset copying is needed.
import { cpSync, mkdirSync } from 'node:fs';

const copyTypes = {
  name: 'copy-types',
  writeBundle() {
    mkdirSync('dist/types', { recursive: true });
    cpSync('build/src', 'dist/types/src', { recursive: true, filter: (p) => !p.endsWith('.js') });
  },
};

export default {
  input: 'build/src/index.js',
  output: { file: 'dist/valuelog.js', format: 'es', sourcemap: false },
  plugins: [copyTypes],
};
