import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by main.ts: two V8 heap settings that halve the loader's CPU per download.
 * Setting these flags after start-up is allowed: V8 reads both each time it needs them. On a
 * Node whose V8 lacks one, this prints a warning and changes nothing.
 *
 * A download allocates a new 64 KiB Buffer for every socket read (~800 per 50 MiB), and the
 * objects around them (stream state, promises) are briefly alive; some are promoted to the old
 * generation by the scavenges those Buffers trigger.
 *
 * 1. `--heap-growing-percent=100`: after a mark-compact the old generation may grow to twice
 *    what survived before the next one starts. V8's own factor follows the allocation rate it
 *    has seen, and an idle loader (its usual state) allocates almost nothing, so V8 set the
 *    limit barely above the 41 MB live heap. A download then crossed that limit again and again:
 *    `--trace-gc` showed mark-compacts 60-80 ms apart that freed 0.5 MB each, 13-20 per 12 cold
 *    ensures of 50 MiB, and `perf` put a quarter of the loader's CPU in marking. With the fixed
 *    factor: 0-1 mark-compacts per 12 ensures, loader CPU per cold ensure 200-260 → 100-130 ms
 *    (bench/artifact-ensure.mjs, 2026-12-07). The cost: a heap up to ~2x its live size (~80 MB).
 *
 * 2. `--no-concurrent-array-buffer-sweeping`: V8 frees the ArrayBuffers of dead Buffers during the
 *    scavenge pause instead of on a background thread. V8 counts them as external memory until
 *    freed, and starts a full mark-compact when that count passes its limit; on busy cores the
 *    background sweeper lagged behind the reads (3-4 mark-compacts per 50 MiB before this
 *    setting, 2026-11-22). Sweeping in the pause costs about a millisecond per scavenge; with
 *    (1) in place it still saves 10-20 ms of CPU per cold ensure (2026-12-07).
 */
export const V8_HEAP_FLAGS = [
  '--heap-growing-percent=100',
  '--no-concurrent-array-buffer-sweeping',
] as const;

for (const flag of V8_HEAP_FLAGS) setFlagsFromString(flag);
