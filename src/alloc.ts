// Small byte arrays carved out of shared 64 KiB slabs. V8 gives every typed array above 64 bytes its
// own off-heap backing store, which costs ~0.5-0.9 µs per allocation on Node 20 (more than copying
// 4 KiB); values returned by reads and codecs are therefore slab slices, as Node's Buffer pool does.
// Each slice is owned by its caller (nothing else writes it), but it shares its ArrayBuffer with
// other slices: use `value.slice()` before transferring `value.buffer` to a worker.

const SLAB_SIZE = 64 * 1024;
/** Larger arrays get their own buffer (the allocation is then small next to the copy). */
export const MAX_SLAB_ALLOCATION = 4 * 1024;

let slab = new Uint8Array(0);
let used = 0;

/** A zero-filled array of n bytes (a slab slice when n is small). */
export function allocBytes(n: number): Uint8Array {
  if (n > MAX_SLAB_ALLOCATION || n === 0) return new Uint8Array(n);
  if (used + n > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  const out = slab.subarray(used, used + n);
  // Keep slices 8-byte aligned so that DataView and typed-array views over them stay cheap.
  used += (n + 7) & ~7;
  return out;
}

/** A copy of src in a freshly allocated array (see allocBytes). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = allocBytes(src.length);
  out.set(src);
  return out;
}
