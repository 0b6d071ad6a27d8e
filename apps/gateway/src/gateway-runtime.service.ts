import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { S3ArtifactStore } from '@strata/model-registry';
import { ServiceLifecycle } from '@strata/service-kit';
import { InferQueue } from './inference/infer-queue.adapter';
import { RegistryEventsSubscriber } from './registry/registry-events.subscriber';
import { S3_STORE } from './tokens';

/**
 * Start and stop of what the gateway runs besides HTTP: the registry events subscription at
 * boot; on SIGTERM, requests waiting for workers are allowed to finish (drain) before the queue
 * connections close.
 */
@Injectable()
export class GatewayRuntime implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly queue: InferQueue,
    private readonly events: RegistryEventsSubscriber,
    private readonly lifecycle: ServiceLifecycle,
    @Inject(S3_STORE) private readonly store: S3ArtifactStore | undefined,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.events.start();
    this.lifecycle.onDrain('infer-waits', () => this.queue.drain());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    this.store?.destroy();
  }
}
