import { buildInferResponse, parseInferResponseBody, stringifyJson } from '@strata/tensors';

describe('stringifyJson', () => {
  it('matches JSON.stringify on plain data', () => {
    const samples: unknown[] = [
      { a: 1, b: [1, 2.5, 'x', null, true], c: { d: undefined, e: 'q"uote' } },
      [undefined, 1e21, -3],
      'text',
      null,
      { nested: [[1, [2, { z: [] }]]] },
      { date: new Date(0) },
    ];
    for (const s of samples) expect(stringifyJson(s)).toBe(JSON.stringify(s));
  });

  it('keeps negative zero', () => {
    expect(stringifyJson([-0, 0, -1.5])).toBe('[-0.0,0,-1.5]');
    expect(Object.is(JSON.parse(stringifyJson({ v: -0 })).v, -0)).toBe(true);
  });

  it('lets an FP32 -0.0 output survive the JSON response path', () => {
    const data = Buffer.from(new Float32Array([-0, 0, 1]).buffer);
    const built = buildInferResponse({ model_name: 'm' }, [
      { name: 'y', datatype: 'FP32', shape: [3], data },
    ]);
    const parsed = parseInferResponseBody(built.body, built.headerLength);
    expect(Buffer.compare(parsed.outputs[0].data, data)).toBe(0);
  });
});
