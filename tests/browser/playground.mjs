// Headless Chromium loads the playground of a real `textgen serve`, sends a chat message and sees the
// reply stream in piece by piece, then completes a prompt in the other tab; screenshots go to
// target/playground.png and target/playground-complete.png.
// Usage (from the repository root): node tests/browser/playground.mjs [TEXTGEN_BINARY] [MODEL]
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [bin = "target/release/textgen", model = "models/SmolLM2-135M-Instruct.Q4_1.gguf"] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const deadline = setTimeout(() => fail("timed out after 180 s"), 180_000);
let server = null;
let browser = null;

async function fail(msg) {
  console.error(`playground test FAILED: ${msg}`);
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill("SIGKILL");
  process.exit(1);
}

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, ["serve", "--port", "0", "--threads", "2", "--model", model], { stdio: ["ignore", "inherit", "pipe"] });
    let log = "";
    server.on("error", reject);
    server.on("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)));
    server.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.match(/on (http:\/\/[\d.:]+)/);
      if (m) resolve(m[1]);
    });
  });
}

async function waitHealthy(base) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(base + "/health")).ok) return;
    } catch (e) {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server never became healthy");
}

try {
  const base = await startServer();
  await waitHealthy(base);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  page.setDefaultTimeout(60_000);
  await page.goto(base + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent.length > 1);
  await page.fill("#temperature", "0");
  await page.fill("#max_tokens", "48");
  // Record every length the reply takes while it streams.
  await page.evaluate(() => {
    window.lengths = [];
    const box = document.getElementById("messages");
    new MutationObserver(() => {
      const replies = box.querySelectorAll(".msg.assistant .text");
      if (replies.length) window.lengths.push(replies[replies.length - 1].textContent.length);
    }).observe(box, { subtree: true, childList: true, characterData: true });
  });
  await page.fill("#prompt", "What is the capital of France?");
  await page.click("#send");
  await page.waitForFunction(() => window.lengths.some((n) => n > 0));
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  const reply = await page.textContent(".msg.assistant .text");
  const lengths = await page.evaluate(() => [...new Set(window.lengths.filter((n) => n > 0))]);
  const stats = await page.textContent("#stats");
  mkdirSync("target", { recursive: true });
  await page.screenshot({ path: "target/playground.png", fullPage: true });
  if (lengths.length < 3) throw new Error(`the reply did not stream (lengths seen: ${lengths})`);
  if (!reply.includes("Paris")) throw new Error(`the reply does not mention Paris: ${JSON.stringify(reply)}`);
  if (!/tok\/s/.test(stats)) throw new Error(`no token rate shown: ${JSON.stringify(stats)}`);
  if (await page.$(".msg.error")) throw new Error("the page shows an error");
  // The completion tab streams a continuation of the prompt.
  await page.click("#tab-complete");
  await page.fill("#max_tokens", "16");
  await page.fill("#cprompt", "Once upon a time, there was a little");
  await page.click("#csend");
  await page.waitForFunction(() => {
    const g = document.querySelector("#completion .generated");
    return g && g.textContent.length > 0 && !document.getElementById("csend").disabled;
  });
  const continuation = await page.textContent("#completion .generated");
  await page.screenshot({ path: "target/playground-complete.png", fullPage: true });
  if (!continuation.startsWith(" girl named Emma")) throw new Error(`unexpected continuation ${JSON.stringify(continuation)}`);
  if (await page.$("#completion .error")) throw new Error("the completion tab shows an error");
  console.log(`playground test passed: ${lengths.length} streamed updates, reply ${JSON.stringify(reply)}, ${stats}`);
  console.log(`completion: ${JSON.stringify(continuation)}`);
  console.log("screenshots: target/playground.png, target/playground-complete.png");
  await browser.close();
  server.removeAllListeners("exit");
  server.kill("SIGTERM");
  clearTimeout(deadline);
} catch (e) {
  await fail(e.message);
}
