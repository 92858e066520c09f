// Drives /usr/bin/chromium (or $CHROMIUM) through playwright-core for tests/live_page.rs.
// Reads one JSON command per line on stdin, answers one JSON line on stdout:
//   {"cmd":"open","url":U}                        -> {"first_data_ms":N}
//   {"cmd":"figures","after_ms":T,"timeout_ms":N} -> the figures the page shows, from
//                                                    operations and providers frames at or after T
//   {"cmd":"wait_alert","name":A,"timeout_ms":N}  -> {"seen_unix_ms":T} once A shows firing
//   {"cmd":"act","name":A,"action":"ack"|"silence","token":T,"by":B}
//                                                 -> acknowledges or silences firing A from
//                                                    its row, once the page shows it done
//   {"cmd":"forecast","after_ms":T,"timeout_ms":N} -> the forecast view as drawn from a frame at
//                                                    or after T: each projection's limit time and
//                                                    text, each recommendation's text and figures
//   {"cmd":"screenshot","view":V,"path":P}        -> {"path":P}
//   {"cmd":"report"}                              -> every request URL and console error
//   {"cmd":"close"}
// Errors answer {"error":"..."}.
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const profile = mkdtempSync(join(tmpdir(), "voxscope-live-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const requests = [];
const consoleErrors = [];
context.on("request", (request) => requests.push(request.url()));
const page = context.pages()[0] ?? await context.newPage();
page.on("console", (message) => {
  if (message.type() === "error") consoleErrors.push(message.text());
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));

const commands = {
  async open({ url }) {
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.firstDataMs !== undefined, null, { timeout: 10000 });
    return { first_data_ms: Number(await page.evaluate(() => document.body.dataset.firstDataMs)) };
  },

  async figures({ after_ms, timeout_ms }) {
    await page.waitForFunction((after) => ["operations", "providers"].every(
      (v) => Number(document.getElementById(`view-${v}`).dataset.atMs || 0) >= after), after_ms, { timeout: timeout_ms });
    return page.evaluate(() => {
      const value = (node) => (node && node.dataset.value !== "" ? Number(node.dataset.value) : null);
      const rows = (id) => [...document.querySelectorAll(`[data-panel="${id}"] tbody tr`)]
        .map((tr) => ({ labels: JSON.parse(tr.dataset.labels), value: value(tr), text: tr.lastChild.textContent }));
      const live = document.querySelector('[data-panel="live-calls"] .value');
      return {
        operations_at_ms: Number(document.getElementById("view-operations").dataset.atMs),
        providers_at_ms: Number(document.getElementById("view-providers").dataset.atMs),
        live_calls: value(live),
        live_calls_text: live ? live.firstChild.textContent : null,
        requests: rows("requests-by-provider-and-outcome-total"),
        fallbacks: rows("fallbacks-total"),
        circuits: rows("circuit-state-1-open"),
      };
    });
  },

  async wait_alert({ name, timeout_ms }) {
    await page.locator(`#alerts-body tr[data-alertname="${name}"][data-state="firing"]`).first()
      .waitFor({ state: "attached", timeout: timeout_ms });
    return { seen_unix_ms: Date.now() };
  },

  async act({ name, action, token, by }) {
    await page.evaluate(() => { location.hash = "alerts"; });
    await page.fill('#engine-token input[name="by"]', by);
    await page.fill('#engine-token input[name="token"]', token);
    await page.click('#engine-token button[type="submit"]');
    const row = `#alerts-body tr[data-alertname="${name}"][data-state="firing"]`;
    const label = action === "ack" ? "Ack" : "Silence 1 h";
    await page.locator(row).first().getByRole("button", { name: label, exact: true }).click();
    const done = action === "ack" ? `${row}[data-acknowledged="true"]` : `${row}[data-silenced="true"]`;
    await page.locator(done).first().waitFor({ state: "attached", timeout: 10000 });
    return { result: await page.textContent("#action-result") };
  },

  async forecast({ after_ms, timeout_ms }) {
    await page.evaluate(() => { location.hash = "forecast"; });
    await page.waitForFunction((after) => Number(document.getElementById("view-forecast").dataset.atMs || 0) >= after,
      after_ms, { timeout: timeout_ms });
    return page.evaluate(() => {
      const section = document.getElementById("view-forecast");
      return {
        at_ms: Number(section.dataset.atMs),
        projections: [...section.querySelectorAll("[data-projection]")].map((node) => ({
          id: node.dataset.projection,
          limit_at_ms: node.dataset.limitAtMs ? Number(node.dataset.limitAtMs) : null,
          within_horizon: node.dataset.withinHorizon === "true",
          text: node.querySelector(".eta").textContent,
          drawn: node.querySelector("canvas") !== null,
        })),
        recommendations: [...section.querySelectorAll(".recommendations li")].map((li) => ({
          key: li.dataset.key,
          text: li.querySelector(".text").textContent,
          figures: JSON.parse(li.dataset.figures),
          runbook: li.querySelector("a").getAttribute("href"),
        })),
        none: section.querySelector("#no-recommendations")?.textContent ?? null,
      };
    });
  },

  async screenshot({ view, path }) {
    await page.evaluate((v) => { location.hash = v; }, view);
    await page.waitForFunction((v) => document.body.dataset.view === v, view);
    await page.waitForTimeout(400);
    await page.screenshot({ path, fullPage: true });
    return { path };
  },

  async report() {
    return { requests, console_errors: consoleErrors };
  },

  async close() {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    return { closed: true };
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  let answer;
  try {
    answer = await commands[command.cmd](command);
  } catch (error) {
    answer = { error: String(error && error.stack || error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (command.cmd === "close") break;
}
process.exit(0);
