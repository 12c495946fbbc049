/**
 * The compose metrics stack as committed: prometheus.yml scrapes every service on its .env
 * port, Grafana's provisioning points at the compose Prometheus and Jaeger and at the folder
 * the dashboards are mounted in, every dashboard uses only provisioned datasources, and
 * `docker-compose config -q` (deploy/compose/check.sh) passes when a compose client exists.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { parse } from 'yaml';

import { dashboardFiles, dashboardMetricNames } from './dashboards';

const ROOT = path.resolve(__dirname, '../../../..');
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');
const yamlOf = (rel: string): Record<string, unknown> => parse(read(rel), { merge: true }) as Record<string, unknown>;

/** KEY=value lines of .env. */
function dotenv(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of read('.env').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

type ComposeService = { image?: string; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; command?: string[] };
const compose = yamlOf('docker-compose.yml') as { services: Record<string, ComposeService> };
const env = dotenv();
const interpolate = (s: string): string => s.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, k: string) => env.get(k) ?? `<unset ${k}>`);
const MFSIM_SERVICES = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'];

/** The container path a host path of the repo is mounted at in a compose service. */
function mountOf(service: string, hostPath: string): string | undefined {
  for (const v of compose.services[service]?.volumes ?? []) {
    const [host, container] = v.split(':');
    if (host && path.normalize(host) === path.normalize(hostPath)) return container;
  }
  return undefined;
}

describe('compose metrics stack: prometheus.yml', () => {
  const prom = yamlOf('deploy/prometheus/prometheus.yml') as { scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[] };

  it('scrapes GET /metrics of every mfsim compose service on the HTTP_PORT .env gives it', () => {
    const targets = new Set(prom.scrape_configs.filter((c) => (c.metrics_path ?? '/metrics') === '/metrics').flatMap((c) => c.static_configs.flatMap((s) => s.targets)));
    for (const name of MFSIM_SERVICES) {
      const svc = compose.services[name];
      assert.ok(svc, `compose has no ${name}`);
      const port = interpolate(String(svc.environment?.HTTP_PORT));
      assert.match(port, /^\d+$/, `${name}: HTTP_PORT ${port}`);
      assert.ok(targets.has(`${name}:${port}`), `prometheus.yml does not scrape ${name}:${port}; targets: ${[...targets].join(', ')}`);
    }
    assert.equal(targets.size, MFSIM_SERVICES.length, 'a target that is no mfsim service');
  });

  it('is the file the compose prometheus runs with', () => {
    const mounted = mountOf('prometheus', './deploy/prometheus/prometheus.yml');
    assert.ok(mounted);
    assert.ok(compose.services.prometheus?.command?.includes(`--config.file=${mounted}`));
  });

  it('promtool accepts it (when the prometheus package is installed)', (t) => {
    if (spawnSync('promtool', ['--version']).error) return t.skip('promtool is not installed (Debian package prometheus)');
    execFileSync('promtool', ['check', 'config', '--syntax-only', path.join(ROOT, 'deploy/prometheus/prometheus.yml')], { stdio: 'pipe' });
  });
});

describe('compose metrics stack: Grafana provisioning', () => {
  const ds = yamlOf('deploy/grafana/provisioning/datasources/datasources.yml') as { apiVersion: number; datasources: { uid: string; type: string; url: string }[] };
  const providers = yamlOf('deploy/grafana/provisioning/dashboards/dashboards.yml') as { apiVersion: number; providers: { type: string; options: { path: string } }[] };

  it('datasources: Prometheus and Jaeger, each at a compose service and its container port', () => {
    assert.equal(ds.apiVersion, 1);
    const byType = new Map(ds.datasources.map((d) => [d.type, d]));
    const prom = byType.get('prometheus');
    const jaeger = byType.get('jaeger');
    assert.equal(prom?.url, 'http://prometheus:9090');
    assert.equal(jaeger?.url, 'http://jaeger:16686');
    for (const d of [prom, jaeger]) {
      const host = new URL(String(d?.url)).hostname;
      assert.ok(compose.services[host], `${d?.type} points at ${host}, which is no compose service`);
    }
    assert.ok(compose.services.prometheus?.ports?.some((p) => p.endsWith(':9090')));
    assert.ok(compose.services.jaeger?.ports?.some((p) => p.endsWith(':16686')));
  });

  it('the provisioning folder and the dashboards folder are mounted where Grafana and the provider look', () => {
    assert.equal(mountOf('grafana', './deploy/grafana/provisioning'), '/etc/grafana/provisioning');
    const dir = mountOf('grafana', './deploy/grafana/dashboards');
    assert.equal(providers.apiVersion, 1);
    assert.deepEqual(providers.providers.map((p) => [p.type, p.options.path]), [['file', dir]]);
  });

  it('every dashboard parses, has a unique uid, queries some metric and uses only provisioned datasources', () => {
    const uids = new Set(ds.datasources.map((d) => d.uid));
    const files = dashboardFiles(path.join(ROOT, 'deploy/grafana/dashboards'));
    assert.deepEqual(files.map((f) => path.basename(f)), ['mfsim-chaos.json', 'mfsim-propagation-overview.json', 'mfsim-service-health.json']);
    const seen = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(readFileSync(f, 'utf8')) as { uid: string; title: string };
      assert.ok(!seen.has(d.uid), `${f}: uid ${d.uid} twice`);
      seen.add(d.uid);
      assert.ok(dashboardMetricNames(d).size > 0, `${f} queries nothing`);
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/"datasource":\s*\{[^}]*"uid":\s*"([^"]+)"/g)) {
        const uid = m[1] as string;
        assert.ok(uids.has(uid) || uid === '-- Grafana --', `${path.basename(f)} uses datasource ${uid}, not provisioned`);
      }
    }
  });

  it('the chaos dashboard draws the annotations tagged chaos', () => {
    const d = JSON.parse(read('deploy/grafana/dashboards/mfsim-chaos.json')) as { annotations: { list: { target?: { type?: string; tags?: string[] } }[] } };
    assert.ok(d.annotations.list.some((a) => a.target?.type === 'tags' && a.target.tags?.includes('chaos')));
  });

  it('image versions come from .env', () => {
    for (const [svc, key] of [['prometheus', 'PROMETHEUS_VERSION'], ['grafana', 'GRAFANA_VERSION']] as const) {
      assert.match(String(compose.services[svc]?.image), new RegExp(`:\\$\\{${key}\\}$`));
      assert.ok(env.get(key), `.env has no ${key}`);
    }
  });
});

describe('docker-compose config', () => {
  it('deploy/compose/check.sh passes (docker-compose -f docker-compose.yml config -q and the compose checks)', (t) => {
    const haveV1 = !spawnSync('docker-compose', ['version', '--short']).error;
    const haveV2 = spawnSync('docker', ['compose', 'version']).status === 0;
    if (!haveV1 && !haveV2) return t.skip('no compose client (CI installs docker-compose: .ci/run)');
    const r = spawnSync('bash', [path.join(ROOT, 'deploy/compose/check.sh')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `check.sh failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /ok {3}.*config -q/);
  });
  it('the checker exists', () => assert.ok(existsSync(path.join(ROOT, 'deploy/compose/check.sh'))));
});
