// The inbox's rules, pure (no Tauri, no DOM): which chats a tab shows, in which order, and how
// the server's events change what is on screen.
import type { ChatFilter, ChatView, Event, MessageView } from "./bindings";

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

/** The open chat's messages after a server event (a message is added once, in time order). */
export function applyToMessages(messages: MessageView[], event: Event, chatId: string): MessageView[] {
  if (event.type !== "message") return messages;
  const m = event.message;
  if (m.chat_id !== chatId || m.internal || messages.some((x) => x.id === m.id)) return messages;
  return [...messages, m].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether the lists must be read again (the socket could not resume: nothing is missed). */
export function needsReload(event: Event): boolean {
  return event.type === "resync";
}
