// @ts-check
// A small W3C WebDriver client (enough for tauri-driver + WebKitWebDriver) on Node's fetch.
// Every wait polls a condition in the page until a deadline: no fixed sleeps.

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriverError extends Error {}

export class Session {
  /** @param {string} base @param {string} id */
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /** Starts the app at `application` through tauri-driver at `base`. */
  static async start(base, application) {
    const value = await call(base, "POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application }, browserName: "wry" } },
    });
    return new Session(base, value.sessionId);
  }

  /** @param {string} method @param {string} path @param {unknown} [body] */
  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  /** Quits the app. */
  async close() {
    await this.cmd("DELETE", "");
  }

  /**
   * The element `css` matches, or null. The page is asked first, so an absent element is a
   * plain `false` rather than a "no such element" error.
   * @param {string} css @returns {Promise<string | null>} the element id, or null
   */
  async find(css) {
    const present = await this.cmd("POST", "/execute/sync", {
      script: "return document.querySelector(arguments[0]) !== null",
      args: [css],
    });
    if (!present) return null;
    try {
      const v = await this.cmd("POST", "/element", { using: "css selector", value: css });
      return v[ELEMENT];
    } catch (e) {
      // Gone between the two questions (the page re-rendered): absent too.
      if (e instanceof WebDriverError && / 404 no such element/.test(e.message)) return null;
      throw e;
    }
  }

  /**
   * Waits until `css` matches a displayed element; returns its id.
   * @param {string} css @param {number} [timeoutMs]
   */
  async waitFor(css, timeoutMs = 30_000) {
    return this.waitUntil(`${css} shown`, async () => {
      const el = await this.find(css);
      if (el === null) return null;
      try {
        return (await this.cmd("GET", `/element/${el}/displayed`)) ? el : null;
      } catch (e) {
        // Replaced between the two questions (the page re-rendered): ask again.
        if (e instanceof WebDriverError && /stale element/.test(e.message)) return null;
        throw e;
      }
    }, timeoutMs);
  }

  /**
   * Polls `check` (every 100 ms) until it returns something other than null/false.
   * @template T @param {string} what @param {() => Promise<T | null | false>} check @param {number} [timeoutMs]
   * @returns {Promise<T>}
   */
  async waitUntil(what, check, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== null && v !== false) return /** @type {T} */ (v);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** @param {string} el @param {string} text */
  async type(el, text) {
    await this.cmd("POST", `/element/${el}/clear`, {});
    await this.cmd("POST", `/element/${el}/value`, { text });
  }

  /** @param {string} el */
  async click(el) {
    await this.cmd("POST", `/element/${el}/click`, {});
  }

  /** @param {string} el @returns {Promise<string>} */
  async text(el) {
    return this.cmd("GET", `/element/${el}/text`);
  }

  /** @returns {Promise<Buffer>} a PNG of the window */
  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }
}

/** @param {string} base @param {string} method @param {string} path @param {unknown} [body] */
async function call(base, method, path, body) {
  if (process.env.WD_TRACE) console.log("wd>", method, path); // WD_TRACE=1: which command stalls
  const resp = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000), // a hung driver fails the test instead of stalling it
  });
  const json = /** @type {any} */ (await resp.json().catch(() => ({ value: null })));
  if (!resp.ok) {
    const v = json?.value ?? {};
    throw new WebDriverError(`${method} ${path}: ${resp.status} ${v.error ?? ""}: ${v.message ?? JSON.stringify(json)}`);
  }
  return json.value;
}
