// Parses each Mermaid file given with the mermaid package itself; exit 1 if any fails.
import { readFileSync } from 'node:fs';
const mermaid = (await import('mermaid')).default;
let bad = 0;
for (const f of process.argv.slice(2)) {
  try { await mermaid.parse(readFileSync(f, 'utf8')); console.log('ok', f); }
  catch (e) { bad++; console.log('FAIL', f, String(e.message || e).split('\n')[0]); }
}
process.exit(bad ? 1 : 0);
