// The inbox's rules, pure (no Tauri, no DOM): which chats a tab shows, in which order, and how
// the server's events change what is on screen.
import type { ChatFilter, ChatView, Event, MessageView, RoomView } from "./bindings";

/** Does a chat belong in this tab for this agent? (the server's `GET /api/chats?filter=`) */
export function inTab(chat: ChatView, filter: ChatFilter, agentId: string): boolean {
  switch (filter) {
    case "mine":
      return chat.assignee?.id === agentId;
    case "unassigned":
      return chat.assignee === null;
    case "all":
      return true;
  }
}

/** Newest activity first, then by id (the server's order). */
export function sortChats(chats: ChatView[]): ChatView[] {
  return [...chats].sort((a, b) => b.updated_at - a.updated_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The tab's list after a server event. */
export function applyToChats(chats: ChatView[], event: Event, filter: ChatFilter, agentId: string): ChatView[] {
  switch (event.type) {
    case "chat_updated": {
      const rest = chats.filter((c) => c.id !== event.chat.id);
      return sortChats(inTab(event.chat, filter, agentId) ? [...rest, event.chat] : rest);
    }
    case "message": {
      const m = event.message;
      if (m.chat_id === null || m.internal) return chats;
      return sortChats(chats.map((c) => (c.id === m.chat_id ? { ...c, updated_at: Math.max(c.updated_at, m.created_at) } : c)));
    }
    default:
      return chats;
  }
}

/** A message added to a list once (the sender's answer and its event both bring it), in time order. */
export function addMessage(messages: MessageView[], m: MessageView): MessageView[] {
  if (messages.some((x) => x.id === m.id)) return messages;
  return [...messages, m].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The open chat's messages after a server event (a message is added once, in time order). */
export function applyToMessages(messages: MessageView[], event: Event, chatId: string): MessageView[] {
  if (event.type !== "message") return messages;
  const m = event.message;
  if (m.chat_id !== chatId || m.internal) return messages;
  return addMessage(messages, m);
}

/** The open chat's internal chat after a server event (P4: managers only). */
export function applyToInternal(messages: MessageView[], event: Event, chatId: string): MessageView[] {
  if (event.type !== "message") return messages;
  const m = event.message;
  if (m.chat_id !== chatId || !m.internal) return messages;
  return addMessage(messages, m);
}

/** The open team room's messages after a server event. */
export function applyToRoomMessages(messages: MessageView[], event: Event, roomId: string): MessageView[] {
  if (event.type !== "message" || event.message.room_id !== roomId) return messages;
  return addMessage(messages, event.message);
}

/**
 * The rooms after a server event: a meet of a room going on or over changes its `ongoing_meet`
 * (P5: [Meet] then offers to join it).
 */
export function applyToRooms(rooms: RoomView[], event: Event): RoomView[] {
  if (event.type === "room_updated") {
    // A room made or changed elsewhere (a DM the other agent opened): listed at once.
    const room = event.room;
    return rooms.some((r) => r.id === room.id) ? rooms.map((r) => (r.id === room.id ? room : r)) : [...rooms, room];
  }
  if (event.type !== "meet_updated") return rooms;
  const meet = event.meet;
  const roomId = meet.scope.room_id;
  if (roomId === null) return rooms;
  const going = meet.state === "ringing" || meet.state === "waiting_for_link" || meet.state === "active";
  return rooms.map((r) => {
    if (r.id !== roomId) return r;
    if (going) return r.ongoing_meet === meet.id ? r : { ...r, ongoing_meet: meet.id };
    return r.ongoing_meet === meet.id ? { ...r, ongoing_meet: null } : r;
  });
}

/**
 * The room an event is about, when the list does not hold it: a room this agent was added to
 * while the app was not listening (a `room_updated` missed). The Team screen reads its list
 * again then.
 */
export function unknownRoom(rooms: RoomView[], event: Event): string | null {
  const roomId =
    event.type === "message" ? event.message.room_id : event.type === "meet_updated" ? event.meet.scope.room_id : null;
  return roomId !== null && !rooms.some((r) => r.id === roomId) ? roomId : null;
}

/**
 * Internal meets going on, by user chat (P4), from `meet_updated` events: a chat's view does not
 * carry them (its `ongoing_meet` is the customer meet). Unchanged lists are returned as they were.
 */
export function applyToInternalMeets(ongoing: Record<string, string>, event: Event): Record<string, string> {
  if (event.type !== "meet_updated" || event.meet.scope.kind !== "internal") return ongoing;
  const meet = event.meet;
  const chatId = meet.scope.chat_id;
  if (chatId === null) return ongoing;
  const going = meet.state === "ringing" || meet.state === "waiting_for_link" || meet.state === "active";
  if (going) return ongoing[chatId] === meet.id ? ongoing : { ...ongoing, [chatId]: meet.id };
  if (ongoing[chatId] !== meet.id) return ongoing;
  const { [chatId]: _gone, ...rest } = ongoing;
  return rest;
}

/** The team screen's sections, in the server's order (each alphabetical already). */
export function roomSections(rooms: RoomView[]): { title: string; rooms: RoomView[] }[] {
  return [
    { title: "Public groups", rooms: rooms.filter((r) => r.kind === "public") },
    { title: "Private groups", rooms: rooms.filter((r) => r.kind === "private") },
    { title: "Direct messages", rooms: rooms.filter((r) => r.kind === "dm") },
  ];
}

/** A room's name as this agent reads it: a DM is named after the other agent. */
export function roomTitle(room: RoomView, selfId: string): string {
  if (room.kind !== "dm") return room.name;
  const other = room.members.find((m) => m.id !== selfId);
  return other ? other.name : room.name;
}

/** Whether the composer takes a message now, and if not, why (said next to it). */
export type ComposerState = { enabled: true } | { enabled: false; reason: string };

/**
 * The composer of a user chat (`internal`: its internal chat) or a team room (`chat` null).
 * Offline nothing can be sent; a closed user chat takes no reply (its internal chat still does).
 */
export function composerState(chat: ChatView | null, online: boolean, internal: boolean): ComposerState {
  if (!online) return { enabled: false, reason: "Offline: you can send again once reconnected." };
  if (chat !== null && !internal && chat.state === "closed") {
    return { enabled: false, reason: "This chat is closed." };
  }
  return { enabled: true };
}

/** What a key does in the composer: Enter sends, Shift+Enter (or Enter in an IME) is a newline. */
export function composerKey(e: { key: string; shiftKey: boolean; isComposing: boolean }): "send" | "type" {
  return e.key === "Enter" && !e.shiftKey && !e.isComposing ? "send" : "type";
}

/** Whether the lists must be read again (the socket could not resume: nothing is missed). */
export function needsReload(event: Event): boolean {
  return event.type === "resync";
}
