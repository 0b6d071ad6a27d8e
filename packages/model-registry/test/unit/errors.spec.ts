import {
  AliasNotFoundError,
  ModelNotFoundError,
  NotFoundError,
  RegistryError,
  VersionExistsError,
  VersionNotFoundError,
} from '../../src/errors';

describe('registry errors', () => {
  it('say which of model, version or alias is unknown', () => {
    expect(new ModelNotFoundError('m').message).toBe('Unknown model "m"');
    expect(new VersionNotFoundError('m', 3).message).toBe('Unknown version 3 of model "m"');
    expect(new VersionNotFoundError('m', 3, 'deleted').message).toBe(
      'Version 3 of model "m" was deleted',
    );
    expect(new VersionNotFoundError('m', 3, 'failed').message).toBe(
      'Version 3 of model "m" is not ready (status failed)',
    );
    expect(new AliasNotFoundError('m', 'prod').message).toBe('Unknown alias "prod" of model "m"');
    expect(new AliasNotFoundError('m', 'latest').message).toMatch(/has no ready version/);
    expect(new VersionExistsError('m', 2, 'ready').message).toMatch(/^version exists/);
  });

  it('share base classes for callers that map them to HTTP statuses or exit codes', () => {
    const e = new VersionNotFoundError('m', 1);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.name).toBe('VersionNotFoundError');
  });
});
