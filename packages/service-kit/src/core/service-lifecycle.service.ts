import { Injectable } from '@nestjs/common';

/**
 * Shutdown state of the process. Health endpoints answer 503 once it is shutting down.
 * Components that must finish work before anything is torn down (queue workers, later batch
 * loops) register a drain step; bootstrap runs them all before `app.close()`.
 */
@Injectable()
export class ServiceLifecycle {
  private shuttingDown = false;
  private readonly drains = new Map<string, () => Promise<void>>();

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  onDrain(name: string, drain: () => Promise<void>): void {
    this.drains.set(name, drain);
  }

  /** Runs every drain step in parallel; resolves when all have finished. */
  async drain(): Promise<void> {
    await Promise.all([...this.drains.values()].map((d) => d()));
  }
}
