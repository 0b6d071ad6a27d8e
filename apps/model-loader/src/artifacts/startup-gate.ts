import { Injectable } from '@nestjs/common';

/**
 * Startup order of the loader. Jobs wait for `diskReady` (leftover staging removed, cached
 * versions checked) so nothing is served from a copy reconciliation is about to drop; readiness
 * also waits for the pinned versions.
 */
@Injectable()
export class StartupGate {
  readonly diskReady: Promise<void>;
  private openDisk!: () => void;
  /** Why the loader is not ready yet; undefined once it is. */
  status: string | undefined = 'reconciling the disk cache';

  constructor() {
    this.diskReady = new Promise((resolve) => (this.openDisk = resolve));
  }

  markDiskReady(): void {
    this.openDisk();
  }
}
