// The processes that read configuration. A variable lists the ones that use it; a required
// variable lists the ones that refuse to start without it.
export const SERVICES = [
  'gateway',
  'model-loader',
  'inference-worker',
  'telemetry-sender',
  'cli',
] as const;
export type ServiceName = (typeof SERVICES)[number];
