import type { Logger } from 'pino';

export interface ShutdownSteps {
  /** Makes /healthz and /readyz answer 503 `shutting down`. */
  markNotReady(): void;
  /** Registered drain steps: queue workers stop taking jobs and finish the active ones. */
  drain(): Promise<void>;
  /** `app.close()`: destroy hooks, the HTTP server stops accepting, then connections close. */
  closeApp(): Promise<void>;
}

export interface ShutdownOptions {
  readonly logger: Logger;
  readonly timeoutSeconds: number;
  readonly steps: ShutdownSteps;
  readonly exit?: (code: number) => void;
}

/**
 * Returns the function run on SIGTERM/SIGINT. Drain steps (queue workers) run before app.close():
 * Nest's destroy hooks tear down feature modules before global ones, and running jobs may still
 * use those modules' resources. Exit 0 when everything closed, 1 after
 * SHUTDOWN_TIMEOUT or on an error.
 */
export function createShutdownHandler(options: ShutdownOptions): (signal: string) => Promise<void> {
  const { logger, steps, timeoutSeconds } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const run = async (signal: string): Promise<void> => {
    logger.info({ signal, timeoutSeconds }, `${signal} received, shutting down`);
    const timer = setTimeout(() => {
      logger.error({ timeoutSeconds }, `shutdown took longer than ${timeoutSeconds} s, exiting`);
      exit(1);
    }, timeoutSeconds * 1000);
    try {
      steps.markNotReady();
      await steps.drain();
      logger.info('drained: no active jobs left');
      await steps.closeApp();
      clearTimeout(timer);
      logger.info('shutdown complete');
      exit(0);
    } catch (err) {
      clearTimeout(timer);
      logger.error({ err }, `shutdown failed: ${(err as Error).message}`);
      exit(1);
    }
  };

  return (signal: string) => {
    if (running) {
      logger.warn({ signal }, `${signal} received again, already shutting down`);
      return running;
    }
    running = run(signal);
    return running;
  };
}
