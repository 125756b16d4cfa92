// Opens an HTML ladder in Debian's chromium (headless, no network), clicks one arrow, and
// prints what the page then shows: the panel's text, whether the arrow is marked, page errors.
// Usage: node click.mjs FILE.html ARROW-ID SCREENSHOT.png
import puppeteer from 'puppeteer-core';

const [html, id, shot] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', r => { if (!r.url().startsWith('file:')) errors.push('fetch ' + r.url()); });
  await page.setViewport({ width: 1600, height: 900 });
  await page.goto('file://' + html, { waitUntil: 'load' });
  const before = await page.$eval('#msg-text', e => e.textContent);
  await page.click('#' + id);
  const text = await page.$eval('#msg-text', e => e.textContent);
  const selected = await page.$eval('#' + id, e => e.classList.contains('sel'));
  await page.screenshot({ path: shot });
  console.log(JSON.stringify({ before, text, selected, errors }));
} finally {
  await browser.close();
}
