// Wire values for the UI's unit tests: a valid default of each type, with overrides.
import type { ChatView, MessageView, RoomView } from "./bindings";

export function chat(over: Partial<ChatView> = {}): ChatView {
  return {
    id: "chat_mina",
    customer: { id: "cus_mina", name: "Mina Park", email: "mina@example.com", online: true },
    assignee: { id: "ag_bob", name: "Bob Baker" },
    state: "open",
    source: "native",
    input_open: true,
    created_at: 1,
    updated_at: 2,
    customer_meet_button: { shown: true },
    ongoing_meet: null,
    ...over,
  };
}

export function message(over: Partial<MessageView> = {}): MessageView {
  return {
    id: "msg_1",
    chat_id: "chat_mina",
    room_id: null,
    internal: false,
    author: { kind: "agent", id: "ag_bob", name: "Bob Baker" },
    body: "Hello",
    meet_id: null,
    link: null,
    missed_reason: null,
    created_at: 10,
    ...over,
  };
}

export function room(over: Partial<RoomView> = {}): RoomView {
  return { id: "room_general", kind: "public", name: "General", members: [], ongoing_meet: null, ...over };
}
