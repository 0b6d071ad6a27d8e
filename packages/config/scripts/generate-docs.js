// Rewrites the configuration table in the root README between its two markers.
const fs = require('node:fs');
const path = require('node:path');
const { renderConfigTable } = require('../dist');

const readme = path.resolve(__dirname, '../../../README.md');
const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';
const text = fs.readFileSync(readme, 'utf8');
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a < 0 || b < a) {
  console.error(`README.md has no ${START} ... ${END} markers`);
  process.exit(1);
}
const next = `${text.slice(0, a + START.length)}\n${renderConfigTable()}\n${text.slice(b)}`;
fs.writeFileSync(readme, next);
console.log('README.md configuration table updated');
