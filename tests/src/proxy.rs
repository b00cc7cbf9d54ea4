//! A TCP proxy whose network can be cut and restored, to test what happens
//! when the path to the relay goes silent without anyone closing it (a
//! phone leaving Wi-Fi): no reset, no FIN, just nothing.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards loopback connections to an upstream address until dropped.
#[derive(Debug)]
pub struct CuttableProxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl CuttableProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, cut_rx) = watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, cut_rx.clone()));
            }
        });
        Ok(Self { addr, cut, accept })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on nothing passes, in either direction, on old or new
    /// connections; bytes wait (as TCP would retransmit) until [`Self::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets traffic flow again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

async fn wait_until_up(cut: &mut watch::Receiver<bool>) -> bool {
    cut.wait_for(|is_cut| !is_cut).await.is_ok()
}

async fn forward(client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    // A connection made during a cut is accepted (as a dead network's
    // half-open path would seem) but gets nowhere until the cut ends.
    if !wait_until_up(&mut cut).await {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(pump(client_read, server_write, cut.clone()));
    let down = tokio::spawn(pump(server_read, client_write, cut));
    let _ = tokio::join!(up, down);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_until_up(&mut cut).await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read just before a cut are held back until it ends.
        if !wait_until_up(&mut cut).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
