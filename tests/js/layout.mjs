// Opens a page (a report's index.html, or an SVG/HTML ladder) in Debian's chromium at a given
// viewport width and measures what a reader would see: whether the page scrolls sideways
// (and which elements stick out), and every SVG text drawn past its own drawing's edge.
// Prints JSON; writes a full-page screenshot.
// Usage: node layout.mjs FILE WIDTH SHOT.png
import { openPage } from './browser.mjs';

const [file, width, shot] = process.argv.slice(2);
const errors = [];
const { browser, page } = await openPage(errors, Number(width));
try {
  await page.goto('file://' + file, { waitUntil: 'load' });
  const out = await page.evaluate(() => {
    const doc = document.documentElement;
    const vw = doc.clientWidth;
    // An element inside a box that scrolls on its own (overflow auto/scroll/hidden) does not
    // widen the page: only elements whose every ancestor lets overflow through count.
    const contained = e => {
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
      }
      return false;
    };
    const wide = [];
    for (const e of document.body ? document.body.querySelectorAll('*') : []) {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1 && !contained(e) && !(e.closest('svg') && e.tagName !== 'svg')) {
        wide.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''} right=${Math.round(r.right)}`);
      }
    }
    const clipped = [];
    for (const svg of document.querySelectorAll('svg')) {
      const s = svg.getBoundingClientRect();
      for (const t of svg.querySelectorAll('text')) {
        const b = t.getBoundingClientRect();
        if (b.width > 0 && (b.right > s.right + 0.5 || b.left < s.left - 0.5)) {
          clipped.push(`${Math.round(b.left - s.left)}..${Math.round(b.right - s.left)} of ${Math.round(s.width)}: ${t.textContent.trim().slice(0, 60)}`);
        }
      }
    }
    // Boxes that scroll sideways on their own (a table wider than the window): named, so a
    // caller can allow some (a ladder with many columns) and refuse others.
    const scrollers = [];
    for (const e of document.body ? document.body.querySelectorAll('*') : []) {
      const o = getComputedStyle(e).overflowX;
      if ((o === 'auto' || o === 'scroll') && e.scrollWidth > e.clientWidth + 1) {
        scrollers.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''} ${e.scrollWidth}>${e.clientWidth}`);
      }
    }
    return { viewport: vw, scrollWidth: doc.scrollWidth, wide: wide.slice(0, 20), clipped: clipped.slice(0, 20), scrollers: scrollers.slice(0, 40) };
  });
  await page.screenshot({ path: shot, fullPage: false });
  out.errors = errors;
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
