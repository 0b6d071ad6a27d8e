import { describeServiceLifecycle } from '@strata/testing';

describeServiceLifecycle('inference-worker', {
  checks: ['redis', 'model-cache'],
  cacheDir: 'required',
});
