import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Registry per process, never prom-client's global one, so that several apps in one test
 * process do not collide. Every series carries `service="<name>"`.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
