import {
  normalizeOriginUrl,
  originFileUrl,
  OriginFetchError,
} from '../../src/http-origin-source.adapter';

describe('origin URLs', () => {
  it('appends the file name to the base URL', () => {
    expect(originFileUrl('https://h.example/models/m/3', 'weights.onnx')).toBe(
      'https://h.example/models/m/3/weights.onnx',
    );
    expect(originFileUrl('https://h.example/models/m/3///', 'manifest.json')).toBe(
      'https://h.example/models/m/3/manifest.json',
    );
  });

  it('refuses unsafe file names and unusable URLs', () => {
    expect(() => originFileUrl('https://h', '../x')).toThrow(/Invalid artifact file name/);
    expect(() => originFileUrl('https://h', 'a/b')).toThrow(/path separator/);
    expect(() => normalizeOriginUrl('ftp://h/x')).toThrow(OriginFetchError);
    expect(() => normalizeOriginUrl('https://h/x?sig=1')).toThrow(/query or fragment/);
    expect(() => normalizeOriginUrl('nope')).toThrow(/not a valid URL/);
  });
});
