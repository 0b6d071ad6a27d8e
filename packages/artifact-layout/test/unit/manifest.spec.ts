import {
  describeMismatches,
  ManifestError,
  manifestDigest,
  parseManifest,
  serializeManifest,
  type Manifest,
} from '@strata/artifact-layout';

const SHA_A = 'a'.repeat(64);
const SHA_B = '0123456789abcdef'.repeat(4);

function valid(): Manifest {
  return {
    formatVersion: 1,
    model: 'resnet50',
    version: 3,
    files: [
      { path: 'weights.onnx', size: 1024, sha256: SHA_A },
      { path: 'class_names.txt', size: 0, sha256: SHA_B },
    ],
    createdAt: '2025-01-02T03:04:05.678Z',
  };
}

function issuesOf(input: unknown): string {
  try {
    parseManifest(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).message;
  }
  throw new Error('expected a ManifestError');
}

describe('parseManifest', () => {
  it('accepts a valid manifest from JSON text, bytes or a value', () => {
    const m = valid();
    expect(parseManifest(JSON.stringify(m))).toEqual(m);
    expect(parseManifest(Buffer.from(JSON.stringify(m)))).toEqual(m);
    expect(parseManifest(m)).toEqual(m);
  });

  it('accepts extra files with safe names and timestamps with offsets', () => {
    const m = valid();
    m.files.push({ path: 'weights.onnx.data', size: 5, sha256: SHA_A });
    m.createdAt = '2025-01-02T03:04:05+02:00';
    expect(parseManifest(m).files).toHaveLength(3);
  });

  it('checks the model version it describes when asked', () => {
    expect(parseManifest(valid(), { expect: { model: 'resnet50', version: '3' } }).version).toBe(3);
    expect(() => parseManifest(valid(), { expect: { model: 'resnet50', version: 4 } })).toThrow(
      /describes resnet50\/3, expected resnet50\/4/,
    );
  });

  const mutate = (f: (m: Record<string, unknown> & Manifest) => void) => {
    const m = valid() as Record<string, unknown> & Manifest;
    f(m);
    return m;
  };

  it.each<[string, unknown, RegExp]>([
    ['invalid JSON', '{"formatVersion": 1,', /not valid JSON/],
    ['a bare array', JSON.stringify(valid().files), /bare array/],
    ['null', 'null', /must be a JSON object/],
    ['a string', '"x"', /must be a JSON object/],
    ['unknown top-level key', mutate((m) => (m.extra = 1)), /unknown key "extra"/],
    [
      'format version 2',
      mutate((m) => ((m as { formatVersion: number }).formatVersion = 2)),
      /formatVersion must be 1/,
    ],
    [
      'missing format version',
      mutate((m) => delete (m as Partial<Manifest>).formatVersion),
      /formatVersion/,
    ],
    ['bad model', mutate((m) => (m.model = '../x')), /model "..\/x" is not a valid model name/],
    ['version 0', mutate((m) => (m.version = 0)), /version 0 is not an integer/],
    [
      'version as string',
      mutate((m) => ((m as { version: unknown }).version = '3')),
      /version "3"/,
    ],
    ['bad createdAt', mutate((m) => (m.createdAt = 'yesterday')), /createdAt "yesterday"/],
    ['impossible createdAt', mutate((m) => (m.createdAt = '2025-13-45T99:99:99Z')), /createdAt/],
    [
      'files not an array',
      mutate((m) => ((m as { files: unknown }).files = {})),
      /files must be an array/,
    ],
    [
      'entry not an object',
      mutate((m) => ((m.files as unknown[])[1] = 'x')),
      /files\[1\] must be an object/,
    ],
    [
      'entry unknown key',
      mutate((m) => Object.assign(m.files[1], { mode: 420 })),
      /files\[1\] has unknown key "mode"/,
    ],
    [
      'path traversal',
      mutate((m) => (m.files[1].path = '../etc/passwd')),
      /files\[1\]\.path "..\/etc\/passwd" is not a plain file name/,
    ],
    ['path dot-dot', mutate((m) => (m.files[1].path = '..')), /not a plain file name/],
    ['absolute path', mutate((m) => (m.files[1].path = '/etc/passwd')), /not a plain file name/],
    [
      'subdirectory path',
      mutate((m) => (m.files[1].path = 'sub/file.txt')),
      /not a plain file name/,
    ],
    ['backslash path', mutate((m) => (m.files[1].path = 'sub\\file.txt')), /not a plain file name/],
    [
      'NUL in path',
      mutate((m) => (m.files[1].path = 'a\0b')),
      /"a\\u0000b" is not a plain file name/,
    ],
    ['empty path', mutate((m) => (m.files[1].path = '')), /not a plain file name/],
    ['uppercase path', mutate((m) => (m.files[1].path = 'Weights.onnx')), /not a plain file name/],
    ['hidden path', mutate((m) => (m.files[1].path = '.env')), /not a plain file name/],
    [
      'manifest lists itself',
      mutate((m) => (m.files[1].path = 'manifest.json')),
      /cannot list itself/,
    ],
    [
      'duplicate path',
      mutate((m) => (m.files[1].path = 'weights.onnx')),
      /"weights.onnx" is listed twice/,
    ],
    [
      'negative size',
      mutate((m) => (m.files[1].size = -1)),
      /files\[1\]\.size -1 is not a non-negative integer/,
    ],
    ['fractional size', mutate((m) => (m.files[1].size = 1.5)), /size 1.5/],
    ['size as string', mutate((m) => ((m.files[1] as { size: unknown }).size = '10')), /size "10"/],
    ['unsafe size', mutate((m) => (m.files[1].size = 2 ** 60)), /size/],
    [
      'short sha256',
      mutate((m) => (m.files[1].sha256 = 'abc')),
      /sha256 "abc" is not 64 lowercase hex/,
    ],
    [
      'uppercase sha256',
      mutate((m) => (m.files[1].sha256 = SHA_A.toUpperCase())),
      /not 64 lowercase hex/,
    ],
    ['non-hex sha256', mutate((m) => (m.files[1].sha256 = 'g'.repeat(64))), /not 64 lowercase hex/],
    [
      'missing sha256',
      mutate((m) => delete (m.files[1] as Partial<(typeof m.files)[1]>).sha256),
      /sha256 undefined/,
    ],
    [
      'weights.onnx missing',
      mutate((m) => m.files.shift()),
      /does not list the required weights.onnx/,
    ],
    ['no files', mutate((m) => (m.files = [])), /required weights.onnx/],
  ])('rejects %s', (_case, input, reason) => {
    expect(issuesOf(input)).toMatch(reason);
  });

  it('lists every problem at once', () => {
    const msg = issuesOf(
      mutate((m) => {
        m.files[0].size = -1;
        m.files[1].sha256 = 'x';
      }),
    );
    expect(msg).toMatch(/files\[0\]\.size/);
    expect(msg).toMatch(/files\[1\]\.sha256/);
  });
});

