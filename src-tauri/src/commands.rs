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

#[tauri::command]
pub async fn list_history(desktop: State<'_, Arc<Desktop>>) -> Out<ListHistory> {
    desktop.history().await?.view().await
}

#[tauri::command]
pub async fn delete_history_record(
    desktop: State<'_, Arc<Desktop>>,
    args: <DeleteHistoryRecord as Command>::Args,
) -> Out<DeleteHistoryRecord> {
    desktop.history().await?.delete(&args.record_id).await
}

#[tauri::command]
pub async fn delete_all_history(desktop: State<'_, Arc<Desktop>>) -> Out<DeleteAllHistory> {
    desktop.history().await?.delete_all().await
}

#[tauri::command]
pub async fn history_suggestions(desktop: State<'_, Arc<Desktop>>) -> Out<HistorySuggestions> {
    desktop.history().await?.suggestions().await
}

#[tauri::command]
pub async fn team_search(
    desktop: State<'_, Arc<Desktop>>,
    args: <TeamSearch as Command>::Args,
) -> Out<TeamSearch> {
    desktop.history().await?.search(&args.query).await
}

#[tauri::command]
pub async fn open_dm(desktop: State<'_, Arc<Desktop>>, args: <OpenDm as Command>::Args) -> Out<OpenDm> {
    desktop.history().await?.open_dm(&args.agent_id).await
}

#[tauri::command]
pub async fn get_room(desktop: State<'_, Arc<Desktop>>, args: <GetRoom as Command>::Args) -> Out<GetRoom> {
    desktop.history().await?.room(&args.room_id).await
}

// ---- the inbox (`inbox.rs`) ---------------------------------------------------------------------

#[tauri::command]
pub async fn send_message(
    desktop: State<'_, Arc<Desktop>>,
    args: <SendMessage as Command>::Args,
) -> Out<SendMessage> {
    crate::inbox::send_message(&desktop.api().await?, &args.chat_id, &args.body).await
}

#[tauri::command]
pub async fn internal_messages(
    desktop: State<'_, Arc<Desktop>>,
    args: <InternalMessages as Command>::Args,
) -> Out<InternalMessages> {
    crate::inbox::internal_messages(&desktop.api().await?, &args.chat_id).await
}

#[tauri::command]
pub async fn send_internal_message(
    desktop: State<'_, Arc<Desktop>>,
    args: <SendInternalMessage as Command>::Args,
) -> Out<SendInternalMessage> {
    crate::inbox::send_internal(&desktop.api().await?, &args.chat_id, &args.body).await
}

#[tauri::command]
pub async fn customer_profile(
    desktop: State<'_, Arc<Desktop>>,
    args: <CustomerProfile as Command>::Args,
) -> Out<CustomerProfile> {
    crate::inbox::customer(&desktop.api().await?, &args.customer_id).await
}

#[tauri::command]
pub async fn list_rooms(desktop: State<'_, Arc<Desktop>>) -> Out<ListRooms> {
    crate::inbox::rooms(&desktop.api().await?).await
}

#[tauri::command]
pub async fn room_messages(
    desktop: State<'_, Arc<Desktop>>,
    args: <RoomMessages as Command>::Args,
) -> Out<RoomMessages> {
    crate::inbox::room_messages(&desktop.api().await?, &args.room_id).await
}

#[tauri::command]
pub async fn send_room_message(
    desktop: State<'_, Arc<Desktop>>,
    args: <SendRoomMessage as Command>::Args,
) -> Out<SendRoomMessage> {
    crate::inbox::send_room_message(&desktop.api().await?, &args.room_id, &args.body).await
}

#[tauri::command]
pub async fn list_agents(desktop: State<'_, Arc<Desktop>>) -> Out<ListAgents> {
    crate::inbox::agents(&desktop.api().await?).await
}

#[tauri::command]
pub async fn invite_agent(
    desktop: State<'_, Arc<Desktop>>,
    args: <InviteAgent as Command>::Args,
) -> Out<InviteAgent> {
    crate::inbox::invite(&desktop.api().await?, &args.meet_id, &args.agent_id).await
}
