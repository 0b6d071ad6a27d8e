import { describeServiceLifecycle } from '@strata/testing';

describeServiceLifecycle('model-loader', {
  checks: ['redis', 'postgres', 'model-cache', 'artifact-cache'],
  cacheDir: 'created',
});
