// The widget core's pure parts, run in Node by the same runner (no browser, no server): link
// parsing, the tone measurement the interop test relies on, SDP candidate summaries, and the
// API client's error mapping.
import { expect, test } from "@playwright/test";

import { Api, ApiError, isApiError } from "../../widget/src/api";
import { measureTone, rmsDbfs } from "../../widget/src/level";
import { candidateSummary } from "../../widget/src/media";
import { parseMeetLink, parseResumeLink } from "../../widget/src/session";

function sine(hz: number, rate: number, n: number, amplitude = 0.5, phase = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin(phase + (2 * Math.PI * hz * i) / rate);
  return out;
}

test("resume and meet links are told apart and read", () => {
  expect(parseResumeLink("http://127.0.0.1:8780/demo?resume=abc.def")).toEqual({
    base: "http://127.0.0.1:8780",
    token: "abc.def",
  });
  expect(parseMeetLink("https://support.example.com/m/meet_123?t=tok")).toEqual({
    base: "https://support.example.com",
    meetId: "meet_123",
    token: "tok",
  });
  for (const bad of ["http://x/demo", "http://x/demo?resume="]) expect(() => parseResumeLink(bad)).toThrow();
  for (const bad of ["http://x/m/?t=1", "http://x/m/meet_1", "http://x/demo?resume=a"]) {
    expect(() => parseMeetLink(bad)).toThrow();
  }
  expect(() => parseResumeLink("not a url")).toThrow();
});

test("a tone is found where it carries the signal, and not elsewhere", () => {
  const rate = 48_000;
  const a = sine(440, rate, 8192);
  expect(measureTone(a, 440, rate).detected).toBe(true);
  expect(measureTone(a, 660, rate).detected).toBe(false);
  expect(measureTone(a, 440, rate).toneDbfs).toBeCloseTo(rmsDbfs(a), 0); // −9 dBFS RMS for 0.5 peak
  // Two tones of equal level: each carries half the power (−3 dB), within the 6 dB rule.
  const b = sine(660, rate, 8192, 0.5, 1);
  const mix = a.map((x, i) => x + b[i]!);
  expect(measureTone(mix, 440, rate).detected).toBe(true);
  expect(measureTone(mix, 660, rate).detected).toBe(true);
  // Silence holds no tone; noise does not pass as one.
  expect(measureTone(new Float32Array(4096), 440, rate).detected).toBe(false);
  let seed = 1;
  const noise = new Float32Array(8192).map(() => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  });
  expect(measureTone(noise, 440, rate).detected).toBe(false);
});

test("candidate summaries name type, address and transport", () => {
  const sdp = [
    "v=0",
    "a=candidate:3139360574 1 udp 2122194687 127.0.0.1 39373 typ host generation 0",
    "a=candidate:1 1 udp 1694498815 203.0.113.7 40001 typ srflx raddr 10.0.0.5 rport 40001",
    "a=candidate:2 1 udp 2122194687 a4ee80cf-58f3-43fa-ba59-ce833283d1ba.local 32770 typ host",
    "",
  ].join("\r\n");
  expect(candidateSummary(sdp)).toEqual([
    "host 127.0.0.1:39373 udp",
    "srflx 203.0.113.7:40001 udp",
    "host a4ee80cf-58f3-43fa-ba59-ce833283d1ba.local:32770 udp",
  ]);
});

test("API errors carry the server's code; an unreachable server is `network`", async () => {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    if (req.url === "/api/meets/m1/hangup") {
      res.writeHead(410, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "ended", message: "This meet has ended." } }));
    } else if (req.url === "/api/media/config") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ice_servers: [], receive_slots: 7, auth: req.headers.authorization }));
    } else {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("bad gateway");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  try {
    const api = new Api(`http://127.0.0.1:${port}/`).withToken("tok");
    const config = (await api.mediaConfig()) as unknown as { receive_slots: number; auth: string };
    expect(config.receive_slots).toBe(7);
    expect(config.auth).toBe("Bearer tok");
    const ended = await api.hangup("m1").catch((e: unknown) => e);
    expect(isApiError(ended, "ended")).toBe(true);
    expect((ended as ApiError).status).toBe(410);
    const other = await api.get("/elsewhere").catch((e: unknown) => e);
    expect(isApiError(other, "http_error")).toBe(true);
    expect(api.eventsUrl(42)).toBe(`ws://127.0.0.1:${port}/api/events?token=tok&after=42`);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  const down = await new Api(`http://127.0.0.1:${port}`).mediaConfig().catch((e: unknown) => e);
  expect(isApiError(down, "network")).toBe(true);
});
