/**
 * End to end, as the audience and the presenter live it: real headless Chromium, the real
 * gateway (python -m gateway) serving the built page, the fake vLLM streaming behind it.
 * The cases run in order and share the gateway: one talk, told from first question to raffle.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeVllm } from "./fake-vllm.mjs";
import { ARTIFACTS, PHONE, startChromium, startGateway } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function identityOf(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem("tubedemo.identity.v2") ?? "null"));
}

/** Collects the Content Security Policy violations of every page of a context. */
async function watchCsp(context) {
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
  });
}

/** Records every distinct text of the answer box as the DOM changes (what a person sees). */
async function recordAnswerFrames(page) {
  await page.evaluate(() => {
    window.__frames = [];
    const seen = () => {
      const el = document.querySelector('[data-testid="answer"]');
      const text = el ? el.textContent : null;
      const frames = window.__frames;
      if (text && frames[frames.length - 1] !== text) frames.push(text);
    };
    new MutationObserver(seen).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
}

describe("audience page and presenter screen against the real gateway", () => {
  let fake;
  let gw;
  let browser;
  let phoneA;
  let pageA;
  let pageB;
  let winnerTicket;
  let firstDraw;
  const outside = [];
  const chatHeaders = [];
  const issuedTokens = [];
  const identitiesSent = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    fake = await startFakeVllm({ tokenDelayMs: 60, slowFirstTokenMs: 7500 });
    gw = await startGateway({ upstreamPort: fake.port });
    browser = await startChromium();
    phoneA = await browser.newContext(PHONE);
    await watchCsp(phoneA);
    pageA = await phoneA.newPage();
    pageA.on("request", (r) => {
      if (!r.url().startsWith(gw.url)) outside.push(r.url());
      if (r.url().endsWith("/v1/chat/completions")) chatHeaders.push(r.headers());
      const route = new URL(r.url()).pathname;
      if (route === "/v1/chat/completions" || route === "/api/survey/submit") {
        identitiesSent.push({ route, identity: r.headers()["x-tubedemo-identity"], made: r.headers()["x-client-id"] });
      }
    });
    pageA.on("response", async (r) => {
      if (new URL(r.url()).pathname === "/api/identity" && r.ok()) issuedTokens.push((await r.json()).token);
    });
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await fake?.close();
  });

  it("says live status is unavailable until the CLI publishes it", async () => {
    await pageA.goto(`${gw.url}/`);
    await pageA.getByTestId("status-unavailable").waitFor({ timeout: 10_000 });
    assert.match(await pageA.getByTestId("status-unavailable").innerText(), /live status unavailable/i);
  });

  it("is usable by keyboard: Tab reaches the question and the button, with a visible focus ring", async () => {
    const reached = [];
    for (let i = 0; i < 12 && !reached.includes("BUTTON"); i++) {
      await pageA.keyboard.press("Tab");
      reached.push(await pageA.evaluate(() => document.activeElement?.tagName ?? ""));
      if (reached.at(-1) === "TEXTAREA") await pageA.keyboard.type("x");
    }
    assert.ok(reached.includes("TEXTAREA") && reached.includes("BUTTON"), reached.join(","));
    const ring = await pageA.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow };
    });
    assert.notEqual(ring.style, "none");
    assert.ok(ring.width >= 2 && ring.shadow !== "none", JSON.stringify(ring));
    await pageA.getByLabel("Your question").fill("");
  });

  it("keeps text contrast at WCAG AAA (7:1) for reading in sunlight", async () => {
    const ratios = await pageA.evaluate(() => {
      const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = getComputedStyle(e).backgroundColor;
          if (!c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c;
        }
        return "rgb(255, 255, 255)";
      };
      const out = {};
      for (const sel of ["h1", "h2", "label", ".status-strip p, .status-grid dd", ".char-count", ".footer"]) {
        const el = document.querySelector(sel);
        if (!el) continue;
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(rgb(background(el)));
        out[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      }
      return out;
    });
    assert.ok(Object.keys(ratios).length >= 5, JSON.stringify(ratios));
    for (const [sel, ratio] of Object.entries(ratios)) {
      assert.ok(ratio >= 7, `${sel} contrast ${ratio.toFixed(2)} < 7`);
    }
  });

  it("streams the answer in: the sign changes several times before it completes", async () => {
    await recordAnswerFrames(pageA);
    await pageA.getByLabel("Your question").fill("Which is the deepest station?");
    await pageA.getByRole("button", { name: "Ask the tube-bot" }).click();
    await pageA.getByTestId("timing").waitFor({ timeout: 20_000 });
    const frames = await pageA.evaluate(() => window.__frames);
    const final = await pageA.getByTestId("answer").innerText();
    assert.match(final, /Mind the gap, guv!/);
    assert.match(final, /Which is the deepest station\?/);
    const partial = frames.filter((f) => f.trim() !== final.trim());
    assert.ok(partial.length >= 3, `expected several partial paints, got ${partial.length}`);
    assert.match(await pageA.getByTestId("timing").innerText(), /Answered in \d+\.\d s/);
    await pageA.screenshot({ path: path.join(ARTIFACTS, "phone-quiz-answer.png") });
  });

  it("asks with the identity the gateway issued it and marks the first question as counted", async () => {
    const me = await identityOf(pageA);
    assert.equal(chatHeaders.length, 1);
    assert.equal(chatHeaders[0]["x-tubedemo-identity"], me.token);
    assert.deepEqual(issuedTokens, [me.token], "obtained once, from POST /api/identity");
    assert.ok(me.token.startsWith(`${me.clientId}.`));
    assert.equal(chatHeaders[0]["x-tubedemo-counted"], "true");
    assert.equal(me.asked, 1);
  });

  it("after the counted question offers only the marked not-counted path, with a kind retry", async () => {
    await pageA.getByTestId("counted-used").waitFor();
    assert.equal(await pageA.getByRole("button", { name: "Ask the tube-bot" }).count(), 0);
    await pageA.getByTestId("ask-another").click();
    await pageA.getByTestId("not-counted-badge").waitFor();
    await pageA.getByLabel("Your question").fill("[flaky] Why is it called the Tube?");
    await pageA.getByRole("button", { name: "Ask (not counted)" }).click();
    await pageA.getByTestId("problem").waitFor({ timeout: 15_000 });
    await pageA.getByTestId("retry").click();
    await pageA.getByTestId("timing").waitFor({ timeout: 20_000 });
    assert.match(await pageA.getByTestId("answer").innerText(), /called the Tube/);
    assert.deepEqual(
      chatHeaders.slice(1).map((h) => h["x-tubedemo-counted"]),
      ["false", "false"],
    );
    const results = await gw.getJson("/api/survey/results");
    assert.equal(results.questions, 1, "only the counted question is recorded");
  });

  it("explains a slow answer while waiting instead of hanging silently", async () => {
    await pageA.getByLabel("Your question").fill("[slow] How long is the Central line?");
    await pageA.getByRole("button", { name: "Ask (not counted)" }).click();
    await pageA.getByText("more trains (GPUs) are being called in").waitFor({ timeout: 7_000 });
    assert.equal(await pageA.getByTestId("answer").count(), 0, "the note shows before any answer");
    assert.match(await pageA.getByTestId("waiting").innerText(), /Waiting at the platform… \d+ s/);
    await pageA.getByTestId("timing").waitFor({ timeout: 20_000 });
  });

  it("shows the scaling the CLI publishes: commuters are queue × multiplier", async () => {
    await gw.admin("POST", "/api/admin/status", {
      queue: 6,
      multiplier: 50,
      virtual_commuters: 300,
      replicas: { ready: 1, desired: 3, max: 8 },
      gpu_nodes: 2,
      updated_at: new Date().toISOString(),
    });
    await pageA.getByTestId("status-strip").waitFor({ timeout: 6_000 });
    assert.equal(await pageA.getByTestId("status-queue").innerText(), "6");
    assert.equal(await pageA.getByTestId("status-commuters").innerText(), "300");
    assert.equal(await pageA.getByTestId("status-pods").innerText(), "1/3");
    assert.equal(await pageA.getByTestId("status-gpus").innerText(), "2");
    await pageA.screenshot({ path: path.join(ARTIFACTS, "phone-quiz-status.png") });
  });

  it("keeps the identity and the used question across a reload", async () => {
    const before = await identityOf(pageA);
    await pageA.reload();
    await pageA.getByTestId("counted-used").waitFor({ timeout: 10_000 });
    const afterReload = await identityOf(pageA);
    assert.equal(afterReload.clientId, before.clientId);
    assert.equal(afterReload.asked, 1);
  });

  it("flips to the survey live, without a reload and without losing typed text", async () => {
    await pageA.evaluate(() => {
      window.__sameDocument = true;
    });
    await pageA.getByTestId("ask-another").click();
    await pageA.getByLabel("Your question").fill("half-typed question about Bank");
    await gw.admin("POST", "/api/admin/mode", { mode: "survey" });
    await pageA.getByTestId("survey-form").waitFor({ timeout: 5_000 });
    await pageA.getByRole("radio", { name: /^4/ }).check();
    await pageA.getByLabel("Company").fill("Acme Rail");
    await pageA.getByLabel(/Display name/).fill("Ada");
    await gw.admin("POST", "/api/admin/mode", { mode: "quiz" });
    await pageA.getByTestId("ask-form").waitFor({ timeout: 5_000 });
    assert.equal(await pageA.getByLabel("Your question").inputValue(), "half-typed question about Bank");
    await gw.admin("POST", "/api/admin/mode", { mode: "survey" });
    await pageA.getByTestId("survey-form").waitFor({ timeout: 5_000 });
    assert.equal(await pageA.getByLabel("Company").inputValue(), "Acme Rail");
    assert.equal(await pageA.getByLabel(/Display name/).inputValue(), "Ada");
    assert.ok(await pageA.getByRole("radio", { name: /^4/ }).isChecked());
    assert.equal(await pageA.evaluate(() => window.__sameDocument), true, "no reload happened");
    await pageA.screenshot({ path: path.join(ARTIFACTS, "phone-survey.png") });
  });

  it("submits the survey and confirms it", async () => {
    await pageA.getByRole("button", { name: "Submit & enter the raffle" }).click();
    await pageA.getByTestId("confirmation").waitFor({ timeout: 10_000 });
    assert.match(await pageA.getByTestId("confirmation").innerText(), /4\/5[\s\S]*Acme Rail/);
    const me = await identityOf(pageA);
    assert.ok(me.submission?.id, "the submission id is remembered for the raffle");
    await pageA.screenshot({ path: path.join(ARTIFACTS, "phone-survey-confirmed.png") });
  });

  it("a second phone is a different person and enters too", async () => {
    const phoneB = await browser.newContext(PHONE);
    pageB = await phoneB.newPage();
    await pageB.goto(`${gw.url}/`);
    await pageB.getByTestId("survey-form").waitFor({ timeout: 10_000 });
    await pageB.getByRole("radio", { name: /^2/ }).check();
    await pageB.getByRole("button", { name: "Submit & enter the raffle" }).click();
    await pageB.getByText("Please enter your company").waitFor({ timeout: 2_000 });
    await pageB.getByLabel("Company").fill("Other Co");
    await pageB.getByRole("button", { name: "Submit & enter the raffle" }).click();
    await pageB.getByTestId("confirmation").waitFor({ timeout: 10_000 });
    assert.notEqual((await identityOf(pageB)).clientId, (await identityOf(pageA)).clientId);
  });

  it("draw through the admin API: the winner's phone says 'you won' within 3 s, the other does not", async () => {
    const draw = await gw.admin("POST", "/api/admin/draw", { count: 1, seed: 11, redraw: false });
    const started = Date.now();
    assert.equal(draw.winners.length, 1);
    const winnerId = draw.winners[0].id;
    const phones = [
      { page: pageA, me: await identityOf(pageA) },
      { page: pageB, me: await identityOf(pageB) },
    ];
    const isWinner = (p) => p.me.submission.id === winnerId;
    const winners = phones.filter(isWinner);
    const losers = phones.filter((p) => !isWinner(p));
    firstDraw = { winner: winners[0], loser: losers[0] };
    assert.equal(winners.length, 1, `draw winner ${winnerId} matches exactly one phone`);
    await winners[0].page.getByTestId("you-won").waitFor({ timeout: 3_000 });
    const wonAfterMs = Date.now() - started;
    await losers[0].page.getByTestId("draw-lost").waitFor({ timeout: 3_000 });
    assert.equal(await losers[0].page.getByTestId("you-won").count(), 0);
    assert.ok(wonAfterMs <= 3_000);
    console.log(`winner phone lit up ${wonAfterMs} ms after the draw`);
    winnerTicket = (await winners[0].page.getByTestId("ticket").innerText()).replace(/^Ticket\s*/i, "");
    assert.match(winnerTicket, /^[0-9A-Z]{1,6}$/);
    await winners[0].page.screenshot({ path: path.join(ARTIFACTS, "phone-won.png") });
    await losers[0].page.screenshot({ path: path.join(ARTIFACTS, "phone-not-won.png") });
  });

  it("presenter screen: QR, live counts, histogram, top companies and the winners", async () => {
    const desk = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    const screen = await desk.newPage();
    await screen.goto(`${gw.url}/screen`);
    await screen.getByTestId("qr").waitFor({ timeout: 10_000 });
    await screen.getByTestId("winners-reveal").waitFor({ timeout: 6_000 });
    assert.equal(await screen.getByTestId("count-questions").innerText(), "1");
    assert.equal(await screen.getByTestId("count-responses").innerText(), "2");
    assert.match(await screen.getByTestId("companies").innerText(), /Acme Rail/);
    assert.match(await screen.getByTestId("companies").innerText(), /Other Co/);
    assert.match(await screen.getByTestId("winners-reveal").innerText(), new RegExp(`ticket ${winnerTicket}`));
    assert.equal(await screen.getByTestId("audience-url").innerText(), gw.url.replace("http://", ""));
    const qrBox = await screen.getByTestId("qr").boundingBox();
    assert.ok(qrBox.width >= 400, `QR is big on the projector (${qrBox.width}px)`);
    await screen.screenshot({ path: path.join(ARTIFACTS, "screen.png") });
    await desk.close();
  });

  it("a redraw lights up the next phone, and the first winner keeps their win after a reload", async () => {
    const { winner, loser } = firstDraw;
    const draw = await gw.admin("POST", "/api/admin/draw", { count: 1, seed: 12, redraw: true });
    assert.equal(draw.winners[0].id, loser.me.submission.id, "the only one left is drawn");
    await loser.page.getByTestId("you-won").waitFor({ timeout: 3_000 });
    await winner.page.reload();
    await winner.page.getByTestId("you-won").waitFor({ timeout: 5_000 });
    assert.equal(await winner.page.getByTestId("draw-lost").count(), 0);
  });

  it("a new talk session starts a fresh identity on the open phone", async () => {
    const before = await identityOf(pageA);
    await gw.admin("POST", "/api/admin/session", { name: "second talk" });
    await pageA.getByTestId("survey-form").waitFor({ timeout: 6_000 });
    const fresh = await identityOf(pageA);
    assert.notEqual(fresh.session, before.session);
    assert.notEqual(fresh.clientId, before.clientId);
    assert.equal(fresh.submission, null);
  });

  it("loaded nothing from outside the gateway (no fonts, CDNs or trackers)", async () => {
    await sleep(100);
    assert.deepEqual(outside, []);
  });

  it("ran under the gateway's strict Content Security Policy without a violation", async () => {
    assert.deepEqual(await pageA.evaluate(() => window.__csp), []);
    const policy = (await fetch(`${gw.url}/`)).headers.get("content-security-policy");
    assert.match(policy, /script-src 'self'/);
  });

  it("asked and entered only with identities the gateway issued, never one of its own", () => {
    assert.ok(identitiesSent.length >= 4, JSON.stringify(identitiesSent));
    for (const sent of identitiesSent) {
      assert.ok(issuedTokens.includes(sent.identity), `${sent.route} sent ${sent.identity}`);
      assert.equal(sent.made, undefined);
    }
    assert.equal(issuedTokens.length, 2, "one identity per talk session");
  });
});

