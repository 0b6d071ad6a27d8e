import { InvalidNameError, ManifestError } from '@strata/artifact-layout';
import { KeySegmentError } from '@strata/cache-keys';
import { ModelLoaderError } from '@strata/loader-client';
import { VersionNotFoundError } from '@strata/model-registry';
import {
  ChecksumError,
  DiskFullError,
  FetchFailedError,
  isNoSpace,
  SourceError,
  toModelLoaderError,
  VersionLockTimeoutError,
} from '../../src/artifacts/loader-errors';

describe('toModelLoaderError', () => {
  it.each([
    [new InvalidNameError('model name', '../etc', "contains '..'", 'names'), 'INVALID_NAME'],
    [new KeySegmentError('model', 'a:b'), 'INVALID_NAME'],
    [new VersionNotFoundError('resnet', 3, 'deleted'), 'NOT_FOUND'],
    [new ManifestError('Invalid manifest'), 'CHECKSUM'],
    [new DiskFullError('no room'), 'DISK_FULL'],
    [new VersionLockTimeoutError('resnet', 3, 1000), 'LOCK_TIMEOUT'],
    [new Error('boom'), 'INTERNAL'],
    ['a string', 'INTERNAL'],
  ])('maps %p to %s, keeping the message', (err, code) => {
    const mapped = toModelLoaderError(err);
    expect(mapped).toBeInstanceOf(ModelLoaderError);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toBe(err instanceof Error ? err.message : String(err));
  });

  it('names model, version, every file and cause of a failed fetch', () => {
    const s3 = new ChecksumError('s3', 'weights.onnx', 'sha256 aa, expected bb');
    const origin = new SourceError('origin', 'manifest.json', new Error('HTTP 404 Not Found'));
    const both = new FetchFailedError('resnet', 3, [s3, origin], true);
    expect(both.code).toBe('CHECKSUM');
    expect(both.message).toBe(
      'cannot fetch resnet/3: weights.onnx from s3: sha256 aa, expected bb; manifest.json from origin: HTTP 404 Not Found',
    );
    const down = new FetchFailedError(
      'resnet',
      3,
      [new SourceError('s3', 'manifest.json', new Error('connect ECONNREFUSED'))],
      false,
    );
    expect(down.code).toBe('SOURCE_UNAVAILABLE');
    expect(down.message).toContain('the version has no HTTP origin to fall back to');
    expect(toModelLoaderError(down)).toMatchObject({
      code: 'SOURCE_UNAVAILABLE',
      message: down.message,
    });
  });

  it('recognises a full disk', () => {
    expect(isNoSpace(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe(true);
    expect(isNoSpace(Object.assign(new Error('x'), { code: 'EDQUOT' }))).toBe(true);
    expect(isNoSpace(new ChecksumError('s3', 'f', 'd'))).toBe(false);
  });
});
