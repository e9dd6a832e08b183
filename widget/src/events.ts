// The event WebSocket (`/api/events`), kept open: events are handed over in order, and when
// the socket drops it reconnects with `?after=<last seq>` so that the server replays what was
// missed (on any node). `seq` 0 marks events outside the log (`hello`, `resync`).

import { ApiError, type Api } from "./api";
import type { Event } from "./bindings";

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export type SocketState = "connecting" | "open" | "reconnecting" | "closed";

export interface EventSocketOptions {
  onEvent: (event: Event) => void;
  onState?: (state: SocketState, why?: string) => void;
  /** The session is no longer valid (the socket will not reconnect). */
  onFatal?: (error: ApiError) => void;
  /**
   * A reconnect had no cursor to resume from (no logged event had arrived yet), so events
   * written while the socket was down may be missing: read the state again.
   */
  onGap?: () => void;
}

export class EventSocket {
  private readonly api: Api;
  private readonly opts: EventSocketOptions;
  private ws: WebSocket | null = null;
  private last = 0;
  private backoff = BACKOFF_MIN_MS;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private connects = 0;
  state: SocketState = "connecting";

  constructor(api: Api, opts: EventSocketOptions) {
    this.api = api;
    this.opts = opts;
  }

  /** The last `seq` handed over (0 before any). */
  get lastSeq(): number {
    return this.last;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.ws?.close(1000, "closed by the client");
    this.ws = null;
    this.setState("closed");
  }

  private setState(state: SocketState, why?: string): void {
    this.state = state;
    this.opts.onState?.(state, why);
  }

  private connect(): void {
    const ws = new WebSocket(this.api.eventsUrl(this.last > 0 ? this.last : null));
    this.ws = ws;
    const gap = this.connects > 0 && this.last === 0;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.connects += 1;
      this.backoff = BACKOFF_MIN_MS;
      this.setState("open");
      if (gap) this.opts.onGap?.();
    };
    ws.onmessage = (msg) => {
      if (typeof msg.data !== "string") return;
      let event: Event;
      try {
        event = JSON.parse(msg.data) as Event;
      } catch {
        return;
      }
      // Nothing seen yet: resume from where this connection starts (the hello's cursor).
      if (event.type === "hello") this.last = Math.max(this.last, event.cursor);
      if (event.seq > 0) {
        if (event.seq <= this.last) return; // handed over before a reconnect
        this.last = event.seq;
      }
      this.opts.onEvent(event);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      const why = opened ? `closed: ${ev.code} ${ev.reason}` : "could not connect";
      void this.reconnect(why, opened);
    };
  }

  private async reconnect(why: string, wasOpen: boolean): Promise<void> {
    this.setState("reconnecting", why);
    if (!wasOpen) {
      // A browser does not say why an upgrade failed: ask the API whether the session is
      // still valid before trying again.
      try {
        await this.api.mediaConfig();
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          this.stopped = true;
          this.setState("closed", e.message);
          this.opts.onFatal?.(e);
          return;
        }
      }
    }
    if (this.stopped) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.connect();
    }, wait);
  }
}
