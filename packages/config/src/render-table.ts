import { SCHEMA, type VarSpec } from './schema';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The README's configuration table, generated so it cannot drift from the schema. */
export function renderConfigTable(): string {
  const rows = (Object.entries(SCHEMA) as [string, VarSpec<unknown>][]).map(([name, spec]) => {
    const def =
      spec.default === undefined ? '—' : spec.default === '' ? '(empty)' : `\`${spec.default}\``;
    const used = spec.usedBy === 'all' ? 'all' : spec.usedBy.join(', ');
    const req = spec.requiredBy?.length ? ` **Required by ${spec.requiredBy.join(', ')}.**` : '';
    return `| \`${name}\` | ${def} | ${cell(spec.parser.form)} | ${used} | ${cell(spec.description)}${req} |`;
  });
  return [
    '| Variable | Default | Form | Used by | Meaning |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
