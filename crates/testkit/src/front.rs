//! A TCP front door for a test: what a load balancer in front of server nodes does when one
//! dies. Clients connect to [`Front::addr`]; each connection is piped to the current backend.
//! [`Front::fail_over`] points new connections at another backend and cuts every connection
//! open to the old one (a dead node's sockets are gone too), so clients see their HTTP and
//! WebSocket connections drop and reconnect — to the new backend — as they would in
//! production.

use std::io;
use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Front {
    addr: SocketAddr,
    backend: watch::Sender<SocketAddr>,
    accept: JoinHandle<()>,
}

impl Front {
    /// Listens on 127.0.0.1 (a free port) in front of `backend`.
    pub async fn start(backend: SocketAddr) -> io::Result<Front> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(backend);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut rx = rx.clone();
                let to = *rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(to).await else { return };
                    let mut client = client;
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut upstream) => {}
                        // Failed over: this connection's backend is gone.
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Ok(Front { addr, backend: tx, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` this front door.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// New connections go to `backend`; every connection open now is cut.
    pub fn fail_over(&self, backend: SocketAddr) {
        self.backend.send_replace(backend);
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A backend that answers each connection with its name, then echoes.
    async fn backend(name: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    s.write_all(name.as_bytes()).await.unwrap();
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn failing_over_cuts_open_connections_and_sends_new_ones_to_the_other_backend() {
        let (a, b) = (backend("A").await, backend("B").await);
        let front = Front::start(a).await.unwrap();
        let mut c1 = TcpStream::connect(front.addr()).await.unwrap();
        let mut buf = [0u8; 1];
        c1.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"A");
        front.fail_over(b);
        let mut rest = Vec::new();
        c1.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the old connection is cut");
        let mut c2 = TcpStream::connect(front.addr()).await.unwrap();
        c2.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"B");
        c2.write_all(b"x").await.unwrap();
        c2.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"x");
    }
}
