//! Echo server on tokio-tungstenite with its default configuration.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn serve(stream: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                let Ok(()) = ws.send(msg).await else { return };
            }
            // Pongs and close replies are queued by tungstenite and sent on the next flush.
            Message::Close(_) => {
                let _ = ws.flush().await;
                return;
            }
            _ => {}
        }
    }
}

fn main() {
    let args = sockwire_bench::server::args();
    sockwire_bench::server::runtime(args.threads).block_on(async move {
        let listener = sockwire_bench::server::listen(args.port);
        sockwire_bench::server::accept_loop(listener, serve).await;
    });
}
