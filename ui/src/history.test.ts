// The call history's rules (history.ts), pure.
import { describe, expect, it } from "vitest";
import type { CallRecordView, HistoryStatus, TeamSearchResult } from "./bindings";
import {
  ALREADY_HANDLED, INTERNAL_REFUSAL, dayLabel, groupByDay, infoRoom, offersJoin, pressAction, recordDetail,
  recordIcon, searchPlan, searchSections, syncText, timeOfDay,
} from "./history";

function record(over: Partial<CallRecordView> = {}): CallRecordView {
  return {
    id: "rec_1",
    meet_id: "meet_1",
    direction: "incoming",
    scope: "user_chat",
    media: "audio",
    internal: false,
    counterpart: { kind: "customer", id: "cus_mina", name: "Mina Park" },
    chat_id: "chat_mina",
    room_id: null,
    invited_by: null,
    started_at: new Date(2026, 10, 25, 14, 5).getTime(),
    answered_at: null,
    ended_at: null,
    handled: false,
    created_seq: 1,
    ...over,
  };
}

const team = (over: Partial<CallRecordView> = {}) =>
  record({
    scope: "team_group",
    counterpart: { kind: "room", id: "room_general", name: "General" },
    chat_id: null,
    room_id: "room_general",
    ...over,
  });

function status(over: Partial<HistoryStatus> = {}): HistoryStatus {
  return { sync: "synced", pending_deletes: 0, notice: null, error: null, ...over };
}

describe("a record's icon and words", () => {
  it("names direction and media of customer meets", () => {
    expect(recordIcon(record()).label).toBe("Incoming audio meet");
    expect(recordIcon(record({ direction: "outgoing", media: "video" })).label).toBe("Outgoing video meet");
    const missed = recordIcon(record({ direction: "missed" }));
    expect(missed.tone).toBe("missed");
    expect(missed.media).toBe("audio");
    expect(recordIcon(record({ media: "video" })).media).toBe("video");
  });

  it("names team meets, with who invited", () => {
    const r = team({ direction: "invited", invited_by: { id: "ag_carol", name: "Carol Chen" } });
    expect(recordIcon(r).glyph).toBe("✉");
    expect(recordDetail(r)).toBe("Invited to team meet (audio) · Invited by Carol Chen");
    expect(recordDetail(team({ direction: "outgoing" }))).toBe("Outgoing team meet (audio)");
  });

  it("says a missed meet was handled", () => {
    expect(recordDetail(record({ direction: "missed", handled: true }))).toBe("Missed audio meet · Handled");
  });

  it("names internal meets", () => {
    expect(recordIcon(record({ internal: true, scope: "internal" })).label).toBe("Incoming internal meet (audio)");
  });
});

describe("pressing a record", () => {
  it("calls back by default", () => {
    expect(pressAction(record())).toEqual({ kind: "call" });
    expect(pressAction(record({ direction: "missed" }))).toEqual({ kind: "call" });
    expect(pressAction(team({ direction: "invited" }))).toEqual({ kind: "call" });
  });

  it("refuses internal records without calling", () => {
    expect(pressAction(record({ internal: true, scope: "internal" }))).toEqual({ kind: "refuse", message: INTERNAL_REFUSAL });
    expect(INTERNAL_REFUSAL).toBe("Internal meets cannot be returned");
  });

  it("says a missed call was already handled, and still offers the call", () => {
    expect(pressAction(record({ direction: "missed", handled: true }))).toEqual({ kind: "confirm", message: ALREADY_HANDLED });
    expect(ALREADY_HANDLED).toBe("This missed call has already been handled");
  });

  it("opens the room from a team record's info icon only", () => {
    expect(infoRoom(team())).toBe("room_general");
    expect(infoRoom(record())).toBeNull();
  });

  it("offers to join a room's meet going on", () => {
    expect(offersJoin("meet_in_progress", team())).toBe(true);
    expect(offersJoin("meet_in_progress", record())).toBe(false);
    expect(offersJoin("offline", team())).toBe(false);
  });
});

