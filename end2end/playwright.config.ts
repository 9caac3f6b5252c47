import { defineConfig, devices } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Everything about the server under test comes from the environment, set by
// the runner script:
//   NATTER_BIN       absolute path of the release `natter` binary
//   NATTER_E2E_PORT  free TCP port for the server to listen on (127.0.0.1)
// Other variables (LEPTOS_SITE_ROOT, RUST_LOG, ...) are passed through to it.

function requireEnv(name: string, what: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`natter e2e: environment variable ${name} is not set; set it to ${what}.`);
  }
  return value;
}

const natterBin = requireEnv('NATTER_BIN', 'the absolute path of the release natter binary');
if (!path.isAbsolute(natterBin)) {
  throw new Error(`natter e2e: NATTER_BIN must be an absolute path, got ${JSON.stringify(natterBin)}.`);
}
if (!fs.existsSync(natterBin)) {
  throw new Error(`natter e2e: NATTER_BIN=${natterBin} does not exist; build the server first.`);
}

const port = requireEnv('NATTER_E2E_PORT', 'a free TCP port for the server (e.g. 3456)');
if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
  throw new Error(`natter e2e: NATTER_E2E_PORT must be a port number, got ${JSON.stringify(port)}.`);
}

const baseURL = `http://127.0.0.1:${port}`;

// A fresh database for every run. Playwright evaluates this file in the runner
// and again in each worker process; the runner creates the directory and the
// workers (which inherit its environment) reuse it instead of making their own.
const DB_DIR_VAR = 'NATTER_E2E_INTERNAL_DB_DIR';
if (!process.env[DB_DIR_VAR]) {
  process.env[DB_DIR_VAR] = fs.mkdtempSync(path.join(os.tmpdir(), 'natter-e2e-'));
}
const dbFile = path.join(process.env[DB_DIR_VAR]!, 'natter.db');
if (!fs.existsSync(dbFile)) {
  // An empty file is a valid empty SQLite database; creating it means the
  // server does not need create-if-missing semantics.
  fs.writeFileSync(dbFile, '');
}

// A port for the test push service (tests/push.spec.ts), the one prefix the server
// may push to besides public https:// (`--push-allow-endpoint`). Chosen once here
// and inherited by the workers, like the database directory.
const PUSH_PORT_VAR = 'NATTER_E2E_PUSH_PORT';
if (!process.env[PUSH_PORT_VAR]) {
  process.env[PUSH_PORT_VAR] = execFileSync('python3', [
    '-c',
    "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
  ])
    .toString()
    .trim();
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const serverCommand = [
  shellQuote(natterBin),
  '--bind', `127.0.0.1:${port}`,
  '--public-origin', shellQuote(baseURL),
  '--database-url', shellQuote(`sqlite://${dbFile}`),
  // Every test signs up fresh users from 127.0.0.1, far beyond the per-IP defaults
  // (tests/it/http.rs tests the limits themselves).
  '--sign-up-per-minute', '1000', '--sign-in-per-minute', '1000',
  '--push-allow-endpoint', shellQuote(`http://127.0.0.1:${process.env[PUSH_PORT_VAR]}/`),
].join(' ');

const passThroughEnv: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) {
  if (value !== undefined) passThroughEnv[key] = value;
}

export default defineConfig({
  testDir: './tests',
  globalTeardown: './global-teardown.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
  webServer: {
    command: serverCommand,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: passThroughEnv,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
