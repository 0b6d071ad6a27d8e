import type { PublishProgress } from '@strata/model-registry';
import { PushProgress } from '../../src/push-progress';

function sink(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 80, write: (s: string) => ((out.text += s), true) };
  return out;
}

const events: PublishProgress[] = [
  {
    type: 'prepared',
    model: 'm',
    files: [{ path: 'weights.onnx', size: 2048 }],
    totalBytes: 2048,
    generatedModelType: true,
    ignored: [],
  },
  { type: 'version-created', model: 'm', version: 3 },
  {
    type: 'file-progress',
    file: 'weights.onnx',
    loaded: 1024,
    size: 2048,
    uploadedBytes: 1024,
    totalBytes: 2048,
  },
  {
    type: 'file-progress',
    file: 'weights.onnx',
    loaded: 2048,
    size: 2048,
    uploadedBytes: 2048,
    totalBytes: 2048,
  },
  { type: 'file-uploaded', file: 'weights.onnx', size: 2048, index: 0, count: 2 },
  { type: 'file-uploaded', file: 'manifest.json', size: 200, index: 1, count: 2 },
  { type: 'published', model: 'm', version: 3 },
];

describe('PushProgress', () => {
  it('writes one line per file when stderr is not a terminal', () => {
    const out = sink(false);
    const p = new PushProgress(out as never);
    events.forEach(p.handle);
    expect(out.text).toBe(
      [
        'm: 1 files, 2.0 KiB (model_type.json generated from the ONNX signature)',
        'uploading m version 3',
        'uploaded weights.onnx (2.0 KiB)',
        'uploaded manifest.json (200 B)',
        '',
      ].join('\n'),
    );
  });

  it('redraws a bar on a terminal and clears it when done', () => {
    const out = sink(true);
    let t = 0;
    const p = new PushProgress(out as never, () => (t += 1000));
    events.forEach(p.handle);
    p.finish();
    expect(out.text).toContain(
      '\r\x1b[2K[############------------]  50% weights.onnx 1.0 KiB/2.0 KiB',
    );
    expect(out.text).toContain('[########################] 100% weights.onnx 2.0 KiB/2.0 KiB');
    expect(out.text).not.toContain('uploaded weights.onnx');
    expect(out.text.endsWith('\r\x1b[2K')).toBe(true);
  });
});
