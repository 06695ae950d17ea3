//! A Socket.IO client pointed at something that is not an Engine.IO server
//! (a plain WebSocket server, a web page) gets a typed error and stops,
//! instead of retrying for ever in silence.

use sockwire::engineio::{
    self, ClientCloseReason, ClientConfig, ClientSession, ClientSessionEvent, Error,
};
use sockwire::entropy::SplitMix64;
use sockwire::socketio::{self, ClientNotice};
use sockwire::time::Instant;

fn polling_client() -> ClientSession<Vec<u8>, SplitMix64> {
    let now = Instant::from_millis(0);
    let mut c = ClientSession::polling(
        now,
        ClientConfig::default(),
        vec![0u8; 1024],
        SplitMix64::new(1),
    );
    let mut out = [0u8; 512];
    let req = c.poll_request("localhost", &mut out).unwrap();
    assert!(req.is_some(), "the handshake GET is written first");
    c
}

#[test]
fn a_polling_handshake_answered_by_a_web_page_is_not_engine_io() {
    let now = Instant::from_millis(1);
    for (status, body) in [
        (404, &b"Not Found"[..]),
        (200, &b"<!doctype html><title>hi</title>"[..]),
        (200, &b"hello"[..]),
    ] {
        let mut c = polling_client();
        let mut body = body.to_vec();
        let outcome = match c.handle_get_response(now, status, &mut body) {
            Err(e) => Err(e),
            Ok(mut payload) => c.read_message(now, &mut payload).map(|_| ()),
        };
        assert_eq!(outcome, Err(Error::NotEngineIo), "{status} {body:?}");
        assert_eq!(
            c.poll_event(),
            Some(ClientSessionEvent::Closed(ClientCloseReason::Error(
                Error::NotEngineIo
            )))
        );
    }
}

#[test]
fn an_engine_io_refusal_stays_a_request_failure() {
    let now = Instant::from_millis(1);
    let mut c = polling_client();
    let mut body = br#"{"code":5,"message":"Unsupported protocol version"}"#.to_vec();
    assert_eq!(
        c.handle_get_response(now, 400, &mut body).map(|_| ()),
        Err(Error::RequestFailed(400))
    );
}

#[test]
fn the_socket_io_client_stops_and_says_why() {
    let now = Instant::from_millis(0);
    let mut sio: socketio::ClientCore<Vec<u8>> =
        socketio::ClientCore::new(socketio::ClientConfig::default(), vec![0u8; 1024]);
    sio.connect::<Vec<u8>, SplitMix64>(None, "/", None).unwrap();
    let mut rng = SplitMix64::new(9);
    sio.handle_transport_closed(
        now,
        ClientCloseReason::Error(engineio::Error::NotEngineIo),
        &mut rng,
    );
    assert!(sio.is_stopped());
    let notices: Vec<ClientNotice> = std::iter::from_fn(|| sio.poll_event()).collect();
    assert_eq!(notices, [ClientNotice::Fatal(engineio::Error::NotEngineIo)]);
    // No reconnection is ever asked for.
    sio.handle_timeout(Instant::from_millis(600_000));
    assert_eq!(sio.poll_event(), None);
    // A plain transport loss is retried as before.
    let mut sio: socketio::ClientCore<Vec<u8>> =
        socketio::ClientCore::new(socketio::ClientConfig::default(), vec![0u8; 1024]);
    sio.connect::<Vec<u8>, SplitMix64>(None, "/", None).unwrap();
    sio.handle_transport_closed(now, ClientCloseReason::TransportClose, &mut rng);
    assert!(!sio.is_stopped());
}
