// Where the tests run, and the persistent storage each runtime has: NodeStorage on a temporary
// directory in Node, Deno and Bun; OpfsStorage on a fresh OPFS directory in Chromium's worker. No
// static node:* import, so that every test file using this module also loads in the browser.
import { MemoryStorage, OpfsStorage, type StorageBackend } from '../src/index.js';

export type Runtime = 'node' | 'deno' | 'bun' | 'chromium';

const g = globalThis as unknown as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } }; WorkerGlobalScope?: unknown };

export const runtime: Runtime =
  g.Deno !== undefined ? 'deno' : g.Bun !== undefined ? 'bun' : g.process?.versions?.node !== undefined ? 'node' : 'chromium';

/** Node, Deno and Bun: the runtimes with node:fs and processes. */
export const serverRuntime = runtime !== 'chromium';

export interface TestBackend {
  /** 'memory', 'node' or 'opfs'. */
  name: string;
  /** How remove() treats an open file on this backend (storage-conformance.ts). */
  removeWhileOpen: 'detach' | 'locked';
  /** A write far past the end may fail for quota instead of making a sparse file (OPFS). */
  sparseLimitedByQuota: boolean;
  make(): Promise<{ storage: StorageBackend; cleanup(): Promise<void> }>;
}

let dirCounter = 0;

/** The persistent backend of this runtime, each make() in a fresh empty directory. */
export const persistentBackend: TestBackend = serverRuntime
  ? {
      name: 'node',
      removeWhileOpen: 'detach',
      sparseLimitedByQuota: false,
      async make() {
        const [{ mkdtempSync, rmSync }, { tmpdir }, { join }, { NodeStorage }] = await Promise.all([import('node:fs'), import('node:os'), import('node:path'), import('../src/storage/node.js')]);
        const dir = mkdtempSync(join(tmpdir(), 'valuelog-test-'));
        return { storage: new NodeStorage(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    }
  : {
      name: 'opfs',
      removeWhileOpen: 'locked',
      sparseLimitedByQuota: true,
      async make() {
        const name = `t${Date.now().toString(36)}-${dirCounter++}`;
        const storage = await OpfsStorage.open(`valuelog-test/${name}`);
        return {
          storage,
          cleanup: async () => {
            storage.close();
            await removeOpfsDir('valuelog-test', name);
          },
        };
      },
    };

/** Removes a directory below the OPFS root (a test's leftovers; handles must be closed). */
export async function removeOpfsDir(parent: string, name: string): Promise<void> {
  const root = await (globalThis as unknown as { navigator: { storage: { getDirectory(): Promise<{ getDirectoryHandle(n: string): Promise<{ removeEntry(n: string, o: { recursive: boolean }): Promise<void> }> }> } } }).navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(parent);
  await dir.removeEntry(name, { recursive: true });
}

export const memoryBackend: TestBackend = {
  name: 'memory',
  removeWhileOpen: 'detach',
  sparseLimitedByQuota: false,
  make: async () => ({ storage: new MemoryStorage(), cleanup: async () => {} }),
};

/** Memory plus this runtime's persistent backend. */
export const backends: readonly TestBackend[] = [memoryBackend, persistentBackend];

/**
 * Reads a file of the repository (the dist bundle, fixtures) by a URL relative to a test module:
 * node:fs in the server runtimes, fetch from the test server in the browser.
 */
export async function readRepoFile(url: URL): Promise<Uint8Array> {
  if (serverRuntime) {
    const [{ readFileSync }, { fileURLToPath }] = await Promise.all([import('node:fs'), import('node:url')]);
    return new Uint8Array(readFileSync(fileURLToPath(url)));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch ${url.href}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
