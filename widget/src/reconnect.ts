// The reconnect policy of one media connection: when to restart ICE, when to offer afresh,
// when to give up — the same policy as crates/rtc/src/reconnect.rs (the Rust clients'), with
// the same defaults and the same tests (reconnect.test.ts).
//
// **Pure:** no timers, no DOM, no clock. Time is the `now` (ms, any monotonic origin, e.g.
// `performance.now()`) handed in; the caller performs the actions: feed `handle` and
// `handleTimeout`, then drain `pollAction` and sleep until `pollTimeout`. `MeetMedia`
// (media.ts) drives it.
//
// The policy (`ReconnectPolicy`, defaults in brackets):
// - A new connection (its offer answered) gets `connectTimeoutMs` [10 s] to connect; if it
//   does not (or fails first), it is offered afresh (`reoffer`): what failed may be DTLS,
//   which an ICE restart cannot mend, and a fresh connection mends ICE as well.
// - A connection that was connected and turns `disconnected` gets `disconnectedGraceMs`
//   [0.5 s] to come back by itself, then ICE restarts; `failed` or `closed` restarts at once
//   (but never sooner than `restartEveryMs` after the previous restart).
// - While it is not connected, restarts repeat: the second `restartEveryMs` [1 s] after the
//   first, each later wait `backoff` [×1.5] longer, up to `maxRestartEveryMs` [4 s] — shorter
//   than the life of a restart's connectivity checks, so when the link returns a restart is
//   always checking.
// - The server answering a restart with "no such connection" (`no_media_connection`: it
//   restarted, or dropped it) → `reoffer`: a fresh connection, with a new `Reconnect` for it.
// - Not connected for `giveUpAfterMs` [30 s] (since it broke, or since it was created) →
//   `give_up`.

/** The timings of the policy, ms. `DEFAULT_RECONNECT_POLICY` is what meetdesk clients use. */
export interface ReconnectPolicy {
  /** A new connection that has not connected after this long is offered afresh. */
  connectTimeoutMs: number;
  /** A `disconnected` connection may come back by itself for this long before a restart. */
  disconnectedGraceMs: number;
  /** Wait between the first and the second restart while not connected. */
  restartEveryMs: number;
  /** Each later wait is this many times the one before … */
  backoff: number;
  /** … up to this. */
  maxRestartEveryMs: number;
  /** Not connected for this long: give up. */
  giveUpAfterMs: number;
}

export const DEFAULT_RECONNECT_POLICY: Readonly<ReconnectPolicy> = Object.freeze({
  connectTimeoutMs: 10_000,
  disconnectedGraceMs: 500,
  restartEveryMs: 1_000,
  backoff: 1.5,
  maxRestartEveryMs: 4_000,
  giveUpAfterMs: 30_000,
});

/** A peer connection's state (the values of the DOM's `RTCPeerConnectionState`). */
export type ConnectionState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

/** What happened to the connection. */
export type ReconnectInput =
  /** The peer connection's state changed. */
  | { kind: "state"; state: ConnectionState }
  /** Restart ICE now, whatever the state (the network changed; diagnostics). */
  | { kind: "restart_now" }
  /** The server answered a restart: it has no connection for this device any more. */
  | { kind: "server_lost_connection" };

/** Why a fresh offer: the server has no connection for this device, or it never connected (in time, or it failed). */
export type Reoffer = "server_lost_connection" | "never_connected";

/** What the caller should do. */
export type ReconnectAction =
  /** Restart ICE on this connection (offer with `restart: true`, apply the answer).
   *  `attempt` counts the restarts since it was last connected, from 1. */
  | { kind: "restart_ice"; attempt: number }
  /** Close this connection and offer a fresh one. */
  | { kind: "reoffer"; why: Reoffer }
  /** Stop trying: close it and report the media failed. `everConnected` tells a connection
   *  that never worked from one that was lost. */
  | { kind: "give_up"; everConnected: boolean };

/** When `handleTimeout` is due next (ms, on the caller's clock), and why. */
export interface ReconnectTimeout {
  at: number;
  why: string;
}

