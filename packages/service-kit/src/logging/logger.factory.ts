import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { prettyDestination } from './pretty.formatter';

export type LogLevel = Level | 'silent';
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  readonly service: string;
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; stdout (synchronously, so nothing is lost on process.exit) by default. */
  readonly destination?: { write(chunk: string): unknown };
}

/**
 * The process logger: one JSON object per line with `time`, `level` (as a name), `service`,
 * `pid` and `msg`; errors go under `err` with their stack. LOG_FORMAT=pretty prints a short line.
 */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  const stream: DestinationStream =
    options.format === 'pretty' ? prettyDestination(out) : (out as DestinationStream);
  return pino(
    {
      level: options.level,
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    stream,
  );
}
