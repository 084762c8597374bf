// Opens a .heapsnapshot in Chrome DevTools' own Memory panel and prints,
// as JSON, what the panel shows:
//   node devtools_memory.js CHROMIUM PROFILE_DIR FILE CLASSES [BAD_FILE]
// CHROMIUM is started headless by puppeteer-core with DevTools opened for
// its tab (the front end bundled in Chromium, devtools://devtools/bundled/
// devtools_app.html, connected to that tab). The script shows the Memory
// panel, gives FILE to the file input of its "Load profile" button, waits
// until the profile in the sidebar has a size (loaded) and its Summary grid
// has rows, and reads the grid: each constructor row (name, count, retained
// size as shown) and, for each class named in CLASSES (comma-separated),
// the instance rows it shows when that row is expanded (name, @id,
// retained size as shown). With BAD_FILE, that file is loaded next and
// the script reports whether DevTools got to a size for it within 10 s.
// No network: every request goes to a dead proxy, host names do not
// resolve. Run with NODE_PATH pointing at node_modules holding puppeteer-core.
'use strict';
const puppeteer = require('puppeteer-core');

const sleep = ms => new Promise(r => setTimeout(r, ms));

// The text of the visible rows of the Summary grid, one array of cells each.
function gridRows(page) {
  return page.$$eval('pierce/tr.data-grid-data-grid-node', trs => trs.map(tr =>
    Array.from(tr.querySelectorAll('td')).map(td => {
      // A size cell: the value, then its percentage in a span of its own.
      const v = td.querySelector('.profile-multiple-values > span:first-child');
      return (v ? v.textContent : td.textContent).replace(/\s+/g, ' ').trim();
    })));
}

// Waits until the profile's sidebar item says its size, "(10.3 MB)", as
// DevTools writes it once the snapshot is parsed; null on success, else
// what the item says at the deadline.
async function waitLoaded(page, item, ms) {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = await item.evaluate(e => e.innerText.replace(/\s+/g, ' '));
    if (/\(\d[\d.,]* [kMG]?B\)$/.test(text)) return null;
    await sleep(200);
  }
  return text;
}

async function load(page, file, nth) {
  const input = await page.waitForSelector('pierce/input[type=file]');
  await input.uploadFile(file);
  await page.waitForFunction(n => {
    const found = [];
    const walk = root => {
      for (const e of root.querySelectorAll('*')) {
        if (e.matches('li.heap-snapshot-sidebar-tree-item')) found.push(e);
        if (e.shadowRoot) walk(e.shadowRoot);
      }
    };
    walk(document);
    return found.length >= n;
  }, {timeout: 60000, polling: 200}, nth);
  const items = await page.$$('pierce/li.heap-snapshot-sidebar-tree-item');
  return items[nth - 1];
}

async function main() {
  const [chromium, profile, file, classes, badFile] = process.argv.slice(2);
  const errors = [];
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true, userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--auto-open-devtools-for-tabs',
           '--disable-background-networking', '--disable-component-update',
           '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
           '--host-resolver-rules=MAP * ~NOTFOUND'],
  });
  try {
    const target = await browser.waitForTarget(
      t => t.url().startsWith('devtools://devtools/bundled/devtools_app.html'), {timeout: 60000});
    const page = await target.asPage();
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text().slice(0, 300)); });
    page.on('pageerror', e => errors.push(String(e).slice(0, 300)));
    await page.setViewport({width: 1400, height: 2400});
    await page.waitForSelector('pierce/#tab-elements', {timeout: 60000});
    await page.evaluate(async () => {
      const UI = await import('./ui/legacy/legacy.js');
      await UI.ViewManager.ViewManager.instance().showView('heap-profiler');
    });
    const t0 = Date.now();
    const item = await load(page, file, 1);
    const stuck = await waitLoaded(page, item, 300000);
    const result = {seconds: (Date.now() - t0) / 1000, loaded: !stuck, status: stuck};
    result.errors = errors;
    if (stuck) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return;
    }
    await item.click();
    await page.waitForSelector('pierce/tr.data-grid-data-grid-node', {timeout: 60000});
    result.seconds = (Date.now() - t0) / 1000;
    result.classes = (await gridRows(page)).map(c => ({name: c[0], retained: c[3]}));
    result.objects = [];
    for (const name of classes.split(',').filter(Boolean)) {
      const rows = await page.$$('pierce/tr.data-grid-data-grid-node');
      let row = null;
      for (const r of rows) {
        const first = await r.$eval('td', td => td.firstChild && td.firstChild.textContent);
        if (first === name) { row = r; break; }
      }
      if (!row) continue;
      await row.click();
      await page.keyboard.press('ArrowRight');
      // Expanded, the class shows its instances, "name @id", under it.
      const deadline = Date.now() + 60000;
      let shown = [];
      while (Date.now() < deadline && !shown.length) {
        await sleep(200);
        shown = (await gridRows(page)).filter(c => /@\d+$/.test(c[0]));
      }
      for (const c of shown) {
        const m = /^(.*)@(\d+)$/.exec(c[0]);
        if (m) result.objects.push({name: m[1].trim(), id: Number(m[2]), retained: c[3]});
      }
      await row.click();
      await page.keyboard.press('ArrowLeft');
      await sleep(300);
    }
    result.errors = errors.splice(0);
    if (badFile) {
      const bad = await load(page, badFile, 2);
      result.bad_status = await waitLoaded(page, bad, 10000);
      result.bad_errors = errors.splice(0);
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await browser.close();
  }
}
main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