/** The reconnect state of one connection. See the module comment. */
export class Reconnect {
  private readonly policy: ReconnectPolicy;
  private connected = false;
  private everConnectedFlag = false;
  /** Since when it has not been connected (null while connected). */
  private downSince: number | null;
  /** The next restart and why. */
  private restartAt: ReconnectTimeout | null;
  private lastRestart: number | null = null;
  /** Restarts since last connected. */
  private attemptCount = 0;
  /** The wait after the next restart, while still not connected. */
  private nextWait: number;
  private readonly actions: ReconnectAction[] = [];
  private done = false;

  /** A connection whose offer was just answered, not connected yet. */
  constructor(now: number, policy: ReconnectPolicy = DEFAULT_RECONNECT_POLICY) {
    this.policy = { ...policy };
    this.downSince = now;
    this.restartAt = { at: now + policy.connectTimeoutMs, why: "connect timeout" };
    this.nextWait = policy.restartEveryMs;
  }

  handle(input: ReconnectInput, now: number): void {
    if (this.done) return;
    switch (input.kind) {
      case "restart_now":
        this.restart(now);
        return;
      case "server_lost_connection":
        this.reoffer("server_lost_connection");
        return;
      case "state":
        break;
    }
    switch (input.state) {
      case "connected":
        if (!this.connected) {
          this.connected = true;
          this.everConnectedFlag = true;
          this.downSince = null;
          this.restartAt = null;
          this.attemptCount = 0;
          this.nextWait = this.policy.restartEveryMs;
        }
        return;
      case "disconnected":
        if (this.connected) {
          this.lost(now);
          this.schedule(now + this.policy.disconnectedGraceMs, "disconnected grace");
        }
        return;
      case "failed":
      case "closed": {
        if (!this.everConnectedFlag) {
          this.reoffer("never_connected");
          return;
        }
        if (this.connected) this.lost(now);
        const soonest = this.lastRestart === null ? now : Math.max(this.lastRestart + this.policy.restartEveryMs, now);
        this.schedule(soonest, "failed");
        return;
      }
      case "new":
      case "connecting":
        return;
    }
  }

  handleTimeout(now: number): void {
    if (this.done) return;
    if (this.downSince !== null && now >= this.downSince + this.policy.giveUpAfterMs) {
      this.done = true;
      this.restartAt = null;
      this.actions.push({ kind: "give_up", everConnected: this.everConnectedFlag });
      return;
    }
    if (this.restartAt !== null && this.restartAt.at <= now) {
      if (this.everConnectedFlag) this.restart(now);
      else this.reoffer("never_connected");
    }
  }

  /** The next thing to do, if any. */
  pollAction(): ReconnectAction | null {
    return this.actions.shift() ?? null;
  }

  /** When `handleTimeout` is due next, and why (null: nothing is). */
  pollTimeout(): ReconnectTimeout | null {
    if (this.done) return null;
    const giveUp = this.downSince === null ? null : { at: this.downSince + this.policy.giveUpAfterMs, why: "give up" };
    const restart = this.restartAt === null ? null : { ...this.restartAt };
    if (restart && giveUp) return giveUp.at < restart.at ? giveUp : restart;
    return restart ?? giveUp;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get everConnected(): boolean {
    return this.everConnectedFlag;
  }

  /** ICE restarts since the connection was last connected. */
  get attempts(): number {
    return this.attemptCount;
  }

  private reoffer(why: Reoffer): void {
    this.done = true;
    this.restartAt = null;
    this.actions.push({ kind: "reoffer", why });
  }

  private lost(now: number): void {
    this.connected = false;
    this.downSince = now;
    this.attemptCount = 0;
    this.nextWait = this.policy.restartEveryMs;
  }

  /** Restart at `at` unless one is due sooner. */
  private schedule(at: number, why: string): void {
    if (this.restartAt === null || at < this.restartAt.at) this.restartAt = { at, why };
  }

  private restart(now: number): void {
    this.attemptCount += 1;
    this.lastRestart = now;
    this.actions.push({ kind: "restart_ice", attempt: this.attemptCount });
    if (this.connected) {
      // A restart asked for while connected: nothing to repeat unless it breaks.
      this.restartAt = null;
      return;
    }
    this.restartAt = { at: now + this.nextWait, why: "restart again" };
    const longer = this.nextWait * Math.max(this.policy.backoff, 1);
    this.nextWait = Math.max(Math.min(longer, this.policy.maxRestartEveryMs), this.policy.restartEveryMs);
  }
}
