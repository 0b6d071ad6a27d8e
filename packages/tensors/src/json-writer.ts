/**
 * JSON.stringify for plain data, except that negative zero is written `-0.0` instead of `0`:
 * float outputs (Silero's state, for one) carry -0.0, and a client comparing against ONNX Runtime
 * must get the same bits back from JSON. `JSON.parse('-0.0')` is -0.
 */
export function stringifyJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function write(value: unknown, out: string[]): void {
  if (typeof value === 'number') {
    out.push(value === 0 && 1 / value < 0 ? '-0.0' : JSON.stringify(value));
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      const v = value[i];
      // as JSON.stringify: undefined and functions in arrays become null
      if (v === undefined || typeof v === 'function') out.push('null');
      else write(v, out);
    }
    out.push(']');
    return;
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const toJSON = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof toJSON === 'function') {
      write(toJSON.call(value), out);
      return;
    }
    out.push('{');
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function') continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      write(v, out);
    }
    out.push('}');
    return;
  }
  out.push(JSON.stringify(value) ?? 'null');
}
