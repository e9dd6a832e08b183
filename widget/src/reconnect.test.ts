// The reconnect policy on virtual time: the same scenarios as crates/rtc/src/reconnect.rs's tests.
import { describe, expect, it } from "vitest";

import { DEFAULT_RECONNECT_POLICY, Reconnect, type ConnectionState, type ReconnectAction } from "./reconnect";

type Timed = [number, ReconnectAction];

/** A machine driven on virtual time (ms from its start, which is 0). */
class Sim {
  readonly r = new Reconnect(0);

  state(t: number, s: ConnectionState): Timed[] {
    this.r.handle({ kind: "state", state: s }, t);
    return this.drain(t);
  }

  drain(t: number): Timed[] {
    const out: Timed[] = [];
    for (let a = this.r.pollAction(); a; a = this.r.pollAction()) out.push([t, a]);
    return out;
  }

  /** Fires every deadline up to `t`; the actions with the time each was issued at. */
  runUntil(t: number): Timed[] {
    const out: Timed[] = [];
    for (let due = this.r.pollTimeout(); due && due.at <= t; due = this.r.pollTimeout()) {
      this.r.handleTimeout(due.at);
      out.push(...this.drain(due.at));
    }
    return out;
  }
}

const restart = (attempt: number): ReconnectAction => ({ kind: "restart_ice", attempt });

/** How long one of the Rust peer's ICE restarts keeps checking (ICE_CHECK_ATTEMPTS × ICE_CHECK_INTERVAL). */
const RESTART_CHECKS_MS = 250 * 20;

describe("the reconnect policy (as crates/rtc/src/reconnect.rs)", () => {
  it("has the Rust clients' defaults", () => {
    expect(DEFAULT_RECONNECT_POLICY).toEqual({
      connectTimeoutMs: 10_000,
      disconnectedGraceMs: 500,
      restartEveryMs: 1_000,
      backoff: 1.5,
      maxRestartEveryMs: 4_000,
      giveUpAfterMs: 30_000,
    });
  });

  it("needs nothing for a connection that connects", () => {
    const s = new Sim();
    expect(s.r.pollTimeout()).toEqual({ at: 10_000, why: "connect timeout" });
    s.state(50, "connecting");
    expect(s.state(200, "connected")).toEqual([]);
    expect(s.r.isConnected && s.r.everConnected).toBe(true);
    expect(s.r.pollTimeout()).toBeNull();
    expect(s.runUntil(120_000)).toEqual([]);
  });

  it("offers a connection that never connects afresh after the connect timeout", () => {
    const s = new Sim();
    s.state(300, "connecting");
    expect(s.runUntil(60_000)).toEqual([[10_000, { kind: "reoffer", why: "never_connected" }]]);
    expect(s.r.pollTimeout(), "the fresh connection has its own").toBeNull();
  });

  it("offers a connection that fails before connecting afresh at once", () => {
    const s = new Sim();
    expect(s.state(2_000, "failed")).toEqual([[2_000, { kind: "reoffer", why: "never_connected" }]]);
    expect(s.runUntil(60_000)).toEqual([]);
  });

  it("restarts a disconnect after the grace and repeats with backoff until connected", () => {
    const s = new Sim();
    s.state(200, "connected");
    expect(s.state(10_000, "disconnected")).toEqual([]);
    expect(s.r.pollTimeout()).toEqual({ at: 10_500, why: "disconnected grace" });
    expect(s.runUntil(15_000)).toEqual([
      [10_500, restart(1)],
      [11_500, restart(2)],
      [13_000, restart(3)],
    ]);
    // Back at 15.2 s: the schedule stops and the attempts reset.
    s.state(15_200, "connected");
    expect([s.r.attempts, s.r.pollTimeout()]).toEqual([0, null]);
    // A second outage starts from the short wait again.
    s.state(20_000, "disconnected");
    expect(s.runUntil(21_600)).toEqual([
      [20_500, restart(1)],
      [21_500, restart(2)],
    ]);
  });

  it("restarts nothing for a disconnect that heals within the grace", () => {
    const s = new Sim();
    s.state(200, "connected");
    s.state(5_000, "disconnected");
    s.state(5_300, "connected");
    expect(s.runUntil(60_000)).toEqual([]);
  });

  it("keeps the waits below the life of a restart's checks", () => {
    const s = new Sim();
    s.state(0, "connected");
    s.state(1_000, "disconnected");
    const times = s.runUntil(30_000).map(([t]) => t);
    expect(times.length).toBeGreaterThan(2);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, String(times)).toBeLessThan(RESTART_CHECKS_MS);
  });

  it("restarts on failed at once, but not in a tight loop", () => {
    const s = new Sim();
    s.state(100, "connected");
    s.state(3_000, "failed");
    expect(s.runUntil(3_000)).toEqual([[3_000, restart(1)]]);
    // It fails again right after the restart: the next one waits for `restartEveryMs`.
    s.state(3_050, "failed");
    expect(s.runUntil(3_999)).toEqual([]);
    expect(s.runUntil(4_000)).toEqual([[4_000, restart(2)]]);
  });

  it("answers a connection lost on the server with a fresh offer and nothing more", () => {
    const s = new Sim();
    s.state(100, "connected");
    s.state(2_000, "disconnected");
    expect(s.runUntil(2_500)).toEqual([[2_500, restart(1)]]);
    s.r.handle({ kind: "server_lost_connection" }, 2_520);
    expect(s.drain(2_520)).toEqual([[2_520, { kind: "reoffer", why: "server_lost_connection" }]]);
    expect(s.r.pollTimeout()).toBeNull();
    expect(s.state(2_600, "failed")).toEqual([]);
    expect(s.runUntil(60_000)).toEqual([]);
  });

  it("does not repeat a restart asked for while connected", () => {
    const s = new Sim();
    s.state(100, "connected");
    s.r.handle({ kind: "restart_now" }, 1_500);
    expect(s.drain(1_500)).toEqual([[1_500, restart(1)]]);
    expect(s.r.pollTimeout()).toBeNull();
    s.state(1_700, "connecting");
    expect(s.runUntil(60_000), "still connected as far as it knows").toEqual([]);
  });

  it("gives a lost connection up after the limit, with everConnected set", () => {
    const s = new Sim();
    s.state(100, "connected");
    s.state(1_000, "disconnected");
    const actions = s.runUntil(40_000);
    expect(actions.at(-1)).toEqual([31_000, { kind: "give_up", everConnected: true }]);
    expect(actions.slice(0, -1).every(([, a]) => a.kind === "restart_ice")).toBe(true);
    expect(s.r.pollTimeout()).toBeNull();
  });
});
