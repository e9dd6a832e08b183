//! Meets' audio through the server's SFU, end to end: a real server on 127.0.0.1 and real
//! WebRTC peers (`meetdesk-rtc` clients) in this process, sending dummy "Opus" payloads (the
//! SFU never decodes) every 20 ms. Every wait is for an event or a packet, bounded by `WAIT`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{start_node, Client, Db, Events, TestServer, WAIT};
use meetdesk_protocol::{self as p, EventBody};
use meetdesk_rtc::{
    ClientPeer, ConnectionState, PeerConfig, Received, MAX_PARTICIPANTS, MAX_REMOTE, SAMPLES_PER_20MS,
};
use meetdesk_store::accounts::{self, Agent};
use meetdesk_store::rooms;
use serde_json::json;
use tokio::task::JoinHandle;

/// One participant device: its API session, its event socket and its peer connection.
struct Device {
    name: String,
    /// The party id the server names it by (agent or customer id).
    party_id: String,
    client: Client,
    events: Events,
    peer: Arc<ClientPeer>,
    /// How long from building the offer to `connected`.
    connect_time: Duration,
    sender: Option<JoinHandle<()>>,
}

impl Device {
    async fn join_media(
        t: &TestServer,
        name: String,
        party_id: String,
        client: Client,
        meet_id: &str,
    ) -> Device {
        let events = client.events().await;
        let started = Instant::now();
        let peer = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
        let answer: p::MediaAnswer = t
            .post_ok(
                Some(&client.token),
                &format!("/api/meets/{meet_id}/media"),
                json!({"sdp": peer.offer()}),
            )
            .await;
        peer.accept_answer(&answer.sdp).await.unwrap();
        peer.wait_connected(WAIT).await.unwrap();
        let connect_time = started.elapsed();
        Device { name, party_id, client, events, peer: Arc::new(peer), connect_time, sender: None }
    }

    /// This device's payload: distinct per participant.
    fn payload(&self) -> Vec<u8> {
        payload_of(&self.party_id)
    }

    /// Sends the device's payload every 20 ms until stopped.
    fn start_sending(&mut self) {
        let peer = Arc::clone(&self.peer);
        let payload = self.payload();
        self.sender = Some(tokio::spawn(async move {
            let mut ts = rand::random::<u32>();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tick.tick().await;
                let _ = peer.send_rtp_payload(payload.clone(), ts).await;
                ts = ts.wrapping_add(SAMPLES_PER_20MS);
            }
        }));
    }

    fn stop_sending(&mut self) {
        if let Some(s) = self.sender.take() {
            s.abort();
        }
    }

    /// The latest `media_slots` event for this device that satisfies `pred`.
    async fn slots_where(
        &mut self,
        meet_id: &str,
        pred: impl Fn(&[p::MediaSlot]) -> bool,
    ) -> Vec<p::MediaSlot> {
        let device = self.client.device_id.clone();
        let e = self
            .events
            .next_where(|e| {
                matches!(&e.body, EventBody::MediaSlots { meet_id: m, device_id, slots }
                    if m == meet_id && *device_id == device && pred(slots))
            })
            .await;
        match e.body {
            EventBody::MediaSlots { slots, .. } => slots,
            _ => unreachable!(),
        }
    }

    /// Reads packets until every `(slot, payload)` expected has arrived; returns the first
    /// packet of each. Fails on a known payload in a slot it was not expected in.
    async fn hear(&self, expected: &HashMap<usize, Vec<u8>>) -> HashMap<usize, Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut heard: HashMap<usize, Received> = HashMap::new();
        while heard.len() < expected.len() {
            let r = tokio::time::timeout_at(deadline, self.peer.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{} heard only slots {:?} of {:?}",
                        self.name,
                        heard.keys().collect::<Vec<_>>(),
                        expected
                    )
                })
                .unwrap();
            match expected.get(&r.slot) {
                Some(want) if want[..] == r.packet.payload[..] => {
                    heard.entry(r.slot).or_insert(r);
                }
                _ => {
                    let elsewhere = expected.values().any(|v| v[..] == r.packet.payload[..]);
                    assert!(
                        !elsewhere,
                        "{} got {:?} in slot {}",
                        self.name,
                        String::from_utf8_lossy(&r.packet.payload),
                        r.slot
                    );
                }
            }
        }
        heard
    }
}

