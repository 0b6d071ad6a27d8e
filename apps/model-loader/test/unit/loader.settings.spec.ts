import { ConfigError, loadConfig } from '@strata/config';
import { loaderSettings } from '../../src/loader.settings';

const BASE = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres', S3_BUCKET: 'models' };

describe('loaderSettings', () => {
  it('has safe defaults', () => {
    const s = loaderSettings(loadConfig('model-loader', BASE));
    expect(s).toMatchObject({
      verifyOnStart: false,
      pinned: [],
      cleanup: true,
      lockTimeoutMs: 120_000,
      lockTtlMs: 30_000,
      concurrency: 8,
      maxBytes: 10 * 2 ** 30,
    });
  });

  it('reads PINNED_MODELS as name/version pairs', () => {
    const s = loaderSettings(
      loadConfig('model-loader', {
        ...BASE,
        PINNED_MODELS: 'resnet/3, yolo.v8/12',
        VERIFY_ON_START: 'true',
      }),
    );
    expect(s.pinned).toEqual([
      { model: 'resnet', version: 3 },
      { model: 'yolo.v8', version: 12 },
    ]);
    expect(s.verifyOnStart).toBe(true);
  });

  it.each(['resnet', 'resnet/0', '../etc/1', 'Resnet/1', 'a/b/c'])(
    'refuses PINNED_MODELS=%j',
    (value) => {
      expect(() => loadConfig('model-loader', { ...BASE, PINNED_MODELS: value })).toThrow(
        ConfigError,
      );
    },
  );
});
