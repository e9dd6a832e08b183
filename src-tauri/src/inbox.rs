//! The inbox's requests beyond the chat list (issue 5): posting in a user chat and its internal
//! chat, the customer's profile, team rooms and their messages, the channel's agents, and
//! inviting an agent into a meet (P6). Each checks its input here, with an error for people,
//! then is one request to the server; what it changes comes back to every screen as server
//! events (`message`, `meet_updated`), as anyone else's change does.

use meetdesk_client::api::Api;
use meetdesk_protocol::{self as p, AgentView, MessageView};

use crate::types::CommandError;

/// The server's limit on a message (characters, after trimming).
pub const MAX_MESSAGE: usize = 10_000;

/// An id as the server makes them (`chat_mina`, `msg_…`, `dm_ag_a_ag_b`): it goes into a
/// request's path, so nothing else gets through.
pub fn check_id(what: &str, id: &str) -> Result<(), CommandError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CommandError::new("bad_input", format!("No such {what}.")))
    }
}

/// A message's text as it is sent: trimmed, not empty, at most [`MAX_MESSAGE`] characters.
pub fn check_body(body: &str) -> Result<String, CommandError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(CommandError::new("bad_input", "Write a message first."));
    }
    if body.chars().count() > MAX_MESSAGE {
        return Err(CommandError::new("bad_input", "A message has at most 10,000 characters."));
    }
    Ok(body.to_owned())
}

pub async fn send_message(api: &Api, chat_id: &str, body: &str) -> Result<MessageView, CommandError> {
    check_id("chat", chat_id)?;
    let body = p::PostMessageRequest { body: check_body(body)? };
    Ok(api.post(&format!("/api/chats/{chat_id}/messages"), &body).await?)
}

pub async fn internal_messages(api: &Api, chat_id: &str) -> Result<Vec<MessageView>, CommandError> {
    check_id("chat", chat_id)?;
    Ok(api.get(&format!("/api/chats/{chat_id}/internal-messages")).await?)
}

pub async fn send_internal(api: &Api, chat_id: &str, body: &str) -> Result<MessageView, CommandError> {
    check_id("chat", chat_id)?;
    let body = p::PostMessageRequest { body: check_body(body)? };
    Ok(api.post(&format!("/api/chats/{chat_id}/internal-messages"), &body).await?)
}

pub async fn customer(api: &Api, customer_id: &str) -> Result<p::CustomerView, CommandError> {
    check_id("customer", customer_id)?;
    Ok(api.get(&format!("/api/customers/{customer_id}")).await?)
}

pub async fn rooms(api: &Api) -> Result<Vec<p::RoomView>, CommandError> {
    Ok(api.get("/api/rooms").await?)
}

pub async fn room_messages(api: &Api, room_id: &str) -> Result<Vec<MessageView>, CommandError> {
    check_id("room", room_id)?;
    Ok(api.get(&format!("/api/rooms/{room_id}/messages")).await?)
}

pub async fn send_room_message(api: &Api, room_id: &str, body: &str) -> Result<MessageView, CommandError> {
    check_id("room", room_id)?;
    let body = p::PostMessageRequest { body: check_body(body)? };
    Ok(api.post(&format!("/api/rooms/{room_id}/messages"), &body).await?)
}

pub async fn agents(api: &Api) -> Result<Vec<AgentView>, CommandError> {
    Ok(api.get("/api/agents").await?)
}

/// Rings `agent_id` into the meet (P6). The meet task hears the change as `meet_updated`.
pub async fn invite(api: &Api, meet_id: &str, agent_id: &str) -> Result<p::MeetView, CommandError> {
    check_id("meet", meet_id)?;
    check_id("agent", agent_id)?;
    let body = p::InviteRequest { agent_id: agent_id.to_owned() };
    Ok(api.post(&format!("/api/meets/{meet_id}/invite"), &body).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_that_could_leave_the_path_are_refused() {
        for good in ["chat_mina", "dm_ag_alice_ag_bob", "msg-1"] {
            assert!(check_id("chat", good).is_ok(), "{good}");
        }
        for bad in ["", "../agents", "a/b", "a?b", "a b", "é", &"x".repeat(201)] {
            let e = check_id("room", bad).unwrap_err();
            assert_eq!((e.code.as_str(), e.message.as_str()), ("bad_input", "No such room."), "{bad:?}");
        }
    }

    #[test]
    fn a_message_is_trimmed_and_bounded() {
        assert_eq!(check_body("  hello\nthere \n").unwrap(), "hello\nthere");
        assert_eq!(check_body(" \n\t").unwrap_err().message, "Write a message first.");
        assert!(check_body(&"é".repeat(MAX_MESSAGE)).is_ok(), "characters, not bytes");
        assert_eq!(check_body(&"a".repeat(MAX_MESSAGE + 1)).unwrap_err().code, "bad_input");
    }

    #[tokio::test]
    async fn bad_input_never_reaches_the_server() {
        // Nobody listens on port 9: an answer other than bad_input would mean a request went out.
        let api = Api::new("http://127.0.0.1:9").unwrap().with_token("t");
        assert_eq!(send_message(&api, "chat_mina", "   ").await.unwrap_err().code, "bad_input");
        assert_eq!(send_internal(&api, "../x", "hi").await.unwrap_err().code, "bad_input");
        assert_eq!(room_messages(&api, "").await.unwrap_err().code, "bad_input");
        assert_eq!(invite(&api, "meet_1", "ag/../x").await.unwrap_err().code, "bad_input");
        assert_eq!(customer(&api, "cus mina").await.unwrap_err().code, "bad_input");
    }
}