fn payload_of(party_id: &str) -> Vec<u8> {
    format!("opus:{party_id}").into_bytes()
}

/// What a device should hear, from its slot event: slot → the payload of the party in it.
fn expected_from(slots: &[p::MediaSlot]) -> HashMap<usize, Vec<u8>> {
    slots.iter().map(|s| (s.index as usize, payload_of(&s.party.id))).collect()
}

fn media_path(meet_id: &str) -> String {
    format!("/api/meets/{meet_id}/media")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_and_an_agent_hear_each_other_in_slot_0() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let mut bob_ring = bob.events().await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    bob_ring.ring(&meet.id).await;
    let (status, body) = t.act(&bob, &meet.id, "accept").await;
    assert_eq!(status, 200, "{body}");

    let mut mina_dev = Device::join_media(&t, "mina".into(), "cus_mina".into(), mina, &meet.id).await;
    let mut bob_dev = Device::join_media(&t, "bob".into(), "ag_bob".into(), bob, &meet.id).await;
    eprintln!("offer → connected: mina {:?}, bob {:?}", mina_dev.connect_time, bob_dev.connect_time);

    let to_bob = bob_dev.slots_where(&meet.id, |s| !s.is_empty()).await;
    assert_eq!(to_bob.len(), 1);
    assert_eq!((to_bob[0].index, to_bob[0].party.kind), (0, p::PartyKind::Customer));
    assert_eq!((to_bob[0].party.id.as_str(), to_bob[0].party.name.as_str()), ("cus_mina", "Mina Park"));
    let to_mina = mina_dev.slots_where(&meet.id, |s| !s.is_empty()).await;
    assert_eq!(to_mina.len(), 1);
    assert_eq!((to_mina[0].index, to_mina[0].party.id.as_str()), (0, "ag_bob"));

    mina_dev.start_sending();
    bob_dev.start_sending();
    let started = Instant::now();
    let heard = bob_dev.hear(&HashMap::from([(0, mina_dev.payload())])).await;
    assert_eq!(heard[&0].packet.header.version, 2);
    mina_dev.hear(&HashMap::from([(0, bob_dev.payload())])).await;
    eprintln!("first packets both ways within {:?}", started.elapsed());
    assert_eq!(t.server().state.media.connections(&meet.id).await, 2);

    // Bob's network changes: an ICE restart on the same connection keeps his slot and stream.
    let restarted = Instant::now();
    let offer = bob_dev.peer.restart_ice().await.unwrap();
    let answer: p::MediaAnswer = t
        .post_ok(Some(&bob_dev.client.token), &media_path(&meet.id), json!({"sdp": offer, "restart": true}))
        .await;
    bob_dev.peer.accept_answer(&answer.sdp).await.unwrap();
    assert_eq!(t.server().state.media.connections(&meet.id).await, 2, "the same connection");
    while bob_dev.peer.try_recv().await.is_some() {}
    while mina_dev.peer.try_recv().await.is_some() {}
    bob_dev.hear(&HashMap::from([(0, mina_dev.payload())])).await;
    mina_dev.hear(&HashMap::from([(0, bob_dev.payload())])).await;
    eprintln!("ICE restart → media both ways within {:?}", restarted.elapsed());

    // The customer hangs up: the meet ends, and both connections close on the server.
    let (status, _) = t.act(&mina_dev.client, &meet.id, "hangup").await;
    assert_eq!(status, 200);
    assert_eq!(t.server().state.media.connections(&meet.id).await, 0);
    assert_eq!(t.server().state.media.meet_count(), 0);
    mina_dev.stop_sending();
    bob_dev.stop_sending();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_from_outsiders_bad_offers_and_bad_node_signatures_are_refused() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let cfg: p::MediaConfigView = t.get_ok(Some(&bob.token), "/api/media/config").await;
    assert_eq!(cfg.receive_slots as usize, MAX_REMOTE);
    assert!(cfg.ice_servers.is_empty(), "no TURN configured");

    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    let peer = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
    let offer = json!({"sdp": peer.offer()});
    // Rung but not answered yet: not in the meet.
    let (status, err) = t.post(Some(&bob.token), &media_path(&meet.id), offer.clone()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("not_in_meet")), "{err}");
    t.act(&bob, &meet.id, "accept").await;
    // Bob on another device of his is not the device in the meet.
    let bob_phone = t.sign_in("bob@demo.test").await;
    let (status, err) = t.post(Some(&bob_phone.token), &media_path(&meet.id), offer.clone()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("other_device")), "{err}");
    // Alice may see the meet but is not in it; another customer may not even see it.
    let alice = t.sign_in("alice@demo.test").await;
    let (status, err) = t.post(Some(&alice.token), &media_path(&meet.id), offer.clone()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("not_in_meet")), "{err}");
    let eva = t.customer("chat_eva").await;
    let (status, _) = t.post(Some(&eva.token), &media_path(&meet.id), offer.clone()).await;
    assert_eq!(status, 404);
    // A participant's offer without the slot layout.
    let sdp = peer.offer();
    let short = &sdp[..sdp.match_indices("m=audio").nth(2).unwrap().0];
    let (status, err) = t.post(Some(&bob.token), &media_path(&meet.id), json!({"sdp": short})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("bad_offer")), "{err}");
    let (status, err) = t.post(Some(&bob.token), &media_path(&meet.id), json!({"sdp": "v=0 nonsense"})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("bad_offer")), "{err}");
    // An ICE restart needs a connection to restart.
    let (status, err) =
        t.post(Some(&bob.token), &media_path(&meet.id), json!({"sdp": peer.offer(), "restart": true})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("no_media_connection")), "{err}");
    assert_eq!(t.server().state.media.meet_count(), 0, "refused offers leave nothing behind");

    // A meet whose media a node that is gone carried (no row in `nodes`): this node takes it
    // over and answers.
    let mut db = t.server().state.store.conn().await.unwrap();
    sqlx::query("UPDATE meets SET node_id = 'node_elsewhere' WHERE id = $1")
        .bind(&meet.id)
        .execute(&mut *db)
        .await
        .unwrap();
    drop(db);
    let me = t.server().state.node_id.clone();
    // Node-to-node: a forged or stale signature is refused; a signed forward for a meet this
    // node does not carry is answered wrong_media_node (never forwarded again).
    let path = media_path(&meet.id);
    let forward = |header: String| {
        let (http, url, token, offer) =
            (t.http.clone(), format!("{}{path}", t.base), bob.token.clone(), offer.clone());
        async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .header(meetdesk_server::cluster::NODE_HEADER, header)
                .json(&offer)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let cluster = &t.server().state.cluster;
    let now = t.now();
    for bad in [
        format!("node_x;{me};{now};AAAA"),
        cluster.sign("node_x", "node_other", now, &path),
        cluster.sign("node_x", &me, now - 120_000, &path),
        cluster.sign("node_x", &me, now, "/api/meets/other/media"),
    ] {
        let (status, err) = forward(bad.clone()).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (401, Some("bad_node_signature")),
            "{bad}: {err}"
        );
    }
    let (status, err) = forward(cluster.sign("node_x", &me, now, &path)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("wrong_media_node")), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("node_elsewhere"), "{err}");

    let (status, answer) = t.post(Some(&bob.token), &media_path(&meet.id), offer).await;
    assert_eq!(status, 200, "{answer}");
    let view: p::MeetView = t.get_ok(Some(&bob.token), &format!("/api/meets/{}", meet.id)).await;
    assert_eq!(view.node_id, me, "taken over from the node that is gone");
    assert_eq!(t.server().state.media.connections(&meet.id).await, 1);
    peer.close().await.unwrap();
    t.stop().await;
}

