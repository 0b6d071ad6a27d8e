import { parseInferAnswer, serializeInferAnswer } from '../../src';

describe('inference answers on a reply channel', () => {
  it('round-trips what a worker sends', () => {
    for (const a of [{ id: 'j1', r: { outputs: [1, 2] } }, { id: 'j2', e: 'failed' }, { id: 'j3' }])
      expect(parseInferAnswer(serializeInferAnswer(a))).toEqual(a);
  });

  it('reads a result, a failure, or an id alone', () => {
    expect(parseInferAnswer('{"id":"j1","r":{"a":1}}')).toEqual({ id: 'j1', r: { a: 1 } });
    expect(parseInferAnswer('{"id":"j1","r":null}')).toEqual({ id: 'j1', r: null });
    expect(parseInferAnswer('{"id":"j2","e":"[strata-infer:TIMEOUT] late"}')).toEqual({
      id: 'j2',
      e: '[strata-infer:TIMEOUT] late',
    });
    expect(parseInferAnswer('{"id":"j3"}')).toEqual({ id: 'j3' });
  });

  it('ignores anything else', () => {
    for (const bad of ['', 'x', '1', 'null', '[]', '{"r":1}', '{"id":3,"r":1}']) {
      expect(parseInferAnswer(bad)).toBeUndefined();
    }
    // A failure that is not text is no failure: the id alone (the gateway reads the job).
    expect(parseInferAnswer('{"id":"j4","e":5}')).toEqual({ id: 'j4' });
  });
});
