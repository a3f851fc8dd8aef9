// Validation of the option objects the public API takes. Options come from JavaScript callers
// (often untyped), so every key is checked: a misspelled name (`{ compresion: 'lz4' }`) would
// otherwise give a log that silently does something else, and a string where a number belongs
// ('0.5') would be compared as a string. Every failure is INVALID_ARGUMENT naming the option.
import { invalidArgument } from './errors.js';

/**
 * Returns `o` as a record after checking it is undefined or a plain object whose keys are all in
 * `allowed` (undefined gives an empty object). `what` names the options in messages.
 */
export function checkOptionKeys(o: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw invalidArgument(`${what} must be an object, got ${describe(o)}`);
  const rec = o as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (allowed.includes(key)) continue;
    const near = closest(key, allowed);
    throw invalidArgument(`unknown option ${JSON.stringify(key)} in ${what}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}; known: ${allowed.join(', ')}`);
  }
  return rec;
}

/** An integer option in [min, max], or `dflt` when absent. */
export function intOption(rec: Record<string, unknown>, key: string, what: string, dflt: number, min: number, max: number, unit = ''): number {
  const v = rec[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalidArgument(`${what}.${key} must be an integer in ${fmt(min, unit)}..${fmt(max, unit)}, got ${describe(v)}`);
  }
  return v;
}

/** A finite (or, with allowInfinity, infinite) number option in [min, max]. */
export function numberOption(rec: Record<string, unknown>, key: string, what: string, dflt: number, min: number, max: number, allowInfinity = false): number {
  const v = rec[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v) || (!allowInfinity && !Number.isFinite(v)) || v < min || v > max) {
    throw invalidArgument(`${what}.${key} must be a number in ${min}..${max === Infinity ? 'Infinity' : max}, got ${describe(v)}`);
  }
  return v;
}

export function booleanOption(rec: Record<string, unknown>, key: string, what: string, dflt: boolean): boolean {
  const v = rec[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalidArgument(`${what}.${key} must be true or false, got ${describe(v)}`);
  return v;
}

export function functionOption<F>(rec: Record<string, unknown>, key: string, what: string): F | undefined {
  const v = rec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw invalidArgument(`${what}.${key} must be a function, got ${describe(v)}`);
  return v as F;
}

/** A short description of a value for error messages (type and, for primitives, the value). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'no prototype'})` : typeof v;
}

function fmt(n: number, unit: string): string {
  if (unit === 'bytes' && n >= 1024 && n % 1024 === 0) return n % (1 << 20) === 0 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`;
  return String(n);
}

/** The allowed name within edit distance 2 of `key`, if one is. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
