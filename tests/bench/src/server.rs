//! What the three echo servers share, so that they differ only in the WebSocket code:
//! the command line, the runtime, the listener and the socket options.

use std::net::SocketAddr;

pub struct ServerArgs {
    pub port: u16,
    pub threads: usize,
}

/// `--port N` (default 9001) and `--threads N` (default 1: one core for the server,
/// the other for the load generator).
pub fn args() -> ServerArgs {
    let mut a = ServerArgs {
        port: 9001,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--port" => a.port = v.parse().expect("--port"),
            "--threads" => a.threads = v.parse().expect("--threads"),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

pub fn runtime(threads: usize) -> tokio::runtime::Runtime {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    }
}

/// A listener on 127.0.0.1 with a backlog deep enough for thousands of connections at once.
pub fn listen(port: u16) -> tokio::net::TcpListener {
    crate::raise_nofile_limit();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_reuseaddr(true).unwrap();
    sock.bind(addr)
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    sock.listen(4096).unwrap()
}

/// Accept forever, handing each connection (with TCP_NODELAY set) to `serve`.
pub async fn accept_loop<F, Fut>(listener: tokio::net::TcpListener, serve: F)
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    println!("listening on {}", listener.local_addr().unwrap());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
            Err(e) => {
                // EMFILE and the like: back off briefly instead of spinning.
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
