//! The per-connection compression state a [`Connection`](crate::ws::Connection)
//! borrows while it reads or writes a compressed message.

use super::{Agreed, Deflater, InflateError, Inflater, Progress};

/// Both directions of permessage-deflate for one connection: the decoder
/// with its window, the encoder with its window and hash table, and the
/// agreed parameters. All storage is lent (`R`, `S`: `[u8; N]`, `&mut [u8]`,
/// `Vec<u8>`; `H`: `[u16; N]`, ...).
///
/// It lives beside the [`Connection`](crate::ws::Connection), not inside it,
/// so the connection keeps no type parameter for storage and its size does
/// not change; it is passed to
/// [`handle_input_deflate`](crate::ws::Connection::handle_input_deflate) and
/// [`send_deflate`](crate::ws::Connection::send_deflate).
#[derive(Clone, Debug)]
pub struct Context<R, S, H> {
    inflater: Inflater<R>,
    deflater: Deflater<S, H>,
    agreed: Agreed,
}

impl<R: AsMut<[u8]>, S: AsMut<[u8]>, H: AsMut<[u16]>> Context<R, S, H> {
    /// The state for `agreed` (see [`Params::agreed`](super::Params::agreed)).
    /// `receive_window` must hold 2^`agreed.receive_window_bits` bytes (at least
    /// 512): [`InflateError::WindowTooSmall`] otherwise. `send_window` may be
    /// as small as 512 bytes whatever was agreed (a smaller window only
    /// compresses less); `hash` sets the size of the match finder's table (a
    /// few hundred to 4096 entries).
    pub fn new(
        agreed: Agreed,
        receive_window: R,
        send_window: S,
        hash: H,
    ) -> Result<Self, InflateError> {
        let inflater = Inflater::new(receive_window)?;
        if inflater.window_size() < 1 << agreed.receive_window_bits {
            return Err(InflateError::WindowTooSmall);
        }
        let mut deflater = Deflater::new(send_window, hash)?;
        deflater.limit_distance(agreed.send_max_distance);
        Ok(Context {
            inflater,
            deflater,
            agreed,
        })
    }

    /// The agreed behaviour.
    pub fn agreed(&self) -> &Agreed {
        &self.agreed
    }
}

/// What the connection needs from a [`Context`], without its type parameters.
pub(crate) trait Codec {
    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, InflateError>;
    /// The fault found after some output was handed out by the last call.
    fn inflate_error(&self) -> Option<InflateError>;
    /// Ends a received message (and resets the decoder if the peer does not
    /// take context over).
    fn finish(&mut self, out: &mut [u8]) -> Result<(usize, bool), InflateError>;
    /// Compresses a whole message; `None` if `out` is under `Deflater::bound`.
    fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize>;
}

impl<R: AsMut<[u8]>, S: AsMut<[u8]>, H: AsMut<[u16]>> Codec for Context<R, S, H> {
    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, InflateError> {
        self.inflater.inflate(input, out)
    }

    fn inflate_error(&self) -> Option<InflateError> {
        self.inflater.error()
    }

    fn finish(&mut self, out: &mut [u8]) -> Result<(usize, bool), InflateError> {
        let r = self.inflater.finish(out)?;
        if r.1 && self.agreed.receive_reset {
            self.inflater.reset();
        }
        Ok(r)
    }

    fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
        let n = self.deflater.compress_message(input, out)?;
        if self.agreed.send_reset {
            self.deflater.reset();
        }
        Some(n)
    }
}
