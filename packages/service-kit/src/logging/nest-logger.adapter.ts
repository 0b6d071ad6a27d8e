import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

// Nest announces every module and route at boot; useful when debugging, noise otherwise.
const FRAMEWORK_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'NestApplication',
]);

function looksLikeStack(s: unknown): s is string {
  return typeof s === 'string' && /\n\s+at /.test(s);
}

/** Sends Nest's own log calls (`Logger.log(message, context)`) through the process's pino. */
export class NestLoggerAdapter implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: PinoLevel, message: unknown, params: unknown[]): void {
    const rest = [...params];
    // Nest passes the context last: (message, context) or, for errors, (message, stack, context).
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' && !looksLikeStack(rest.at(-1))
        ? (rest.pop() as string)
        : undefined;
    if (level === 'info' && context && FRAMEWORK_CONTEXTS.has(context)) level = 'debug';
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    const stack = rest.find(looksLikeStack);
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      this.logger[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      if (stack) fields.stack = stack;
      this.logger[level](fields, String(message));
    }
  }
}
