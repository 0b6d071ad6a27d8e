import { decodeBase64Image, parseTaskRequest } from '../../src/tasks/task-request';
import { isPrivateAddress, matchHost, parseHostRule } from '../../src/tasks/image-url.fetcher';

const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

describe('task requests', () => {
  it('reads model ids, base64 (plain or data URL), uploads and URLs', () => {
    const r = parseTaskRequest(
      { model_id: 'cls/3', image: PNG.toString('base64'), top_k: '2' },
      'classification',
    );
    expect(r).toMatchObject({ model: 'cls', ref: 3, topK: 2, image: { kind: 'bytes', data: PNG } });
    expect(
      parseTaskRequest(
        {
          model_id: 'cls/prod',
          image: { type: 'base64', value: `data:image/png;base64,${PNG.toString('base64')}` },
        },
        'classification',
      ),
    ).toMatchObject({ ref: 'prod', image: { data: PNG } });
    expect(
      parseTaskRequest(
        { model_id: 'det', file: PNG, iou_threshold: 0.5, max_detections: 10 },
        'object_detection',
      ),
    ).toMatchObject({ model: 'det', iouThreshold: 0.5, maxDetections: 10 });
    expect(
      parseTaskRequest(
        { model_id: 'det', image: { type: 'url', value: 'http://x/y.png' } },
        'object_detection',
      ).image,
    ).toEqual({ kind: 'url', url: 'http://x/y.png' });
  });

  it('refuses bad requests with clear messages', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /model_id is required/],
      [{ model_id: 'cls' }, /image is required/],
      [{ model_id: 'cls', image: '!!!' }, /not valid base64/],
      [{ model_id: 'cls', image: [] }, /one image per request/],
      [{ model_id: 'cls', image: { type: 'numpy', value: 'x' } }, /image.type must be/],
      [
        { model_id: 'cls', image: 'aGk=', confidence: 2 },
        /confidence must be a number from 0 to 1/,
      ],
      [{ model_id: 'cls', image: 'aGk=', top_k: 0 }, /top_k must be an integer/],
      [{ model_id: 'Bad/1', image: 'aGk=' }, /Invalid model name/],
      ['text', /must be a JSON object/],
    ];
    for (const [body, message] of bad)
      expect(() => parseTaskRequest(body, 'classification')).toThrow(message);
    expect(() => decodeBase64Image('')).toThrow(/empty/);
  });
});

describe('image URL rules', () => {
  it('matches hosts, wildcards and ports; only exact entries are literal', () => {
    const rules = ['images.example.com', '*.cdn.example.net', '127.0.0.1:8099'].map(parseHostRule);
    expect(matchHost(new URL('https://images.example.com/a.png'), rules)).toEqual({
      allowed: true,
      literal: true,
    });
    expect(matchHost(new URL('https://a.b.cdn.example.net/a.png'), rules)).toEqual({
      allowed: true,
      literal: false,
    });
    expect(matchHost(new URL('https://evil.com/a.png'), rules).allowed).toBe(false);
    expect(matchHost(new URL('http://127.0.0.1:8099/a.png'), rules)).toEqual({
      allowed: true,
      literal: true,
    });
    expect(matchHost(new URL('http://127.0.0.1:8100/a.png'), rules).allowed).toBe(false);
  });

  it('knows private and loopback addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ]) {
      expect([a, isPrivateAddress(a)]).toEqual([a, true]);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])
      expect([a, isPrivateAddress(a)]).toEqual([a, false]);
  });
});
