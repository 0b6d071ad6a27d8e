import type { VerifiedApiKey } from '@strata/api-keys';
import type { FastifyRequest } from 'fastify';

/** What the gateway attaches to a Fastify request while handling it. */
export interface StrataRequestState {
  startedAt: bigint;
  /** Set once the model is resolved, so metrics never carry names that do not exist. */
  model?: string;
  apiKey?: VerifiedApiKey;
}

const STATE = Symbol('strata');

type WithState = FastifyRequest & { [STATE]?: StrataRequestState };

export function requestState(request: FastifyRequest): StrataRequestState {
  const r = request as WithState;
  r[STATE] ??= { startedAt: process.hrtime.bigint() };
  return r[STATE];
}

/** Labels the request's metrics with its (resolved) model. */
export function setRequestModel(request: FastifyRequest | undefined, model: string): void {
  if (request) requestState(request).model = model;
}
