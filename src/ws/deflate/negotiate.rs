//! Negotiating permessage-deflate (RFC 7692 section 7.1) in both roles.
//!
//! The client offers one `permessage-deflate` element; the server accepts the
//! first offer it can honour and answers with the agreed parameters, or
//! declines by not answering. An offer with an unknown, duplicated or
//! malformed parameter is declined (section 5); an answer like that, or one
//! the offer did not allow, fails the client's handshake.

use super::{MAX_WINDOW, MIN_WINDOW};
use crate::http;
use crate::ws::Role;

/// What this endpoint wants from permessage-deflate: how large a window its
/// compressor may use and its decompressor accepts, and whether contexts are
/// kept between messages. A microcontroller asks for small windows and no
/// context takeover ([`DeflateConfig::small`]); one that wants no compression
/// at all simply does not offer or accept it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeflateConfig {
    /// Window bits of our compressor (9..=15): at most 2^bits bytes back.
    pub send_window_bits: u8,
    /// Window bits our decompressor lends (9..=15). Below 15 the peer is asked
    /// to limit its window (`server_max_window_bits` offered by a client,
    /// `client_max_window_bits` answered by a server); a server declines an
    /// offer that does not allow that.
    pub receive_window_bits: u8,
    /// Reset our compressor after every message (and say so).
    pub send_no_context_takeover: bool,
    /// Ask the peer to reset its compressor after every message (so our
    /// decompressor need not keep the window between messages).
    pub receive_no_context_takeover: bool,
}

impl DeflateConfig {
    /// 32 KiB windows both ways, context takeover both ways.
    pub const DEFAULT: DeflateConfig = DeflateConfig {
        send_window_bits: 15,
        receive_window_bits: 15,
        send_no_context_takeover: false,
        receive_no_context_takeover: false,
    };

    /// Windows of 2^`bits` bytes (clamped to 9..=15) and no context takeover
    /// either way: the least memory.
    pub const fn small(bits: u8) -> Self {
        let bits = if bits < 9 {
            9
        } else if bits > 15 {
            15
        } else {
            bits
        };
        DeflateConfig {
            send_window_bits: bits,
            receive_window_bits: bits,
            send_no_context_takeover: true,
            receive_no_context_takeover: true,
        }
    }

    fn clamped(&self) -> (u8, u8) {
        (
            self.send_window_bits.clamp(9, 15),
            self.receive_window_bits.clamp(9, 15),
        )
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The agreed parameters, as the server's answer states them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Params {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server's window limit (8..=15), if stated; 15 otherwise.
    pub server_max_window_bits: Option<u8>,
    /// The client's window limit (8..=15), if stated; 15 otherwise.
    pub client_max_window_bits: Option<u8>,
}

/// How one side of a connection compresses and decompresses, derived from
/// the agreed [`Params`] and the local [`DeflateConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Agreed {
    /// Window bits our compressor may use (9..=15; see
    /// [`send_max_distance`](Self::send_max_distance) for the 8-bit case).
    pub send_window_bits: u8,
    /// The farthest back our compressor may refer (256 when the peer asked
    /// for 8 bits).
    pub send_max_distance: usize,
    /// Reset our compressor after every message.
    pub send_reset: bool,
    /// Window bits the peer compresses with at most (our decompressor's
    /// window must be at least 2^this bytes; 9..=15).
    pub receive_window_bits: u8,
    /// The peer resets its compressor after every message, so ours may too.
    pub receive_reset: bool,
}

impl Params {
    /// What `role` does under these parameters and its own `config`.
    pub fn agreed(&self, role: Role, config: &DeflateConfig) -> Agreed {
        let (ours, theirs, our_nct, their_nct) = match role {
            Role::Server => (
                self.server_max_window_bits,
                self.client_max_window_bits,
                self.server_no_context_takeover,
                self.client_no_context_takeover,
            ),
            Role::Client => (
                self.client_max_window_bits,
                self.server_max_window_bits,
                self.client_no_context_takeover,
                self.server_no_context_takeover,
            ),
        };
        let (send, _) = config.clamped();
        let limit = ours.unwrap_or(15);
        Agreed {
            send_window_bits: send.min(limit.max(9)),
            send_max_distance: 1usize << send.min(limit),
            send_reset: our_nct || config.send_no_context_takeover,
            receive_window_bits: theirs.unwrap_or(15).clamp(9, 15),
            receive_reset: their_nct,
        }
    }

    /// Writes the value of the `Sec-WebSocket-Extensions` answer into `buf`
    /// and returns its length (at most 110 bytes).
    pub fn write(&self, buf: &mut [u8; 128]) -> usize {
        let mut w = Writer { buf, len: 0 };
        w.put(b"permessage-deflate");
        if self.server_no_context_takeover {
            w.put(b"; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            w.put(b"; client_no_context_takeover");
        }
        if let Some(b) = self.server_max_window_bits {
            w.put(b"; server_max_window_bits=");
            w.num(b);
        }
        if let Some(b) = self.client_max_window_bits {
            w.put(b"; client_max_window_bits=");
            w.num(b);
        }
        w.len
    }
}

struct Writer<'a> {
    buf: &'a mut [u8; 128],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, s: &[u8]) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }
    fn num(&mut self, n: u8) {
        if n >= 10 {
            self.put(&[b'0' + n / 10]);
        }
        self.put(&[b'0' + n % 10]);
    }
}

