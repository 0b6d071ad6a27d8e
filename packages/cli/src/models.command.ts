import {
  parseModelRef,
  validateAlias,
  validateModelName,
  validateVersion,
  validateWorkspace,
} from '@strata/artifact-layout';
import {
  LATEST_ALIAS,
  normalizeOriginUrl,
  validateTaskType,
  type ModelRecord,
  type PublishResult,
  type StorageCleanup,
  type VersionRecord,
} from '@strata/model-registry';
import type { Command } from 'commander';
import type { CliContext } from './cli-context';
import { UsageError } from './exit-codes';
import { formatBytes, formatDate, formatShape, renderTable } from './format';
import { PushProgress } from './push-progress';

interface PushOptions {
  model: string;
  version?: string;
  alias?: string;
  originUrl?: string;
  workspace?: string;
  taskType?: string;
  json?: boolean;
}

function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function print(ctx: CliContext, text: string): void {
  ctx.io.stdout.write(`${text}\n`);
}

function latestOf(model: ModelRecord): number | undefined {
  return model.aliases.find((a) => a.alias === LATEST_ALIAS)?.version;
}

function versionJson(v: VersionRecord) {
  return {
    version: v.version,
    status: v.deletedAt ? 'deleted' : v.status,
    sizeBytes: v.sizeBytes,
    manifestDigest: v.manifestDigest,
    storagePrefix: v.storagePrefix,
    originUrl: v.originUrl,
    taskType: v.metadata.taskType,
    inputs: v.metadata.inputs,
    outputs: v.metadata.outputs,
    aliases: v.aliases,
    createdAt: v.createdAt.toISOString(),
    deletedAt: v.deletedAt?.toISOString() ?? null,
  };
}

function modelJson(m: ModelRecord) {
  return {
    name: m.name,
    workspace: m.workspace,
    taskType: m.taskType,
    createdAt: m.createdAt.toISOString(),
    latest: latestOf(m) ?? null,
    aliases: Object.fromEntries(m.aliases.map((a) => [a.alias, a.version])),
    versions: m.versions.map(versionJson),
  };
}

function warnStorage(ctx: CliContext, storage: StorageCleanup | null): void {
  if (storage && !storage.ok)
    ctx.warn(
      `the registry change is done, but files under ${storage.prefix} could not be removed from S3: ${storage.error}`,
    );
}

async function push(ctx: CliContext, dir: string, opts: PushOptions): Promise<void> {
  // Every argument is checked before the configuration is read or anything is contacted.
  const model = validateModelName(opts.model);
  const version = opts.version === undefined ? undefined : validateVersion(opts.version);
  if (opts.alias !== undefined) {
    validateAlias(opts.alias);
    if (opts.alias === LATEST_ALIAS)
      throw new UsageError(`--alias ${LATEST_ALIAS}: every push moves "latest" by itself`);
  }
  if (opts.workspace !== undefined) validateWorkspace(opts.workspace);
  if (opts.originUrl !== undefined) normalizeOriginUrl(opts.originUrl);
  if (opts.taskType !== undefined) {
    try {
      validateTaskType(opts.taskType);
    } catch (error) {
      throw new UsageError(`--task-type: ${(error as Error).message}`);
    }
  }

  const progress = new PushProgress(ctx.io.stderr);
  let result: PublishResult;
  try {
    result = await ctx.publisher().publish(dir, {
      model,
      version,
      alias: opts.alias,
      workspace: opts.workspace,
      originUrl: opts.originUrl,
      taskType: opts.taskType,
      onProgress: progress.handle,
    });
  } finally {
    progress.finish();
  }
  if (opts.json) {
    printJson(ctx, {
      model: result.model,
      version: result.version,
      workspace: result.workspace,
      taskType: result.taskType,
      sizeBytes: result.sizeBytes,
      manifestDigest: result.manifestDigest,
      storagePrefix: result.storagePrefix,
      files: result.manifest.files,
      inputs: result.signature.inputs,
      outputs: result.signature.outputs,
      aliases: result.aliasMoves,
      generatedModelType: result.generatedModelType,
      eventsPublished: result.eventsPublished,
    });
    return;
  }
  const moved = result.aliasMoves.map((m) => `${m.alias} -> ${m.version}`).join(', ');
  print(
    ctx,
    `Published ${result.model} version ${result.version} (${formatBytes(result.sizeBytes)})${moved ? `; ${moved}` : ''}`,
  );
}

