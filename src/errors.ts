/** Stable error codes; every failure the library raises carries one of these. */
export type ErrorCode =
  | 'CORRUPT'
  | 'RECORD_TOO_LARGE'
  | 'MISSING_DICT'
  /** Dictionary bytes given for an id differ from those the log's store already holds under it. */
  | 'DICT_MISMATCH'
  | 'MISSING_TEMPLATE'
  | 'SEGMENT_ID_RANGE'
  | 'UNSUPPORTED_BLOCK_CODEC'
  | 'UNEXPECTED_EOF'
  | 'NOT_FOUND'
  | 'PINNED'
  | 'LOCKED'
  | 'CLOSED'
  | 'INVALID_ARGUMENT'
  | 'NOT_INITIALIZED'
  | 'IO';

/**
 * The one error type the library throws: `code` says what failed, the message says where. Check `code`,
 * not the class name (minified code loses it).
 */
export class ValueLogError extends Error {
  /** What failed (see ErrorCode). */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.startsWith('valuelog') ? message : `valuelog: ${message}`, options);
    this.name = 'ValueLogError';
    this.code = code;
  }
}

/** A frame names a block codec this implementation does not know (code UNSUPPORTED_BLOCK_CODEC). */
export class UnsupportedBlockCodecError extends ValueLogError {
  /** The codec id found in the frame header's reserved field. */
  readonly codecId: number;
  constructor(codecId: number) {
    super('UNSUPPORTED_BLOCK_CODEC', `valuelog: unsupported block codec id ${codecId}`);
    this.name = 'UnsupportedBlockCodecError';
    this.codecId = codecId;
  }
}

export function corrupt(detail: string): ValueLogError {
  return new ValueLogError('CORRUPT', `valuelog: corrupt record (${detail})`);
}

export function tooLarge(detail: string): ValueLogError {
  return new ValueLogError('RECORD_TOO_LARGE', `valuelog: record too large (${detail})`);
}

export function invalidArgument(detail: string): ValueLogError {
  return new ValueLogError('INVALID_ARGUMENT', `valuelog: ${detail}`);
}

/** Wraps anything thrown by lower layers so callers only ever see ValueLogError. */
export function asValueLogError(err: unknown, code: ErrorCode, context: string): ValueLogError {
  if (err instanceof ValueLogError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ValueLogError(code, `valuelog: ${context}: ${msg}`, { cause: err });
}
