// The meet's rules for the UI, pure (no Tauri, no DOM): when the agent may call a chat's
// customer, and the words and numbers the ring card and the meet panel show.
import type { AgentView, CallPhase, CallUi, ChannelSettings, ChatView, ScopeKind } from "./bindings";

/**
 * Whether a user chat's top bar offers [Meet] (P2/P3): meets are on for the channel, the chat
 * did not come from an external messenger, the agent has an operator seat (only they take
 * meets with customers), and this device is not in a meet already (`inMeet`). The server
 * enforces the same and answers a refusal with its reason.
 */
export function canStartMeet(chat: ChatView, settings: ChannelSettings, agent: AgentView, inMeet: boolean): boolean {
  return settings.audio_enabled && chat.source === "native" && agent.seat && !inMeet;
}

/** `mm:ss`, or `h:mm:ss` from an hour on. Negative spans count as 0. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

export function phaseText(phase: CallPhase): string {
  switch (phase) {
    case "calling":
      return "Calling…";
    case "connecting":
      return "Connecting…";
    case "connected":
      return "Connected";
    case "reconnecting":
      return "Reconnecting…";
    case "ended":
      return "Ended";
  }
}

/** What a ring is about, for its card. */
export function scopeText(scope: ScopeKind): string {
  switch (scope) {
    case "user_chat":
      return "Customer meet";
    case "internal":
      return "Internal meet";
    case "team_group":
      return "Team meet";
    case "team_dm":
      return "Team meet (DM)";
  }
}

/** The call's duration at `now` (Unix ms), or null before its media connected. */
export function callDuration(call: CallUi, now: number): string | null {
  return call.started_at === null ? null : formatDuration(now - call.started_at);
}