describe("a venue NAT: many phones opening the page at once from one address", () => {
  let fake;
  let gw;
  let browser;

  before(async () => {
    fake = await startFakeVllm({ tokenDelayMs: 5 });
    // one identity at once per address, then one every 10 s
    gw = await startGateway({
      upstreamPort: fake.port,
      env: { TUBEDEMO_IDENTITY_BURST: "1", TUBEDEMO_IDENTITY_PER_MIN: "6" },
    });
    browser = await startChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await fake?.close();
  });

  it("the phone that finds the barrier busy says so, waits as told and then asks", async () => {
    const first = await (await browser.newContext(PHONE)).newPage();
    await first.goto(`${gw.url}/`);
    await first.getByTestId("ask-form").waitFor({ timeout: 10_000 });
    const second = await (await browser.newContext(PHONE)).newPage();
    const refused = [];
    second.on("response", (r) => {
      if (new URL(r.url()).pathname === "/api/identity") refused.push(r.status());
    });
    await second.goto(`${gw.url}/`);
    await second.getByText("Queue at the ticket barrier").waitFor({ timeout: 10_000 });
    await second.getByTestId("ask-form").waitFor({ timeout: 25_000 });
    assert.equal(refused[0], 429);
    assert.equal(refused.at(-1), 200);
    await second.getByLabel("Your question").fill("Which is the deepest station?");
    await second.getByRole("button", { name: "Ask the tube-bot" }).click();
    await second.getByTestId("timing").waitFor({ timeout: 20_000 });
  });
});

