import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { S3ArtifactStore } from '@strata/model-registry';
import { ARTIFACT_STORE } from './artifact-source.factory';

/** Closes the S3 client's sockets on shutdown. */
@Injectable()
export class S3StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(ARTIFACT_STORE) private readonly store: Partial<S3ArtifactStore>) {}

  onApplicationShutdown(): void {
    this.store.destroy?.();
  }
}
