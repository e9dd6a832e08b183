//! Peers on a fixed media port range: each binds a free port of the range, taken ports are
//! skipped, and a full range is a clear error.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};

use meetdesk_rtc::{ClientPeer, PeerConfig, PortRange, RtcError};

/// The ports of the host candidates in an SDP (each once).
fn candidate_ports(sdp: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate:") && l.contains(" typ host"))
        .map(|l| l.split(' ').nth(5).unwrap().parse().unwrap())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// A range of `n` ports free on 127.0.0.1 right now, held by sockets until they are dropped.
fn free_range(n: u16) -> (PortRange, Vec<UdpSocket>) {
    for _ in 0..50 {
        let start = 20_000 + rand::random::<u16>() % 10_000;
        let held: Vec<UdpSocket> = (start..start + n)
            .map_while(|p| UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], p))).ok())
            .collect();
        if held.len() == usize::from(n) {
            return (PortRange::new(start, start + n - 1).unwrap(), held);
        }
    }
    panic!("no {n} consecutive free UDP ports on 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_bind_distinct_free_ports_of_the_range_and_a_full_range_is_an_error() {
    let (range, mut held) = free_range(3);
    // The middle port stays taken by someone else.
    let taken = held.remove(1).local_addr().unwrap().port();
    let taken_socket = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], taken))).unwrap();
    drop(held);
    let config = PeerConfig { port_range: Some(range), ..PeerConfig::loopback() };

    let a = ClientPeer::new(&config).await.unwrap();
    let b = ClientPeer::new(&config).await.unwrap();
    let (pa, pb) = (candidate_ports(a.offer()), candidate_ports(b.offer()));
    assert_eq!((pa.len(), pb.len()), (1, 1), "{pa:?} {pb:?}");
    let mut ports = vec![pa[0], pb[0]];
    ports.sort_unstable();
    let mut expected: Vec<u16> = (range.start()..=range.end()).filter(|p| *p != taken).collect();
    expected.sort_unstable();
    assert_eq!(ports, expected, "both free ports used, the taken one skipped");

    let err = ClientPeer::new(&config).await.unwrap_err();
    assert!(matches!(err, RtcError::NoFreePort(r, _) if r == range), "{err}");
    assert!(err.to_string().contains(&range.to_string()), "{err}");

    // A closed connection gives its port back.
    a.close().await.unwrap();
    drop(a);
    let c = ClientPeer::new(&config).await.unwrap();
    assert_eq!(candidate_ports(c.offer()), pa);
    for p in [b, c] {
        p.close().await.unwrap();
    }
    drop(taken_socket);
}
