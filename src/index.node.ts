// The Node, Deno and Bun entry point: everything of the universal entry plus the node:fs backend.
export * from './index.js';
export { NodeStorage } from './storage/node.js';
export { LOCK_FILE_NAME } from './storage/node-lock.js';
