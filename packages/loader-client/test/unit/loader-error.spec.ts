import {
  decodeLoaderFailure,
  encodeLoaderFailure,
  LOADER_ERROR_CODES,
  ModelLoaderError,
} from '../../src';

describe('loader failure encoding', () => {
  it.each(LOADER_ERROR_CODES.map((c) => [c]))('round-trips %s with the message intact', (code) => {
    const message = 'cannot fetch resnet/3: weights.onnx:\n  sha256 abc, expected def [x]';
    const err = decodeLoaderFailure(encodeLoaderFailure(code, message));
    expect(err).toBeInstanceOf(ModelLoaderError);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
  });

  it('turns text the loader did not encode into INTERNAL, keeping it', () => {
    const err = decodeLoaderFailure('job stalled more than allowable limit');
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('job stalled more than allowable limit');
  });

  it('does not trust an unknown code', () => {
    const err = decodeLoaderFailure('[strata-loader:NOPE] something');
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('[strata-loader:NOPE] something');
  });

  it('marks transient failures retryable and request errors not', () => {
    expect(new ModelLoaderError('SOURCE_UNAVAILABLE', 'x').retryable).toBe(true);
    expect(new ModelLoaderError('TIMEOUT', 'x').retryable).toBe(true);
    expect(new ModelLoaderError('INVALID_NAME', 'x').retryable).toBe(false);
    expect(new ModelLoaderError('NOT_FOUND', 'x').retryable).toBe(false);
    expect(new ModelLoaderError('INTERNAL', 'x', { retryable: true }).retryable).toBe(true);
  });
});
