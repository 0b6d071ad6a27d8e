import {
  formatModelRef,
  InvalidNameError,
  MAX_VERSION,
  parseModelRef,
  validateAlias,
  validateModelName,
  validateVersion,
  validateWorkflowName,
  validateWorkspace,
} from '@strata/artifact-layout';

function rejection(fn: () => unknown): InvalidNameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidNameError);
    return err as InvalidNameError;
  }
  throw new Error('expected an InvalidNameError, nothing was thrown');
}

// Every one of these must be refused as a model name, workspace, workflow name and alias.
const BAD_NAMES: Array<[string, unknown, RegExp]> = [
  ['traversal ..', '..', /'\.\.'/],
  ['traversal ../etc', '../etc', /path separator|'\.\.'/],
  ['traversal a..b', 'a..b', /'\.\.'/],
  ['traversal ./x', './x', /path separator|start with/],
  ['single dot', '.', /start with/],
  ['absolute path', '/etc/passwd', /absolute path/],
  ['windows absolute path', 'C:\\Windows', /absolute path/],
  ['UNC path', '\\\\server\\share', /absolute path/],
  ['slash separator', 'a/b', /path separator/],
  ['backslash separator', 'a\\b', /path separator/],
  ['NUL byte', 'model\0.onnx', /NUL/],
  ['empty', '', /empty/],
  ['over-long (300 chars)', 'a'.repeat(300), /300 characters long/],
  ['space', 'my model', /whitespace/],
  ['leading space', ' model', /whitespace/],
  ['trailing newline', 'model\n', /control character|whitespace/],
  ['tab', 'a\tb', /control character|whitespace/],
  ['escape char', 'a\u001bb', /control character/],
  ['DEL char', 'a\u007fb', /control character/],
  ['non-breaking space', 'a\u00a0b', /whitespace|non-ASCII/],
  ['uppercase', 'ResNet', /uppercase/],
  ['all uppercase', 'PROD', /uppercase/],
  ['Cyrillic lookalike a', 'resnet-\u0430', /non-ASCII/],
  ['fullwidth chars', '\uff52\uff45\uff53\uff4e\uff45\uff54', /non-ASCII/],
  ['zero-width joiner', 'res\u200dnet', /non-ASCII/],
  ['zero-width space', 'res\u200bnet', /non-ASCII|whitespace/],
  ['emoji', 'model-\u{1f600}', /non-ASCII/],
  ['colon (Redis separator)', 'a:b', /character ":"/],
  ['braces (Redis hash tag)', 'a{b}', /character "\{"/],
  ['at sign', 'a@b', /character "@"/],
  ['star', 'a*', /character "\*"/],
  ['leading dash', '-model', /start with/],
  ['leading underscore', '_model', /start with/],
  ['hidden file', '.staging', /start with/],
  ['trailing dot', 'model.', /end with/],
  ['trailing dash', 'model-', /end with/],
  ['windows reserved con', 'con', /Windows reserved/],
  ['windows reserved nul', 'nul', /Windows reserved/],
  ['windows reserved aux', 'aux', /Windows reserved/],
  ['windows reserved prn', 'prn', /Windows reserved/],
  ['windows reserved com1', 'com1', /Windows reserved/],
  ['windows reserved lpt9', 'lpt9', /Windows reserved/],
  ['windows reserved with extension', 'con.txt', /Windows reserved/],
  ['not a string (number)', 42, /must be a string/],
  ['not a string (undefined)', undefined, /must be a string/],
  ['not a string (object)', { toString: () => 'x' }, /must be a string/],
];

const VALIDATORS: Array<[string, (v: unknown) => unknown, string]> = [
  ['model name', validateModelName, 'model name'],
  ['workspace', validateWorkspace, 'workspace'],
  ['workflow name', validateWorkflowName, 'workflow name'],
  ['alias', validateAlias, 'alias'],
];

describe.each(VALIDATORS)('%s', (_label, validate, field) => {
  it.each(BAD_NAMES)('rejects %s', (_case, value, reason) => {
    const err = rejection(() => validate(value));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(new RegExp(`^Invalid ${field} `));
    expect(err.message).toMatch(reason);
    expect(err.message).toMatch(/Allowed: .*a-z 0-9/);
  });

  it.each(['resnet50', 'yolo-v8n', 'clip_vit.b32', 'a', '7b', 'x1.y2_z3-w4', 'conan', 'console'])(
    'accepts %s',
    (name) => {
      expect(validate(name)).toBe(name);
    },
  );
});

describe('error messages', () => {
  it('quote the value with escapes so invisible characters show', () => {
    expect(rejection(() => validateModelName('a\0b')).message).toContain('"a\\u0000b"');
    expect(rejection(() => validateModelName('res\u200dnet')).message).toContain('"res\\u200dnet"');
    expect(rejection(() => validateModelName('resnet-\u0430')).message).toContain('\\u0430');
    expect(rejection(() => validateModelName('a"b')).message).toContain('"a\\"b"');
  });

  it('truncate a huge value and give its length', () => {
    const msg = rejection(() => validateModelName('x'.repeat(100_000))).message;
    expect(msg.length).toBeLessThan(600);
    expect(msg).toContain('100000 chars in total');
  });

  it('say names are lowercase only', () => {
    expect(rejection(() => validateModelName('Model')).message).toMatch(/lowercase only/);
  });
});

