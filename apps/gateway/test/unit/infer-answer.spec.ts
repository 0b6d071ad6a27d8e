import { decodeInferAnswer } from '../../src/inference/infer-answer';

describe('decodeInferAnswer', () => {
  it('reads a result, a failure, or an id alone', () => {
    expect(decodeInferAnswer('{"id":"j1","r":{"a":1}}')).toEqual({ id: 'j1', r: { a: 1 } });
    expect(decodeInferAnswer('{"id":"j1","r":null}')).toEqual({ id: 'j1', r: null });
    expect(decodeInferAnswer('{"id":"j2","e":"[strata-infer:TIMEOUT] late"}')).toEqual({
      id: 'j2',
      e: '[strata-infer:TIMEOUT] late',
    });
    expect(decodeInferAnswer('{"id":"j3"}')).toEqual({ id: 'j3' });
  });

  it('ignores anything else', () => {
    for (const bad of ['', 'x', '1', 'null', '[]', '{"r":1}', '{"id":3,"r":1}']) {
      expect(decodeInferAnswer(bad)).toBeUndefined();
    }
    // A failure that is not text is no failure: the id alone (the gateway reads the job).
    expect(decodeInferAnswer('{"id":"j4","e":5}')).toEqual({ id: 'j4' });
  });
});
