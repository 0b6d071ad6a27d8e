/**
 * Engine errors carry a Rust span trace after the message ("   0: schema_engine_wasm::...") and,
 * for user-facing failures, a Prisma error code (P3xxx). Keep what a person needs to read.
 */
export function describeEngineError(error: unknown, panic?: string): string {
  if (panic !== undefined) return `the schema engine panicked: ${panic}`;
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const lines = error.message.split('\n');
  const traceStart = lines.findIndex((line) => /^\s+\d+: \S+::/.test(line));
  const message = (traceStart === -1 ? lines : lines.slice(0, traceStart))
    // The engine's generic header for any driver error; the line after it is the real message.
    .filter((line) => line.trim() !== 'external connector error')
    .join('\n')
    .trim();
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** An engine line of the form {"level":"INFO","fields":{"message":...},...}, when it is one. */
export function formatEngineLog(line: string): { level: string; text: string } | undefined {
  try {
    const parsed = JSON.parse(line) as { level?: string; fields?: Record<string, unknown> };
    if (!parsed.level) return undefined;
    const { message, ...rest } = parsed.fields ?? {};
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return { level: parsed.level, text: `${String(message ?? '')}${extra}` };
  } catch {
    return undefined;
  }
}
