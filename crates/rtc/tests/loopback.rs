//! A client and a server peer in one process over 127.0.0.1: the slot layout, media both ways,
//! and an ICE restart on the same connections.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use meetdesk_rtc::{
    rtp, validate_offer, ClientPeer, PeerConfig, RtcError, ServerPeer, AUDIO_MLINES, MAX_REMOTE,
    SAMPLES_PER_20MS,
};
use tokio::sync::mpsc;

/// Bounds a wait that must succeed; never a synchronisation sleep.
const WAIT: Duration = Duration::from_secs(15);

async fn server() -> (ServerPeer, mpsc::UnboundedReceiver<rtp::Packet>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let peer = ServerPeer::new(
        &PeerConfig::loopback(),
        Box::new(move |p| {
            let _ = tx.send(p);
        }),
    )
    .await
    .unwrap();
    (peer, rx)
}

/// Sends `payload` every 20 ms from the client until `rx` yields a packet with it.
async fn client_to_server(
    client: &ClientPeer,
    rx: &mut mpsc::UnboundedReceiver<rtp::Packet>,
    payload: &[u8],
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut ts = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                client.send_rtp_payload(payload.to_vec(), ts).await.unwrap();
                ts = ts.wrapping_add(SAMPLES_PER_20MS);
            }
            p = rx.recv() => {
                let p = p.unwrap();
                if &p.payload[..] == payload {
                    assert_eq!(p.header.ssrc, client.ssrc());
                    return;
                }
            }
            _ = tokio::time::sleep_until(deadline) => panic!("the server never received {payload:?}"),
        }
    }
}

/// Writes `payload` into `slot` every 20 ms until the client reads it in that slot.
async fn server_to_client(
    server: &ServerPeer,
    client: &ClientPeer,
    slot: usize,
    payload: &[u8],
) -> rtp::Packet {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seq = 1000u16;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let packet = rtp::Packet {
                    header: rtp::Header { version: 2, sequence_number: seq, timestamp: u32::from(seq) * SAMPLES_PER_20MS, ..Default::default() },
                    payload: payload.to_vec().into(),
                };
                seq = seq.wrapping_add(1);
                server.write_slot(slot, packet).await.unwrap();
            }
            r = client.recv() => {
                let r = r.unwrap();
                if &r.packet.payload[..] == payload {
                    assert_eq!(r.slot, slot);
                    assert_eq!(Some(r.packet.header.ssrc), server.slot_ssrc(slot));
                    return r.packet;
                }
            }
            _ = tokio::time::sleep_until(deadline) => panic!("the client never received {payload:?} in slot {slot}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offer_has_the_slot_layout_opus_and_loopback_candidates() {
    let client = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
    let sdp = client.offer();
    validate_offer(sdp).unwrap();
    assert_eq!(sdp.matches("m=audio").count(), AUDIO_MLINES, "{sdp}");
    assert_eq!(sdp.matches("a=recvonly").count(), MAX_REMOTE, "{sdp}");
    assert!(sdp.contains("opus/48000/2"), "{sdp}");
    assert!(sdp.contains("minptime=10;useinbandfec=1"), "{sdp}");
    assert!(sdp.contains("127.0.0.1"), "host candidate on loopback: {sdp}");
    assert!(!sdp.contains(".local"), "no mDNS candidates: {sdp}");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_1_to_1_advertises_the_public_ip_instead_of_the_bound_one() {
    // Only SDP is made: nothing is sent to the documentation address.
    let config = PeerConfig { public_ip: Some("203.0.113.7".parse().unwrap()), ..PeerConfig::loopback() };
    let client = ClientPeer::new(&config).await.unwrap();
    let candidates: Vec<&str> = client.offer().lines().filter(|l| l.starts_with("a=candidate")).collect();
    assert!(!candidates.is_empty());
    assert!(
        candidates.iter().all(|c| c.contains("203.0.113.7") && !c.contains("127.0.0.1")),
        "{candidates:?}"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_without_the_layout_are_refused() {
    assert!(matches!(validate_offer("not sdp"), Err(RtcError::BadOffer(_))));
    let client = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
    // Cut the offer after the third audio m-line.
    let sdp = client.offer();
    let third = sdp.match_indices("m=audio").nth(3).unwrap().0;
    let short = &sdp[..third];
    let err = validate_offer(short).unwrap_err();
    assert!(err.to_string().contains("3 audio m-lines"), "{err}");
    let (server, _) = server().await;
    assert!(matches!(server.answer(short).await, Err(RtcError::BadOffer(_))));
    client.close().await.unwrap();
    server.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_flows_both_ways_in_the_right_slot_and_survives_an_ice_restart() {
    let started = Instant::now();
    let client = ClientPeer::new(&PeerConfig::loopback()).await.unwrap();
    let (server, mut mic) = server().await;
    let answer = server.answer(client.offer()).await.unwrap();
    assert!(answer.contains("a=sendonly") && answer.contains("a=recvonly"), "{answer}");
    client.accept_answer(&answer).await.unwrap();
    client.wait_connected(WAIT).await.unwrap();
    server.peer().wait_connected(WAIT).await.unwrap();
    eprintln!("offer → connected in {:?}", started.elapsed());

    client_to_server(&client, &mut mic, b"mic-1").await;
    for slot in [0, 3, MAX_REMOTE - 1] {
        server_to_client(&server, &client, slot, format!("slot-{slot}").as_bytes()).await;
    }

    // ICE restart: new credentials, same connection, same slots.
    let restarted = Instant::now();
    let offer = client.restart_ice().await.unwrap();
    let ufrag = |sdp: &str| sdp.lines().find(|l| l.starts_with("a=ice-ufrag:")).unwrap().to_owned();
    assert_ne!(ufrag(&offer), ufrag(client.offer()), "a restart offer has new ICE credentials");
    let answer = server.answer(&offer).await.unwrap();
    client.accept_answer(&answer).await.unwrap();
    client_to_server(&client, &mut mic, b"mic-after-restart").await;
    server_to_client(&server, &client, 2, b"slot-after-restart").await;
    eprintln!("ICE restart → media again in {:?}", restarted.elapsed());
    let client = Arc::new(client);
    client.close().await.unwrap();
    server.close().await.unwrap();
}
