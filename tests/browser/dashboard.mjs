// The dashboard in a real browser: Debian's chromium driven by playwright-core against
// cobs-server fed by `cobs-agent --simulate` (1 s interval). Clicks from nodes to node to
// pod to process; figures change within 5 s; charts have pixels; the simulator's hostile
// process name shows as text; no console error anywhere. A screenshot of every page goes
// to the artifact directory.
//   node dashboard.mjs BUILD_DIR ARTIFACT_DIR
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [build, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const children = [];
const problems = [];

function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stderr.on('data', () => {}); // drained, or the child blocks on a full pipe
  return child;
}

function serverUrl(child) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('cobs-server did not start')), 15000);
    child.stdout.on('data', d => {
      text += d;
      const m = text.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', code => reject(new Error('cobs-server exited with ' + code)));
  });
}

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise(r => setTimeout(r, 200));
  }
}

function check(ok, what) {
  if (!ok) throw new Error(what);
  console.log('ok - ' + what);
}

// Pixels that are not transparent in the page's first canvas matching sel.
const chartPixels = (page, sel = 'figure.chart canvas') => page.evaluate(sel => {
  const c = document.querySelector(sel);
  if (!c || !c.width) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
  return n;
}, sel);

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
}

async function main() {
  const server = start(join(build, 'bin/cobs-server'), ['--listen', '127.0.0.1:0']);
  const url = await serverUrl(server);
  start(join(build, 'bin/cobs-agent'),
        ['--simulate', '3', '--server', url, '--sim', 'interval=1s']);
  const nodes = await until('3 nodes with pods', async () => {
    const doc = await (await fetch(url + '/api/v1/nodes')).json();
    return doc.total === 3 && doc.nodes.every(n => n.pod_count > 0) && doc.nodes;
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    // launch() gives chromium a fresh profile directory of its own each time
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', m => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('pageerror', e => problems.push('page error: ' + e.message));
    page.on('response', r => { if (r.status() >= 400) problems.push(r.status() + ' for ' + r.url()); });
    page.on('dialog', d => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });

    // nodes
    await page.goto(url + '/');
    check(await page.locator('article.card').count() === 3, 'the nodes page shows a card per node');
    const spark = await until('a sparkline with pixels', async () => {
      await page.reload();
      const n = await until('sparkline', () => chartPixels(page, 'canvas.spark'), 2000).catch(() => 0);
      return n > 10 && n;
    }, 20000);
    check(spark > 10, 'the node cards have sparklines');
    await shot(page, 'nodes');

    // node: from its card
    const name = nodes[0].name;
    await page.click(`article.card[data-node="${name}"] a.name`);
    await page.waitForURL(url + '/nodes/' + encodeURIComponent(name));
    check((await page.locator('h1').first().textContent()).includes(name), 'the node page names the node');
    const cpu = page.locator('#summary dd').first();
    const before = await cpu.textContent();
    const start = Date.now();
    const after = await until('the node figures to change', async () => {
      const now = await cpu.textContent();
      return now !== before && now;
    }, 5000);
    check(after !== before && Date.now() - start <= 5500, 'the node figures changed within 5 s');
    await until('a chart with pixels', () => chartPixels(page), 10000);
    check(await chartPixels(page) > 100, 'the node charts are drawn');
    await page.waitForSelector('#pods tbody a');
    await shot(page, 'node');

    // pod: from the node's pod table
    await page.click('#pods tbody a');
    await page.waitForURL(/\/pods\//);
    check(await page.locator('section.container h2').count() > 0, 'the pod page shows its containers');
    await until('a pod chart with pixels', () => chartPixels(page), 10000);
    await shot(page, 'pod');

    // process: from the pod's process table
    await page.click('section.container tbody a');
    await page.waitForURL(/\/processes\/\d+$/);
    check(await page.locator('table.metrics tbody tr').count() > 10, 'the process page lists what was collected');
    await until('a process chart with pixels', () => chartPixels(page), 10000);
    check(await chartPixels(page) > 100, 'the process charts are drawn');
    await shot(page, 'process');

    // the hostile process: its name is text, not markup
    const hostile = '<img src=x onerror=alert(1)>';
    const series = await (await fetch(`${url}/api/v1/series?node=${encodeURIComponent(name)}&name=process_threads&max_points=1&max_series=1000`)).json();
    const evil = series.series.find(s => s.labels.comm === hostile);
    check(evil, 'the simulator runs a process named ' + hostile);
    await page.goto(`${url}/nodes/${encodeURIComponent(name)}/processes/${evil.labels.pid}`);
    check((await page.locator('main h1').textContent()).includes(hostile), 'the hostile name shows as text');
    check(await page.locator('main img').count() === 0, 'the hostile name made no element');
    await page.goto(`${url}/nodes/${encodeURIComponent(name)}`);
    await page.locator('details.service').first().waitFor();
    check(await page.locator('main img').count() === 0, 'the node page made no element of it either');
    await shot(page, 'hostile');

    check(problems.length === 0, 'no console error, page error or dialog' +
          (problems.length ? ': ' + problems.join('; ') : ''));
  } finally {
    await browser.close();
  }
}

main().then(() => { children.forEach(c => c.kill()); process.exit(0); },
            e => {
              console.error('not ok - ' + e.message);
              problems.forEach(p => console.error('  ' + p));
              children.forEach(c => c.kill());
              process.exit(1);
            });
