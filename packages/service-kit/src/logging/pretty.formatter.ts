// Turns one JSON log line into a short human-readable line for local runs (LOG_FORMAT=pretty).
// Hand-written so no pino-pretty transport thread is started.

const SKIP = new Set(['time', 'level', 'service', 'pid', 'hostname', 'msg', 'context', 'err']);

function clock(time: unknown): string {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  if (Number.isNaN(d.getTime())) return String(time);
  return d.toISOString().slice(11, 23);
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return oneLine(JSON.stringify(v) ?? String(v));
}

export function formatPrettyLine(record: Record<string, unknown>): string {
  const level = String(record.level ?? 'info').toUpperCase();
  const head = [clock(record.time), level.padEnd(5), String(record.service ?? '-')];
  if (typeof record.context === 'string') head.push(`[${record.context}]`);
  const parts = [head.join(' '), oneLine(String(record.msg ?? ''))];
  for (const [k, v] of Object.entries(record)) {
    if (!SKIP.has(k) && v !== undefined) parts.push(`${k}=${value(v)}`);
  }
  const err = record.err as { type?: string; message?: string } | undefined;
  if (err && typeof err === 'object') {
    parts.push(`err=${value(`${err.type ?? 'Error'}: ${err.message ?? ''}`)}`);
  }
  return parts.filter((p) => p.length > 0).join(' ');
}

/** A pino destination that writes each record as a pretty line. */
export function prettyDestination(out: { write(chunk: string): unknown }): {
  write(line: string): void;
} {
  return {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${formatPrettyLine(record)}\n`);
    },
  };
}
