// The Meet button rules and the meet panel's words (meet.ts), pure.
import { describe, expect, it } from "vitest";
import type { AgentView, CallUi, ChannelSettings, MessageView } from "./bindings";
import {
  callDuration, canCallCustomer, canInvite, canOpenAgain, canStartInternalMeet, canStartMeet, chatMeetAction,
  formatDuration, internalMeetAction, invitableAgents, missedIndicator, missedReasonText, teamMeetAction,
} from "./meet";
import { chat, message as plainMessage, room } from "./test-fixtures";

/** A missed meet's indicator message. */
const message = (over: Partial<MessageView> = {}): MessageView =>
  plainMessage({
    author: { kind: "system", id: null, name: "meetdesk" },
    body: "Missed meet",
    meet_id: "meet_1",
    missed_reason: "no_answer",
    created_at: 5,
    ...over,
  });

const ON: ChannelSettings = { audio_enabled: true, video_enabled: true };
const OFF: ChannelSettings = { audio_enabled: false, video_enabled: false };

function agent(over: Partial<AgentView> = {}): AgentView {
  return { id: "ag_bob", email: "bob@demo.test", name: "Bob Baker", role: "agent", seat: true, ...over };
}

function call(over: Partial<CallUi> = {}): CallUi {
  return {
    meet_id: "meet_1",
    phase: "connected",
    muted: false,
    started_at: 1,
    participants: ["Carol Chen"],
    internal: false,
    scope: "team_group",
    chat_id: null,
    input_level: 0,
    notice: null,
    ...over,
  };
}

describe("the chat's Meet button (P3)", () => {
  it("shows for a native chat when meets are on and the agent has a seat and no meet", () => {
    expect(canStartMeet(chat(), ON, agent(), false)).toBe(true);
  });
  it("is hidden in chats from external messengers", () => {
    for (const source of ["instagram", "whatsapp", "line", "kakao"] as const) {
      expect(canStartMeet(chat({ source }), ON, agent(), false)).toBe(false);
    }
  });
  it("is hidden without a seat, with meets off, and during a meet", () => {
    expect(canStartMeet(chat(), ON, agent({ seat: false }), false)).toBe(false);
    expect(canStartMeet(chat(), OFF, agent(), false)).toBe(false);
    expect(canStartMeet(chat(), ON, agent(), true)).toBe(false);
  });
});

describe("the chat bar with a meet going on in the chat", () => {
  it("offers to join it instead of a second meet (a seat is needed to join a customer meet)", () => {
    expect(chatMeetAction(chat(), ON, agent(), false)).toBe("start");
    expect(chatMeetAction(chat({ ongoing_meet: "meet_1" }), ON, agent(), false)).toBe("join");
    expect(chatMeetAction(chat({ ongoing_meet: "meet_1" }), ON, agent({ seat: false }), false)).toBe(null);
    expect(chatMeetAction(chat({ ongoing_meet: "meet_1" }), ON, agent(), true)).toBe(null);
    expect(chatMeetAction(chat({ source: "kakao" }), ON, agent(), false)).toBe(null);
  });
});

describe("the profile's Voice meet (P3)", () => {
  it("needs meets on, a seat and no meet going on here", () => {
    expect(canCallCustomer(ON, agent(), false)).toBe(true);
    expect(canCallCustomer(ON, agent({ seat: false }), false)).toBe(false);
    expect(canCallCustomer(OFF, agent(), false)).toBe(false);
    expect(canCallCustomer(ON, agent(), true)).toBe(false);
  });
});

describe("the internal chat's Meet (P4)", () => {
  it("needs no seat, only meets on and no meet going on here", () => {
    expect(canStartInternalMeet(ON, false)).toBe(true);
    expect(canStartInternalMeet(OFF, false)).toBe(false);
    expect(canStartInternalMeet(ON, true)).toBe(false);
  });
});

describe("the internal thread with an internal meet going on", () => {
  it("offers to join it", () => {
    expect(internalMeetAction(null, ON, false)).toBe("start");
    expect(internalMeetAction("meet_1", ON, false)).toBe("join");
    expect(internalMeetAction("meet_1", ON, true)).toBe(null);
    expect(internalMeetAction(null, OFF, false)).toBe(null);
  });
});

