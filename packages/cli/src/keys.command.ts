import {
  ApiKeyNotFoundError,
  InvalidApiKeyInputError,
  isKeyId,
  parseExpiry,
  parseScopes,
  validateKeyName,
  validateRateLimit,
  type ApiKeyRecord,
  type ApiKeyScope,
} from '@strata/api-keys';
import { validateWorkspace } from '@strata/artifact-layout';
import type { Command } from 'commander';
import type { CliContext } from './cli-context';
import { UsageError } from './exit-codes';
import { formatDate, renderTable } from './format';

interface CreateOptions {
  name: string;
  scopes: string;
  workspace?: string;
  expires?: string;
  rateLimit?: string;
  json?: boolean;
}

function print(ctx: CliContext, text: string): void {
  ctx.io.stdout.write(`${text}\n`);
}

function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function keyJson(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    workspace: k.workspace,
    prefix: k.prefix,
    scopes: k.scopes,
    rateLimit: k.rateLimit,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    createdAt: k.createdAt.toISOString(),
  };
}

/** Argument problems are usage errors (exit 2), found before anything is contacted. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof InvalidApiKeyInputError) throw new UsageError(error.message);
    throw error;
  }
}

/** A key's own limit as listed: requests per RATE_LIMIT_WINDOW, 0 = unlimited. */
function rateLimitText(limit: number): string {
  return limit === 0 ? 'unlimited' : `${limit}/window`;
}

function statusOf(k: ApiKeyRecord, now: Date): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

async function create(ctx: CliContext, opts: CreateOptions): Promise<void> {
  const name = usage(() => validateKeyName(opts.name));
  const scopes: ApiKeyScope[] = usage(() => parseScopes(opts.scopes));
  if (opts.workspace !== undefined) validateWorkspace(opts.workspace);
  const expiresAt = opts.expires === undefined ? null : usage(() => parseExpiry(opts.expires));
  let rateLimit: number | null = null;
  if (opts.rateLimit !== undefined) {
    const n = /^\d+$/.test(opts.rateLimit) ? Number(opts.rateLimit) : NaN;
    rateLimit = usage(() => validateRateLimit(n));
  }
  const { key, secret } = await ctx.apiKeys().create({
    name,
    scopes,
    workspace: opts.workspace,
    expiresAt,
    rateLimit,
  });
  if (opts.json) {
    printJson(ctx, { ...keyJson(key), secret });
    return;
  }
  print(
    ctx,
    [
      `Created API key ${key.id} (${key.name}; scopes ${key.scopes.join(',')}; workspace ${key.workspace}${
        key.rateLimit === null ? '' : `; rate limit ${rateLimitText(key.rateLimit)}`
      }${key.expiresAt ? `; expires ${formatDate(key.expiresAt)}` : ''})`,
      `Secret (shown only now; only its sha256 is stored): ${secret}`,
    ].join('\n'),
  );
}

async function list(
  ctx: CliContext,
  opts: { workspace?: string; all?: boolean; json?: boolean },
): Promise<void> {
  if (opts.workspace !== undefined) validateWorkspace(opts.workspace);
  const keys = await ctx.apiKeys().list({ workspace: opts.workspace, includeRevoked: opts.all });
  if (opts.json) {
    printJson(ctx, keys.map(keyJson));
    return;
  }
  if (keys.length === 0) {
    print(ctx, 'No API keys.');
    return;
  }
  const now = new Date();
  print(
    ctx,
    renderTable(
      [
        'ID',
        'PREFIX',
        'NAME',
        'WORKSPACE',
        'SCOPES',
        'STATUS',
        'RATE LIMIT',
        'EXPIRES',
        'LAST USED',
        'CREATED',
      ],
      keys.map((k) => [
        k.id,
        k.prefix,
        k.name,
        k.workspace,
        k.scopes.join(','),
        statusOf(k, now),
        k.rateLimit === null ? 'default' : rateLimitText(k.rateLimit),
        k.expiresAt ? formatDate(k.expiresAt) : '-',
        k.lastUsedAt ? formatDate(k.lastUsedAt) : '-',
        formatDate(k.createdAt),
      ]),
    ),
  );
}

async function revoke(ctx: CliContext, id: string, opts: { json?: boolean }): Promise<void> {
  if (!isKeyId(id))
    throw new UsageError(`"${id}" is not an API key id (a UUID, see strata keys list)`);
  let result;
  try {
    result = await ctx.apiKeys().revoke(id);
  } catch (error) {
    // A plain message (exit 1), without the error's class name.
    if (error instanceof ApiKeyNotFoundError) throw new Error(error.message);
    throw error;
  }
  // Not broadcast (Redis unreachable; a warning said why): gateways refuse the key when their
  // caches expire. Revoking again retries the broadcast.
  if (opts.json) {
    printJson(ctx, {
      ...keyJson(result.key),
      alreadyRevoked: result.alreadyRevoked,
      broadcast: result.eventsPublished,
    });
    return;
  }
  const refused = result.eventsPublished
    ? 'every gateway refuses it now'
    : 'gateways refuse it when their caches expire (run the command again to retry the broadcast)';
  print(
    ctx,
    result.alreadyRevoked
      ? `API key ${id} (${result.key.prefix}) was already revoked; ${refused}`
      : `Revoked API key ${id} (${result.key.prefix}); ${refused}`,
  );
}

/** `strata keys …`: create, list, revoke. */
export function registerKeysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('create, list and revoke API keys');

  keys
    .command('create')
    .description('create an API key; its secret is printed once')
    .requiredOption('--name <name>', 'what the key is for (shown in listings)')
    .option('--scopes <scopes>', 'comma-separated: infer, admin', 'infer')
    .option('--workspace <workspace>', 'workspace of the key (default: default)')
    .option('--expires <when>', 'ISO date-time or a duration from now (90d, 12h, 30m, 2w)')
    .option(
      '--rate-limit <n>',
      'requests per RATE_LIMIT_WINDOW for this key, 0 = unlimited (default: RATE_LIMIT_DEFAULT)',
    )
    .option('--json', 'print the key and its secret as JSON')
    .action((opts: CreateOptions) => create(ctx, opts));

  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--workspace <workspace>', 'only this workspace')
    .option('--all', 'include revoked keys')
    .option('--json', 'print JSON')
    .action((opts: { workspace?: string; all?: boolean; json?: boolean }) => list(ctx, opts));

  keys
    .command('revoke')
    .description('revoke an API key by id')
    .argument('<id>', 'key id (from strata keys list)')
    .option('--json', 'print JSON')
    .action((id: string, opts: { json?: boolean }) => revoke(ctx, id, opts));
}
