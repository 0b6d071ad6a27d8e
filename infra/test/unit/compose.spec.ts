// Keeps docker-compose.yml, the Dockerfiles and the Prometheus/Grafana files in line with the
// code: the configuration schema of @strata/config decides which variables exist, which ones a
// service needs and what their values must look like.
import { loadConfig, SCHEMA, type ServiceName, type VariableName } from '@strata/config';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '../../..');
const SERVICES = ['gateway', 'model-loader', 'inference-worker', 'telemetry-sender'] as const;
type Service = (typeof SERVICES)[number];
const PORT_VAR: Record<Service, VariableName> = {
  gateway: 'GATEWAY_PORT',
  'model-loader': 'MODEL_LOADER_PORT',
  'inference-worker': 'INFERENCE_WORKER_PORT',
  'telemetry-sender': 'TELEMETRY_SENDER_PORT',
};

/**
 * Compose interpolation with nothing set in the shell: `${VAR:-default}` and `${VAR-default}`
 * give the default, `${VAR}` gives '', `$$` is a literal `$`.
 */
function interpolate(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _braced: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      return fallback ?? '';
    },
  );
}

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  container_name?: string;
  ports?: unknown[];
}

interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
// `merge: true` applies `<<:` merge keys the way Compose does.
const compose = parse(composeText, { merge: true }) as ComposeFile;

function envOf(service: string): Record<string, string> {
  const raw = compose.services[service]?.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((line) => {
        const i = line.indexOf('=');
        return i < 0 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(raw);
  return Object.fromEntries(
    entries.map(([k, v]) => [k, v === null || v === undefined ? '' : interpolate(String(v))]),
  );
}

function volumeMounts(service: string): { source: string; target: string }[] {
  return (compose.services[service]?.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return { source, target };
    }
    return { source: v.source ?? '', target: v.target ?? '' };
  });
}

function commandText(c: string | string[] | undefined): string {
  return Array.isArray(c) ? c.join(' ') : (c ?? '');
}

describe('docker-compose.yml', () => {
  it('is a Compose Specification file (no obsolete version key)', () => {
    expect(compose.version).toBeUndefined();
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        ...SERVICES,
        'redis',
        'postgres',
        'minio',
        'minio-init',
        'migrate',
        'prometheus',
        'grafana',
      ]),
    );
  });

  it('keeps repeated settings in the x-strata-env anchor', () => {
    expect(composeText).toMatch(/^x-strata-env: &strata-env$/m);
  });

  describe.each(SERVICES)('%s', (service) => {
    const env = envOf(service);
    const def = compose.services[service]!;

    it('sets only variables the configuration schema knows', () => {
      const unknown = Object.keys(env).filter((k) => !(k in SCHEMA));
      expect(unknown).toEqual([]);
    });

    it('sets every variable the service requires', () => {
      const required = (Object.keys(SCHEMA) as VariableName[]).filter((k) => {
        const spec = SCHEMA[k] as { requiredBy?: readonly ServiceName[] };
        return spec.requiredBy?.includes(service) ?? false;
      });
      const missing = required.filter((k) => !env[k]);
      expect(missing).toEqual([]);
    });

    it('has values that load with @strata/config', () => {
      expect(() => loadConfig(service, env)).not.toThrow();
    });

    it('sets its port variable and checks /readyz on it', () => {
      const port = env[PORT_VAR[service]];
      expect(port).toMatch(/^\d+$/);
      expect(def.healthcheck?.disable).not.toBe(true);
      expect(commandText(def.healthcheck?.test)).toContain(`127.0.0.1:${port}/readyz`);
    });

    it('starts after redis, postgres and the migrations', () => {
      const deps = def.depends_on as Record<string, { condition?: string }>;
      expect(deps.migrate?.condition).toBe('service_completed_successfully');
      expect(deps.redis?.condition).toBe('service_healthy');
      expect(deps.postgres?.condition).toBe('service_healthy');
    });

    it('is built from its own Dockerfile with the repository as context', () => {
      expect(def.build?.context).toBe('.');
      expect(def.build?.dockerfile).toBe(`apps/${service}/Dockerfile`);
    });
  });

  it('lets inference-worker scale: no fixed container name, published port or WORKER_ID', () => {
    const w = compose.services['inference-worker']!;
    expect(w.container_name).toBeUndefined();
    expect(w.ports ?? []).toEqual([]);
    expect(envOf('inference-worker').WORKER_ID).toBeUndefined();
  });

  it('gives model-loader and inference-worker one disk cache: same volume, path and domain', () => {
    const loader = envOf('model-loader');
    const worker = envOf('inference-worker');
    expect(loader.MODEL_CACHE_DIR).toBeTruthy();
    expect(worker.MODEL_CACHE_DIR).toBe(loader.MODEL_CACHE_DIR);
    expect(loader.CACHE_DOMAIN).toBeTruthy();
    expect(worker.CACHE_DOMAIN).toBe(loader.CACHE_DOMAIN);
    expect(worker.PINNED_MODELS).toBe(loader.PINNED_MODELS);
    const at = (s: string) => volumeMounts(s).find((m) => m.target === loader.MODEL_CACHE_DIR);
    expect(at('model-loader')?.source).toBe('model-cache');
    expect(at('inference-worker')?.source).toBe('model-cache');
    expect(compose.volumes).toHaveProperty('model-cache');
  });

  it('runs redis with AOF persistence and without key eviction', () => {
    const cmd = commandText(compose.services.redis!.command).replace(/\s+/g, ' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(compose.services.redis!.healthcheck?.test).toBeDefined();
  });

  it('has healthchecks on redis, postgres and minio', () => {
    for (const s of ['redis', 'postgres', 'minio']) {
      expect(compose.services[s]!.healthcheck?.test).toBeDefined();
    }
  });

  it('creates the bucket the loader reads before the loader starts', () => {
    const init = compose.services['minio-init']!;
    expect(commandText(init.command)).toContain('mc mb');
    expect(envOf('minio-init').S3_BUCKET).toBe(envOf('model-loader').S3_BUCKET);
    const deps = compose.services['model-loader']!.depends_on as Record<
      string,
      { condition?: string }
    >;
    expect(deps['minio-init']?.condition).toBe('service_completed_successfully');
  });

  it('runs migrations with a DATABASE_URL that loads and matches the services', () => {
    const migrate = envOf('migrate');
    expect(() => loadConfig('cli', { ...migrate, S3_BUCKET: 'unused-here' })).not.toThrow();
    expect(migrate.DATABASE_URL).toBe(envOf('gateway').DATABASE_URL);
  });
});

