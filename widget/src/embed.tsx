// The script a site embeds (one tag, built as dist/meetdesk-widget.js):
//
//   <script src="https://meet.example.com/widget/meetdesk-widget.js" data-channel="KEY" async></script>
//
// It talks to the server it was loaded from. Options (data-* on the tag):
//   data-channel       the channel's widget key (required for the chat widget)
//   data-resume-param  a page URL parameter that carries a resume link's token (the demo page: "resume")
//   data-open          open the panel at load when a resume token is present
//   data-page="meet"   render the full-page meet of a meet link (/m/{meet}?t=TOKEN) instead
// Everything renders in an open shadow root, so the site's CSS and the widget's don't mix.
// `window.MeetDeskWidget` lets the site (and tests) open/close it and read its state.

import { render } from "preact";

import css from "./ui/style.css?inline";
import { MeetPage } from "./ui/meet-page";
import { MeetPageState } from "./ui/meet-page-state";
import { Widget } from "./ui/widget";
import { WidgetState } from "./ui/widget-state";
import type { ToneReading } from "./level";
import type { CustomerSession, MeetCall } from "./session";
import type { CallState } from "./ui/call-state";

declare global {
  interface Window {
    MeetDeskWidget?: MeetDeskWidgetApi;
  }
}

export interface MeetDeskWidgetApi {
  open(): void;
  close(): void;
  readonly ready: Promise<void>;
  readonly session: CustomerSession | null;
  readonly call: MeetCall | null;
  audioProcessing: boolean;
  /** The strongest reading of a tone over what the meet receives (diagnostics). */
  toneOf(hz: number): ToneReading | null;
}

function toneOf(call: MeetCall | null, hz: number): ToneReading | null {
  const media = call?.media;
  if (!media) return null;
  let best: ToneReading | null = null;
  for (const slot of media.slots()) {
    if (!slot.party) continue;
    const r = media.slotTone(slot.index, hz);
    if (r && (!best || r.toneDbfs > best.toneDbfs)) best = r;
  }
  return best;
}

/** What both the widget's and the meet page's states hold. */
interface Exposable {
  readonly session: CustomerSession | null;
  readonly call: CallState | null;
  audioProcessing: boolean;
}

/** `window.MeetDeskWidget` over a state. */
function expose(state: Exposable, controls: Pick<MeetDeskWidgetApi, "open" | "close" | "ready">): void {
  window.MeetDeskWidget = {
    ...controls,
    get session() {
      return state.session;
    },
    get call() {
      return state.call?.call ?? null;
    },
    get audioProcessing() {
      return state.audioProcessing;
    },
    set audioProcessing(on: boolean) {
      state.audioProcessing = on;
    },
    toneOf: (hz) => toneOf(state.call?.call ?? null, hz),
  };
}

function storage(kind: "local" | "session"): Storage | null {
  try {
    return kind === "local" ? window.localStorage : window.sessionStorage;
  } catch {
    return null;
  }
}

function mount(page: boolean): ShadowRoot {
  const host = document.createElement("div");
  host.id = "meetdesk-widget";
  if (page) host.className = "meetdesk-page";
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = css;
  root.appendChild(style);
  document.body.appendChild(host);
  return root;
}

function start(script: HTMLScriptElement): void {
  const base = new URL(script.src, location.href).origin;
  const data = script.dataset;
  if (data.page === "meet") {
    const p = new MeetPageState(location.href, storage("session"));
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((r) => (readyResolve = r));
    p.subscribe(() => {
      if (p.session) void p.session.ready.then(readyResolve);
    });
    expose(p, { open() {}, close() {}, ready });
    render(<MeetPage p={p} />, mount(true));
    void p.check();
    return;
  }
  const channelKey = data.channel ?? "";
  const param = data.resumeParam;
  const resumeToken = param ? new URL(location.href).searchParams.get(param) : null;
  const w = new WidgetState({
    base,
    channelKey,
    resumeToken,
    storage: storage("local"),
    log: data.debug !== undefined ? (m, d) => console.debug(`[meetdesk] ${m}`, d ?? "") : undefined,
  });
  expose(w, { open: () => w.setOpen(true), close: () => w.setOpen(false), ready: w.ready });
  render(<Widget w={w} />, mount(false));
  w.start();
  if (resumeToken && data.open !== undefined) w.setOpen(true);
}

const script = document.currentScript as HTMLScriptElement | null;
if (script) {
  if (document.body) start(script);
  else document.addEventListener("DOMContentLoaded", () => start(script), { once: true });
} else {
  console.error("meetdesk: load meetdesk-widget.js with a plain <script> tag (document.currentScript is needed).");
}
