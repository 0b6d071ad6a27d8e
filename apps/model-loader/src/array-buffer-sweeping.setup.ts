import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by main.ts: makes V8 free the ArrayBuffers of dead Buffers during the GC pause
 * instead of on a background thread.
 *
 * A download allocates a new 64 KiB Buffer for every socket read (~800 per 50 MiB). V8 counts
 * them as external memory until its array-buffer sweeper has freed them, and starts a full
 * mark-compact when that count passes its limit. On busy cores (this loader shares the machine
 * with inference workers) the background sweeper lags behind the reads, so the count kept
 * passing the limit: 3-4 mark-compacts per 50 MiB cold ensure, 75-145 ms of main thread each
 * download (`--trace-gc`). Sweeping in the pause costs about a millisecond per scavenge; the
 * bench (`bench/artifact-ensure.mjs`) measured 1-1.5 mark-compacts per download with it and
 * half the loader's CPU per cold ensure (500 → 230 ms).
 *
 * Setting V8 flags after start-up is allowed for this one: V8 reads it each time a sweep is
 * requested. On a Node whose V8 lacks the flag this prints a warning and changes nothing.
 */
setFlagsFromString('--no-concurrent-array-buffer-sweeping');
