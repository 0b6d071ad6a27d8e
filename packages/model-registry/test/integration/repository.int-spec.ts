import {
  AliasConflictError,
  AliasNotFoundError,
  ModelNotFoundError,
  ModelRegistryRepository,
  NotFoundError,
  VersionExistsError,
  VersionNotFoundError,
  WorkspaceMismatchError,
  type VersionDetails,
} from '../../src';
import { createTestDb, type TestDb } from './support';

const details =
  (model: string) =>
  (version: number): VersionDetails => ({
    storagePrefix: `models/${model}/${version}/`,
    manifestDigest: String(version % 10).repeat(64),
    sizeBytes: 1000 + version,
    metadata: {
      taskType: 'classification',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
    },
  });

describe('ModelRegistryRepository (Postgres)', () => {
  let db: TestDb;
  let repo: ModelRegistryRepository;

  /** Creates a version and marks it ready (the publisher's path without S3). */
  async function publish(model: string, options: { version?: number; alias?: string } = {}) {
    const v = await repo.createVersion({
      model,
      taskType: 'classification',
      version: options.version,
      prepare: details(model),
    });
    return repo.markReady(model, v.version, { alias: options.alias });
  }

  /** A version created but never marked ready (its upload still running). */
  function startUpload(model: string) {
    return repo.createVersion({ model, taskType: 't', prepare: details(model) });
  }

  beforeAll(async () => {
    db = await createTestDb();
    repo = new ModelRegistryRepository(db.prisma);
  });
  afterAll(() => db.drop());

  it('creates the default workspace and the model on first use', async () => {
    const { version, moves } = await publish('first');
    expect(version).toMatchObject({ model: 'first', version: 1, status: 'ready', sizeBytes: 1001 });
    expect(version.aliases).toEqual(['latest']);
    expect(moves).toEqual([{ alias: 'latest', version: 1, previous: null }]);
    const model = await repo.showModel('first');
    expect(model).toMatchObject({
      name: 'first',
      workspace: 'default',
      taskType: 'classification',
    });
    expect(model.aliases.map((a) => [a.alias, a.version])).toEqual([['latest', 1]]);
    expect((await repo.ensureWorkspace()).name).toBe('default');
  });

  it('model names are global: another workspace is refused', async () => {
    await repo.ensureModel('shared-name', { workspace: 'team-a', taskType: 'x' });
    await expect(
      repo.ensureModel('shared-name', { workspace: 'team-b', taskType: 'x' }),
    ).rejects.toThrow(WorkspaceMismatchError);
    // Without a workspace the model's own is used.
    const m = await repo.ensureModel('shared-name', { taskType: 'x' });
    expect(m.workspace).toBe('team-a');
    await expect(
      db.prisma.model.create({
        data: {
          name: 'shared-name',
          taskType: 'x',
          workspaceId: (await repo.ensureWorkspace('team-b')).id,
        },
      }),
    ).rejects.toThrow(/Unique constraint/);
    expect((await repo.listModels({ workspace: 'team-a' })).map((x) => x.name)).toEqual([
      'shared-name',
    ]);
  });

  it('eight concurrent creates of a new model get versions 1..8', async () => {
    const created = await Promise.all(
      Array.from({ length: 8 }, () =>
        repo.createVersion({ model: 'crowd', taskType: 't', prepare: details('crowd') }),
      ),
    );
    expect(created.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(created.every((v) => v.status === 'uploading')).toBe(true);
    // Ready in a shuffled order: latest always ends on the highest ready number.
    for (const v of [3, 8, 1, 5]) await repo.markReady('crowd', v);
    expect((await repo.resolve('crowd')).version).toBe(8);
    await Promise.all([2, 4, 6, 7].map((v) => repo.markReady('crowd', v)));
    expect((await repo.resolve('crowd')).version).toBe(8);
    expect(await repo.nextVersionNumber('crowd')).toBe(9);
  });

  it('resolve: number, alias, latest; NotFound errors say what is unknown', async () => {
    await publish('res');
    await publish('res', { alias: 'prod' });
    await publish('res');
    expect((await repo.resolve('res')).version).toBe(3);
    expect((await repo.resolve('res', 'latest')).via).toEqual({ kind: 'alias', alias: 'latest' });
    expect((await repo.resolve('res', 'prod')).version).toBe(2);
    expect((await repo.resolve('res', 1)).via).toEqual({ kind: 'version' });
    expect((await repo.resolve('res', '1')).version).toBe(1);

    const unknownModel = await repo.resolve('nope').catch((e: unknown) => e);
    expect(unknownModel).toBeInstanceOf(ModelNotFoundError);
    expect(unknownModel).toBeInstanceOf(NotFoundError);
    expect((unknownModel as Error).message).toBe('Unknown model "nope"');

    const unknownVersion = await repo.resolve('res', 9).catch((e: unknown) => e);
    expect(unknownVersion).toBeInstanceOf(VersionNotFoundError);
    expect((unknownVersion as Error).message).toBe('Unknown version 9 of model "res"');

    const unknownAlias = await repo.resolve('res', 'staging').catch((e: unknown) => e);
    expect(unknownAlias).toBeInstanceOf(AliasNotFoundError);
    expect((unknownAlias as Error).message).toBe('Unknown alias "staging" of model "res"');

    await expect(repo.resolve('res', '03')).rejects.toThrow(/Invalid version/);
    await expect(repo.resolve('../x')).rejects.toThrow(/Invalid model name/);
  });

  it('only ready versions resolve; uploading and failed ones say so', async () => {
    await publish('states');
    const uploading = await startUpload('states');
    await expect(repo.resolve('states', uploading.version)).rejects.toThrow(
      'Version 2 of model "states" is not ready (status uploading)',
    );
    expect((await repo.resolve('states')).version).toBe(1);
    await repo.markFailed('states', 2);
    await expect(repo.resolve('states', 2)).rejects.toThrow(/status failed/);
    await expect(repo.markReady('states', 2)).rejects.toThrow(/its status is failed/);
    await expect(repo.setAlias('states', 'prod', 2)).rejects.toThrow(/status failed/);
    // Numbers of failed versions are never reused.
    expect((await publish('states')).version.version).toBe(3);
    await expect(
      repo.createVersion({
        model: 'states',
        taskType: 't',
        version: 2,
        prepare: details('states'),
      }),
    ).rejects.toThrow(VersionExistsError);
  });

  it('resolveArtifact: where a ready version is, in one query; fails like resolve', async () => {
    await publish('art');
    await publish('art');
    await expect(repo.resolveArtifact('art', 2)).resolves.toEqual({
      model: 'art',
      version: 2,
      storagePrefix: 'models/art/2/',
      manifestDigest: '2'.repeat(64),
      sizeBytes: 1002,
      originUrl: null,
    });
    // Another model's version 2 is not this one's.
    await publish('art-other');
    await publish('art-other');
    expect((await repo.resolveArtifact('art-other', 2)).storagePrefix).toBe('models/art-other/2/');

    const unknownModel = await repo.resolveArtifact('nope', 1).catch((e: unknown) => e);
    expect(unknownModel).toBeInstanceOf(ModelNotFoundError);
    const missing = await repo.resolveArtifact('art', 9).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(VersionNotFoundError);
    expect((missing as Error).message).toBe('Unknown version 9 of model "art"');

    const uploading = await startUpload('art');
    await expect(repo.resolveArtifact('art', uploading.version)).rejects.toThrow(
      'Version 3 of model "art" is not ready (status uploading)',
    );
    await repo.markFailed('art', 3);
    await expect(repo.resolveArtifact('art', 3)).rejects.toThrow(/status failed/);
    await repo.deleteVersion('art', 1);
    await expect(repo.resolveArtifact('art', 1)).rejects.toThrow(
      'Version 1 of model "art" was deleted',
    );
    await expect(repo.resolveArtifact('../x', 1)).rejects.toThrow(/Invalid model name/);
    await expect(repo.resolveArtifact('art', 0)).rejects.toThrow(/Invalid version/);
  });

  it('aliases: set explicitly to ready versions only; latest cannot be set', async () => {
    await publish('al');
    await publish('al');
    expect(await repo.setAlias('al', 'prod', 1)).toEqual({
      alias: 'prod',
      version: 1,
      previous: null,
    });
    expect(await repo.setAlias('al', 'prod', 2)).toEqual({
      alias: 'prod',
      version: 2,
      previous: 1,
    });
    await expect(repo.setAlias('al', 'latest', 1)).rejects.toThrow(AliasConflictError);
    await expect(repo.setAlias('al', 'prod', 5)).rejects.toThrow('Unknown version 5 of model "al"');
    await expect(repo.setAlias('al', '42', 1)).rejects.toThrow(/all digits/);
    await expect(repo.setAlias('ghost', 'prod', 1)).rejects.toThrow(ModelNotFoundError);
    expect(await repo.deleteAlias('al', 'prod')).toBe(2);
    await expect(repo.resolve('al', 'prod')).rejects.toThrow(AliasNotFoundError);
  });

  it('delete version: soft, refused under a pinned alias unless forced, latest moves back', async () => {
    await publish('del');
    await publish('del', { alias: 'prod' });
    await publish('del');

    const latestDeleted = await repo.deleteVersion('del', 3);
    expect(latestDeleted.latest).toEqual({ version: 2, previous: 3 });
    expect(latestDeleted.version.deletedAt).toBeInstanceOf(Date);
    expect((await repo.resolve('del')).version).toBe(2);
    await expect(repo.resolve('del', 3)).rejects.toThrow('Version 3 of model "del" was deleted');
    await expect(repo.deleteVersion('del', 3)).rejects.toThrow(/was deleted/);
    await expect(repo.setAlias('del', 'canary', 3)).rejects.toThrow(/was deleted/);

    await expect(repo.deleteVersion('del', 2)).rejects.toThrow(
      'Version 2 of model "del" is still the target of alias "prod": move it first, or force the deletion',
    );
    const forced = await repo.deleteVersion('del', 2, { force: true });
    expect(forced.removedAliases).toEqual(['prod']);
    expect(forced.latest).toEqual({ version: 1, previous: 2 });

    expect((await repo.deleteVersion('del', 1)).latest).toEqual({ version: null, previous: 1 });
    await expect(repo.resolve('del')).rejects.toThrow(
      'Model "del" has no ready version (alias "latest" is unset)',
    );
    const shown = await repo.showModel('del');
    expect(shown.versions).toEqual([]);
    expect(shown.aliases).toEqual([]);
    expect((await repo.showModel('del', { includeDeleted: true })).versions).toHaveLength(3);
    // Numbers stay taken after deletion.
    expect((await publish('del')).version.version).toBe(4);
  });

  it('delete model: refused while pinned aliases exist unless forced; rows are gone', async () => {
    await publish('gone', { alias: 'prod' });
    await publish('gone');
    await expect(repo.deleteModel('gone')).rejects.toThrow(/still has alias "prod"/);
    const removed = await repo.deleteModel('gone', { force: true });
    expect(removed.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(removed.aliases).toEqual(['latest', 'prod']);
    expect(await repo.getModel('gone')).toBeNull();
    expect(await db.prisma.modelVersion.count({ where: { model: { name: 'gone' } } })).toBe(0);
    await expect(repo.deleteModel('gone')).rejects.toThrow(ModelNotFoundError);
  });

  it('lists models sorted by name with versions and aliases', async () => {
    const all = await repo.listModels();
    const names = all.map((m) => m.name);
    expect(names).toEqual([...names].sort());
    const res = all.find((m) => m.name === 'res');
    expect(res?.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(res?.aliases.map((a) => `${a.alias}=${a.version}`)).toEqual(['latest=3', 'prod=2']);
    expect(res?.versions[1]?.aliases).toEqual(['prod']);
    expect(res?.versions[0]?.metadata.inputs[0]).toEqual({
      name: 'x',
      datatype: 'FP32',
      shape: [-1, 3],
    });
  });
});
