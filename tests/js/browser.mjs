// Debian's chromium through puppeteer-core, headless and offline, for the page checks
// (click.mjs, report.mjs): every page error, console error and non-file request is collected.
import puppeteer from 'puppeteer-core';

export async function openPage(errors, width = 1440) {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', r => { if (!r.url().startsWith('file:')) errors.push('fetch ' + r.url()); });
  page.on('requestfailed', r => errors.push('failed ' + r.url()));
  await page.setViewport({ width, height: 900 });
  return { browser, page };
}
