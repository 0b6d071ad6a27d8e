import { serviceEnv, spawnProcess } from '@strata/testing';
import * as path from 'node:path';

describe('process faults', () => {
  it('logs an uncaught exception as one fatal JSON line and exits 1', async () => {
    const env = await serviceEnv();
    const proc = spawnProcess({
      name: 'crash',
      script: path.join(__dirname, '..', 'fixtures', 'crash.fixture.js'),
      env,
      port: Number(env.INFERENCE_WORKER_PORT),
    });
    const exit = await proc.exited;
    expect(exit.code).toBe(1);
    const fatal = proc.logs.find((r) => r.level === 'fatal');
    expect(fatal).toMatchObject({
      service: 'inference-worker',
      msg: 'uncaught exception: boom after boot',
      err: { type: 'TypeError', message: 'boom after boot' },
    });
    expect(proc.stderr.join('\n')).toBe('');
  });
});
