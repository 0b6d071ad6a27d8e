import * as path from 'node:path';

/** Root of the monorepo (this file is packages/testing/{src,dist}/…). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The built entry point of an app: `apps/<name>/dist/main.js`. */
export function appMain(name: string): string {
  return path.join(REPO_ROOT, 'apps', name, 'dist', 'main.js');
}
