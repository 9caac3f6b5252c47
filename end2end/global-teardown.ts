import * as fs from 'node:fs';
import * as path from 'node:path';

// Removes the run's database folder (made by playwright.config.ts), so that runs do
// not leave one behind in the temporary directory each time.
export default function globalTeardown(): void {
  const dir = process.env.NATTER_E2E_INTERNAL_DB_DIR;
  if (dir && path.basename(dir).startsWith('natter-e2e-')) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