describe("a question queued past the gateway's keep-alive (CloudFront drops a silent origin)", () => {
  let fake;
  let gw;
  let browser;

  before(async () => {
    fake = await startFakeVllm({ tokenDelayMs: 20, slowFirstTokenMs: 2_500 });
    // keep-alives every 0.5 s: the stream is committed (200) long before the first token
    gw = await startGateway({ upstreamPort: fake.port, env: { TUBEDEMO_STREAM_KEEPALIVE_S: "0.5" } });
    browser = await startChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await fake?.close();
  });

  /** A new phone asking `question`; resolves with the page and the chat response's status and
   * the milliseconds from the click to its headers. */
  async function ask(question) {
    const page = await (await browser.newContext(PHONE)).newPage();
    await page.goto(`${gw.url}/`);
    await page.getByTestId("ask-form").waitFor({ timeout: 10_000 });
    await page.getByLabel("Your question").fill(question);
    const clicked = Date.now();
    const headers = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/chat/completions");
    await page.getByRole("button", { name: "Ask the tube-bot" }).click();
    const response = await headers;
    return { page, status: response.status(), headersMs: Date.now() - clicked };
  }

  it("shows the answer that came after the keep-alives", async () => {
    const { page, status, headersMs } = await ask("[queued] Which line is the oldest?");
    assert.equal(status, 200);
    assert.ok(headersMs < 2_000, `headers after ${headersMs} ms: before the first token`);
    await page.getByTestId("timing").waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("answer").innerText(), /Mind the gap, guv!/);
    assert.match(await page.getByTestId("timing").innerText(), /Answered in \d+\.\d s/);
  });

  it("shows the kind failure when the model server drops the committed stream", async () => {
    const { page, status } = await ask("[queued-dies] Which line is the deepest?");
    assert.equal(status, 200, "the error comes inside the stream");
    await page.getByTestId("problem").waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("problem").innerText(), /lost its train of thought/);
    assert.equal(await page.getByTestId("answer").count(), 0);
  });
});
