import { describeServiceLifecycle } from '@strata/testing';

describeServiceLifecycle('telemetry-sender', { checks: ['redis', 'postgres'] });
