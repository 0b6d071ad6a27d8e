import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY } from '@strata/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SourceKind } from './loader-errors';

export type EvictionReason = 'capacity' | 'disk_full' | 'unload' | 'clear' | 'corrupt';
export type VerificationPhase = 'download' | 'startup';

/** Every metric of the artifact cache (Prometheus naming: seconds, bytes, `_total`). */
@Injectable()
export class LoaderMetrics {
  readonly hits: Counter;
  readonly misses: Counter;
  readonly downloads: Counter<'source' | 'outcome'>;
  readonly downloadBytes: Counter<'source'>;
  readonly downloadDuration: Histogram<'source'>;
  readonly verificationFailures: Counter<'phase'>;
  readonly evictions: Counter<'reason'>;
  readonly diskUsed: Gauge;
  readonly diskCap: Gauge;
  readonly lockWait: Histogram;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.hits = new Counter({
      name: 'strata_artifact_cache_hits_total',
      help: 'ensure requests answered from a verified copy already on disk.',
      registers,
    });
    this.misses = new Counter({
      name: 'strata_artifact_cache_misses_total',
      help: 'ensure requests that found no verified copy and waited for a download.',
      registers,
    });
    this.downloads = new Counter({
      name: 'strata_artifact_downloads_total',
      help: 'Version downloads attempted, by source (s3 | origin) and outcome (ok | error).',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.downloadBytes = new Counter({
      name: 'strata_artifact_download_bytes_total',
      help: 'Bytes received from artifact sources, by source.',
      labelNames: ['source'],
      registers,
    });
    this.downloadDuration = new Histogram({
      name: 'strata_artifact_download_duration_seconds',
      help: 'Duration of successful version downloads (fetch, verify, fsync, commit), by source.',
      labelNames: ['source'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.verificationFailures = new Counter({
      name: 'strata_artifact_verification_failures_total',
      help: 'Artifacts whose size or sha256 did not match the manifest (download) or cached copies found corrupt (startup).',
      labelNames: ['phase'],
      registers,
    });
    this.evictions = new Counter({
      name: 'strata_artifact_evictions_total',
      help: 'Versions removed from the disk cache, by reason (capacity | disk_full | unload | clear | corrupt).',
      labelNames: ['reason'],
      registers,
    });
    this.diskUsed = new Gauge({
      name: 'strata_artifact_disk_used_bytes',
      help: 'Bytes of the verified versions in the disk cache.',
      registers,
    });
    this.diskCap = new Gauge({
      name: 'strata_artifact_disk_cap_bytes',
      help: 'MODEL_DISK_CACHE_MAX_BYTES.',
      registers,
    });
    this.lockWait = new Histogram({
      name: 'strata_artifact_lock_wait_seconds',
      help: 'Time spent waiting for the per-version download lock.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120],
      registers,
    });
  }

  download(source: SourceKind, outcome: 'ok' | 'error'): void {
    this.downloads.inc({ source, outcome });
  }

  evicted(reason: EvictionReason, count = 1): void {
    this.evictions.inc({ reason }, count);
  }
}
