import { describeServiceLifecycle } from '@strata/testing';

describeServiceLifecycle('gateway', { checks: ['redis', 'postgres'] });
