import {
  decodeJobFailure,
  encodeJobFailure,
  JobError,
  JOB_NAMES,
  parseWorkerCommand,
  serializeWorkerCommand,
} from '@strata/cache-keys';
import { loadConfig } from '@strata/config';
import { UnrecoverableError } from 'bullmq';
import { toBullFailure } from '../../src/inference/infer.processor';
import { parseMemInfo } from '../../src/models/memory.probe';
import { defaultWorkerId, settingsFromConfig } from '../../src/worker-settings';

describe('infer job contract', () => {
  it('lists run, batch and load', () => {
    expect(JOB_NAMES.infer).toEqual(['run', 'batch', 'load']);
  });

  it('carries the error code through failedReason', () => {
    const text = encodeJobFailure('INVALID_INPUT', 'input "x": shape [1] does not match');
    expect(text).toBe('[strata-infer:INVALID_INPUT] input "x": shape [1] does not match');
    const back = decodeJobFailure(text);
    expect(back).toBeInstanceOf(JobError);
    expect([back.code, back.message]).toEqual([
      'INVALID_INPUT',
      'input "x": shape [1] does not match',
    ]);
    expect(decodeJobFailure('job stalled more than allowable limit').code).toBe('INTERNAL');
    expect(decodeJobFailure('[strata-infer:NOPE] x').code).toBe('INTERNAL');
  });

  it('fails bad requests without retries and lets unavailable ones retry', () => {
    expect(toBullFailure(new JobError('INVALID_INPUT', 'x'))).toBeInstanceOf(UnrecoverableError);
    expect(toBullFailure(new JobError('NOT_FOUND', 'x'))).toBeInstanceOf(UnrecoverableError);
    expect(toBullFailure(new JobError('TIMEOUT', 'x'))).toBeInstanceOf(UnrecoverableError);
    const retry = toBullFailure(new JobError('UNAVAILABLE', 'loader down'));
    expect(retry).not.toBeInstanceOf(UnrecoverableError);
    expect(retry.message).toBe('[strata-infer:UNAVAILABLE] loader down');
  });
});

describe('worker commands on the events channel', () => {
  it('round-trips unload and clear and ignores everything else', () => {
    for (const c of [
      { type: 'unload', model: 'm', version: 3 },
      { type: 'unload', model: 'm' },
      { type: 'clear' },
    ] as const) {
      expect(parseWorkerCommand(serializeWorkerCommand(c))).toEqual(c);
    }
    expect(
      parseWorkerCommand('{"type":"model-published","model":"m","version":1}'),
    ).toBeUndefined();
    expect(parseWorkerCommand('{"type":"unload","model":"m","version":0}')).toBeUndefined();
    expect(parseWorkerCommand('{"type":"unload"}')).toBeUndefined();
    expect(parseWorkerCommand('not json')).toBeUndefined();
  });
});

describe('worker settings', () => {
  it('derives ids, pinned refs and a concurrency above the batch size', () => {
    const s = settingsFromConfig(
      loadConfig('inference-worker', {
        PINNED_MODELS: 'vad/1, cls/2,vad/1',
        BATCH_MAX_SIZE: '32',
        INFER_WORKER_CONCURRENCY: '8',
      }),
      { hostname: 'pod:a', pid: 7 },
    );
    expect(s.workerId).toBe('pod_a-7');
    expect(s.pinned).toEqual([
      { model: 'vad', version: 1 },
      { model: 'cls', version: 2 },
    ]);
    expect(s.concurrency).toBe(64);
    expect(s.recentTtlSeconds).toBe(120);
    expect(defaultWorkerId('', 1)).toBe('worker-1');
    expect(settingsFromConfig(loadConfig('inference-worker', { WORKER_ID: 'w-1' })).workerId).toBe(
      'w-1',
    );
  });

  it('reads MemAvailable rather than MemFree', () => {
    expect(parseMemInfo('MemTotal:  1000 kB\nMemFree:  10 kB\nMemAvailable:  250 kB\n')).toBe(0.25);
    expect(parseMemInfo('MemTotal: 1000 kB\n')).toBeUndefined();
  });
});
