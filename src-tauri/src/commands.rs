//! The Tauri commands: thin, each one a call into [`Desktop`]. Names and types come from the
//! [`Command`] markers in `types.rs`, which also generate the TypeScript side.

use std::sync::Arc;

use tauri::State;

use crate::desktop::Desktop;
use crate::meet::Request;
use crate::types::*;

type Out<C> = Result<<C as Command>::Output, CommandError>;

#[tauri::command]
pub async fn get_session(desktop: State<'_, Arc<Desktop>>) -> Out<GetSession> {
    Ok(desktop.state().await)
}

#[tauri::command]
pub async fn sign_in(desktop: State<'_, Arc<Desktop>>, args: <SignIn as Command>::Args) -> Out<SignIn> {
    desktop.sign_in(&args.server, &args.email, &args.password).await
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Arc<Desktop>>) -> Out<SignOut> {
    desktop.sign_out().await
}

#[tauri::command]
pub async fn list_chats(
    desktop: State<'_, Arc<Desktop>>,
    args: <ListChats as Command>::Args,
) -> Out<ListChats> {
    desktop.list_chats(args.filter).await
}

#[tauri::command]
pub async fn chat_messages(
    desktop: State<'_, Arc<Desktop>>,
    args: <ChatMessages as Command>::Args,
) -> Out<ChatMessages> {
    desktop.chat_messages(&args.chat_id).await
}

#[tauri::command]
pub async fn accept_ring(
    desktop: State<'_, Arc<Desktop>>,
    args: <AcceptRing as Command>::Args,
) -> Out<AcceptRing> {
    desktop.meet_request(Request::Accept(args.meet_id)).await
}

#[tauri::command]
pub async fn decline_ring(
    desktop: State<'_, Arc<Desktop>>,
    args: <DeclineRing as Command>::Args,
) -> Out<DeclineRing> {
    desktop.meet_request(Request::Decline(args.meet_id)).await
}

#[tauri::command]
pub async fn hang_up(desktop: State<'_, Arc<Desktop>>) -> Out<HangUp> {
    desktop.meet_request(Request::HangUp).await
}

#[tauri::command]
pub async fn set_muted(desktop: State<'_, Arc<Desktop>>, args: <SetMuted as Command>::Args) -> Out<SetMuted> {
    desktop.meet_request(Request::SetMuted(args.muted)).await
}

#[tauri::command]
pub async fn start_meet(
    desktop: State<'_, Arc<Desktop>>,
    args: <StartMeet as Command>::Args,
) -> Out<StartMeet> {
    desktop.meet_request(Request::Start(args.target)).await
}

#[tauri::command]
pub async fn call_back(desktop: State<'_, Arc<Desktop>>, args: <CallBack as Command>::Args) -> Out<CallBack> {
    desktop.meet_request(Request::CallBack(args.record_id)).await
}

#[tauri::command]
pub async fn join_meet(desktop: State<'_, Arc<Desktop>>, args: <JoinMeet as Command>::Args) -> Out<JoinMeet> {
    desktop.meet_request(Request::Join(args.meet_id)).await
}

#[tauri::command]
pub async fn meet_state(desktop: State<'_, Arc<Desktop>>) -> Out<GetMeetState> {
    Ok(desktop.meet_state().await)
}