/// The parameters of one `permessage-deflate` element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Element {
    snct: bool,
    cnct: bool,
    smwb: Option<u8>,
    /// `Some(None)`: present without a value.
    cmwb: Option<Option<u8>>,
}

fn trim(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// A window-bits value: 8..=15 without leading zeros, optionally quoted.
fn bits(v: &[u8]) -> Option<u8> {
    let v = match v {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    };
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// The extension elements of every `Sec-WebSocket-Extensions` field: each is
/// the extension name and its `;`-separated parameters.
fn elements<'b>(
    headers: &http::Headers<'b>,
) -> impl Iterator<Item = (&'b [u8], impl Iterator<Item = &'b [u8]>)> {
    headers
        .get_all("sec-websocket-extensions")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut parts = e.split(|&b| b == b';').map(trim);
            let name = parts.next().unwrap_or_default();
            (name, parts)
        })
}

/// Parses an element's parameters; `None` if one is unknown, duplicated or
/// malformed.
fn parse<'b>(params: impl Iterator<Item = &'b [u8]>) -> Option<Element> {
    let mut e = Element::default();
    for p in params {
        let (name, value) = match p.iter().position(|&b| b == b'=') {
            Some(i) => (trim(&p[..i]), Some(trim(&p[i + 1..]))),
            None => (p, None),
        };
        let name = core::str::from_utf8(name).ok()?;
        match (name, value) {
            ("server_no_context_takeover", None) if !e.snct => e.snct = true,
            ("client_no_context_takeover", None) if !e.cnct => e.cnct = true,
            ("server_max_window_bits", Some(v)) if e.smwb.is_none() => e.smwb = Some(bits(v)?),
            ("client_max_window_bits", v) if e.cmwb.is_none() => {
                e.cmwb = Some(match v {
                    Some(v) => Some(bits(v)?),
                    None => None,
                });
            }
            _ => return None,
        }
    }
    Some(e)
}

fn is_pmd(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"permessage-deflate")
}

/// Server: the parameters to answer the request's first acceptable
/// `permessage-deflate` offer with, or `None` to decline.
pub fn accept_offer(headers: &http::Headers<'_>, config: &DeflateConfig) -> Option<Params> {
    let (send, receive) = config.clamped();
    for (name, params) in elements(headers) {
        if !is_pmd(name) {
            continue;
        }
        let Some(o) = parse(params) else { continue };
        // The client limits our window: answer the limit (8 bits is honoured
        // by limiting the compressor's distances, see `Agreed`).
        let smwb = o.smwb.map(|n| n.min(send));
        let cmwb = match o.cmwb {
            // The client cannot limit its window: we need 32 KiB.
            None if receive < 15 => continue,
            None => None,
            Some(None) => (receive < 15).then_some(receive),
            Some(Some(n)) => Some(n.min(receive)),
        };
        return Some(Params {
            server_no_context_takeover: o.snct || config.send_no_context_takeover,
            client_no_context_takeover: o.cnct || config.receive_no_context_takeover,
            server_max_window_bits: smwb,
            client_max_window_bits: cmwb,
        });
    }
    None
}

/// Client: the value of the `Sec-WebSocket-Extensions` offer. Returns its
/// length in `buf`.
pub fn write_offer(config: &DeflateConfig, buf: &mut [u8; 128]) -> usize {
    let (_, receive) = config.clamped();
    let mut w = Writer { buf, len: 0 };
    // A bare client_max_window_bits: the server may limit our window.
    w.put(b"permessage-deflate; client_max_window_bits");
    if receive < 15 {
        w.put(b"; server_max_window_bits=");
        w.num(receive);
    }
    if config.receive_no_context_takeover {
        w.put(b"; server_no_context_takeover");
    }
    if config.send_no_context_takeover {
        w.put(b"; client_no_context_takeover");
    }
    w.len
}

/// Client: checks the server's answer to [`write_offer`]: `Ok(None)` when it
/// declined, the agreed parameters when it accepted, `Err(())` when the
/// answer is malformed or not allowed by the offer.
#[allow(clippy::result_unit_err)]
pub fn check_answer(
    headers: &http::Headers<'_>,
    config: &DeflateConfig,
) -> Result<Option<Params>, ()> {
    let (_, receive) = config.clamped();
    let mut found = None;
    for (name, params) in elements(headers) {
        if !is_pmd(name) || found.is_some() {
            return Err(());
        }
        let o = parse(params).ok_or(())?;
        match o.smwb {
            Some(n) if n > receive => return Err(()),
            None if receive < 15 => return Err(()),
            _ => {}
        }
        let cmwb = match o.cmwb {
            Some(None) => return Err(()),
            Some(Some(n)) => Some(n),
            None => None,
        };
        found = Some(Params {
            server_no_context_takeover: o.snct,
            client_no_context_takeover: o.cnct,
            server_max_window_bits: o.smwb,
            client_max_window_bits: cmwb,
        });
    }
    Ok(found)
}

