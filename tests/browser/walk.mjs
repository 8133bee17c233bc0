// Walks the driver's web UI in headless Chromium (driven by playwright-core) the
// way a user would: the application list, an application, one of its stages,
// the stage's tasks sorted by duration, the executors, the logs, and the page
// of an application still running. Checks what each page shows and takes a
// screenshot of each. Any failed check exits non-zero with the reason. With
// RUNNING_APP `-` (a history server) the running application is not looked for;
// screenshots are named with SHOT_PREFIX first.
//
//   node walk.mjs PLAYWRIGHT_CORE_DIR UI_URL FINISHED_APP RUNNING_APP SHOT_DIR [SHOT_PREFIX]
import { createRequire } from "node:module";
import path from "node:path";

const [modules, ui, finished, running, shots, prefix = ""] = process.argv.slice(2);
const live = running !== "-";
const require = createRequire(path.join(modules, "package.json"));
const { chromium } = require("playwright-core");

function check(ok, what) {
  if (!ok) {
    console.error(`browser check failed: ${what}`);
    process.exit(1);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const shot = (name) => page.screenshot({ path: path.join(shots, `${prefix}${name}.png`), fullPage: true });
const found = {};

// The application list links to both applications.
await page.goto(`${ui}/`);
check((await page.title()).includes("Applications"), "the home page lists applications");
check(await page.locator(`a:text-is("${finished}")`).count() === 1, `a link to ${finished}`);
check(!live || await page.locator(`a:text-is("${running}")`).count() === 1, `a link to ${running}`);
await shot("applications");

// An application: its timeline, jobs and stages.
await page.click(`a:text-is("${finished}")`);
await page.waitForURL(`**/applications/${finished}`);
const text = await page.textContent("main");
check(text.includes("succeeded"), "the finished application shows it succeeded");
check(text.includes("save-as-text-file"), "its first job's action");
found.lanes = await page.locator("#timeline .lane").count();
check(found.lanes >= 5, `a timeline of 3 jobs and their stages (${found.lanes} lanes)`);
found.jobRows = await page.locator("h2:text-is('Jobs') + table tr").count() - 1;
check(found.jobRows === 3, `3 jobs listed (${found.jobRows})`);
await shot("application");

// Its map stage, from the timeline.
await page.click("#timeline a:has-text('stage') >> nth=0");
await page.waitForURL(`**/applications/${finished}/stages/*`);
check((await page.textContent("h1")).includes("shuffle-map"), "the first stage is the map stage");
check(await page.locator("#summary tr").count() === 6, "a summary of five metrics");
found.tasks = await page.locator("#tasks tr").count() - 1;
check(found.tasks >= 1, "its tasks are listed");
await shot("stage");

// Sorted by duration, longest first.
await page.click("#sort-duration");
await page.waitForURL(/sort=duration/);
const durations = (await page.locator("#tasks td.duration").allTextContents()).map((t) => parseFloat(t));
check(durations.length === found.tasks, "every task is still listed when sorted");
check(durations.every((d, i) => i === 0 || durations[i - 1] >= d), `longest first: ${durations}`);
found.durations = durations;
await shot("stage-tasks-by-duration");

// Executors.
await page.click("header a:text-is('Executors')");
await page.waitForURL("**/executors");
found.alive = await page.locator("td span.alive").count();
check(found.alive === 2, `two executors alive (${found.alive})`);
await shot("executors");

// The environment: the effective configuration.
await page.click("header a:text-is('Environment')");
await page.waitForURL("**/environment");
check(await page.locator("#environment tr").count() > (live ? 10 : 2), "the settings are listed");
await shot("environment");

// Logs: what main printed.
await page.goto(`${ui}/applications/${finished}/logs`);
check((await page.textContent("main")).includes("distinct words"), "main's output in the logs");
await shot("logs");

// A running application refreshes itself and shows its running stage.
if (live) {
  await page.goto(`${ui}/applications/${running}`);
  check((await page.textContent("main")).includes("running"), "the running application shows it runs");
  check(await page.locator('meta[http-equiv="refresh"]').count() === 1, "a running application's page refreshes");
  await shot("running-application");
}

await browser.close();
console.log(JSON.stringify(found));
