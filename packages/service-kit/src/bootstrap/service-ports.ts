import type { VariableName } from '@strata/config';
import type { ServiceId } from '../core/service-kit.tokens';

/** The variable holding each service's HTTP port. */
export const PORT_VARIABLE = {
  gateway: 'GATEWAY_PORT',
  'model-loader': 'MODEL_LOADER_PORT',
  'inference-worker': 'INFERENCE_WORKER_PORT',
  'telemetry-sender': 'TELEMETRY_SENDER_PORT',
} as const satisfies Record<ServiceId, VariableName>;
