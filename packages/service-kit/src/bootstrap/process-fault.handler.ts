import type { Logger } from 'pino';

/** Uncaught exceptions and unhandled rejections: one fatal JSON line, then exit 1. */
export function installProcessFaultHandler(
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  process.on('uncaughtException', (err: Error, origin: string) => {
    logger.fatal({ err, origin }, `uncaught exception: ${err.message}`);
    exit(1);
  });
  process.on('unhandledRejection', (reason: unknown) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    logger.fatal({ err, origin: 'unhandledRejection' }, `unhandled rejection: ${err.message}`);
    exit(1);
  });
}