describe('model names', () => {
  it('may be all digits (only aliases may not)', () => {
    expect(validateModelName('0')).toBe('0');
    expect(validateModelName('2024')).toBe('2024');
    expect(parseModelRef('2024/3')).toEqual({ kind: 'version', model: '2024', version: 3 });
  });
});

describe('lengths', () => {
  it('allows 128-character names and 64-character aliases, no more', () => {
    expect(validateModelName('a'.repeat(128))).toHaveLength(128);
    expect(rejection(() => validateModelName('a'.repeat(129))).reason).toMatch(/max 128/);
    expect(validateAlias('a'.repeat(64))).toHaveLength(64);
    expect(rejection(() => validateAlias('a'.repeat(65))).reason).toMatch(/max 64/);
  });
});

describe('validateAlias', () => {
  it.each(['latest', 'prod', 'staging-2', 'v2', '2024-q1', 'canary.eu'])('accepts %s', (a) => {
    expect(validateAlias(a)).toBe(a);
  });

  it.each(['3', '03', '0', '2147483648'])(
    'rejects all-digit %s (it would read as a version)',
    (a) => {
      const err = rejection(() => validateAlias(a));
      expect(err.field).toBe('alias');
      expect(err.message).toMatch(/all digits/);
    },
  );
});

describe('validateVersion', () => {
  it.each([
    [1, 1],
    ['1', 1],
    ['3', 3],
    [42, 42],
    ['2147483647', MAX_VERSION],
    [MAX_VERSION, MAX_VERSION],
  ])('accepts %p', (v, n) => {
    expect(validateVersion(v)).toBe(n);
  });

  it.each<[unknown, RegExp]>([
    ['03', /leading zero/],
    ['3.0', /decimal digits only/],
    ['-1', /decimal digits only/],
    ['+1', /decimal digits only/],
    ['0', /not positive/],
    ['1e3', /decimal digits only/],
    ['0x10', /decimal digits only/],
    [' 3', /decimal digits only/],
    ['3 ', /decimal digits only/],
    ['', /empty/],
    ['2147483648', /larger than 2147483647/],
    ['99999999999999999999', /characters long/],
    ['\uff13', /decimal digits only/],
    ['latest', /decimal digits only/],
    [0, /not positive/],
    [-1, /not positive/],
    [1.5, /not an integer/],
    [Number.NaN, /not an integer/],
    [Number.POSITIVE_INFINITY, /not an integer/],
    [2 ** 31, /larger than/],
    [null, /number or a string/],
    [undefined, /number or a string/],
    [3n, /number or a string/],
  ])('rejects %p', (v, reason) => {
    const err = rejection(() => validateVersion(v));
    expect(err.field).toBe('version');
    expect(err.message).toMatch(/^Invalid version /);
    expect(err.message).toMatch(reason);
    expect(err.message).toMatch(/Allowed: a positive integer/);
  });
});

describe('parseModelRef', () => {
  it('parses name, name/version and name/alias', () => {
    expect(parseModelRef('resnet')).toEqual({ kind: 'model', model: 'resnet' });
    expect(parseModelRef('resnet/3')).toEqual({ kind: 'version', model: 'resnet', version: 3 });
    expect(parseModelRef('resnet/prod')).toEqual({ kind: 'alias', model: 'resnet', alias: 'prod' });
    expect(parseModelRef('resnet/staging-2')).toEqual({
      kind: 'alias',
      model: 'resnet',
      alias: 'staging-2',
    });
  });

  it('round-trips through formatModelRef', () => {
    for (const r of ['resnet', 'resnet/3', 'resnet/latest'])
      expect(formatModelRef(parseModelRef(r))).toBe(r);
  });

  it.each<[string, unknown, string]>([
    ['too many parts', 'a/b/c', 'model reference'],
    ['traversal', '../etc/passwd', 'model reference'],
    ['absolute', '/etc', 'model reference'],
    ['empty model', '/3', 'model reference'],
    ['empty tail', 'resnet/', 'model reference'],
    ['empty', '', 'model name'],
    ['bad model', 'Res Net/3', 'model name'],
    ['leading-zero version', 'resnet/03', 'version'],
    ['zero version', 'resnet/0', 'version'],
    ['huge version', 'resnet/2147483648', 'version'],
    ['bad alias', 'resnet/Prod', 'alias'],
    ['dot-dot alias', 'resnet/..', 'alias'],
    ['backslash', 'resnet\\3', 'model name'],
    ['not a string', 3, 'model reference'],
  ])('rejects %s', (_case, ref, field) => {
    const err = rejection(() => parseModelRef(ref));
    expect(err.field).toBe(field);
  });
});
