// The call history's rules for the UI, pure (no Tauri, no DOM): a record's icon and words, the
// day groups, what pressing a record does, the sync line, the team-meet search's sections and
// what picking a result or a suggestion starts. The history screen (history-view.tsx) renders
// them; docs/history.md explains the choices.
import type {
  CallRecordView,
  Connection,
  HistoryStatus,
  MeetTarget,
  RoomKind,
  TeamSearchResult,
} from "./bindings";

/** What the history says when an internal record is pressed (P8); nothing is started. */
export const INTERNAL_REFUSAL = "Internal meets cannot be returned";
/** What the history says when a missed record that was already called back is pressed. */
export const ALREADY_HANDLED = "This missed call has already been handled";
/** Video is not carried by the desktop app's media yet (audio only). */
export const VIDEO_UNSUPPORTED = "Video meets are not supported by the desktop app yet.";

export type RecordIcon = {
  /** A glyph for the direction: ↙ in, ↗ out, ↙ missed (red), ✉ invited. */
  glyph: string;
  /** CSS modifier: `incoming`, `outgoing`, `missed`, `invited`. */
  tone: string;
  /** Which media icon: a microphone or a camera. */
  media: "audio" | "video";
  /** The record's kind in words, for screen readers and the tooltip. */
  label: string;
};

function isTeam(r: CallRecordView): boolean {
  return r.scope === "team_group" || r.scope === "team_dm";
}

/** The icon and its words: direction × media, team records named as such. */
export function recordIcon(r: CallRecordView): RecordIcon {
  const media = r.media === "video" ? "video" : "audio";
  const kind = r.internal ? "internal meet" : isTeam(r) ? "team meet" : `${media} meet`;
  const glyphs = { incoming: "↙", outgoing: "↗", missed: "↙", invited: "✉" } as const;
  const words = { incoming: "Incoming", outgoing: "Outgoing", missed: "Missed", invited: "Invited to" } as const;
  const label = r.internal || isTeam(r) ? `${words[r.direction]} ${kind} (${media})` : `${words[r.direction]} ${kind}`;
  return { glyph: glyphs[r.direction], tone: r.direction, media, label };
}

/** The line under the counterpart's name: the kind, and "Invited by {agent}" for invitations. */
export function recordDetail(r: CallRecordView): string {
  const parts = [recordIcon(r).label];
  if (r.direction === "invited" && r.invited_by) parts.push(`Invited by ${r.invited_by.name}`);
  if (r.direction === "missed" && r.handled) parts.push("Handled");
  return parts.join(" · ");
}

/** The counterpart as shown: the customer, the other agent, or the room. */
export function counterpartName(r: CallRecordView): string {
  return r.counterpart.name || (r.counterpart.kind === "room" ? "A team room" : "Unknown");
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

const two = (n: number) => String(n).padStart(2, "0");

/** "Today", "Yesterday", or e.g. "Mon, 3 Nov" (with the year when not this year); local time. */
export function dayLabel(at: number, now: number): string {
  const d = new Date(at);
  const today = new Date(now);
  if (sameDay(d, today)) return "Today";
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (sameDay(d, yesterday)) return "Yesterday";
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const year = d.getFullYear() === today.getFullYear() ? "" : ` ${d.getFullYear()}`;
  return `${days[d.getDay()]}, ${d.getDate()} ${months[d.getMonth()]}${year}`;
}

/** The start time of the day, `HH:MM` (local). */
export function timeOfDay(at: number): string {
  const d = new Date(at);
  return `${two(d.getHours())}:${two(d.getMinutes())}`;
}

export type DayGroup = { label: string; records: CallRecordView[] };

/** Records (newest first, as the cache gives them) in day groups, in that order. */
export function groupByDay(records: CallRecordView[], now: number): DayGroup[] {
  const groups: DayGroup[] = [];
  for (const r of records) {
    const label = dayLabel(r.started_at, now);
    const last = groups[groups.length - 1];
    if (last && last.label === label) last.records.push(r);
    else groups.push({ label, records: [r] });
  }
  return groups;
}

/** What pressing a record does. */
export type PressAction =
  /** Internal: say so, start nothing. */
  | { kind: "refuse"; message: string }
  /** A missed meet already called back: say so, and offer Call (which starts a new meet). */
  | { kind: "confirm"; message: string }
  /** Start a meet of the same kind with the same counterpart (`call_back`). */
  | { kind: "call" };

export function pressAction(r: CallRecordView): PressAction {
  if (r.internal) return { kind: "refuse", message: INTERNAL_REFUSAL };
  if (r.direction === "missed" && r.handled) return { kind: "confirm", message: ALREADY_HANDLED };
  return { kind: "call" };
}

/** The room a record's info icon opens (team records only). */
export function infoRoom(r: CallRecordView): string | null {
  return isTeam(r) ? r.room_id : null;
}

/** A call-back refusal the screen answers with an offer to join the room's meet instead. */
export function offersJoin(code: string, r: CallRecordView): boolean {
  return code === "meet_in_progress" && r.room_id !== null;
}

/** The sync line over the list; null when there is nothing to say (synced, online). */
export function syncText(status: HistoryStatus, connection: Connection): string | null {
  const waiting =
    status.pending_deletes === 0
      ? ""
      : ` ${status.pending_deletes === 1 ? "1 delete waits" : `${status.pending_deletes} deletes wait`} to be sent.`;
  if (status.sync === "offline" || connection === "offline") {
    return `Offline: showing the call history saved on this computer.${waiting}`;
  }
  if (status.sync === "syncing") return `Syncing…${waiting}`;
  if (status.error) return `The call history could not be synced: ${status.error}`;
  return waiting ? waiting.trim() : null;
}

const SECTION_TITLES: Record<RoomKind, string> = {
  public: "Public groups",
  private: "Private groups",
  dm: "Direct messages",
};

export type SearchSection = { kind: RoomKind; title: string; results: TeamSearchResult[] };

/**
 * The search results in sections — public groups, private groups, DMs — each in the order the
 * server gave (alphabetical), sections in that order whatever order they came in.
 */
export function searchSections(results: TeamSearchResult[]): SearchSection[] {
  const order: RoomKind[] = ["public", "private", "dm"];
  return order
    .map((kind) => ({ kind, title: SECTION_TITLES[kind], results: results.filter((r) => r.kind === kind) }))
    .filter((s) => s.results.length > 0);
}

/** What picking a search result (or an agent) does. */
export type MeetPlan =
  | { kind: "join"; meet_id: string }
  | { kind: "start"; target: MeetTarget }
  /** An agent with no DM yet: open (create) the DM, then start in it. */
  | { kind: "open_dm"; agent_id: string };

export function searchPlan(r: TeamSearchResult): MeetPlan | null {
  if (r.ongoing_meet) return { kind: "join", meet_id: r.ongoing_meet };
  if (r.room_id) return { kind: "start", target: { kind: "room", room_id: r.room_id } };
  if (r.agent) return { kind: "open_dm", agent_id: r.agent.id };
  return null;
}

/** The words of a search result's action. */
export function searchActionText(r: TeamSearchResult): string {
  return r.ongoing_meet ? "Join meet" : "Meet audio";
}
