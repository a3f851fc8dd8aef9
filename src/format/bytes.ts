// Little-endian stores for the hot write path: plain byte writes, no DataView per call, and u64s
// given as safe-integer numbers are split into two u32 halves without a BigInt.

/** Writes the u32 `v` little-endian at dst[at..at+4). */
export function putU32(dst: Uint8Array, at: number, v: number): void {
  dst[at] = v;
  dst[at + 1] = v >>> 8;
  dst[at + 2] = v >>> 16;
  dst[at + 3] = v >>> 24;
}

/** Writes the u64 `v` (a bigint in range or a non-negative safe integer) little-endian at dst[at..at+8). */
export function putU64(dst: Uint8Array, at: number, v: bigint | number): void {
  if (typeof v === 'number') {
    const lo = v >>> 0;
    putU32(dst, at, lo);
    putU32(dst, at + 4, (v - lo) / 0x100000000);
  } else {
    putU32(dst, at, Number(v & 0xffffffffn));
    putU32(dst, at + 4, Number(v >> 32n));
  }
}
