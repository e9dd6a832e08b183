// The meet's rules for the UI, pure (no Tauri, no DOM): when the agent may call a chat's
// customer, and the words and numbers the ring card and the meet panel show.
import type {
  AgentView, CallPhase, CallUi, ChannelSettings, ChatView, MeetTarget, MessageView, RoomView, ScopeKind,
} from "./bindings";

/**
 * Whether a user chat's top bar offers [Meet] (P2/P3): meets are on for the channel, the chat
 * did not come from an external messenger, the agent has an operator seat (only they take
 * meets with customers), and this device is not in a meet already (`inMeet`). The server
 * enforces the same and answers a refusal with its reason.
 */
export function canStartMeet(chat: ChatView, settings: ChannelSettings, agent: AgentView, inMeet: boolean): boolean {
  return settings.audio_enabled && chat.source === "native" && agent.seat && !inMeet;
}

/**
 * What the chat bar offers: `join` the chat's meet going on (as P5 does for rooms: never a
 * second meet; joining a customer meet takes a seat, as the server says), `start` one (P3,
 * [`canStartMeet`]), or nothing.
 */
export function chatMeetAction(chat: ChatView, settings: ChannelSettings, agent: AgentView, inMeet: boolean): "start" | "join" | null {
  if (inMeet) return null;
  if (chat.ongoing_meet !== null) return agent.seat ? "join" : null;
  return canStartMeet(chat, settings, agent, false) ? "start" : null;
}

/**
 * P4: whether a user chat's internal chat offers [Meet] → [Meet audio] (it rings the chat's
 * managers). Any agent may start one, seat or not; meets must be on and this device free.
 */
export function canStartInternalMeet(settings: ChannelSettings, inMeet: boolean): boolean {
  return settings.audio_enabled && !inMeet;
}

/** The internal thread's bar: join its meet going on (`ongoing`), else start one (P4). */
export function internalMeetAction(ongoing: string | null, settings: ChannelSettings, inMeet: boolean): "start" | "join" | null {
  if (inMeet) return null;
  if (ongoing !== null) return "join";
  return canStartInternalMeet(settings, false) ? "start" : null;
}

/**
 * P3: whether the customer's profile offers [Meet] → [Voice meet] (a new user chat with them,
 * the meet in it): meets on, an operator seat, this device free. A new chat is always a native
 * one, so where the customer's other chats came from does not matter.
 */
export function canCallCustomer(settings: ChannelSettings, agent: AgentView, inMeet: boolean): boolean {
  return settings.audio_enabled && agent.seat && !inMeet;
}

/**
 * P5: what a team room's [Meet] does: `join` the meet going on there (never a second one),
 * `start` one (members only — the rooms listed are the agent's — no seat needed, meets on), or
 * nothing while this device is in a meet.
 */
export function teamMeetAction(room: RoomView, settings: ChannelSettings, inMeet: boolean): "start" | "join" | null {
  if (inMeet) return null;
  if (room.ongoing_meet !== null) return "join";
  return settings.audio_enabled ? "start" : null;
}

/** A missed meet's reason code (admins only, P3) in words. */
export function missedReasonText(code: string): string {
  switch (code) {
    case "no_answer":
      return "No answer";
    case "declined":
      return "Declined";
    case "offline_link_unused":
      return "Customer offline, link not used";
    case "cancelled_by_caller":
      return "Cancelled by the caller";
    case "failed_to_connect":
      return "Failed to connect";
    default:
      return code;
  }
}

/** What a missed-meet indicator shows; null for any other message. */
export interface MissedIndicator {
  meetId: string;
  /** Why it was missed, in words: admins only (the server sends the code to admins only). */
  reason: string | null;
  /** What "Open meet" starts again: a meet of the same scope in the same place. */
  again: MeetTarget | null;
}

export function missedIndicator(m: MessageView, isAdmin: boolean): MissedIndicator | null {
  if (m.author.kind !== "system" || m.meet_id === null || m.body !== "Missed meet") return null;
  const again: MeetTarget | null =
    m.room_id !== null
      ? { kind: "room", room_id: m.room_id }
      : m.chat_id !== null
        ? m.internal
          ? { kind: "internal", chat_id: m.chat_id }
          : { kind: "user_chat", chat_id: m.chat_id }
        : null;
  const reason = isAdmin && m.missed_reason ? missedReasonText(m.missed_reason) : null;
  return { meetId: m.meet_id, reason, again };
}

/**
 * Whether "Open meet" on a missed indicator may start `target` again now: the same rule as that
 * place's own [Meet] (the chat's for a user chat, so never in an external messenger's chat).
 */
export function canOpenAgain(
  target: MeetTarget,
  chat: ChatView | null,
  settings: ChannelSettings,
  agent: AgentView,
  inMeet: boolean,
): boolean {
  switch (target.kind) {
    case "user_chat":
      return chat !== null && canStartMeet(chat, settings, agent, inMeet);
    case "internal":
      return canStartInternalMeet(settings, inMeet);
    case "room":
      return settings.audio_enabled && !inMeet;
    case "customer":
      return canCallCustomer(settings, agent, inMeet);
  }
}

/** P6: whether the meet panel offers [Invite]: a meet this device takes part in, not over. */
export function canInvite(call: CallUi): boolean {
  return call.phase === "connecting" || call.phase === "connected" || call.phase === "reconnecting";
}

/**
 * P6: whom the invite list offers: the channel's agents but this one and those already in the
 * meet or rung for it (the panel's names); a customer meet only takes agents with a seat.
 */
export function invitableAgents(agents: AgentView[], call: CallUi, selfId: string): AgentView[] {
  const present = new Set(call.participants);
  return agents
    .filter((a) => a.id !== selfId && !present.has(a.name) && (call.scope !== "user_chat" || a.seat))
    .sort((a, b) => a.name.localeCompare(b.name));
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