describe('manifestDigest', () => {
  it('is a sha256 hex string', () => {
    expect(manifestDigest(valid())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores file order, key order and createdAt', () => {
    const a = valid();
    const b = valid();
    b.files.reverse();
    b.createdAt = '2030-01-01T00:00:00Z';
    const c = JSON.parse(
      '{"createdAt":"2025-01-02T03:04:05.678Z","files":[{"sha256":"' +
        SHA_A +
        '","size":1024,"path":"weights.onnx"},{"size":0,"path":"class_names.txt","sha256":"' +
        SHA_B +
        '"}],"version":3,"model":"resnet50","formatVersion":1}',
    );
    expect(manifestDigest(b)).toBe(manifestDigest(a));
    expect(manifestDigest(c)).toBe(manifestDigest(a));
  });

  it('changes with any content change', () => {
    const base = manifestDigest(valid());
    const changes: Array<(m: Manifest) => void> = [
      (m) => (m.model = 'resnet51'),
      (m) => (m.version = 4),
      (m) => (m.files[0].size = 1025),
      (m) => (m.files[0].sha256 = SHA_B),
      (m) => (m.files[1].path = 'labels.txt'),
      (m) => m.files.pop(),
    ];
    for (const change of changes) {
      const m = valid();
      change(m);
      expect(manifestDigest(m)).not.toBe(base);
    }
  });

  it('refuses an invalid manifest', () => {
    const m = valid();
    m.files[0].path = '../x';
    expect(() => manifestDigest(m)).toThrow(ManifestError);
  });
});

describe('serializeManifest', () => {
  it('sorts files by path and round-trips', () => {
    const text = serializeManifest(valid());
    expect(text.endsWith('\n')).toBe(true);
    const back = parseManifest(text);
    expect(back.files.map((f) => f.path)).toEqual(['class_names.txt', 'weights.onnx']);
    expect(manifestDigest(back)).toBe(manifestDigest(valid()));
  });
});

describe('describeMismatches', () => {
  it('writes one line per mismatch', () => {
    expect(
      describeMismatches([
        { path: 'weights.onnx', kind: 'size', expected: 10, actual: 9 },
        { path: 'class_names.txt', kind: 'missing' },
        { path: 'x.bin', kind: 'unexpected' },
      ]),
    ).toBe(
      'weights.onnx: size 9, expected 10\nclass_names.txt: missing\nx.bin: not listed in the manifest',
    );
  });
});