describe("days and times", () => {
  const now = new Date(2026, 10, 25, 18, 0).getTime();

  it("labels today, yesterday, this year and other years", () => {
    expect(dayLabel(new Date(2026, 10, 25, 0, 1).getTime(), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 10, 24, 23, 59).getTime(), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 10, 3, 9, 0).getTime(), now)).toBe("Tue, 3 Nov");
    expect(dayLabel(new Date(2025, 11, 31, 9, 0).getTime(), now)).toBe("Wed, 31 Dec 2025");
    expect(timeOfDay(new Date(2026, 10, 25, 9, 5).getTime())).toBe("09:05");
  });

  it("groups newest-first records by day, keeping their order", () => {
    const a = record({ id: "a", started_at: new Date(2026, 10, 25, 17, 0).getTime() });
    const b = record({ id: "b", started_at: new Date(2026, 10, 25, 8, 0).getTime() });
    const c = record({ id: "c", started_at: new Date(2026, 10, 24, 8, 0).getTime() });
    const groups = groupByDay([a, b, c], now);
    expect(groups.map((g) => [g.label, g.records.map((r) => r.id)])).toEqual([
      ["Today", ["a", "b"]],
      ["Yesterday", ["c"]],
    ]);
    expect(groupByDay([], now)).toEqual([]);
  });
});

describe("the sync line", () => {
  it("is silent when synced and online", () => {
    expect(syncText(status(), "online")).toBeNull();
  });

  it("says offline, and how many deletes wait", () => {
    expect(syncText(status({ sync: "offline" }), "offline")).toBe("Offline: showing the call history saved on this computer.");
    expect(syncText(status({ sync: "offline", pending_deletes: 1 }), "online")).toMatch(/1 delete waits to be sent\.$/);
    expect(syncText(status({ sync: "synced", pending_deletes: 2 }), "offline")).toMatch(/2 deletes wait to be sent\.$/);
    expect(syncText(status({ pending_deletes: 2 }), "online")).toBe("2 deletes wait to be sent.");
  });

  it("says syncing and errors", () => {
    expect(syncText(status({ sync: "syncing" }), "online")).toBe("Syncing…");
    expect(syncText(status({ error: "Not allowed." }), "online")).toBe("The call history could not be synced: Not allowed.");
  });
});

describe("new team meet", () => {
  const r = (over: Partial<TeamSearchResult>): TeamSearchResult => ({
    kind: "public",
    room_id: "room_general",
    name: "General",
    agent: null,
    ongoing_meet: null,
    ...over,
  });

  it("sections public groups, private groups, then DMs, keeping the server's order within", () => {
    const results = [
      r({ kind: "dm", room_id: null, name: "Dave Diaz", agent: { id: "ag_dave", name: "Dave Diaz" } }),
      r({ name: "General" }),
      r({ kind: "private", room_id: "room_billing", name: "Billing" }),
      r({ name: "Support leads", room_id: "room_leads" }),
    ];
    const sections = searchSections(results);
    expect(sections.map((s) => [s.title, s.results.map((x) => x.name)])).toEqual([
      ["Public groups", ["General", "Support leads"]],
      ["Private groups", ["Billing"]],
      ["Direct messages", ["Dave Diaz"]],
    ]);
  });

  it("joins a meet going on, starts in a room, or opens the DM first", () => {
    expect(searchPlan(r({ ongoing_meet: "meet_9" }))).toEqual({ kind: "join", meet_id: "meet_9" });
    expect(searchPlan(r({}))).toEqual({ kind: "start", target: { kind: "room", room_id: "room_general" } });
    expect(searchPlan(r({ kind: "dm", room_id: null, agent: { id: "ag_dave", name: "Dave Diaz" } }))).toEqual({
      kind: "open_dm",
      agent_id: "ag_dave",
    });
    expect(searchPlan(r({ kind: "dm", room_id: null, agent: null }))).toBeNull();
  });
});
