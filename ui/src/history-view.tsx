// The call history screen (P8): the records from the local cache (offline too), grouped by day;
// pressing one starts a meet of the same kind with the same counterpart; delete one (its button
// or the context menu) or all (the ⋯ menu, confirmed); suggestions on an empty history; and
// "New team meet" (search agents and rooms). Rules are in history.ts; choices in docs/history.md.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  callBack,
  deleteAllHistory,
  deleteHistoryRecord,
  getRoom,
  historySuggestions,
  joinMeet,
  listHistory,
  onCallHistoryChanged,
  openDm,
  startMeet,
  teamSearch,
  type CallRecordView,
  type CommandError,
  type HistoryView,
  type MeetTarget,
  type Suggestions,
  type TeamSearchResult,
} from "./bindings";
import {
  ALREADY_HANDLED, counterpartName, groupByDay, infoRoom, offersJoin, pressAction, recordDetail, recordIcon, searchActionText,
  searchPlan, searchSections, syncText, timeOfDay, VIDEO_UNSUPPORTED, type MeetPlan,
} from "./history";
import type { SignedIn } from "./shell";
import { openTeamRoom } from "./team-view";
import { errorText, settle } from "./util";

/** Small line icons (inline SVG: emoji fonts are not on every desktop). */
const ICON_PATHS = {
  audio: "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z",
  video: "M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11z",
  lock: "M12 2a5 5 0 0 0-5 5v3H6a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V11a1 1 0 0 0-1-1h-1V7a5 5 0 0 0-5-5zm-3 8V7a3 3 0 0 1 6 0v3z",
  info: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z",
} as const;

function Icon({ name, label }: { name: keyof typeof ICON_PATHS; label?: string }) {
  return (
    <svg class={`icon icon-${name}`} viewBox="0 0 24 24" width="14" height="14" role={label ? "img" : undefined}
      aria-label={label} aria-hidden={label ? undefined : "true"}>
      {label && <title>{label}</title>}
      <path d={ICON_PATHS[name]} fill="currentColor" />
    </svg>
  );
}

/** A context menu's place and items. */
type Menu = { x: number; y: number; items: { label: string; testid: string; disabled?: string; run?: () => void }[] };

/** A meet to start (P8 suggestions, the search): audio now; video offered but disabled. */
function meetMenu(x: number, y: number, audio: () => void): Menu {
  return {
    x,
    y,
    items: [
      { label: "Meet audio", testid: "md-history-menu-audio", run: audio },
      { label: "Meet video", testid: "md-history-menu-video", disabled: VIDEO_UNSUPPORTED },
    ],
  };
}

