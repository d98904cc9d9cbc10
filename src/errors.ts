/**
 * One error type for the whole gateway: a stable machine-readable code plus a cause, so callers
 * branch on `code` rather than on message text.
 */
export type KoalaErrorCode =
  | 'KOALA_ERR_CONFIG'
  | 'KOALA_ERR_FRAME_TOO_LARGE'
  | 'KOALA_ERR_FRAME_MALFORMED'
  | 'KOALA_ERR_PROTOCOL'
  | 'KOALA_ERR_STORE'
  | 'KOALA_ERR_STORE_CORRUPT_LINE'
  | 'KOALA_ERR_SPOOL_CORRUPT'
  | 'KOALA_ERR_LISTEN'
  | 'KOALA_ERR_REPLAY'
  | 'KOALA_ERR_GO_BUILD'
  | 'KOALA_ERR_USAGE'
  | 'KOALA_ERR_INTERNAL';

export class KoalaError extends Error {
  readonly code: KoalaErrorCode;

  constructor(code: KoalaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KoalaError';
    this.code = code;
  }
}

export function isKoalaError(err: unknown, code?: KoalaErrorCode): err is KoalaError {
  return err instanceof KoalaError && (code === undefined || err.code === code);
}
