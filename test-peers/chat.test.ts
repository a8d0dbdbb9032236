// The chat `npm start` serves, in Chromium (playwright-core): two pages in
// one room see each other's messages, a third in another room doesn't, and
// the pages reconnect when the server restarts. Keeps a screenshot in
// docs/chat.png for the README.

import { strict as assert } from "node:assert";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../test/helpers/examples.ts";
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  requireChromium,
  requireNpmPackage,
} from "./helpers/requirements.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WAIT_MS = 30_000;

test("the chat in Chromium: rooms, history, reconnection after a restart", {
  timeout: 180_000,
}, async () => {
  requireChromium();
  requireNpmPackage("playwright-core");
  const { chromium } = await import("playwright-core");
  let server = await startServer("chat-app/server.ts");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT_MS,
    args: [...CHROMIUM_FLAGS],
  });
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    // One context per person: each has its own localStorage (the name).
    const open = async (room: string, name: string) => {
      const context = await browser.newContext({ viewport: { width: 760, height: 460 } });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      await page.goto(`${origin}/#${room}`);
      await page.fill("#name", name);
      await page.click("#join button");
      await page.waitForSelector(`#status[data-state="open"]:has-text("as ${name}")`);
      return page;
    };
    type Page = Awaited<ReturnType<typeof open>>;
    const say = async (page: Page, text: string) => {
      await page.fill("#text", text);
      await page.press("#text", "Enter");
    };
    const sees = (page: Page, text: string) =>
      page.waitForSelector(`#messages li:has-text(${JSON.stringify(text)})`);
    const lines = (page: Page) => page.locator("#messages li").allTextContents();

    const ada = await open("lobby", "ada");
    const bob = await open("lobby", "bob");
    const cy = await open("garden", "cy");

    await sees(ada, "bob joined (2 here).");
    await say(ada, "Hello from ada!");
    await sees(bob, "Hello from ada!");
    await say(bob, "Hi ada, bob here.");
    await sees(ada, "Hi ada, bob here.");
    await say(cy, "Anyone in the garden?");
    await sees(cy, "Anyone in the garden?");
    const garden = (await lines(cy)).join("\n");
    assert.doesNotMatch(garden, /ada|bob/);

    // A newcomer to the lobby gets its history.
    const dee = await open("lobby", "dee");
    await sees(dee, "Hello from ada!");
    await sees(dee, "Hi ada, bob here.");
    await say(dee, "Just arrived.");
    await sees(ada, "Just arrived.");
    await ada.bringToFront();
    const png = await ada.screenshot();
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    writeFileSync(join(ROOT, "docs", "chat.png"), png);

    // The server restarts on the same port: the pages see the drop, then
    // reconnect on their own (backoff) to their rooms.
    const port = server.port;
    assert.equal(await server.stop(), 0);
    for (const page of [ada, bob, cy]) {
      await page.waitForSelector('#status[data-state="reconnecting"]');
    }
    server = await startServer("chat-app/server.ts", { PORT: String(port) });
    for (const page of [ada, bob, cy]) {
      await page.waitForSelector('#status[data-state="open"]');
    }
    await say(bob, "Back after the restart.");
    await sees(ada, "Back after the restart.");
    await say(cy, "Garden still here.");
    await sees(cy, "Garden still here.");
    assert.doesNotMatch((await lines(cy)).join("\n"), /restart/);
    assert.doesNotMatch((await lines(ada)).join("\n"), /Garden/);
    assert.match(
      server.output(),
      / INFO websockets\.server connection open .*path="\/rooms\/lobby\?name=bob"/,
    );
  } finally {
    await browser.close();
    await server.stop();
  }
});
