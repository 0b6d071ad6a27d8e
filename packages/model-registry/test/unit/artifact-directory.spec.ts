import {
  generateModelType,
  parseModelType,
  parsePredictionCacheTtl,
  validateTaskType,
} from '../../src/artifact-directory';
import { InvalidArtifactError } from '../../src/errors';

const signature = {
  inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 3, 48, 192] }],
  outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 2] }],
};

describe('model_type.json', () => {
  it('is generated with task type, inputs and outputs, as stable JSON', () => {
    const text = generateModelType('classification', signature).toString('utf8');
    expect(JSON.parse(text)).toEqual({ task_type: 'classification', ...signature });
    expect(text.endsWith('}\n')).toBe(true);
    expect(generateModelType('classification', signature).equals(Buffer.from(text))).toBe(true);
  });

  it('a user file gives its task_type, or none', () => {
    expect(parseModelType('{"task_type":"object-detection","x":1}', 'f')).toBe('object-detection');
    expect(parseModelType('{"other":1}', 'f')).toBeUndefined();
  });

  it('a user file may set prediction_cache_ttl (whole seconds, 0 = never cache)', () => {
    expect(parsePredictionCacheTtl('{"task_type":"x"}', 'f')).toBeUndefined();
    expect(parsePredictionCacheTtl('{"prediction_cache_ttl":0}', 'f')).toBe(0);
    expect(parsePredictionCacheTtl('{"prediction_cache_ttl":86400}', 'f')).toBe(86400);
    for (const bad of ['-1', '1.5', '"60"', '2592001', 'null']) {
      expect(() => parsePredictionCacheTtl(`{"prediction_cache_ttl":${bad}}`, 'm.json')).toThrow(
        /prediction_cache_ttl in m\.json must be a whole number of seconds/,
      );
    }
  });

  it('refuses files and task types it cannot use, naming the file', () => {
    expect(() => parseModelType('{', '/d/model_type.json')).toThrow(
      /\/d\/model_type\.json is not valid JSON/,
    );
    expect(() => parseModelType('[1]', 'm.json')).toThrow(/m\.json must hold a JSON object/);
    expect(() => parseModelType('{"task_type": 3}', 'm.json')).toThrow(
      /Invalid task_type in m\.json 3/,
    );
    expect(() => validateTaskType('Has Space')).toThrow(InvalidArtifactError);
    expect(() => validateTaskType('')).toThrow(/Invalid task type ""/);
    expect(validateTaskType('object-detection')).toBe('object-detection');
  });
});
