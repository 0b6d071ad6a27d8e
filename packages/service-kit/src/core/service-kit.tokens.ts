import type { Config } from '@strata/config';

/** The four long-running services (the CLI is not one: it has no HTTP server). */
export const SERVICE_IDS = [
  'gateway',
  'model-loader',
  'inference-worker',
  'telemetry-sender',
] as const;
export type ServiceId = (typeof SERVICE_IDS)[number];

/**
 * The frozen configuration of the process (`loadConfig(service)`). Typed as the plain Config
 * because a kit shared by four services cannot know which service's required variables are set;
 * an app may narrow it with `ConfigFor<'gateway'>` where it injects it.
 */
export type ServiceConfig = Config;

/** Injection token: the frozen ServiceConfig. */
export const STRATA_CONFIG = Symbol('STRATA_CONFIG');
/** Injection token: the process's pino Logger. */
export const STRATA_LOGGER = Symbol('STRATA_LOGGER');
/** Injection token: the ServiceId of the process. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
/** Injection token: the prom-client Registry of the process (default label `service`). */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
