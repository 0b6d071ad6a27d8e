import * as path from 'node:path';
import {
  ARTIFACT_FILES,
  assertInside,
  diskPaths,
  domainLockPath,
  InvalidNameError,
  KNOWN_ARTIFACT_FILES,
  modelDir,
  normalizeS3Prefix,
  PathEscapeError,
  REQUIRED_ARTIFACT_FILES,
  s3FileKey,
  s3Keys,
  s3ModelPrefix,
  s3VersionPrefix,
  stagingRoot,
  validateArtifactFileName,
  versionDir,
  versionLockPath,
  workflowPath,
  workflowsRoot,
} from '@strata/artifact-layout';

describe('artifact files', () => {
  it('names the files of a version', () => {
    expect(ARTIFACT_FILES).toEqual({
      weights: 'weights.onnx',
      environment: 'environment.json',
      classNames: 'class_names.txt',
      modelType: 'model_type.json',
      keypointsMetadata: 'keypoints_metadata.json',
      manifest: 'manifest.json',
    });
    expect(REQUIRED_ARTIFACT_FILES).toEqual(['weights.onnx']);
    expect(KNOWN_ARTIFACT_FILES).not.toContain('manifest.json');
  });

  it('validates extra file names', () => {
    expect(validateArtifactFileName('weights.onnx.data')).toBe('weights.onnx.data');
    for (const bad of ['manifest.json', '../x', 'a/b', 'Weights.onnx', '.hidden', ''])
      expect(() => validateArtifactFileName(bad)).toThrow(InvalidNameError);
  });
});

describe('S3 keys', () => {
  it('builds exact keys under a prefix', () => {
    const k = s3Keys('strata', 'resnet50', 3);
    expect(k.versionPrefix).toBe('strata/models/resnet50/3/');
    expect(k.weights).toBe('strata/models/resnet50/3/weights.onnx');
    expect(k.environment).toBe('strata/models/resnet50/3/environment.json');
    expect(k.classNames).toBe('strata/models/resnet50/3/class_names.txt');
    expect(k.modelType).toBe('strata/models/resnet50/3/model_type.json');
    expect(k.keypointsMetadata).toBe('strata/models/resnet50/3/keypoints_metadata.json');
    expect(k.manifest).toBe('strata/models/resnet50/3/manifest.json');
    expect(k.file('weights.onnx.data')).toBe('strata/models/resnet50/3/weights.onnx.data');
  });

  it('has no leading slash when the prefix is empty', () => {
    expect(s3Keys('', 'm', '7').weights).toBe('models/m/7/weights.onnx');
    expect(s3VersionPrefix('', 'm', 7)).toBe('models/m/7/');
    expect(s3VersionPrefix('/', 'm', 7)).toBe('models/m/7/');
  });

  it('normalises slashes around the prefix and keeps nested prefixes', () => {
    expect(s3VersionPrefix('/team/Strata-Prod/', 'm', 1)).toBe('team/Strata-Prod/models/m/1/');
    expect(normalizeS3Prefix('a/b/')).toBe('a/b');
    expect(s3ModelPrefix('p', 'm')).toBe('p/models/m/');
    expect(s3FileKey('p', 'm', 2, 'class_names.txt')).toBe('p/models/m/2/class_names.txt');
    expect(s3FileKey('p', 'm', 2, 'manifest.json')).toBe('p/models/m/2/manifest.json');
  });

  it.each(['a//b', '../x', 'a/../b', 'a/./b', 'a b', 'a:b', 'ä'])('rejects prefix %p', (p) => {
    expect(() => s3VersionPrefix(p, 'm', 1)).toThrow(/Invalid S3 prefix/);
  });

  it('validates model, version and file name', () => {
    expect(() => s3Keys('p', '../m', 1)).toThrow(/Invalid model name/);
    expect(() => s3Keys('p', 'm', '01')).toThrow(/Invalid version/);
    expect(() => s3Keys('p', 'm', 1).file('../../x')).toThrow(/Invalid artifact file name/);
    expect(() => s3FileKey('p', 'm', 1, 'a/b')).toThrow(InvalidNameError);
  });
});

describe('disk paths', () => {
  const cache = path.resolve('/var/cache/strata');

  it('builds exact paths', () => {
    const d = diskPaths(cache, 'resnet50', '3');
    expect(d.cacheDir).toBe(cache);
    expect(d.dir).toBe(path.join(cache, 'models', 'resnet50', '3'));
    expect(d.weights).toBe(path.join(cache, 'models', 'resnet50', '3', 'weights.onnx'));
    expect(d.environment).toBe(path.join(d.dir, 'environment.json'));
    expect(d.classNames).toBe(path.join(d.dir, 'class_names.txt'));
    expect(d.modelType).toBe(path.join(d.dir, 'model_type.json'));
    expect(d.keypointsMetadata).toBe(path.join(d.dir, 'keypoints_metadata.json'));
    expect(d.manifest).toBe(path.join(d.dir, 'manifest.json'));
    expect(d.file('weights.onnx.data')).toBe(path.join(d.dir, 'weights.onnx.data'));
    expect(versionDir(cache, 'resnet50', 3)).toBe(d.dir);
    expect(modelDir(cache, 'resnet50')).toBe(path.join(cache, 'models', 'resnet50'));
  });

  it('puts staging and workflows at fixed places', () => {
    expect(stagingRoot(cache)).toBe(path.join(cache, '.staging'));
    expect(workflowsRoot(cache)).toBe(path.join(cache, 'workflows'));
    expect(workflowPath(cache, 'acme', 'detect-and-crop')).toBe(
      path.join(cache, 'workflows', 'acme', 'detect-and-crop.json'),
    );
  });

  it('puts lock files under .locks', () => {
    expect(domainLockPath(cache)).toBe(path.join(cache, '.locks', 'domain.lock'));
    expect(versionLockPath(cache, 'resnet50', '3')).toBe(
      path.join(cache, '.locks', 'models', 'resnet50', '3.lock'),
    );
    expect(() => versionLockPath(cache, 'resnet50', '3/../4')).toThrow(/Invalid version/);
  });

  it('resolves a relative or untidy cache directory', () => {
    expect(diskPaths('/var/cache/../cache/strata/', 'm', 1).dir).toBe(
      path.join(cache, 'models', 'm', '1'),
    );
  });

  it('validates every input', () => {
    expect(() => diskPaths(cache, '..', 1)).toThrow(/Invalid model name/);
    expect(() => diskPaths(cache, 'm', '../1')).toThrow(/Invalid version/);
    expect(() => diskPaths(cache, 'm', 1).file('../../../etc/passwd')).toThrow(InvalidNameError);
    expect(() => workflowPath(cache, '../ws', 'wf')).toThrow(/Invalid workspace/);
    expect(() => workflowPath(cache, 'ws', 'wf/../../x')).toThrow(/Invalid workflow name/);
    expect(() => diskPaths('', 'm', 1)).toThrow(/Invalid cache directory/);
    expect(() => diskPaths('/tmp/a\0b', 'm', 1)).toThrow(/Invalid cache directory/);
  });
});

describe('assertInside', () => {
  it('accepts the root and paths below it', () => {
    expect(assertInside('/a/b', '/a/b')).toBe(path.resolve('/a/b'));
    expect(assertInside('/a/b', '/a/b/c/d')).toBe(path.resolve('/a/b/c/d'));
  });

  it.each(['/a/bc', '/a', '/a/b/../c', '/etc/passwd', '/a/b/c/../../x'])('refuses %s', (t) => {
    expect(() => assertInside('/a/b', t)).toThrow(PathEscapeError);
  });
});
