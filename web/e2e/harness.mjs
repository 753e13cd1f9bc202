/**
 * Real components for the end-to-end tests: the real gateway (`python -m gateway`, the repo's
 * own code) on an ephemeral loopback port in front of the fake vLLM, and real headless Chromium.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = path.resolve(WEB_DIR, "..");
export const ARTIFACTS = path.join(REPO, "artifacts", "web");
export const ADMIN_TOKEN = "tubedemo-local"; // the rehearsal token TUBEDEMO_LOCAL=1 allows

const CHROMIUM = process.env.TUBEDEMO_CHROMIUM ?? "/usr/bin/chromium";
const PYTHON = process.env.TUBEDEMO_PYTHON ?? path.join(REPO, ".venv", "bin", "python");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the real gateway serving web/dist (or $TUBEDEMO_E2E_DIST, the folder a test built the
 * page into), with `env` on top; resolves with { url, admin(), stop() }. */
export async function startGateway({ upstreamPort, env = {} }) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const store = mkdtempSync(path.join(os.tmpdir(), "tubedemo-e2e-store-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = path.join(ARTIFACTS, "gateway.log");
  const log = openSync(logPath, "w");
  const child = spawn(PYTHON, ["-m", "gateway"], {
    cwd: REPO,
    env: {
      ...process.env,
      TUBEDEMO_LOCAL: "1",
      TUBEDEMO_HOST: "127.0.0.1",
      TUBEDEMO_PORT: String(port),
      TUBEDEMO_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      TUBEDEMO_STORE: store,
      TUBEDEMO_WEB_DIR: process.env.TUBEDEMO_E2E_DIST || path.join(WEB_DIR, "dist"),
      TUBEDEMO_MODE: "quiz",
      TUBEDEMO_TITLE: "Mind the GPU gap",
      TUBEDEMO_AUDIENCE_URL: `${url}/`,
      TUBEDEMO_MODEL: "fake-llama",
      ...env,
    },
    stdio: ["ignore", log, log],
  });
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const deadline = Date.now() + 40_000;
  for (;;) {
    if (exited) {
      throw new Error(`gateway exited (${JSON.stringify(exited)}): ${tail(logPath)}`);
    }
    try {
      const r = await fetch(`${url}/config`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gateway not up after 40 s: ${tail(logPath)}`);
    await sleep(150);
  }
  return {
    url,
    logPath,
    async admin(method, route, body) {
      const r = await fetch(`${url}${route}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${route} -> ${r.status}: ${text}`);
      return text === "" ? null : JSON.parse(text);
    },
    async getJson(route) {
      const r = await fetch(`${url}${route}`);
      if (!r.ok) throw new Error(`GET ${route} -> ${r.status}`);
      return r.json();
    },
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        for (let i = 0; i < 50 && !exited; i++) await sleep(100);
        if (!exited) child.kill("SIGKILL");
      }
      rmSync(store, { recursive: true, force: true });
    },
  };
}

function tail(file) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-25).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Real headless Chromium. playwright's launch() gives every run a fresh temporary profile
 * (user-data-dir) and every newContext() isolated storage: one context = one phone.
 */
export async function startChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: "en-GB",
};
