// One meet as the customer's screen shows it: the core's `MeetCall` plus what the UI adds
// (the "starting" phase before the call exists, the connected clock, the level meter).

import { isApiError } from "../api";
import { MicrophoneError, type MicrophoneProblem } from "../media";
import type { CallPhase, MeetCall } from "../session";
import { Observable } from "./observable";

export type UiPhase = "starting" | CallPhase;

export interface MicProblem {
  problem: MicrophoneProblem;
  /** What pressing "Try again" does. */
  retry: () => void;
}

/** The microphone's level in dBFS as a 0..1 meter value (-60 dBFS and below is empty). */
export function meterValue(dbfs: number): number {
  const v = (dbfs + 60) / 60;
  return Math.round(Math.min(1, Math.max(0, v)) * 100) / 100;
}

/** mm:ss (h:mm:ss past an hour). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}

/** The human words for a phase (the customer sees a missed or declined meet only as "ended"). */
export function phaseText(phase: UiPhase, outgoing: boolean): string {
  switch (phase) {
    case "starting":
      return "Starting…";
    case "ringing":
      return outgoing ? "Calling the team…" : "Joining…";
    case "connecting":
      return "Connecting…";
    case "connected":
      return "Connected";
    case "reconnecting":
      return "Reconnecting…";
    case "ended":
      return "Meet ended";
    case "failed":
      return "The meet could not connect";
  }
}

/** A human message for a failed request (the server's message when it sent one). */
export function errorText(e: unknown): string {
  if (e instanceof MicrophoneError) return e.message;
  if (isApiError(e, "network")) return "Cannot reach the server. Check your connection and try again.";
  if (isApiError(e)) return e.message;
  return "Something went wrong. Please try again.";
}

/** The UI's side of one meet. */
export class CallState extends Observable {
  phase: UiPhase = "starting";
  call: MeetCall | null = null;
  /** Local time the media first connected (the duration counts from it). */
  connectedAt: number | null = null;
  error: string | null = null;
  readonly outgoing: boolean;
  private unsubscribe: (() => void) | null = null;

  constructor(outgoing: boolean) {
    super();
    this.outgoing = outgoing;
  }

  attach(call: MeetCall): void {
    this.call = call;
    const sync = () => {
      this.phase = call.phase;
      if (call.phase === "connected" && this.connectedAt === null) this.connectedAt = Date.now();
      if (call.phase === "failed") this.error = call.error;
      this.changed();
    };
    this.unsubscribe = call.changed.on(sync);
    sync();
  }

  fail(message: string): void {
    this.phase = "failed";
    this.error = message;
    this.changed();
  }

  /** Ended before a call existed (e.g. the microphone was refused). */
  end(): void {
    this.phase = "ended";
    this.changed();
  }

  get live(): boolean {
    return this.phase !== "ended" && this.phase !== "failed";
  }

  get muted(): boolean {
    return this.call?.muted ?? false;
  }

  toggleMute(): void {
    this.call?.mute(!this.muted);
    this.changed();
  }

  async hangUp(): Promise<void> {
    if (!this.call) {
      this.end();
      return;
    }
    try {
      await this.call.hangUp();
    } catch {
      // The call is over here either way; the server ends it when this device goes.
    }
  }

  /** The input level meter, 0..1. */
  level(): number {
    const media = this.call?.media;
    if (!media || this.muted) return 0;
    return meterValue(media.inputLevel());
  }

  dispose(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