describe('Dockerfiles', () => {
  it.each(SERVICES)('apps/%s/Dockerfile builds a production image as non-root', (service) => {
    const file = path.join(ROOT, 'apps', service, 'Dockerfile');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^FROM node:24-bookworm-slim AS \w+/m);
    expect(text).toContain('pnpm install --frozen-lockfile');
    expect(text).toContain(`--filter=./apps/${service}...`);
    expect(text).toMatch(/pnpm (--filter=\S+ )?--prod deploy|pnpm deploy .*--prod/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK /m);
    expect(text).toContain('CMD ["node", "dist/main.js"]');
  });

  it('has a .dockerignore that keeps local state and build output out of the context', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/dist', '.strata', '.git']) {
      expect(ignore).toContain(p);
    }
  });
});

describe('Prometheus and Grafana', () => {
  const promDir = path.join(ROOT, 'infra/prometheus');

  it('scrapes /metrics of every service on its port', () => {
    const prom = parse(readFileSync(path.join(promDir, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    for (const service of SERVICES) {
      const job = prom.scrape_configs.find((j) => j.job_name === service);
      expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
      expect(job?.dns_sd_configs?.[0]?.names).toEqual([service]);
      expect(String(job?.dns_sd_configs?.[0]?.port)).toBe(envOf(service)[PORT_VAR[service]]);
    }
  });

  it('provisions the Prometheus datasource the dashboard uses', () => {
    const ds = parse(
      readFileSync(
        path.join(ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml'),
        'utf8',
      ),
    ) as { datasources: { uid: string; url: string }[] };
    const dashboard = JSON.parse(
      readFileSync(path.join(ROOT, 'infra/grafana/dashboards/strata-services.json'), 'utf8'),
    ) as { panels: { datasource?: { uid?: string } }[] };
    expect(ds.datasources[0]!.url).toBe('http://prometheus:9090');
    expect(dashboard.panels.length).toBeGreaterThan(0);
    for (const p of dashboard.panels) expect(p.datasource?.uid).toBe(ds.datasources[0]!.uid);
  });

  const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
  const promtoolTest = promtool ? it : it.skip;
  promtoolTest(
    promtool
      ? 'passes promtool check config and check rules'
      : 'passes promtool checks — SKIPPED: promtool not installed (apt-get install -y prometheus)',
    () => {
      const out = execFileSync(
        'promtool',
        ['check', 'config', path.join(promDir, 'prometheus.yml')],
        {
          encoding: 'utf8',
        },
      );
      expect(out).toContain('SUCCESS');
      expect(existsSync(path.join(promDir, 'alerts.yml'))).toBe(true);
      const rules = execFileSync('promtool', ['check', 'rules', path.join(promDir, 'alerts.yml')], {
        encoding: 'utf8',
      });
      expect(rules).toContain('SUCCESS');
    },
  );
});

describe('interpolate', () => {
  it('follows Compose rules with nothing set in the shell', () => {
    expect(interpolate('${A:-x}/${B-y}/${C}/$$D/$E')).toBe('x/y//$D/');
  });
});