async function list(ctx: CliContext, opts: { workspace?: string; json?: boolean }): Promise<void> {
  if (opts.workspace !== undefined) validateWorkspace(opts.workspace);
  const models = await ctx.repository().listModels({ workspace: opts.workspace });
  if (opts.json) {
    printJson(ctx, models.map(modelJson));
    return;
  }
  if (models.length === 0) {
    print(ctx, 'No models.');
    return;
  }
  const rows = models.map((m) => {
    const latest = latestOf(m);
    const latestVersion = m.versions.find((v) => v.version === latest);
    const ready = m.versions.filter((v) => v.status === 'ready').length;
    return [
      m.name,
      m.workspace,
      m.taskType,
      ready === m.versions.length ? String(ready) : `${ready}/${m.versions.length}`,
      latest === undefined ? '-' : String(latest),
      latestVersion ? formatBytes(latestVersion.sizeBytes) : '-',
      m.aliases
        .filter((a) => a.alias !== LATEST_ALIAS)
        .map((a) => `${a.alias}=${a.version}`)
        .join(',') || '-',
    ];
  });
  print(
    ctx,
    renderTable(['MODEL', 'WORKSPACE', 'TASK', 'VERSIONS', 'LATEST', 'SIZE', 'ALIASES'], rows),
  );
}

async function show(
  ctx: CliContext,
  name: string,
  opts: { json?: boolean; all?: boolean },
): Promise<void> {
  validateModelName(name);
  const m = await ctx.repository().showModel(name, { includeDeleted: opts.all });
  if (opts.json) {
    printJson(ctx, modelJson(m));
    return;
  }
  const lines = [
    `Model:      ${m.name}`,
    `Workspace:  ${m.workspace}`,
    `Task type:  ${m.taskType}`,
    `Created:    ${formatDate(m.createdAt)}`,
    `Aliases:    ${m.aliases.map((a) => `${a.alias} -> ${a.version}`).join(', ') || '-'}`,
    '',
  ];
  if (m.versions.length === 0) lines.push('No versions.');
  else
    lines.push(
      renderTable(
        ['VERSION', 'STATUS', 'SIZE', 'CREATED', 'ALIASES', 'ORIGIN'],
        m.versions.map((v) => [
          String(v.version),
          v.deletedAt ? 'deleted' : v.status,
          formatBytes(v.sizeBytes),
          formatDate(v.createdAt),
          v.aliases.join(',') || '-',
          v.originUrl ?? '-',
        ]),
      ),
    );
  const latest = latestOf(m);
  const described =
    m.versions.find((v) => v.version === latest) ?? [...m.versions].reverse()[0] ?? undefined;
  if (described) {
    const io = [
      ...described.metadata.inputs.map((t) => ['input', t.name, t.datatype, formatShape(t.shape)]),
      ...described.metadata.outputs.map((t) => [
        'output',
        t.name,
        t.datatype,
        formatShape(t.shape),
      ]),
    ];
    lines.push('', `Inputs and outputs of version ${described.version}:`);
    lines.push(io.length ? renderTable(['KIND', 'NAME', 'DATATYPE', 'SHAPE'], io) : '-');
  }
  print(ctx, lines.join('\n'));
}

async function alias(
  ctx: CliContext,
  name: string,
  aliasName: string,
  versionText: string,
  opts: { json?: boolean },
): Promise<void> {
  validateModelName(name);
  validateAlias(aliasName);
  if (aliasName === LATEST_ALIAS)
    throw new UsageError(`"${LATEST_ALIAS}" cannot be set: it follows the newest ready version`);
  const version = validateVersion(versionText);
  const move = await ctx.admin().setAlias(name, aliasName, version);
  if (opts.json) {
    printJson(ctx, { model: name, ...move });
    return;
  }
  print(
    ctx,
    move.previous === null
      ? `${name}: alias ${aliasName} -> ${version}`
      : move.previous === version
        ? `${name}: alias ${aliasName} already -> ${version}`
        : `${name}: alias ${aliasName} -> ${version} (was ${move.previous})`,
  );
}

