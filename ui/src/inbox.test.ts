// The inbox's and the team screen's pure rules (inbox.ts).
import { describe, expect, it } from "vitest";
import type { Event, MeetView, MessageView } from "./bindings";
import {
  addMessage, applyToChats, applyToInternal, applyToInternalMeets, applyToMessages, applyToRoomMessages, applyToRooms, composerKey,
  composerState, inTab, roomSections, roomTitle, sortChats, unknownRoom,
} from "./inbox";
import { chat, message as msg, room } from "./test-fixtures";

const event = (message: MessageView): Event => ({ seq: 1, at: 1, type: "message", message });

function meetEvent(id: string, state: MeetView["state"], roomId: string | null, internal = false): Event {
  const meet: MeetView = {
    id,
    scope: { kind: roomId ? "team_group" : internal ? "internal" : "user_chat", chat_id: roomId ? null : "chat_mina", room_id: roomId },
    media: "audio",
    state,
    missed_reason: null,
    caller: { kind: "agent", id: "ag_bob", name: "Bob Baker" },
    participants: [],
    rings: [],
    created_at: 1,
    answered_at: null,
    ended_at: null,
    node_id: "n",
    version: 1,
  };
  return { seq: 2, at: 2, type: "meet_updated", meet };
}

describe("chat tabs", () => {
  it("puts a chat in the tabs the server would", () => {
    expect(inTab(chat(), "mine", "ag_bob")).toBe(true);
    expect(inTab(chat(), "mine", "ag_carol")).toBe(false);
    expect(inTab(chat({ assignee: null }), "unassigned", "ag_bob")).toBe(true);
    expect(inTab(chat(), "all", "ag_carol")).toBe(true);
  });
  it("orders newest first, then by id", () => {
    const list = sortChats([chat({ id: "b", updated_at: 1 }), chat({ id: "a", updated_at: 1 }), chat({ id: "c", updated_at: 5 })]);
    expect(list.map((c) => c.id)).toEqual(["c", "a", "b"]);
  });
  it("moves a chat up when a customer-visible message comes, not for an internal one", () => {
    const list = [chat({ id: "chat_a", updated_at: 5 }), chat({ updated_at: 2 })];
    expect(applyToChats(list, event(msg({ created_at: 9 })), "all", "ag_bob")[0].id).toBe("chat_mina");
    expect(applyToChats(list, event(msg({ created_at: 9, internal: true })), "all", "ag_bob")[0].id).toBe("chat_a");
  });
});

describe("threads follow the server's messages live", () => {
  it("adds a message once, in time order (the send's answer and its event)", () => {
    const one = addMessage([msg({ id: "m2", created_at: 20 })], msg({ id: "m1", created_at: 10 }));
    expect(one.map((m) => m.id)).toEqual(["m1", "m2"]);
    expect(addMessage(one, msg({ id: "m1", created_at: 10 }))).toBe(one);
  });
  it("keeps the chat and its internal chat apart", () => {
    const note = msg({ id: "n1", internal: true });
    const reply = msg({ id: "r1" });
    expect(applyToMessages([], event(note), "chat_mina")).toEqual([]);
    expect(applyToMessages([], event(reply), "chat_mina")).toEqual([reply]);
    expect(applyToInternal([], event(note), "chat_mina")).toEqual([note]);
    expect(applyToInternal([], event(reply), "chat_mina")).toEqual([]);
    expect(applyToInternal([], event(msg({ id: "n2", internal: true, chat_id: "chat_eva" })), "chat_mina")).toEqual([]);
  });
  it("adds a room's messages to that room only", () => {
    const m = msg({ chat_id: null, room_id: "room_general" });
    expect(applyToRoomMessages([], event(m), "room_general")).toEqual([m]);
    expect(applyToRoomMessages([], event(m), "room_leads")).toEqual([]);
    expect(applyToRoomMessages([], event(msg()), "room_general")).toEqual([]);
  });
});