describe("a team room's Meet (P5)", () => {
  it("starts a meet, or joins the one going on instead of a second", () => {
    expect(teamMeetAction(room(), ON, false)).toBe("start");
    expect(teamMeetAction(room({ ongoing_meet: "meet_9" }), ON, false)).toBe("join");
    expect(teamMeetAction(room({ kind: "dm" }), ON, false)).toBe("start");
  });
  it("offers nothing during a meet, and no new meet when meets are off", () => {
    expect(teamMeetAction(room(), ON, true)).toBe(null);
    expect(teamMeetAction(room({ ongoing_meet: "meet_9" }), ON, true)).toBe(null);
    expect(teamMeetAction(room(), OFF, false)).toBe(null);
    expect(teamMeetAction(room({ ongoing_meet: "meet_9" }), OFF, false)).toBe("join");
  });
});

describe("the missed-meet indicator", () => {
  it("shows the reason to admins only", () => {
    expect(missedIndicator(message(), true)?.reason).toBe("No answer");
    expect(missedIndicator(message(), false)?.reason).toBe(null);
    expect(missedIndicator(message({ missed_reason: null }), true)?.reason).toBe(null);
  });
  it("words every reason", () => {
    expect(missedReasonText("declined")).toBe("Declined");
    expect(missedReasonText("offline_link_unused")).toBe("Customer offline, link not used");
    expect(missedReasonText("cancelled_by_caller")).toBe("Cancelled by the caller");
    expect(missedReasonText("failed_to_connect")).toBe("Failed to connect");
    expect(missedReasonText("something_new")).toBe("something_new");
  });
  it("opens the same kind of meet in the same place again", () => {
    expect(missedIndicator(message(), false)?.again).toEqual({ kind: "user_chat", chat_id: "chat_mina" });
    expect(missedIndicator(message({ internal: true }), false)?.again).toEqual({ kind: "internal", chat_id: "chat_mina" });
    expect(missedIndicator(message({ chat_id: null, room_id: "room_general" }), false)?.again)
      .toEqual({ kind: "room", room_id: "room_general" });
  });
  it("is only the system's missed-meet message", () => {
    expect(missedIndicator(message({ author: { kind: "agent", id: "ag_bob", name: "Bob" } }), true)).toBe(null);
    expect(missedIndicator(message({ meet_id: null }), true)).toBe(null);
    expect(missedIndicator(message({ body: "Join the meet: …" }), true)).toBe(null);
  });
  it("offers Open meet by the place's own rule", () => {
    const userChat = { kind: "user_chat", chat_id: "chat_mina" } as const;
    expect(canOpenAgain(userChat, chat(), ON, agent(), false)).toBe(true);
    expect(canOpenAgain(userChat, chat({ source: "line" }), ON, agent(), false)).toBe(false);
    expect(canOpenAgain(userChat, null, ON, agent(), false)).toBe(false);
    expect(canOpenAgain({ kind: "internal", chat_id: "chat_mina" }, chat(), ON, agent({ seat: false }), false)).toBe(true);
    expect(canOpenAgain({ kind: "room", room_id: "room_general" }, null, ON, agent(), true)).toBe(false);
  });
});

describe("inviting during a meet (P6)", () => {
  const agents = [
    agent(),
    agent({ id: "ag_carol", name: "Carol Chen" }),
    agent({ id: "ag_dave", name: "Dave Diaz", seat: false }),
    agent({ id: "ag_alice", name: "Alice Admin", role: "admin" }),
  ];
  it("offers the agents not in the meet, alphabetically, never oneself", () => {
    expect(invitableAgents(agents, call(), "ag_bob").map((a) => a.id)).toEqual(["ag_alice", "ag_dave"]);
  });
  it("offers only agents with a seat in a customer meet", () => {
    const c = call({ scope: "user_chat", participants: ["Mina Park"] });
    expect(invitableAgents(agents, c, "ag_bob").map((a) => a.id)).toEqual(["ag_alice", "ag_carol"]);
  });
  it("is offered while the meet is on", () => {
    expect(canInvite(call())).toBe(true);
    expect(canInvite(call({ phase: "reconnecting" }))).toBe(true);
    expect(canInvite(call({ phase: "calling" }))).toBe(false);
    expect(canInvite(call({ phase: "ended" }))).toBe(false);
  });
});

describe("the meet panel's clock", () => {
  it("formats durations", () => {
    expect(formatDuration(0)).toBe("00:00");
    expect(formatDuration(61_000)).toBe("01:01");
    expect(formatDuration(3_600_000 + 5_000)).toBe("1:00:05");
    expect(formatDuration(-5)).toBe("00:00");
  });
  it("counts from the media's start only", () => {
    expect(callDuration(call({ started_at: null }), 10_000)).toBe(null);
    expect(callDuration(call({ started_at: 1_000 }), 11_000)).toBe("00:10");
  });
});