async function remove(
  ctx: CliContext,
  ref: string,
  opts: { force?: boolean; json?: boolean },
): Promise<void> {
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'alias')
    throw new UsageError(
      `"${ref}" names an alias; rm takes NAME (the whole model) or NAME/VERSION (one version)`,
    );
  if (parsed.kind === 'model') {
    if (!opts.force)
      throw new UsageError(
        `Refusing to delete model "${parsed.model}" with all its versions without --force (to delete one version: strata models rm ${parsed.model}/VERSION)`,
      );
    const result = await ctx.admin().deleteModel(parsed.model, { force: true });
    warnStorage(ctx, result.storage);
    if (opts.json) printJson(ctx, result);
    else
      print(
        ctx,
        `Deleted model ${result.model} (${result.versions.length} version${result.versions.length === 1 ? '' : 's'})`,
      );
    return;
  }
  const result = await ctx.admin().deleteVersion(parsed.model, parsed.version, {
    force: opts.force,
  });
  warnStorage(ctx, result.storage);
  if (opts.json) {
    printJson(ctx, {
      model: parsed.model,
      version: parsed.version,
      removedAliases: result.removedAliases,
      latest: result.latest,
      storage: result.storage,
      eventsPublished: result.eventsPublished,
    });
    return;
  }
  const notes = [
    result.removedAliases.length ? `removed aliases ${result.removedAliases.join(', ')}` : '',
    result.latest === null ? 'no ready version left' : `latest -> ${result.latest}`,
  ].filter(Boolean);
  print(ctx, `Deleted ${parsed.model} version ${parsed.version} (${notes.join('; ')})`);
}

/** `strata models …`: push, list, show, alias, rm. */
export function registerModelsCommands(program: Command, ctx: CliContext): void {
  const models = program.command('models').description('publish and manage models');

  models
    .command('push')
    .description('publish a model directory (weights.onnx and friends) as a new version')
    .argument('<dir>', 'directory holding weights.onnx and optional metadata files')
    .requiredOption('--model <name>', 'model name (a-z 0-9 . _ -)')
    .option('--version <n>', 'version number (default: the next one)')
    .option('--alias <alias>', 'also point this alias at the new version')
    .option('--origin-url <url>', 'HTTP URL the files can also be downloaded from (fallback)')
    .option('--workspace <workspace>', 'workspace of a new model (default: default)')
    .option('--task-type <type>', 'task type when the directory has no model_type.json')
    .option('--json', 'print the result as JSON')
    .action((dir: string, opts: PushOptions) => push(ctx, dir, opts));

  models
    .command('list')
    .description('list models with their versions and aliases')
    .option('--workspace <workspace>', 'only this workspace')
    .option('--json', 'print JSON')
    .action((opts: { workspace?: string; json?: boolean }) => list(ctx, opts));

  models
    .command('show')
    .description('show one model: versions, status, size, aliases, inputs and outputs')
    .argument('<name>', 'model name')
    .option('--all', 'include deleted versions')
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean; all?: boolean }) => show(ctx, name, opts));

  models
    .command('alias')
    .description('point an alias (not latest) at a ready version')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias name (not all digits)')
    .argument('<version>', 'version number')
    .option('--json', 'print JSON')
    .action((name: string, aliasName: string, version: string, opts: { json?: boolean }) =>
      alias(ctx, name, aliasName, version, opts),
    );

  models
    .command('rm')
    .description('delete one version (NAME/VERSION) or a whole model (NAME, needs --force)')
    .argument('<ref>', 'NAME or NAME/VERSION')
    .option('--force', 'also remove aliases pointing at it; required to delete a whole model')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { force?: boolean; json?: boolean }) => remove(ctx, ref, opts));
}
