// Opens an HTML ladder in Debian's chromium (headless, no network), clicks one arrow, and
// prints what the page then shows: the panel's text, whether the arrow is marked, page errors.
// Usage: node click.mjs FILE.html ARROW-ID SCREENSHOT.png
import { openPage } from './browser.mjs';

const [html, id, shot] = process.argv.slice(2);
const errors = [];
const { browser, page } = await openPage(errors, 1600);
try {
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
