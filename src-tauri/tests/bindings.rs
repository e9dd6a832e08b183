//! The UI's TypeScript (`ui/src/bindings/`) is generated from this crate's types with ts-rs:
//! one file per type (this crate's command and event types, and every wire type of
//! `meetdesk-protocol` they reach), plus `commands.ts` — a typed function per command and the
//! event names — from the `Command` / `AppEvent` markers the handlers use. Never edited by hand.
//!
//! `cargo test -p meetdesk-desktop --test bindings` regenerates them and fails while a
//! committed file was stale (then rerun it and commit the files), like meetdesk-protocol's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meetdesk_desktop::types::*;
use ts_rs::{Config, TypeVisitor, TS};

fn bindings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
}

/// `i64` times and sequence numbers are JSON numbers well inside 2^53.
fn config() -> Config {
    Config::new().with_large_int("number")
}

/// Renders a type and, recursively, every type it refers to that has a file of its own.
struct Render<'a> {
    cfg: &'a Config,
    out: &'a mut BTreeMap<String, String>,
}

impl TypeVisitor for Render<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if let Some(name) =
            T::output_path().and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        {
            if self.out.contains_key(&name) {
                return;
            }
            let text = T::export_to_string(self.cfg).unwrap_or_else(|e| panic!("rendering {name}: {e}"));
            self.out.insert(name, text);
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
    }
}

struct Commands<'a> {
    cfg: &'a Config,
    imports: std::collections::BTreeSet<String>,
    body: String,
}

