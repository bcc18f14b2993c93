/** A brotli stream that is malformed, truncated, or would expand past the caller's limit. */
export class BrotliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrotliError';
  }
}
