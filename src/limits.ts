/** On-disk and API constants of the v0.3.0 format (docs/FORMAT.md). */
export const VERSION = 1;
/** Size of the record header: CRC u32, version u8, flags u8, reserved u16, RID u64, length u32. */
export const HEADER_SIZE = 20;
/** Record length excluding the 4-byte CRC: what pointers call the record length. */
export const HEADER_WITHOUT_CRC = 16;
/** Frame format version written and accepted. */
export const FRAME_VERSION = 1;
/** Size of the frame header: version, flags, K, reserved (block codec), dictionary id u64. */
export const FRAME_HEADER_SIZE = 12;
/** Most values in one frame (the pointer's sub-index has 7 bits). */
export const MAX_FRAME_K = 128;
/** Frame header flag: the payload is compressed. */
export const FRAME_FLAG_COMPRESSED = 1;
/** Record header flag: the payload is a frame (a grouped record). */
export const RECORD_FLAG_GROUPED = 1;
/** Default safety margin of the keep rule (10 %). */
export const DEFAULT_KEEP_SAFETY_MARGIN = 0.1;
/** Size of a value pointer on disk. */
export const VALUE_PTR_SIZE = 16;
/** Largest record length (16 + ValueLen) a grouped pointer can carry as a hint; above it the hint is 0. */
export const GROUPED_MAX_RECORD_LEN = 0x00ffffff;

/**
 * Mutable process-wide limits, as in the Go package. `maxRecordSize` <= 0 disables the record size
 * check, but decoders still bound every allocation by MAX_ABSOLUTE_RECORD_SIZE.
 */
export const limits = {
  maxRecordSize: 64 * 1024 * 1024,
  maxDeadMappings: 64,
};

/** Hard ceiling used when `limits.maxRecordSize` is disabled: sizes are u32 on disk. */
export const MAX_ABSOLUTE_RECORD_SIZE = 0xffffffff;

/** The effective record-size bound for allocation checks. */
export function effectiveMaxRecordSize(): number {
  const m = limits.maxRecordSize;
  return m > 0 ? m : MAX_ABSOLUTE_RECORD_SIZE;
}
