// Opens a sipscope report in Debian's chromium (headless, no network) and uses it as an
// engineer would: reads the summary, filters the call list by outcome and by text, follows a
// call's link to its section, clicks an arrow of its ladder. Prints what the page showed and
// every page error or network fetch, as JSON; writes screenshots into SHOTS-DIR.
// Usage: node report.mjs REPORT-DIR/index.html SHOTS-DIR OUTCOME
import { openPage } from './browser.mjs';

const [html, shots, outcome] = process.argv.slice(2);
const errors = [];
const out = {};
const { browser, page } = await openPage(errors);
try {
  await page.goto('file://' + html, { waitUntil: 'load' });
  await page.screenshot({ path: shots + '/report-top.png' });
  const rows = () => page.$$eval('#calls-table tbody tr', trs =>
    trs.map(tr => ({ outcome: tr.className.replace(/^o-/, ''), id: tr.dataset.callId })));
  out.all = (await rows()).length;
  out.charts = await page.$$eval('#charts svg', s => s.length);
  out.summary = await page.$eval('#summary', e => e.innerText);
  await page.$eval('#alerts', e => e.scrollIntoView());
  await page.screenshot({ path: shots + '/report-alerts.png' });
  await page.$eval('#network', e => e.scrollIntoView());
  await page.screenshot({ path: shots + '/report-network.png' });
  await page.select('#f-outcome', outcome);
  const filtered = await rows();
  out.filtered = filtered.length;
  out.filteredOutcomes = [...new Set(filtered.map(r => r.outcome))];
  await page.$eval('#calls', e => e.scrollIntoView());
  await page.screenshot({ path: shots + '/report-calls-filtered.png' });
  await page.select('#f-outcome', '');
  const first = filtered[0] && filtered[0].id;
  await page.type('#f-text', first || 'no-such-call');
  out.searched = (await rows()).map(r => r.id);
  // Follow the call's link to its section, then click the first arrow of its ladder.
  const link = await page.$('#calls-table tbody tr a');
  out.linked = !!link;
  if (link) {
    await link.click();
    const hash = await page.evaluate(() => location.hash);
    out.hash = hash;
    const sec = hash.slice(1);
    out.sectionCallId = await page.$eval('#' + sec, e => e.dataset.callId);
    out.ladderSvg = await page.$eval('#' + sec + ' .ladder svg', e => e.getBoundingClientRect().height);
    await page.click('#' + sec + '-m0');
    out.panel = await page.$eval('#' + sec + ' .msg-text', e => e.textContent);
    out.selected = await page.$eval('#' + sec + '-m0', e => e.classList.contains('sel'));
    await page.screenshot({ path: shots + '/report-call.png' });
  }
  out.errors = errors;
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
