// The team screen: rooms (public and private groups) and DMs, a room's messages with a composer,
// and its [Meet] (P5: rings the members; joins the room's meet when one is going on).
//
// Other screens open a room with `openTeamRoom(roomId)` (e.g. a team call record's info icon):
// the shell switches to this screen, which opens that room.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  getRoom,
  joinMeet,
  listAgents,
  listRooms,
  onServerEvent,
  openDm,
  roomMessages,
  sendRoomMessage,
  startMeet,
  type AgentView,
  type ChannelSettings,
  type MeetTarget,
  type MessageView,
  type RoomView,
} from "./bindings";
import { Composer, MeetMenu, MessageList } from "./conversation";
import { useInMeet } from "./inbox-view";
import {
  addMessage, applyToRoomMessages, applyToRooms, composerState, needsReload, roomSections, roomTitle, unknownRoom,
} from "./inbox";
import { teamMeetAction } from "./meet";
import type { SignedIn } from "./shell";
import { errorText, settle } from "./util";

// ---- opening a room from another screen ---------------------------------------------------------

let requestedRoom: string | null = null;
const roomListeners = new Set<(roomId: string) => void>();

/** Opens the team screen on this room (the shell listens and switches screens). */
export function openTeamRoom(roomId: string): void {
  requestedRoom = roomId;
  for (const listener of roomListeners) listener(roomId);
}

/** Calls `listener` whenever a screen asks for a room; returns the way to stop listening. */
export function onTeamRoomRequested(listener: (roomId: string) => void): () => void {
  roomListeners.add(listener);
  return () => void roomListeners.delete(listener);
}

/** The room asked for last and not opened yet (taken once). */
function takeRequestedRoom(): string | null {
  const id = requestedRoom;
  requestedRoom = null;
  return id;
}

// ---- the screen ---------------------------------------------------------------------------------

