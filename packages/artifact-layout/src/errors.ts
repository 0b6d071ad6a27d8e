const MAX_SHOWN = 80;

/**
 * Quotes a value for an error message so that what the reader sees is what was sent: control
 * characters, non-ASCII lookalikes and zero-width characters become visible escapes, and a
 * huge value is cut short (with its real length) instead of flooding a log line.
 */
export function quoteValue(value: unknown): string {
  if (typeof value !== 'string') {
    if (value === null || value === undefined) return String(value);
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return `(${typeof value})`;
  }
  const chars = Array.from(value);
  const shown = chars.slice(0, MAX_SHOWN);
  let out = '';
  for (const ch of shown) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\u{${cp.toString(16)}}`;
  }
  const more = chars.length > MAX_SHOWN ? `…(${value.length} chars in total)` : '';
  return `"${out}"${more}`;
}

/** A model name, version, alias, workspace, workflow or file name that may not become a path or key. */
export class InvalidNameError extends Error {
  constructor(
    /** Which input was refused, e.g. `model name`, `version`, `alias`. */
    readonly field: string,
    /** The refused value, as given. */
    readonly value: unknown,
    /** Why, e.g. `contains '..'`. */
    readonly reason: string,
    /** What would have been accepted. */
    readonly allowed: string,
  ) {
    super(`Invalid ${field} ${quoteValue(value)}: ${reason}. Allowed: ${allowed}`);
    this.name = 'InvalidNameError';
  }
}

/** A computed path or key escaped its root. Unreachable with validated inputs: defence in depth. */
export class PathEscapeError extends Error {
  constructor(
    readonly root: string,
    readonly target: string,
  ) {
    super(`Refusing path ${quoteValue(target)}: it is not inside ${quoteValue(root)}`);
    this.name = 'PathEscapeError';
  }
}

/** A manifest that is malformed, or a directory that cannot be described by one. */
export class ManifestError extends Error {
  constructor(
    message: string,
    /** Every problem found, one per line of the message. */
    readonly issues: readonly string[] = [message],
  ) {
    super(
      issues.length > 1 || issues[0] !== message
        ? `${message}:\n${issues.map((i) => `  - ${i}`).join('\n')}`
        : message,
    );
    this.name = 'ManifestError';
  }
}

/** The lock was still held by someone else when the timeout ran out. */
export class LockTimeoutError extends Error {
  constructor(
    readonly lockPath: string,
    readonly holder: string,
    readonly timeoutMs: number,
  ) {
    super(`Timed out after ${timeoutMs} ms waiting for lock ${lockPath} (held by ${holder})`);
    this.name = 'LockTimeoutError';
  }
}

/** The staging directory was already committed or discarded. */
export class StagingClosedError extends Error {
  constructor(
    readonly dir: string,
    state: string,
  ) {
    super(`Staging directory ${dir} was already ${state}`);
    this.name = 'StagingClosedError';
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}
