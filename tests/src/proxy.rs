//! A TCP proxy between a node and its database that can stop forwarding without closing
//! anything: a network partition as a node sees one. Its connections stay open, what either
//! side sends meanwhile waits in the proxy (then in the kernel's buffers), and once forwarding
//! resumes everything arrives, late, in order — as when a switch comes back.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy listening on localhost, forwarding to one address.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    forwarding: watch::Sender<bool>,
}

impl Proxy {
    /// A proxy to `target`, forwarding.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (forwarding, open) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, open.clone()));
                tokio::spawn(pump(server_read, client_write, open.clone()));
            }
        });
        Proxy { addr, forwarding }
    }

    /// Stops forwarding in both directions; nothing is closed.
    pub fn cut(&self) {
        self.forwarding.send_replace(false);
    }

    /// Forwards again, what waited first.
    pub fn heal(&self) {
        self.forwarding.send_replace(true);
    }
}

/// Copies `from` to `to`, holding each chunk while forwarding is stopped.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut open: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if open.wait_for(|forwarding| *forwarding).await.is_err() {
            break;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