impl Commands<'_> {
    fn command<C: Command>(&mut self, render: &mut Render<'_>) {
        render.visit::<C::Args>();
        render.visit::<C::Output>();
        let args = <C::Args as TS>::name(self.cfg);
        let output = <C::Output as TS>::name(self.cfg);
        self.import::<C::Args>();
        self.import::<C::Output>();
        let camel = camel(C::NAME);
        let name = C::NAME;
        if args == "null" {
            self.body.push_str(&format!(
                "export function {camel}(): Promise<{output}> {{\n  return invoke<{output}>(\"{name}\");\n}}\n\n"
            ));
        } else {
            self.body.push_str(&format!(
                "export function {camel}(args: {args}): Promise<{output}> {{\n  return invoke<{output}>(\"{name}\", {{ args }});\n}}\n\n"
            ));
        }
    }

    fn event<E: AppEvent>(&mut self, render: &mut Render<'_>) {
        render.visit::<E::Payload>();
        self.import::<E::Payload>();
        let payload = <E::Payload as TS>::name(self.cfg);
        let camel = camel(&format!("on_{}", E::NAME));
        let name = E::NAME;
        self.body.push_str(&format!(
            "export function {camel}(handler: (payload: {payload}) => void): Promise<UnlistenFn> {{\n  return listen<{payload}>(\"{name}\", (e) => handler(e.payload));\n}}\n\n"
        ));
    }

    /// Imports the named types a signature uses (those with files of their own).
    fn import<T: TS + 'static + ?Sized>(&mut self) {
        struct Names<'a>(&'a mut std::collections::BTreeSet<String>);
        impl TypeVisitor for Names<'_> {
            fn visit<T: TS + 'static + ?Sized>(&mut self) {
                if T::output_path().is_some() {
                    self.0.insert(T::ident(&Config::new()));
                }
            }
        }
        let mut names = Names(&mut self.imports);
        names.visit::<T>();
        T::visit_generics(&mut names);
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn generate() -> BTreeMap<String, String> {
    let cfg = config();
    let mut out = BTreeMap::new();
    let mut cmds = Commands { cfg: &cfg, imports: Default::default(), body: String::new() };
    {
        let mut render = Render { cfg: &cfg, out: &mut out };
        render.visit::<CommandError>();
        render.visit::<Connection>();
        cmds.command::<GetSession>(&mut render);
        cmds.command::<SignIn>(&mut render);
        cmds.command::<SignOut>(&mut render);
        cmds.command::<ListChats>(&mut render);
        cmds.command::<ChatMessages>(&mut render);
        cmds.command::<AcceptRing>(&mut render);
        cmds.command::<DeclineRing>(&mut render);
        cmds.command::<HangUp>(&mut render);
        cmds.command::<SetMuted>(&mut render);
        cmds.command::<StartMeet>(&mut render);
        cmds.command::<CallBack>(&mut render);
        cmds.command::<JoinMeet>(&mut render);
        cmds.command::<GetMeetState>(&mut render);
        cmds.command::<ListHistory>(&mut render);
        cmds.command::<DeleteHistoryRecord>(&mut render);
        cmds.command::<DeleteAllHistory>(&mut render);
        cmds.command::<HistorySuggestions>(&mut render);
        cmds.command::<TeamSearch>(&mut render);
        cmds.command::<OpenDm>(&mut render);
        cmds.command::<GetRoom>(&mut render);
        cmds.command::<SendMessage>(&mut render);
        cmds.command::<InternalMessages>(&mut render);
        cmds.command::<SendInternalMessage>(&mut render);
        cmds.command::<CustomerProfile>(&mut render);
        cmds.command::<ListRooms>(&mut render);
        cmds.command::<RoomMessages>(&mut render);
        cmds.command::<SendRoomMessage>(&mut render);
        cmds.command::<ListAgents>(&mut render);
        cmds.command::<InviteAgent>(&mut render);
        cmds.command::<GetSettings>(&mut render);
        cmds.command::<SetDevices>(&mut render);
        cmds.command::<SetAutostart>(&mut render);
        cmds.command::<ListDevices>(&mut render);
        cmds.command::<CheckMicrophone>(&mut render);
        cmds.command::<TestMicrophone>(&mut render);
        cmds.event::<LinkOpenedEvent>(&mut render);
        cmds.event::<SessionChanged>(&mut render);
        cmds.event::<MeetChanged>(&mut render);
        cmds.event::<ServerEvent>(&mut render);
        cmds.event::<CallHistoryChanged>(&mut render);
    }
    let mut commands = String::from(
        "// Generated by meetdesk-desktop's `bindings` test from the Command and AppEvent markers. Do not edit.\n\
         // Commands reject with a CommandError.\n\
         import { invoke } from \"@tauri-apps/api/core\";\n\
         import { listen, type UnlistenFn } from \"@tauri-apps/api/event\";\n",
    );
    for name in &cmds.imports {
        commands.push_str(&format!("import type {{ {name} }} from \"./{name}\";\n"));
    }
    commands.push('\n');
    commands.push_str(cmds.body.trim_end());
    commands.push('\n');
    let mut index = String::from("// Generated by meetdesk-desktop's `bindings` test. Do not edit.\n\n");
    for name in out.keys() {
        let stem = name.trim_end_matches(".ts");
        index.push_str(&format!("export type {{ {stem} }} from \"./{stem}\";\n"));
    }
    index.push_str("export * from \"./commands\";\n");
    out.insert("commands.ts".to_owned(), commands);
    out.insert("index.ts".to_owned(), index);
    out
}

#[test]
fn export_bindings() {
    meetdesk_testkit::generated::assert_fresh(&bindings_dir(), "ui/src/bindings", &generate());
}

#[test]
fn commands_and_events_are_typed() {
    let files = generate();
    let commands = &files["commands.ts"];
    assert!(
        commands.contains("export function signIn(args: SignInArgs): Promise<SessionState>"),
        "{commands}"
    );
    assert!(
        commands.contains("export function listChats(args: ListChatsArgs): Promise<Array<ChatView>>"),
        "{commands}"
    );
    assert!(commands.contains("listen<Event>(\"server_event\""), "{commands}");
    assert!(
        files.contains_key("ChatView.ts") && files.contains_key("Event.ts"),
        "protocol types are exported"
    );
    assert!(!files.values().any(|f| f.contains("bigint")), "no bigint in the bindings");
}