describe("rooms", () => {
  it("mark the meet going on in a room, and clear it when it is over (P5)", () => {
    const rooms = [room(), room({ id: "room_leads", name: "Support leads" })];
    const going = applyToRooms(rooms, meetEvent("meet_1", "ringing", "room_general"));
    expect(going.map((r) => r.ongoing_meet)).toEqual(["meet_1", null]);
    expect(applyToRooms(going, meetEvent("meet_1", "active", "room_general"))[0].ongoing_meet).toBe("meet_1");
    expect(applyToRooms(going, meetEvent("meet_1", "ended", "room_general"))[0].ongoing_meet).toBe(null);
    expect(applyToRooms(going, meetEvent("meet_0", "missed", "room_general"))[0].ongoing_meet).toBe("meet_1");
    expect(applyToRooms(rooms, meetEvent("meet_2", "ringing", null))).toBe(rooms);
  });
  it("a room made elsewhere (a DM the other agent opened) is listed at once, and a changed one replaced (P5)", () => {
    const rooms = [room()];
    const dm = room({ id: "dm_ag_bob_ag_carol", kind: "dm", name: "Bob Baker, Carol Choi" });
    const listed = applyToRooms(rooms, { seq: 9, at: 1, type: "room_updated", room: dm });
    expect(listed.map((r) => r.id)).toEqual(["room_general", "dm_ag_bob_ag_carol"]);
    const renamed = applyToRooms(listed, { seq: 10, at: 2, type: "room_updated", room: { ...dm, name: "Renamed" } });
    expect(renamed.map((r) => r.name)).toEqual(["General", "Renamed"]);
  });
  it("an event about a room not in the list names it (a DM made elsewhere): the list is read again", () => {
    const rooms = [room()];
    expect(unknownRoom(rooms, event(msg({ chat_id: null, room_id: "dm_bob_dave" })))).toBe("dm_bob_dave");
    expect(unknownRoom(rooms, meetEvent("meet_3", "ringing", "dm_bob_dave"))).toBe("dm_bob_dave");
    expect(unknownRoom(rooms, event(msg({ chat_id: null, room_id: "room_general" })))).toBe(null);
    expect(unknownRoom(rooms, event(msg({ chat_id: "chat_mina", room_id: null })))).toBe(null);
    expect(unknownRoom(rooms, meetEvent("meet_4", "ringing", null))).toBe(null);
  });
  it("are listed public groups, private groups, then DMs", () => {
    const list = [room(), room({ id: "p", kind: "private" }), room({ id: "d", kind: "dm" })];
    expect(roomSections(list).map((s) => [s.title, s.rooms.map((r) => r.id)])).toEqual([
      ["Public groups", ["room_general"]],
      ["Private groups", ["p"]],
      ["Direct messages", ["d"]],
    ]);
  });
  it("name a DM after the other agent", () => {
    const dm = room({
      kind: "dm",
      name: "Bob Baker, Carol Chen",
      members: [{ id: "ag_bob", name: "Bob Baker" }, { id: "ag_carol", name: "Carol Chen" }],
    });
    expect(roomTitle(dm, "ag_bob")).toBe("Carol Chen");
    expect(roomTitle(dm, "ag_carol")).toBe("Bob Baker");
    expect(roomTitle(room(), "ag_bob")).toBe("General");
  });
});

describe("internal meets going on", () => {
  it("are kept by chat from meet events, and dropped when over", () => {
    const going = applyToInternalMeets({}, meetEvent("meet_1", "ringing", null, true));
    expect(going).toEqual({ chat_mina: "meet_1" });
    expect(applyToInternalMeets(going, meetEvent("meet_1", "active", null, true))).toBe(going);
    expect(applyToInternalMeets(going, meetEvent("meet_1", "missed", null, true))).toEqual({});
    expect(applyToInternalMeets(going, meetEvent("meet_0", "ended", null, true))).toBe(going);
    expect(applyToInternalMeets(going, meetEvent("meet_2", "ringing", null))).toBe(going);
  });
});

describe("the composer", () => {
  it("is disabled with a reason offline and in a closed chat (its internal chat still takes notes)", () => {
    expect(composerState(chat(), true, false)).toEqual({ enabled: true });
    expect(composerState(chat(), false, false)).toEqual({
      enabled: false,
      reason: "Offline: you can send again once reconnected.",
    });
    expect(composerState(chat({ state: "closed" }), true, false)).toEqual({ enabled: false, reason: "This chat is closed." });
    expect(composerState(chat({ state: "closed" }), true, true)).toEqual({ enabled: true });
    expect(composerState(null, true, false)).toEqual({ enabled: true });
    expect(composerState(null, false, false).enabled).toBe(false);
  });
  it("sends on Enter; Shift+Enter and Enter while composing (IME) type", () => {
    expect(composerKey({ key: "Enter", shiftKey: false, isComposing: false })).toBe("send");
    expect(composerKey({ key: "Enter", shiftKey: true, isComposing: false })).toBe("type");
    expect(composerKey({ key: "Enter", shiftKey: false, isComposing: true })).toBe("type");
    expect(composerKey({ key: "a", shiftKey: false, isComposing: false })).toBe("type");
  });
});
