// Opens a pyheap report in a real browser (Debian's chromium, headless,
// driven by playwright-core) and prints one JSON line for
// tests/test_report.py: console errors, page errors, any request the page
// made beyond its own file, the texts of the summary and the suspects, the
// tiles of the treemap, and the type table's first column and aria-sort
// before and after clicking column headers. Saves a full-page screenshot.
//
// usage: node report_browser.js CHROMIUM REPORT.html SCREENSHOT.png PROFILE_DIR
'use strict';
const path = require('path');
const {pathToFileURL} = require('url');
const {chromium} = require('playwright-core');

async function main() {
  const [executablePath, report, screenshot, profile] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: {width: 1400, height: 1000},
  });
  const result = {console_errors: [], page_errors: [], requests: []};
  try {
    const page = await context.newPage();
    const url = pathToFileURL(path.resolve(report)).href;
    page.on('console', message => {
      if (message.type() === 'error' || message.type() === 'warning') {
        result.console_errors.push(message.type() + ': ' + message.text());
      }
    });
    page.on('pageerror', error => result.page_errors.push(String(error)));
    page.on('request', request => {
      if (request.url() !== url) result.requests.push(request.url());
    });
    const started = Date.now();
    await page.goto(url, {waitUntil: 'load'});
    await page.waitForSelector('body[data-ready="true"]', {timeout: 60000});
    result.load_ms = Date.now() - started;
    result.summary = await page.locator('#summary').innerText();
    result.suspects = await page.locator('#suspects').innerText();
    result.tiles = await page.locator('#treemap .tile').count();
    result.top_rows = await page.locator('#toplist tbody tr').count();

    const headers = await page.locator('#types thead th').allInnerTexts();
    result.headers = headers;
    const column = async index => page.locator('#types tbody tr').evaluateAll(
        (rows, i) => rows.map(row => {
          const cell = row.children[i];
          return cell.hasAttribute('data-value') ? Number(cell.getAttribute('data-value')) : cell.textContent;
        }), index);
    const sortState = async () => page.locator('#types thead th').evaluateAll(
        cells => cells.map(cell => cell.getAttribute('aria-sort')));
    result.initial = {names: await column(0), sort: await sortState()};
    // click "type": by name, ascending
    await page.locator('#types thead th').nth(0).click();
    result.by_name = {names: await column(0), sort: await sortState()};
    // the page sorts names with localeCompare: check with the same rule
    result.by_name.sorted = result.by_name.names.every(
        (name, i, names) => i === 0 || names[i - 1].localeCompare(name) <= 0);
    // click the second column (objects, or objects A): descending, then again: ascending
    await page.locator('#types thead th').nth(1).click();
    result.by_count_descending = {values: await column(1), names: await column(0), sort: await sortState()};
    await page.locator('#types thead th').nth(1).click();
    result.by_count_ascending = {values: await column(1), sort: await sortState()};
    result.row_count = await page.locator('#types tbody tr').count();
    await page.screenshot({path: screenshot, fullPage: true});
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(result));
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
