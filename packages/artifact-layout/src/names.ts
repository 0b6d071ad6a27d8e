import { InvalidNameError } from './errors';

// Names become disk path segments, S3 key segments and Redis key segments (which allow only
// A-Za-z0-9._@=+-). One strict allow-list is safe for all three: lowercase only, so two names
// never collide on a case-insensitive file system (macOS, Windows) and 'Prod' can never shadow
// 'prod'.
const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

export const MAX_NAME_LENGTH = 128;
export const MAX_ALIAS_LENGTH = 64;
export const MAX_VERSION = 2 ** 31 - 1;

// CON, PRN, AUX, NUL, COM0-9, LPT0-9 cannot be created on Windows, with or without an extension.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/;

const allowedText = (max: number, extra = '') =>
  `1-${max} characters from a-z 0-9 . _ -, starting with a letter or digit, not ending with ` +
  `'.' or '-', no '..', lowercase only, not a Windows reserved name (con, nul, aux, com1, ...)${extra}`;

function whyNotName(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${typeof value}`;
  if (value.length === 0) return 'is empty';
  if (value.length > max) return `is ${value.length} characters long (max ${max})`;
  if (value.includes('\0')) return 'contains a NUL byte';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  if (/\s/.test(value)) return 'contains whitespace';
  if (value.startsWith('/') || value.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(value))
    return 'is an absolute path';
  if (value.includes('/') || value.includes('\\')) return 'contains a path separator';
  if (value.includes('..')) return "contains '..'";
  if (/[^\x20-\x7e]/.test(value))
    return 'contains a non-ASCII character (lookalike letters and zero-width characters are refused)';
  if (/[A-Z]/.test(value)) return 'contains an uppercase letter (names are lowercase only)';
  if (!/^[a-z0-9]/.test(value)) return 'must start with a lowercase letter or digit';
  const bad = value.match(/[^a-z0-9._-]/);
  if (bad) return `contains the character ${JSON.stringify(bad[0])}`;
  if (value.endsWith('.') || value.endsWith('-')) return "must not end with '.' or '-'";
  if (WINDOWS_RESERVED.test(value)) return 'is a Windows reserved device name';
  if (!NAME_RE.test(value)) return 'is not allowed';
  return undefined;
}

function checkName(field: string, value: unknown, max: number): string {
  const why = whyNotName(value, max);
  if (why !== undefined) throw new InvalidNameError(field, value, why, allowedText(max));
  return value as string;
}

/** True when `value` passes the common name rule (used for manifest file names too). */
export function isSafeName(value: unknown, max = MAX_NAME_LENGTH): value is string {
  return whyNotName(value, max) === undefined;
}

/** Validates a name with the common rule, naming `field` in the error. */
export function validateSafeName(field: string, value: unknown, max = MAX_NAME_LENGTH): string {
  return checkName(field, value, max);
}

export function validateModelName(name: unknown): string {
  return checkName('model name', name, MAX_NAME_LENGTH);
}

export function validateWorkspace(workspace: unknown): string {
  return checkName('workspace', workspace, MAX_NAME_LENGTH);
}

export function validateWorkflowName(workflow: unknown): string {
  return checkName('workflow name', workflow, MAX_NAME_LENGTH);
}

/** Aliases follow the name rule but are never all digits, so `m/3` is always version 3. */
export function validateAlias(alias: unknown): string {
  const allowed = allowedText(MAX_ALIAS_LENGTH, ', and not all digits (that would be a version)');
  const why = whyNotName(alias, MAX_ALIAS_LENGTH);
  if (why !== undefined) throw new InvalidNameError('alias', alias, why, allowed);
  if (/^[0-9]+$/.test(alias as string))
    throw new InvalidNameError(
      'alias',
      alias,
      'is all digits, so it would read as a version',
      allowed,
    );
  return alias as string;
}

const VERSION_ALLOWED = `a positive integer from 1 to ${MAX_VERSION}, as a number or as decimal digits without sign, leading zeros, exponent or fraction`;

/** A version is a positive 31-bit integer; the string form must be its canonical decimal spelling. */
export function validateVersion(version: unknown): number {
  const fail = (reason: string): never => {
    throw new InvalidNameError('version', version, reason, VERSION_ALLOWED);
  };
  if (typeof version === 'number') {
    if (!Number.isInteger(version)) return fail('is not an integer');
    if (version < 1) return fail('is not positive');
    if (version > MAX_VERSION) return fail(`is larger than ${MAX_VERSION}`);
    return version;
  }
  if (typeof version !== 'string')
    return fail(`must be a number or a string, got ${typeof version}`);
  if (version.length === 0) return fail('is empty');
  if (version.length > 10) return fail(`is ${version.length} characters long (max 10)`);
  if (!/^[0-9]+$/.test(version)) return fail('is not written with decimal digits only');
  if (version.startsWith('0'))
    return fail(version === '0' ? 'is not positive' : 'has a leading zero');
  const n = Number(version);
  if (n > MAX_VERSION) return fail(`is larger than ${MAX_VERSION}`);
  return n;
}

export type ModelRef =
  | { kind: 'version'; model: string; version: number }
  | { kind: 'alias'; model: string; alias: string }
  | { kind: 'model'; model: string };

const REF_ALLOWED = "'model', 'model/version' or 'model/alias'";

/**
 * Parses `name`, `name/3` or `name/alias`. An all-digit second part is a version (so `m/03` is
 * refused as a version with a leading zero); anything else is an alias.
 */
export function parseModelRef(ref: unknown): ModelRef {
  if (typeof ref !== 'string')
    throw new InvalidNameError(
      'model reference',
      ref,
      `must be a string, got ${typeof ref}`,
      REF_ALLOWED,
    );
  const slash = ref.indexOf('/');
  if (slash < 0) return { kind: 'model', model: validateModelName(ref) };
  const head = ref.slice(0, slash);
  const tail = ref.slice(slash + 1);
  if (tail.includes('/'))
    throw new InvalidNameError('model reference', ref, "has more than one '/'", REF_ALLOWED);
  if (head === '')
    throw new InvalidNameError('model reference', ref, "has no model name before '/'", REF_ALLOWED);
  if (tail === '')
    throw new InvalidNameError(
      'model reference',
      ref,
      "has no version or alias after '/'",
      REF_ALLOWED,
    );
  const model = validateModelName(head);
  if (/^[0-9]+$/.test(tail)) return { kind: 'version', model, version: validateVersion(tail) };
  return { kind: 'alias', model, alias: validateAlias(tail) };
}

/** `model/version` or `model/alias`: the inverse of {@link parseModelRef}. */
export function formatModelRef(ref: ModelRef): string {
  switch (ref.kind) {
    case 'version':
      return `${validateModelName(ref.model)}/${validateVersion(ref.version)}`;
    case 'alias':
      return `${validateModelName(ref.model)}/${validateAlias(ref.alias)}`;
    case 'model':
      return validateModelName(ref.model);
  }
}
