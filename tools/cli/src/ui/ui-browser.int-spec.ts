/**
 * `mfsim ui` in a real browser (Debian's Chromium through playwright-core) against what the five
 * real services recorded: a reflinked failure (scenarios/examples/03) runs in distributed mode,
 * the page shows its kernel call tree across the services and the two processes' signals (the
 * injector: a forced BUS_MCEERR_AR; the late-kill reader of the other owner: none); then an unbind
 * of the same layout runs while the page is open, and its incident must appear live, with both
 * processes told BUS_MCEERR_AO for the device removal and the filesystem shut down.
 *
 * Chromium must be at /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Without
 * it the test fails in CI (CI set) and is skipped elsewhere, saying why. The screenshot goes to
 * MFSIM_UI_SCREENSHOT, else a temporary folder (its path is printed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseScenario, runScenarioDistributed, type Scenario } from '@mfsim/scenario';
import { REPO_ROOT, testKafkaBrokers, TestStack } from '@mfsim/testing';

import { KafkaCluster } from '../distributed/kafka-cluster';
import { startUiServer, type UiServer } from './ui-server';
import { PgSource } from './ui-source';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const hasChromium = existsSync(CHROMIUM);
const skip = !hasChromium && !process.env['CI'] ? `no browser at ${CHROMIUM} (apt-get install chromium)` : false;

function scenario(text: string, file: string): Scenario {
  const parsed = parseScenario(text, file);
  assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.issues));
  return parsed.scenario;
}

const REFLINK_FILE = path.join(REPO_ROOT, 'scenarios', 'examples', '03-reflinked-block-two-owners.yaml');
const REFLINK_TEXT = readFileSync(REFLINK_FILE, 'utf8');
/** The same layout, both pages faulted, then the pmem namespace unbound. */
const UNBIND_TEXT = `${REFLINK_TEXT.slice(0, REFLINK_TEXT.indexOf('injections:')).replace('name: 03-reflinked-block-two-owners', 'name: ui-unbind-two-owners')}injections:
  - id: u1
    unbind: { device: pmem0, pid: 1 }
expect:
  injections: { u1: { rc: 0 } }
`;

describe('mfsim ui in Chromium against the distributed stack', { skip, timeout: 600_000 }, () => {
  let stack: TestStack | undefined;
  let cluster: KafkaCluster | undefined;
  let source: PgSource | undefined;
  let server: UiServer | undefined;
  let browser: import('playwright-core').BrowserContext | undefined;
  let profile: string | undefined;

  before(async () => {
    assert.ok(hasChromium, `no browser at ${CHROMIUM}: the browser test needs Debian's chromium (apt-get install -y --no-install-recommends chromium)`);
    stack = await TestStack.start();
    cluster = await KafkaCluster.connect({ brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), dropOnClose: true, callTimeoutMs: 90_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await server?.close();
    await source?.close();
    await cluster?.close();
    await stack?.stop();
  });

  it('shows the reflinked failure, its tree and signals, then an unbind live', async () => {
    const s = stack as TestStack;
    const run = await runScenarioDistributed(scenario(REFLINK_TEXT, REFLINK_FILE), cluster as KafkaCluster);
    assert.equal(run.pass, true, 'the reflinked failure ran as the example expects');
    const incident = run.injections[0]?.incident.incident as string;

    source = await PgSource.open({ databaseUrl: s.database.url, traceTemplate: 'http://127.0.0.1:9411/zipkin/traces/{traceId}', pollMs: 250 });
    server = await startUiServer({ source, faults: [], historyFile: null, host: '127.0.0.1', port: 0 });

    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(path.join(tmpdir(), 'mfsim-ui-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${server.url}#incident=${incident}`);
    await page.locator(`#list tbody tr[data-id="${incident}"]`).waitFor();
    await page.locator('#incident-id', { hasText: incident }).waitFor();

    // The kernel call tree, hop by hop across the services.
    const hops = await page.locator('#waterfall .wf-row[data-hop]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-fn')}@${r.getAttribute('data-service')}`));
    for (const want of [
      'madvise_inject_error@mm-process',
      'memory_failure@mm-process',
      'pmem_pagemap_memory_failure@pmem-driver',
      'dax_holder_notify_failure@dax-core',
      'xfs_dax_notify_failure@xfs-fs',
      'mf_dax_kill_procs@mm-process',
    ]) {
      assert.ok(hops.includes(want), `${want} in the waterfall: ${hops.join(', ')}`);
    }
    assert.equal(hops.filter((h) => h === 'mf_dax_kill_procs@mm-process').length, 2, 'one mf_dax_kill_procs per rmap owner');
    assert.match((await page.locator('#timing').textContent()) ?? '', /times from the services' call records/);
    assert.match(await page.locator('#owners').innerText(), /xfs0:131[\s\S]*xfs0:132/);
    // The two processes: the injector (201) got a forced BUS_MCEERR_AR, the reader of testfile (200) nothing.
    const sig201 = await page.locator('#signals tbody tr[data-pid="201"]').innerText();
    assert.match(sig201, /SIGBUS\s+BUS_MCEERR_AR\s+late \(forced\)/);
    assert.equal(await page.locator('#signals tbody tr[data-pid="200"]').count(), 0);
    const link = await page.locator('#trace-link').getAttribute('href');
    assert.equal(link, `http://127.0.0.1:9411/zipkin/traces/${incident.replace(/-/g, '')}`);
    const shot = process.env['MFSIM_UI_SCREENSHOT'] ?? path.join(profile, 'ui-incident.png');
    await page.screenshot({ path: shot });
    process.stdout.write(`# screenshot: ${shot}\n`);

    // A new incident while the page is open: the unbind appears without a reload.
    const before = await page.locator('#list tbody tr').count();
    const unbind = await runScenarioDistributed(scenario(UNBIND_TEXT, 'ui-unbind.yaml'), cluster as KafkaCluster);
    const unbindId = unbind.injections[0]?.incident.incident as string;
    const row = page.locator(`#list tbody tr[data-id="${unbindId}"]`);
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /nd_pmem_remove/);
    assert.ok((await page.locator('#list tbody tr').count()) > before, 'the list grew');
    await row.click();
    await page.locator('#incident-id', { hasText: unbindId }).waitFor();
    await page.locator('#signals tbody tr[data-pid="200"]').waitFor();
    for (const pid of [200, 201]) {
      assert.match(await page.locator(`#signals tbody tr[data-pid="${pid}"]`).innerText(), /BUS_MCEERR_AO\s+pre-remove/);
    }
    assert.match(await page.locator('#shutdowns').innerText(), /XFS \(xfs0\).*Shutting down filesystem/);
    // Filters go to the server: pid 200 (the reader of testfile) was in the unbind, not in the reflinked failure.
    await page.fill('#filters input[name="pid"]', '200');
    await page.click('#filters button[type="submit"]');
    await page.locator(`#list tbody tr[data-id="${incident}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.locator(`#list tbody tr[data-id="${unbindId}"]`).count(), 1);
    await page.fill('#filters input[name="pid"]', '');
    // The server refuses a malformed pfn.
    await page.fill('#filters input[name="pfn"]', 'zz');
    await page.click('#filters button[type="submit"]');
    // The page shows the server's one-line 400 once the answer is there (the list stays as it was).
    await page.locator('#filter-error', { hasText: 'pfn: "zz" is not a page frame number' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(errors, [], 'no script error on the page');
  });
});
