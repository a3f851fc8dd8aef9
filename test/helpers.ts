// Small helpers shared by the tests.
import * as assert from 'uvu/assert';
import { ValueLogError, type ErrorCode, type StorageBackend } from '../src/index.js';

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function failure(code: ErrorCode, actual: unknown, what: string): assert.Assertion {
  const got = actual instanceof ValueLogError ? `${actual.code}: ${actual.message}` : actual === undefined ? 'nothing was thrown' : String(actual);
  return new assert.Assertion({ message: `expected ValueLogError ${code}${what ? ` (${what})` : ''}, got ${got}`, generated: true, operator: 'throws', expects: code, actual });
}

/** Runs fn, asserts it throws a ValueLogError with the given code, and returns the error. */
export function expectCode(fn: () => unknown, code: ErrorCode, what = ''): ValueLogError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValueLogError && e.code === code) return e;
    throw failure(code, e, what);
  }
  throw failure(code, undefined, what);
}

/** The same for a function returning a promise. */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: ErrorCode, what = ''): Promise<ValueLogError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ValueLogError && e.code === code) return e;
    throw failure(code, e, what);
  }
  throw failure(code, undefined, what);
}

/** Deterministic pseudo-random bytes (xorshift32) for tests that need noise. */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** JSON-like documents of mixed content, reproducible for a seed. */
export function jsonDocs(count: number, approxSize: number, seed = 1): Uint8Array[] {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'user', 'account', 'active', 'pending', 'closed', 'red', 'green'];
  const rnd = noise(count * 64 + 64, seed);
  const docs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const r = (j: number) => rnd[(i * 64 + j) % rnd.length]!;
    const doc: Record<string, unknown> = { id: i, type: words[r(0) % words.length], owner: `user-${r(1) * 7 + r(2)}`, score: r(3) / 7, tags: [words[r(4) % 12], words[r(5) % 12]], items: [] as unknown[] };
    const items = doc.items as unknown[];
    while (JSON.stringify(doc).length < approxSize) items.push({ sku: `SKU-${r(items.length % 60) * 13 + items.length}`, qty: r((items.length + 7) % 60) % 9, state: words[(r(items.length % 50) + items.length) % 12] });
    docs.push(utf8(JSON.stringify(doc).slice(0, Math.max(approxSize, 16))));
  }
  return docs;
}

/** Inputs every codec test round-trips: edge lengths, JSON, zeros, repeats, noise, text, a mix. */
export function codecCorpus(): Array<[string, Uint8Array]> {
  return [
    ['empty', new Uint8Array(0)],
    ['one byte', utf8('x')],
    ['12 bytes', utf8('abcdefghijkl')],
    ['13 bytes', utf8('abcdefghijklm')],
    ['64 B json', jsonDocs(1, 64)[0]!],
    ['256 B json', jsonDocs(1, 256, 2)[0]!],
    ['4 KiB json', jsonDocs(1, 4096, 3)[0]!],
    ['all zero 100 KiB', new Uint8Array(100_000)],
    ['repeating 27-byte string x128', utf8('the quick brown fox jumps!\n'.repeat(128))],
    ['random 1 MiB', noise(1 << 20, 7)],
    ['text 300 KiB', utf8(Array.from({ length: 6000 }, (_, i) => `line ${i}: value=${(i * 37) % 1000} state=${i % 3 ? 'ok' : 'fail'}`).join('\n'))],
    ['mixed 3 MiB', (() => { const b = new Uint8Array(3 << 20); b.set(noise(1 << 20, 3)); b.fill(7, 1 << 20, 2 << 20); b.set(jsonDocs(200, 4096, 9).reduce((acc, d, i) => (acc.set(d.subarray(0, 4096), i * 4096), acc), new Uint8Array(200 * 4096)).subarray(0, 1 << 20), 2 << 20); return b; })()],
  ];
}

/** The whole content of a file of a backend. */
export async function readFile(storage: StorageBackend, name: string): Promise<Uint8Array> {
  const f = await storage.open(name, { readOnly: true });
  const b = new Uint8Array(f.size());
  f.read(b, 0);
  f.close();
  return b;
}

/** Creates or replaces a file of a backend with `bytes`. */
export async function writeFile(storage: StorageBackend, name: string, bytes: Uint8Array): Promise<void> {
  const f = await storage.open(name, { create: true });
  f.truncate(0);
  f.write(bytes, 0);
  f.close();
}

/**
 * The outcome of lock races (test/fixtures/owner-child.ts `race`): for each of `count` directories,
 * exactly one racer printed "W <i> true" (it took the stale lock over) and the other "L <i> ...".
 */
export function assertOneWinnerEach(outputs: string[], count: number): void {
  const lines = outputs.flatMap((o) => o.split('\n'));
  for (let i = 0; i < count; i++) {
    const won = lines.filter((l) => l.startsWith(`W ${i} `));
    const lost = lines.filter((l) => l.startsWith(`L ${i} `));
    if (won.length !== 1 || won[0] !== `W ${i} true` || lost.length !== 1 || !/LOCKED|locked/.test(lost[0]!)) {
      throw new Error(`dir ${i}: expected one takeover and one LOCKED, got ${won.join(' | ')} / ${lost.join(' | ')}`);
    }
  }
}
