// Drives one headless Chromium for tests/interop/browser_test.cc. The test writes commands, one per line, into the
// FIFO named by argv[2]; the driver answers with lines on stdout, which the test waits for as events:
//
//   (start)                    -> browser <chromium version>
//   open <url>                 -> opened <url> <nextHopProtocol>     a fresh context (own connections) and page
//   fetch <id> <path>          -> fetching <id>                      fetch(path) with X-Request-Id: <id>, abortable
//                                 later: fetch <id> status <code> | fetch <id> error <name>
//   abort <id>                 -> aborted <id> <epoch ms just before abort()>
//   navigate <url>             -> navigated <url> <epoch ms when goto started>
//   closepage <tag>            -> closed <tag> <epoch ms when close started>  (the tab, and its context)
//   quit, or the FIFO's end    -> the browser closes, the driver exits 0
//
// Chromium is Debian's (argv[3], /usr/bin/chromium), so no browser download: only playwright-core from npm.
'use strict';
const fs = require('fs');
const readline = require('readline');
const { chromium } = require('playwright-core');

const [, , fifo, executablePath = '/usr/bin/chromium'] = process.argv;

function say(line) {
  process.stdout.write(line + '\n');
}

async function main() {
  // One browser for the whole test suite: Chromium's start is the slow part (seconds on two busy cores).
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--disable-gpu'] });
  let closing = null;
  const close = () => (closing ??= browser.close().catch(() => {}));
  process.on('SIGTERM', () => close().then(() => process.exit(0)));
  say(`browser ${browser.version()}`);

  let context = null;
  let page = null;
  const commands = {
    async open(url) {
      if (context) await context.close();
      context = await browser.newContext({ ignoreHTTPSErrors: true });
      page = await context.newPage();
      await page.exposeFunction('tetherReport', say);
      await page.goto(url);
      const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
      say(`opened ${url} ${protocol}`);
    },
    async fetch(id, path) {
      await page.evaluate(([id, path]) => {
        const controller = new AbortController();
        (window.tetherFetches ??= {})[id] = controller;
        fetch(path, { signal: controller.signal, headers: { 'X-Request-Id': id }, cache: 'no-store' })
          .then(async (response) => {
            await response.text();
            window.tetherReport(`fetch ${id} status ${response.status}`);
          })
          .catch((error) => window.tetherReport(`fetch ${id} error ${error.name}`));
      }, [id, path]);
      say(`fetching ${id}`);
    },
    async abort(id) {
      const at = await page.evaluate((id) => {
        const at = Date.now();
        window.tetherFetches[id].abort();
        return at;
      }, id);
      say(`aborted ${id} ${at}`);
    },
    async navigate(url) {
      const at = Date.now();
      await page.goto(url);
      say(`navigated ${url} ${at}`);
    },
    async closepage(tag) {
      const at = Date.now();
      if (context) await context.close();
      context = null;
      page = null;
      say(`closed ${tag} ${at}`);
    },
  };

  const input = readline.createInterface({ input: fs.createReadStream(fifo) });
  for await (const line of input) {
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === 'quit') break;
    const run = commands[command];
    if (!run) {
      say(`error unknown command ${command}`);
      continue;
    }
    try {
      await run(...args);
    } catch (error) {
      say(`error ${command} ${String(error).split('\n')[0]}`);
    }
  }
  await close();
}

main().catch((error) => {
  say(`error driver ${error}`);
  process.exit(1);
});
