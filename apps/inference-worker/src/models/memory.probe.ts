import { readFile } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';

/** Injection token: the {@link MemoryProbe}. */
export const MEMORY_PROBE = Symbol('MEMORY_PROBE');

export interface MemoryProbe {
  /** Fraction (0–1) of system memory still available. */
  freeFraction(): Promise<number>;
}

/** `MemAvailable / MemTotal` from meminfo text; undefined when either is missing. */
export function parseMemInfo(text: string): number | undefined {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const available = field('MemAvailable');
  const total = field('MemTotal');
  if (available === undefined || !total) return undefined;
  return available / total;
}

/**
 * MemAvailable from /proc/meminfo on Linux: unlike os.freemem (MemFree) it counts page cache the
 * kernel can drop, so a worker does not evict models just because files were read recently.
 * Elsewhere os.freemem / os.totalmem.
 */
export const SYSTEM_MEMORY_PROBE: MemoryProbe = {
  async freeFraction() {
    const text = await readFile('/proc/meminfo', 'utf8').catch(() => undefined);
    const fraction = text === undefined ? undefined : parseMemInfo(text);
    return fraction ?? freemem() / totalmem();
  },
};