function ContextMenu({ menu, close }: { menu: Menu; close: () => void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && close();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [close]);
  return (
    <div class="history-menu-backdrop" onClick={close} onContextMenu={(e) => (e.preventDefault(), close())}>
      <ul class="history-menu" role="menu" style={{ left: `${menu.x}px`, top: `${menu.y}px` }} data-testid="md-history-context-menu"
        onClick={(e) => e.stopPropagation()}>
        {menu.items.map((item) => (
          <li key={item.testid} role="none">
            <button role="menuitem" data-testid={item.testid} disabled={item.disabled !== undefined} title={item.disabled}
              onClick={() => {
                close();
                item.run?.();
              }}>{item.label}</button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function RecordRow({ record, onPress, onDelete, onMenu }: {
  record: CallRecordView;
  onPress: () => void;
  onDelete: () => void;
  onMenu: (e: MouseEvent) => void;
}) {
  const icon = recordIcon(record);
  const room = infoRoom(record);
  return (
    <li class={`history-item ${icon.tone} ${record.internal ? "internal" : ""}`} data-testid="md-history-record"
      data-record-id={record.id} data-direction={record.direction} data-media={record.media}
      data-internal={String(record.internal)} data-handled={String(record.handled)} onContextMenu={onMenu}>
      <button class="history-press" data-testid="md-history-call" onClick={onPress}
        title={record.internal ? "Internal meets cannot be returned" : `Meet ${counterpartName(record)} again`}>
        <span class={`history-icon ${icon.tone}`} title={icon.label} aria-label={icon.label}>
          <span class="glyph">{icon.glyph}</span>
          <span class="media"><Icon name={icon.media} /></span>
        </span>
        <span class="history-main">
          <span class="name" data-testid="md-history-name">
            {record.internal && <span class="lock" data-testid="md-history-lock"><Icon name="lock" label="Internal meet" /></span>}
            {counterpartName(record)}
          </span>
          <span class="muted small" data-testid="md-history-detail">{recordDetail(record)}</span>
        </span>
        <span class="history-time muted small" data-testid="md-history-time">{timeOfDay(record.started_at)}</span>
      </button>
      {room !== null ? (
        <button class="history-icon-button" data-testid="md-history-info" title="Open the room" aria-label="Open the room"
          onClick={() => openTeamRoom(room)}><Icon name="info" /></button>
      ) : (
        <span class="history-icon-spacer" />
      )}
      <button class="history-icon-button" data-testid="md-history-delete" title="Delete this record" aria-label="Delete this record"
        onClick={onDelete}>✕</button>
    </li>
  );
}

/** "New team meet": search agents and rooms, pick one → a meet. */
function TeamMeetSearch({ run, close }: { run: (plan: MeetPlan) => Promise<void>; close: () => void }) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<TeamSearchResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [menu, setMenu] = useState<Menu | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && close();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [close]);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      teamSearch({ query }).then(
        (list) => live && (setResults(list), setError(null)),
        (e) => live && setError(errorText(e)),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query]);
  const pick = (r: TeamSearchResult) => {
    const plan = searchPlan(r);
    if (plan) run(plan).then(close, (e) => setError(errorText(e)));
  };
  return (
    <div class="history-dialog-backdrop" onClick={close}>
      <div class="history-dialog history-search" role="dialog" aria-label="New team meet" data-testid="md-history-search"
        onClick={(e) => e.stopPropagation()}>
        <div class="history-dialog-head">
          <strong>New team meet</strong>
          <span class="spacer" />
          <button class="link" data-testid="md-history-search-close" onClick={close}>Close</button>
        </div>
        <input ref={input} class="history-search-input" data-testid="md-history-search-input" type="search"
          placeholder="Search agents and rooms" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        {error && <p class="error small" role="alert">{error}</p>}
        {results === null ? (
          <p class="muted">Searching…</p>
        ) : results.length === 0 ? (
          <p class="muted" data-testid="md-history-search-empty">No agent or room matches.</p>
        ) : (
          searchSections(results).map((section) => (
            <section key={section.kind} class="history-search-section" data-kind={section.kind}>
              <h3>{section.title}</h3>
              <ul>
                {section.results.map((r) => (
                  <li key={`${r.kind}:${r.room_id ?? r.agent?.id}`} class="history-search-result" data-testid="md-history-search-result"
                    data-kind={r.kind} data-room-id={r.room_id ?? ""}
                    onContextMenu={(e) => {
                      if (r.kind !== "dm" || r.ongoing_meet) return;
                      e.preventDefault();
                      setMenu(meetMenu(e.clientX, e.clientY, () => pick(r)));
                    }}>
                    <span class="name">{r.name}</span>
                    {r.ongoing_meet && <span class="badge">Meet going on</span>}
                    <span class="spacer" />
                    <button class="meet-button" data-testid="md-history-search-meet" onClick={() => pick(r)}>{searchActionText(r)}</button>
                  </li>
                ))}
              </ul>
            </section>
          ))
        )}
        {menu && <ContextMenu menu={menu} close={() => setMenu(null)} />}
      </div>
    </div>
  );
}

function SuggestionsPanel({ online, run }: { online: boolean; run: (target: MeetTarget) => Promise<void> }) {
  const [suggestions, setSuggestions] = useState<Suggestions | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [menu, setMenu] = useState<Menu | null>(null);
  useEffect(() => {
    if (!online) return;
    return settle(historySuggestions(), (s) => (setSuggestions(s), setError(null)), setError);
  }, [online]);
  const start = (target: MeetTarget) => {
    setError(null);
    run(target).catch((e) => setError(errorText(e)));
  };
  if (suggestions === null || (suggestions.customers.length === 0 && suggestions.agents.length === 0)) {
    return error ? <p class="error small" role="alert">{error}</p> : null;
  }
  const item = (key: string, name: string, kind: string, target: MeetTarget) => (
    <li key={key} class="history-suggestion" data-testid="md-history-suggestion" data-kind={kind} data-id={key}>
      <button class="history-press" title={`Meet ${name} (audio)`} onClick={() => start(target)}
        onContextMenu={(e) => {
          e.preventDefault();
          setMenu(meetMenu(e.clientX, e.clientY, () => start(target)));
        }}>
        <span class="history-icon"><Icon name="audio" /></span>
        <span class="name">{name}</span>
      </button>
    </li>
  );
  return (
    <div class="history-suggestions" data-testid="md-history-suggestions">
      {error && <p class="error small" role="alert">{error}</p>}
      {suggestions.customers.length > 0 && (
        <section>
          <h3>Customers</h3>
          <ul>{suggestions.customers.map((c) => item(c.customer_id, c.name, "customer", { kind: "user_chat", chat_id: c.chat_id }))}</ul>
        </section>
      )}
      {suggestions.agents.length > 0 && (
        <section>
          <h3>Agents</h3>
          <ul>{suggestions.agents.map((a) => item(a.agent.id, a.agent.name, "agent", { kind: "room", room_id: a.room_id }))}</ul>
        </section>
      )}
      {menu && <ContextMenu menu={menu} close={() => setMenu(null)} />}
    </div>
  );
}

export function History({ session }: { session: SignedIn }) {
  const [view, setView] = useState<HistoryView | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** A word about the last press (internal refusal, a failure). */
  const [message, setMessage] = useState<string | null>(null);
  /** A handled missed record pressed: "already handled", Call or Cancel. */
  const [confirm, setConfirm] = useState<CallRecordView | null>(null);
  /** A room's meet going on, offered instead of a second one. */
  const [join, setJoin] = useState<{ meet_id: string; name: string } | null>(null);
  const [menu, setMenu] = useState<Menu | null>(null);
  const [headMenu, setHeadMenu] = useState(false);
  const [confirmAll, setConfirmAll] = useState(false);
  const [searching, setSearching] = useState(false);
  const [noticeHidden, setNoticeHidden] = useState(false);
  const online = session.connection === "online";

  useEffect(() => {
    let live = true;
    const load = () =>
      listHistory().then(
        (v) => live && (setView(v), setError(null)),
        (e) => live && setError(errorText(e)),
      );
    const off = onCallHistoryChanged(() => void load());
    void load();
    return () => {
      live = false;
      void off.then((f) => f());
    };
  }, []);

  const say = (text: string | null) => {
    setMessage(text);
    setJoin(null);
  };

  const callRecord = async (r: CallRecordView) => {
    say(null);
    try {
      await callBack({ record_id: r.id });
    } catch (e) {
      const code = (e as Partial<CommandError>)?.code ?? "";
      if (offersJoin(code, r) && r.room_id) {
        const room = await getRoom({ room_id: r.room_id }).catch(() => null);
        if (room?.ongoing_meet) {
          setJoin({ meet_id: room.ongoing_meet, name: room.name });
          return;
        }
      }
      setMessage(errorText(e));
    }
  };

  const press = (r: CallRecordView) => {
    const action = pressAction(r);
    if (action.kind === "refuse") say(action.message);
    else if (action.kind === "confirm") (say(null), setConfirm(r));
    else void callRecord(r);
  };

  const remove = (r: CallRecordView) => {
    // Gone at once (the cache); the event re-reads the list.
    setView((v) => (v === null ? v : { ...v, records: v.records.filter((x) => x.id !== r.id) }));
    deleteHistoryRecord({ record_id: r.id }).catch((e) => setError(errorText(e)));
  };

  const runPlan = async (plan: MeetPlan) => {
    if (plan.kind === "join") await joinMeet({ meet_id: plan.meet_id });
    else if (plan.kind === "start") await startMeet({ target: plan.target });
    else {
      const dm = await openDm({ agent_id: plan.agent_id });
      await startMeet({ target: { kind: "room", room_id: dm.id } });
    }
  };

  const status = view?.status ?? null;
  const sync = status ? syncText(status, session.connection) : null;
  const groups = view ? groupByDay(view.records, Date.now()) : [];
  return (
    <section class="history" data-testid="md-history">
      <div class="history-bar">
        <h2>Call history</h2>
        <span class="spacer" />
        <button class="meet-button" data-testid="md-history-new-team-meet" onClick={() => setSearching(true)}>New team meet</button>
        <div class="history-head-menu">
          <button class="history-icon-button" data-testid="md-history-menu" aria-haspopup="menu" aria-expanded={headMenu}
            title="More" onClick={() => setHeadMenu((o) => !o)}>⋯</button>
          {headMenu && (
            <ul class="history-menu inline" role="menu">
              <li role="none">
                <button role="menuitem" data-testid="md-history-delete-all" disabled={!view || view.records.length === 0}
                  onClick={() => (setHeadMenu(false), setConfirmAll(true))}>Delete all call records</button>
              </li>
            </ul>
          )}
        </div>
      </div>
      {sync && (
        <p class={`history-sync ${status?.sync ?? ""}`} data-testid="md-history-sync" data-sync={status?.sync}
          data-pending={status?.pending_deletes}>{sync}</p>
      )}
      {status?.notice && !noticeHidden && (
        <p class="banner history-notice" data-testid="md-history-notice" role="status">
          {status.notice} <button class="link" onClick={() => setNoticeHidden(true)}>Dismiss</button>
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {message && <p class="history-message" role="alert" data-testid="md-history-message">{message}</p>}
      {join && (
        <p class="history-message" role="alert" data-testid="md-history-join-offer">
          A meet is going on in {join.name}.{" "}
          <button class="meet-button" data-testid="md-history-join"
            onClick={() => joinMeet({ meet_id: join.meet_id }).then(() => say(null), (e) => say(errorText(e)))}>Join it</button>
        </p>
      )}
      {view === null ? (
        <p class="muted">Loading…</p>
      ) : view.records.length === 0 ? (
        <div class="history-empty" data-testid="md-history-empty">
          <p class="muted">No calls yet.</p>
          <SuggestionsPanel online={online} run={(target) => startMeet({ target }).then(() => {})} />
        </div>
      ) : (
        <div class="history-list" data-testid="md-history-list">
          {groups.map((g) => (
            <section key={g.label} class="history-day">
              <h3>{g.label}</h3>
              <ul>
                {g.records.map((r) => (
                  <RecordRow key={r.id} record={r} onPress={() => press(r)} onDelete={() => remove(r)}
                    onMenu={(e) => {
                      e.preventDefault();
                      setMenu({
                        x: e.clientX,
                        y: e.clientY,
                        items: [
                          r.internal
                            ? { label: "Call", testid: "md-history-menu-call", disabled: "Internal meets cannot be returned" }
                            : { label: "Call", testid: "md-history-menu-call", run: () => press(r) },
                          { label: "Delete", testid: "md-history-menu-delete", run: () => remove(r) },
                        ],
                      });
                    }} />
                ))}
              </ul>
            </section>
          ))}
        </div>
      )}
      {menu && <ContextMenu menu={menu} close={() => setMenu(null)} />}
      {confirm && (
        <div class="history-dialog-backdrop" onClick={() => setConfirm(null)}>
          <div class="history-dialog" role="alertdialog" data-testid="md-history-handled" onClick={(e) => e.stopPropagation()}>
            <p data-testid="md-history-handled-text">{ALREADY_HANDLED}</p>
            <div class="history-dialog-actions">
              <button class="link" onClick={() => setConfirm(null)}>Cancel</button>
              <button class="meet-button" data-testid="md-history-handled-call"
                onClick={() => {
                  const r = confirm;
                  setConfirm(null);
                  void callRecord(r);
                }}>Call</button>
            </div>
          </div>
        </div>
      )}
      {confirmAll && (
        <div class="history-dialog-backdrop" onClick={() => setConfirmAll(false)}>
          <div class="history-dialog" role="alertdialog" data-testid="md-history-confirm" onClick={(e) => e.stopPropagation()}>
            <p><strong>Delete all call records?</strong></p>
            <p class="muted small">They are deleted on this computer now and on the server when online.</p>
            <div class="history-dialog-actions">
              <button class="link" onClick={() => setConfirmAll(false)}>Cancel</button>
              <button class="danger" data-testid="md-history-confirm-delete"
                onClick={() => {
                  setConfirmAll(false);
                  setView((v) => (v === null ? v : { ...v, records: [] }));
                  deleteAllHistory().catch((e) => setError(errorText(e)));
                }}>Delete</button>
            </div>
          </div>
        </div>
      )}
      {searching && <TeamMeetSearch run={runPlan} close={() => setSearching(false)} />}
    </section>
  );
}
