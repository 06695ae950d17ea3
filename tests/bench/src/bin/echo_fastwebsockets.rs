//! Echo server on fastwebsockets, upgraded through hyper as its documentation shows.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            // Pongs and close replies are written by fastwebsockets itself.
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade_service(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = echo(fut).await;
    });
    Ok(response)
}

async fn serve(stream: tokio::net::TcpStream) {
    let io = hyper_util::rt::TokioIo::new(stream);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(upgrade_service))
        .with_upgrades()
        .await;
}

fn main() {
    let args = sockwire_bench::server::args();
    sockwire_bench::server::runtime(args.threads).block_on(async move {
        let listener = sockwire_bench::server::listen(args.port);
        sockwire_bench::server::accept_loop(listener, serve).await;
    });
}
