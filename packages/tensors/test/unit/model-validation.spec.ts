import {
  parseInferRequest,
  shapeMismatch,
  validateInputs,
  validateRequestedOutputs,
  type ModelSignature,
} from '@strata/tensors';
import { errorOf } from './samples';

const MODEL: ModelSignature = {
  inputs: [
    { name: 'images', datatype: 'FP32', shape: [-1, 3, -1, -1] },
    { name: 'scale', datatype: 'INT64', shape: [1] },
    { name: 'anything', datatype: 'BYTES' },
  ],
  outputs: [{ name: 'boxes' }, { name: 'scores' }],
};

const IMAGES = { name: 'images', datatype: 'FP32', shape: [2, 3, 1, 1], data: [1, 2, 3, 4, 5, 6] };
const SCALE = { name: 'scale', datatype: 'INT64', shape: [1], data: [2] };
const ANYTHING = { name: 'anything', datatype: 'BYTES', shape: [1, 1], data: [['a']] };

function parse(inputs: object[], outputs?: object[]) {
  return parseInferRequest({ inputs, outputs }, { model: MODEL });
}

describe('validation against model metadata', () => {
  it('accepts matching inputs and returns them in the model order', () => {
    const request = parse([ANYTHING, SCALE, IMAGES], [{ name: 'scores' }]);
    expect(request.inputs.map((t) => t.name)).toEqual(['images', 'scale', 'anything']);
    expect(request.outputs).toEqual([{ name: 'scores' }]);
  });

  it('-1 matches any size, including 0', () => {
    const request = parse([{ ...IMAGES, shape: [0, 3, 7, 5], data: [] }, SCALE, ANYTHING]);
    expect(request.inputs[0].shape).toEqual([0, 3, 7, 5]);
  });

  it.each<[string, object[], string]>([
    [
      'an unknown input',
      [IMAGES, SCALE, ANYTHING, { ...SCALE, name: 'extra' }],
      'input "extra": unknown input (model inputs: "images", "scale", "anything")',
    ],
    [
      'a missing input',
      [IMAGES, ANYTHING],
      'input "scale": missing (model inputs: "images", "scale", "anything")',
    ],
    [
      'a wrong datatype',
      [IMAGES, { ...SCALE, datatype: 'FP32', data: [2] }, ANYTHING],
      'input "scale": datatype INT64 expected, got FP32',
    ],
    [
      'a wrong rank',
      [{ ...IMAGES, shape: [6], data: [1, 2, 3, 4, 5, 6] }, SCALE, ANYTHING],
      'input "images": shape [6] does not match the model\'s [-1,3,-1,-1] (rank 4 expected, got 1)',
    ],
    [
      'a wrong fixed dimension',
      [{ ...IMAGES, shape: [3, 2, 1, 1] }, SCALE, ANYTHING],
      'input "images": shape [3,2,1,1] does not match the model\'s [-1,3,-1,-1] (dimension 1 must be 3, got 2)',
    ],
    ['an input twice', [IMAGES, SCALE, SCALE, ANYTHING], 'input "scale": given more than once'],
  ])('refuses %s', (_what, inputs, message) => {
    const e = errorOf(() => parse(inputs));
    expect(e.status).toBe(400);
    expect(e.message).toBe(message);
  });

  it('checks the datatype before reading the data', () => {
    const e = errorOf(() =>
      parse([IMAGES, { ...SCALE, datatype: 'FP32', data: ['junk'] }, ANYTHING]),
    );
    expect(e.message).toBe('input "scale": datatype INT64 expected, got FP32');
  });

  it('refuses unknown requested outputs', () => {
    expect(errorOf(() => parse([IMAGES, SCALE, ANYTHING], [{ name: 'logits' }])).message).toBe(
      'output "logits": unknown output (model outputs: "boxes", "scores")',
    );
  });

  it('validateInputs works on any tensor headers', () => {
    const specs = [
      { name: 'a', datatype: 'FP32' as const, shape: [2] },
      { name: 'b', datatype: 'BOOL' as const, shape: [] },
    ];
    const b = { name: 'b', datatype: 'BOOL' as const, shape: [], tag: 1 };
    const a = { name: 'a', datatype: 'FP32' as const, shape: [2], tag: 2 };
    expect(validateInputs([b, a], specs)).toEqual([a, b]);
    expect(errorOf(() => validateInputs([a], specs)).message).toBe(
      'input "b": missing (model inputs: "a", "b")',
    );
    expect(errorOf(() => validateInputs([a, b], [])).message).toBe(
      'input "a": unknown input (model inputs: none)',
    );
  });

  it('validateRequestedOutputs returns the names, all when none requested', () => {
    const specs = [{ name: 'p' }, { name: 'q' }];
    expect(validateRequestedOutputs(undefined, specs)).toEqual(['p', 'q']);
    expect(validateRequestedOutputs([{ name: 'q' }], specs)).toEqual(['q']);
    expect(
      errorOf(() => validateRequestedOutputs([{ name: 'q' }, { name: 'q' }], specs)).message,
    ).toBe('output "q": requested more than once');
  });

  it('shapeMismatch', () => {
    expect(shapeMismatch([1, 2], undefined)).toBeUndefined();
    expect(shapeMismatch([], [])).toBeUndefined();
    expect(shapeMismatch([5, 2], [-1, 2])).toBeUndefined();
    expect(shapeMismatch([5], [-1, 2])).toBe('rank 2 expected, got 1');
    expect(shapeMismatch([5, 3], [-1, 2])).toBe('dimension 1 must be 2, got 3');
  });

  it('lists at most 16 model names', () => {
    const inputs = Array.from({ length: 20 }, (_, i) => ({
      name: `i${i}`,
      datatype: 'FP32' as const,
    }));
    expect(
      errorOf(() => validateInputs([{ name: 'z', datatype: 'FP32', shape: [] }], inputs)).message,
    ).toMatch(/"i15", … 4 more\)$/);
  });
});