export function Team({ session }: { session: SignedIn }) {
  const selfId = session.agent.id;
  const isAdmin = session.agent.role === "admin";
  const online = session.connection === "online";
  const [rooms, setRooms] = useState<RoomView[] | null>(null);
  // The list as the event handler sees it (it subscribes once per selected room).
  const roomsNow = useRef<RoomView[] | null>(null);
  roomsNow.current = rooms;
  const [agents, setAgents] = useState<AgentView[]>([]);
  const [selected, setSelected] = useState<string | null>(() => takeRequestedRoom());
  const [messages, setMessages] = useState<MessageView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [meetError, setMeetError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const [settings, setSettings] = useState<ChannelSettings>(session.channel.settings);
  const inMeet = useInMeet();
  useEffect(() => setMeetError(null), [selected]);

  useEffect(() => onTeamRoomRequested(() => {
    const id = takeRequestedRoom();
    if (id !== null) (setSelected(id), setReloads((n) => n + 1));
  }), []);

  useEffect(() => {
    const rooms = settle(listRooms(), (list) => (setRooms(list), setError(null)), setError);
    const agents = settle(listAgents(), setAgents);
    return () => (rooms(), agents());
  }, [online, reloads]);

  // A room asked for that the list does not hold (yet): read it alone.
  const missing = rooms !== null && selected !== null && !rooms.some((r) => r.id === selected) ? selected : null;
  useEffect(() => {
    if (missing === null) return;
    return settle(
      getRoom({ room_id: missing }),
      (room) => setRooms((list) => (list === null || list.some((r) => r.id === room.id) ? list : [...list, room])),
      setError,
    );
  }, [missing]);

  useEffect(() => {
    setMessages(null);
    if (selected === null) return;
    return settle(roomMessages({ room_id: selected }), setMessages, setError);
  }, [selected, online, reloads]);

  useEffect(() => {
    const off = onServerEvent((event) => {
      if (event.type === "settings_updated") setSettings(event.settings);
      if (needsReload(event)) {
        setReloads((n) => n + 1);
        return;
      }
      if (roomsNow.current !== null && unknownRoom(roomsNow.current, event) !== null) setReloads((n) => n + 1);
      setRooms((list) => (list === null ? list : applyToRooms(list, event)));
      if (selected !== null) setMessages((list) => (list === null ? list : applyToRoomMessages(list, event, selected)));
    });
    return () => void off.then((f) => f());
  }, [selected]);

  /** A DM with an agent (made on first use), opened. */
  const dmWith = (agent: AgentView) => {
    openDm({ agent_id: agent.id }).then(
      (room) => {
        setRooms((list) => (list === null || list.some((r) => r.id === room.id) ? list : [...list, room]));
        setSelected(room.id);
      },
      (e) => setError(errorText(e)),
    );
  };

  const room = rooms?.find((r) => r.id === selected) ?? null;
  const withDm = new Set((rooms ?? []).filter((r) => r.kind === "dm").flatMap((r) => r.members.map((m) => m.id)));
  const noDmYet = agents.filter((a) => a.id !== selfId && !withDm.has(a.id));
  const action = room ? teamMeetAction(room, settings, inMeet) : null;
  const meet = (target: MeetTarget) => {
    setMeetError(null);
    startMeet({ target }).catch((e) => setMeetError(errorText(e)));
  };

  return (
    <>
      <aside class="chats rooms" data-testid="md-rooms">
        {error && <p class="error" role="alert">{error}</p>}
        {rooms === null ? (
          <p class="muted">Loading…</p>
        ) : (
          roomSections(rooms).map((section) => (
            <div key={section.title} class="room-section">
              <h4>{section.title}</h4>
              <ul>
                {section.rooms.map((r) => (
                  <li key={r.id} data-room-id={r.id} data-room-kind={r.kind}
                    class={`chat-item ${r.id === selected ? "selected" : ""}`} onClick={() => setSelected(r.id)}>
                    <span class="name">{r.kind === "dm" ? roomTitle(r, selfId) : `# ${r.name}`}</span>
                    {r.ongoing_meet && <span class="live small" title="A meet is going on">● Meet</span>}
                  </li>
                ))}
                {section.title === "Direct messages" && noDmYet.map((a) => (
                  <li key={a.id} data-dm-agent-id={a.id} class="chat-item new-dm" onClick={() => dmWith(a)}>
                    <span class="name">{a.name}</span>
                    <span class="muted small">Start a DM</span>
                  </li>
                ))}
              </ul>
            </div>
          ))
        )}
      </aside>
      <section class="chat pane" id="room">
        {room === null ? (
          <p class="muted center">{selected !== null && rooms !== null ? "That room is not available." : "Pick a room or a person."}</p>
        ) : (
          <div class="thread">
            <div class="chat-bar">
              <h2 id="room-title" data-room-id={room.id}>{room.kind === "dm" ? roomTitle(room, selfId) : `# ${room.name}`}</h2>
              <span class="muted small">
                {room.kind === "dm" ? "Direct message" : room.members.map((m) => m.name).join(", ")}
              </span>
              <span class="spacer" />
              {action === "start" && (
                <MeetMenu testid="md-room-meet" item="Meet audio" onPick={() => meet({ kind: "room", room_id: room.id })} />
              )}
              {action === "join" && room.ongoing_meet && (
                <button class="meet-button" data-testid="md-room-join" title="A meet is going on in this room"
                  onClick={() => {
                    setMeetError(null);
                    if (room.ongoing_meet) joinMeet({ meet_id: room.ongoing_meet }).catch((e) => setMeetError(errorText(e)));
                  }}>Join meet</button>
              )}
            </div>
            {meetError && <p class="error" role="alert" data-testid="md-room-meet-error">{meetError}</p>}
            <MessageList id="room-messages" messages={messages} isAdmin={isAdmin} empty="No messages yet." selfId={selfId}
              canOpen={(t) => t.kind === "room" && teamMeetAction(room, settings, inMeet) === "start"} onOpen={meet} />
            <Composer testid="md-room-composer" placeholder={`Message ${room.kind === "dm" ? roomTitle(room, selfId) : room.name}`}
              state={composerState(null, online, false)}
              onSend={(body) => sendRoomMessage({ room_id: room.id, body }).then((m) => setMessages((l) => l && addMessage(l, m)))} />
          </div>
        )}
      </section>
    </>
  );
}