/// Four more agents in `room_general`, which then has 8 members.
async fn eight_members_in_general(t: &TestServer) -> Vec<(String, String)> {
    let mut agents: Vec<(String, String)> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|n| (format!("ag_{n}"), format!("{n}@demo.test")))
        .collect();
    let hash = meetdesk_server::auth::hash_password("demo").unwrap();
    let mut db = t.server().state.store.conn().await.unwrap();
    let mut ids = Vec::new();
    for n in ["erin", "frank", "grace", "heidi"] {
        let agent = Agent {
            id: format!("ag_{n}"),
            channel_id: "ch_demo".into(),
            email: format!("{n}@demo.test"),
            name: format!("{n} (test)"),
            password_hash: hash.clone(),
            role: "agent".into(),
            seat: false,
        };
        accounts::insert_agent(&mut db, &agent, 0).await.unwrap();
        ids.push(agent.id.clone());
        agents.push((agent.id, agent.email));
    }
    let general = rooms::room_by_id(&mut db, "room_general").await.unwrap().unwrap();
    rooms::insert_room(&mut db, &general, &ids, 0).await.unwrap();
    assert_eq!(rooms::members(&mut db, "room_general").await.unwrap().len(), MAX_PARTICIPANTS);
    agents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_agents_in_a_team_meet_each_hear_the_seven_others_on_distinct_slots() {
    let t = TestServer::start(Db::Sqlite).await;
    let agents = eight_members_in_general(&t).await;
    let mut clients = Vec::new();
    for (id, email) in &agents {
        clients.push((id.clone(), t.sign_in(email).await));
    }
    let meet = t.start_meet(&clients[0].1, json!({"kind": "room", "room_id": "room_general"}), "audio").await;
    assert_eq!(meet.rings.len(), MAX_PARTICIPANTS - 1);
    for (_, c) in &clients[1..] {
        let (status, body) = t.act(c, &meet.id, "accept").await;
        assert_eq!(status, 200, "{body}");
    }
    // Everyone offers at once.
    let joins = clients.iter().map(|(id, c)| {
        let name = id.trim_start_matches("ag_").to_owned();
        Device::join_media(&t, name, id.clone(), c.clone(), &meet.id)
    });
    let mut devices: Vec<Device> = futures::future::join_all(joins).await;
    let times: Vec<_> = devices.iter().map(|d| d.connect_time.as_millis()).collect();
    eprintln!("offer → connected (ms), 8 devices offering at once: {times:?}");
    assert_eq!(t.server().state.media.connections(&meet.id).await, MAX_PARTICIPANTS);

    for d in devices.iter_mut() {
        d.start_sending();
    }
    let started = Instant::now();
    let mut expectations = Vec::new();
    for i in 0..devices.len() {
        let others = devices.len() - 1;
        let slots = devices[i].slots_where(&meet.id, |s| s.len() == others).await;
        let mut indexes: Vec<u32> = slots.iter().map(|s| s.index).collect();
        indexes.sort();
        assert_eq!(indexes, (0..others as u32).collect::<Vec<_>>(), "distinct slots 0..7");
        assert!(slots.iter().all(|s| s.party.id != devices[i].party_id), "nobody hears themself");
        expectations.push(expected_from(&slots));
    }
    for (d, expected) in devices.iter().zip(&expectations) {
        let heard = d.hear(expected).await;
        assert_eq!(heard.len(), MAX_REMOTE);
    }
    eprintln!("all 8 × 7 streams heard within {:?} of starting to send", started.elapsed());
    for d in devices.iter_mut() {
        d.stop_sending();
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_agent_hears_both_others_and_a_hang_up_frees_the_slot_for_the_next() {
    let t = TestServer::start(Db::Sqlite).await;
    let bob = t.sign_in("bob@demo.test").await;
    let carol = t.sign_in("carol@demo.test").await;
    let mut carol_ring = carol.events().await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    t.act(&bob, &meet.id, "accept").await;
    let mut mina_dev = Device::join_media(&t, "mina".into(), "cus_mina".into(), mina, &meet.id).await;
    let mut bob_dev = Device::join_media(&t, "bob".into(), "ag_bob".into(), bob, &meet.id).await;
    mina_dev.start_sending();
    bob_dev.start_sending();
    mina_dev.hear(&HashMap::from([(0, bob_dev.payload())])).await;

    // P6: bob invites carol mid-meet; she answers and joins the media.
    let (status, body) = t
        .post(
            Some(&bob_dev.client.token),
            &format!("/api/meets/{}/invite", meet.id),
            json!({"agent_id": "ag_carol"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    carol_ring.ring(&meet.id).await;
    let (status, body) = t.act(&carol, &meet.id, "accept").await;
    assert_eq!(status, 200, "{body}");
    let mut carol_dev = Device::join_media(&t, "carol".into(), "ag_carol".into(), carol, &meet.id).await;
    carol_dev.start_sending();
    let carol_slots = carol_dev.slots_where(&meet.id, |s| s.len() == 2).await;
    carol_dev.hear(&expected_from(&carol_slots)).await;
    // The two already there hear her in their next slot (slot 1), and still each other in 0.
    let mina_slots = mina_dev.slots_where(&meet.id, |s| s.len() == 2).await;
    assert!(mina_slots.iter().any(|s| s.index == 1 && s.party.id == "ag_carol"), "{mina_slots:?}");
    let bob_slots = bob_dev.slots_where(&meet.id, |s| s.len() == 2).await;
    assert!(bob_slots.iter().any(|s| s.index == 1 && s.party.id == "ag_carol"), "{bob_slots:?}");
    let heard = mina_dev.hear(&expected_from(&mina_slots)).await;
    let carol_ssrc_at_mina = heard[&1].packet.header.ssrc;
    bob_dev.hear(&expected_from(&bob_slots)).await;
    assert_eq!(t.server().state.media.connections(&meet.id).await, 3);

    // Carol hangs up (her client keeps sending): the server closes her connection at once,
    // the others' slot 1 is freed and nothing of hers reaches them any more.
    let (status, _) = t.act(&carol_dev.client, &meet.id, "hangup").await;
    assert_eq!(status, 200);
    assert_eq!(t.server().state.media.connections(&meet.id).await, 2, "carol's connection is closed");
    // Her client notices the server side is gone (no more ICE responses): watched meanwhile.
    let mut carol_state = carol_dev.peer.peer().watch_state();
    let hung_up = Instant::now();
    let carol_down = tokio::spawn(async move {
        let state = *carol_state.wait_for(|s| *s != ConnectionState::Connected).await.unwrap();
        (state, hung_up.elapsed())
    });
    mina_dev.slots_where(&meet.id, |s| s.len() == 1 && s[0].party.id == "ag_bob").await;
    bob_dev.slots_where(&meet.id, |s| s.len() == 1 && s[0].party.id == "cus_mina").await;
    // What was already on the wire may still land; after the next 10 of bob's packets,
    // another 50 of them (1 s) arrive and not one of carol's.
    let mut last_slot1_seq = None;
    let mut bob_count = 0;
    while bob_count < 60 {
        let r = tokio::time::timeout(WAIT, mina_dev.peer.recv()).await.unwrap().unwrap();
        if r.packet.payload[..] == bob_dev.payload()[..] {
            bob_count += 1;
        } else if r.packet.payload[..] == carol_dev.payload()[..] {
            assert!(bob_count < 10, "carol still heard after she left (at bob packet {bob_count})");
            assert_eq!(r.slot, 1);
            last_slot1_seq = Some(r.packet.header.sequence_number);
        }
    }

    // Slot 1 is reused for the next one invited (alice), continuing its RTP stream.
    let alice = t.sign_in("alice@demo.test").await;
    let mut alice_ring = alice.events().await;
    t.post(
        Some(&bob_dev.client.token),
        &format!("/api/meets/{}/invite", meet.id),
        json!({"agent_id": "ag_alice"}),
    )
    .await;
    alice_ring.ring(&meet.id).await;
    let (status, body) = t.act(&alice, &meet.id, "accept").await;
    assert_eq!(status, 200, "{body}");
    let mut alice_dev = Device::join_media(&t, "alice".into(), "ag_alice".into(), alice, &meet.id).await;
    alice_dev.start_sending();
    let mina_slots = mina_dev.slots_where(&meet.id, |s| s.len() == 2).await;
    assert!(mina_slots.iter().any(|s| s.index == 1 && s.party.id == "ag_alice"), "{mina_slots:?}");
    let heard = mina_dev.hear(&HashMap::from([(1, alice_dev.payload())])).await;
    let first = &heard[&1].packet.header;
    assert_eq!(first.ssrc, carol_ssrc_at_mina, "the slot keeps its SSRC");
    assert!(first.marker, "a new sender in the slot starts a talk spurt");
    if let Some(last) = last_slot1_seq {
        let step = first.sequence_number.wrapping_sub(last);
        assert!((1..200).contains(&step), "slot 1's sequence goes on: {last} → {}", first.sequence_number);
    }
    let (state, after) = tokio::time::timeout(WAIT, carol_down).await.unwrap().unwrap();
    eprintln!("the leaver's client saw {state} {after:?} after the hang-up");
    assert!(matches!(
        state,
        ConnectionState::Disconnected | ConnectionState::Failed | ConnectionState::Closed
    ));
    for d in [&mut mina_dev, &mut bob_dev, &mut carol_dev, &mut alice_dev] {
        d.stop_sending();
    }
    carol_dev.peer.close().await.unwrap();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_two_nodes_an_offer_to_the_other_node_is_forwarded_and_a_hang_up_elsewhere_closes_it() {
    // Node A (the harness's) starts the meet and carries its media; node B shares the database.
    let t = TestServer::start(Db::Postgres).await;
    let node_b = start_node(&t.database).await;
    let b = node_b.url();
    let bob = t.sign_in("bob@demo.test").await;
    let mina = t.customer("chat_mina").await;
    let meet = t.start_meet(&mina, json!({"kind": "user_chat", "chat_id": "chat_mina"}), "audio").await;
    assert_eq!(meet.node_id, t.server().state.node_id);
    t.act(&bob, &meet.id, "accept").await;

    // An offer sent to node B is forwarded to node A, which carries the meet and answers it.
    let peer = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
    let resp = t
        .http
        .post(format!("{b}{}", media_path(&meet.id)))
        .bearer_auth(&bob.token)
        .json(&json!({"sdp": peer.offer()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: p::MediaAnswer = resp.json().await.unwrap();
    peer.accept_answer(&answer.sdp).await.unwrap();
    peer.wait_connected(WAIT).await.unwrap();
    assert_eq!(t.server().state.media.connections(&meet.id).await, 1, "node A holds the connection");
    assert_eq!(node_b.state.media.connections(&meet.id).await, 0);
    peer.close().await.unwrap();

    let mut mina_dev = Device::join_media(&t, "mina".into(), "cus_mina".into(), mina, &meet.id).await;
    let mut bob_dev = Device::join_media(&t, "bob".into(), "ag_bob".into(), bob, &meet.id).await;
    mina_dev.start_sending();
    bob_dev.start_sending();
    bob_dev.hear(&HashMap::from([(0, mina_dev.payload())])).await;

    // Mina hangs up through node B: node A learns it from the database (reconcile) and closes
    // both connections; bob's client sees its connection go.
    let mut bob_state = bob_dev.peer.peer().watch_state();
    let hung_up = Instant::now();
    let resp = t
        .http
        .post(format!("{b}/api/meets/{}/hangup", meet.id))
        .bearer_auth(&mina_dev.client.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let wait = meetdesk_server::media::RECONCILE_EVERY + WAIT;
    let state = tokio::time::timeout(wait, bob_state.wait_for(|s| *s != ConnectionState::Connected))
        .await
        .unwrap()
        .map(|s| *s)
        .unwrap();
    eprintln!(
        "node A closed the media of a meet ended on node B: bob's client saw {state} after {:?}",
        hung_up.elapsed()
    );
    assert_eq!(t.server().state.media.connections(&meet.id).await, 0);
    mina_dev.stop_sending();
    bob_dev.stop_sending();
    node_b.shutdown().await;
    t.stop().await;
}