/// The window size in bytes for `bits` (at least 512).
pub const fn window_len(bits: u8) -> usize {
    let b = if bits < 9 { 9 } else { bits };
    let n = 1usize << b;
    if n > MAX_WINDOW {
        MAX_WINDOW
    } else if n < MIN_WINDOW {
        MIN_WINDOW
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Limits, Request, Response};

    fn req(ext: &str) -> std::vec::Vec<u8> {
        std::format!("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Extensions: {ext}\r\n\r\n")
            .into_bytes()
    }
    extern crate std;

    fn offer(ext: &str, cfg: &DeflateConfig) -> Option<Params> {
        let buf = req(ext);
        let r = Request::parse(&buf, &Limits::DEFAULT).unwrap();
        accept_offer(&r.headers, cfg)
    }

    fn answer(ext: &str, cfg: &DeflateConfig) -> Result<Option<Params>, ()> {
        let buf =
            std::format!("HTTP/1.1 101 OK\r\nSec-WebSocket-Extensions: {ext}\r\n\r\n").into_bytes();
        let r = Response::parse(&buf, &Limits::DEFAULT).unwrap();
        check_answer(&r.headers, cfg)
    }

    fn text(p: &Params) -> std::string::String {
        let mut b = [0u8; 128];
        let n = p.write(&mut b);
        std::string::String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn server_accepts_offers() {
        let d = DeflateConfig::DEFAULT;
        let cases: &[(&str, DeflateConfig, Option<&str>)] = &[
            ("permessage-deflate", d, Some("permessage-deflate")),
            (
                "permessage-deflate; client_max_window_bits",
                d,
                Some("permessage-deflate"),
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10",
                d,
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                d,
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            (
                "permessage-deflate; client_max_window_bits=\"9\"",
                d,
                Some("permessage-deflate; client_max_window_bits=9"),
            ),
            // Malformed or duplicated parameters: that offer is declined, the next taken.
            (
                "permessage-deflate; server_max_window_bits=16, permessage-deflate",
                d,
                Some("permessage-deflate"),
            ),
            ("permessage-deflate; server_max_window_bits", d, None),
            ("permessage-deflate; server_max_window_bits=010", d, None),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                d,
                None,
            ),
            ("permessage-deflate; server_no_context_takeover=1", d, None),
            ("permessage-deflate; foo", d, None),
            ("deflate-frame", d, None),
            // A small device: limit the client's window, or decline if it cannot be limited.
            (
                "permessage-deflate; client_max_window_bits",
                DeflateConfig::small(9),
                Some(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9",
                ),
            ),
            (
                "permessage-deflate; client_max_window_bits; server_max_window_bits=12",
                DeflateConfig::small(10),
                Some(
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10",
                ),
            ),
            ("permessage-deflate", DeflateConfig::small(9), None),
        ];
        for (ext, cfg, want) in cases {
            assert_eq!(
                offer(ext, cfg).as_ref().map(text).as_deref(),
                *want,
                "{ext}"
            );
        }
    }

    #[test]
    fn client_checks_answers() {
        let d = DeflateConfig::DEFAULT;
        let mut b = [0u8; 128];
        let n = write_offer(&d, &mut b);
        assert_eq!(&b[..n], b"permessage-deflate; client_max_window_bits");
        let small = DeflateConfig::small(9);
        let n = write_offer(&small, &mut b);
        assert_eq!(&b[..n], &b"permessage-deflate; client_max_window_bits; server_max_window_bits=9; server_no_context_takeover; client_no_context_takeover"[..]);
        assert!(answer("permessage-deflate", &d).unwrap().is_some());
        let p = answer(
            "permessage-deflate; client_max_window_bits=8; server_no_context_takeover",
            &d,
        )
        .unwrap()
        .unwrap();
        let a = p.agreed(Role::Client, &d);
        assert_eq!(
            (
                a.send_window_bits,
                a.send_max_distance,
                a.send_reset,
                a.receive_reset
            ),
            (9, 256, false, true)
        );
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; foo=1",
            "x-other",
        ] {
            assert_eq!(answer(bad, &d), Err(()), "{bad}");
        }
        // Asked for a 9-bit server window: a larger one, or none, is refused.
        assert_eq!(
            answer("permessage-deflate; server_max_window_bits=10", &small),
            Err(())
        );
        assert_eq!(answer("permessage-deflate", &small), Err(()));
        assert!(
            answer("permessage-deflate; server_max_window_bits=9", &small)
                .unwrap()
                .is_some()
        );
    }
}
