//! HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), read side: the pieces
//! [`Client`](super::Client) needs to find the data of a `Transfer-Encoding:
//! chunked` answer (uvicorn, for one, answers python-engineio's polling
//! requests that way). Each function looks at the front of what was received
//! and says how long the piece is, or that more bytes are needed; the client
//! joins the chunks' data in place.

/// The longest chunk-size line read (size, extensions, CRLF), in bytes.
pub(crate) const MAX_SIZE_LINE: usize = 256;

/// The longest trailer section read (its final empty line included).
pub(crate) const MAX_TRAILERS: usize = 1024;

/// Why a chunked body cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// The chunk size is not hexadecimal, or is empty.
    BadSize,
    /// The size does not fit a `usize`.
    SizeOverflow,
    /// The chunks add up to more than the reader takes (a payload beyond
    /// [`ClientConfig::max_payload`](super::ClientConfig::max_payload)).
    TooLarge,
    /// A chunk's data is not followed by CRLF.
    MissingCrlf,
    /// A chunk-size line longer than [`MAX_SIZE_LINE`].
    SizeLineTooLong,
    /// A trailer section longer than [`MAX_TRAILERS`].
    TrailersTooLong,
    /// A bare CR or LF, or a control byte, in a size line or a trailer.
    BadLine,
}

/// The line at the front of `input` ending with CRLF: its length without
/// the CRLF, `None` if incomplete.
fn line(input: &[u8], max: usize) -> Result<Option<usize>, ChunkError> {
    for (i, &b) in input.iter().enumerate() {
        if i + 2 > max {
            break;
        }
        match b {
            b'\r' => {
                return match input.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(ChunkError::BadLine),
                };
            }
            b'\n' => return Err(ChunkError::BadLine),
            b'\t' => {}
            0..=0x1f | 0x7f => return Err(ChunkError::BadLine),
            _ => {}
        }
    }
    if input.len() + 2 > max {
        Err(ChunkError::SizeLineTooLong)
    } else {
        Ok(None)
    }
}

/// A chunk header at the front of `input`: the CRLF ending the previous
/// chunk's data (when `after_data`), then `size[;extensions]` CRLF. Returns
/// the header's length and the chunk's size (0: the last chunk), or `None`
/// while incomplete. Extensions are skipped.
pub(crate) fn chunk_head(
    input: &[u8],
    after_data: bool,
) -> Result<Option<(usize, usize)>, ChunkError> {
    let mut at = 0;
    if after_data {
        match input {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => at = 2,
            _ => return Err(ChunkError::MissingCrlf),
        }
    }
    let Some(len) = line(&input[at..], MAX_SIZE_LINE)? else {
        return Ok(None);
    };
    let text = &input[at..at + len];
    let digits = text
        .iter()
        .position(|&b| !b.is_ascii_hexdigit())
        .unwrap_or(text.len());
    if digits == 0 {
        return Err(ChunkError::BadSize);
    }
    // What may follow the size: whitespace, then `;` and extensions.
    let rest = &text[digits..];
    let rest = match rest.iter().position(|&b| b != b' ' && b != b'\t') {
        None => &[][..],
        Some(i) => &rest[i..],
    };
    if !rest.is_empty() && rest[0] != b';' {
        return Err(ChunkError::BadSize);
    }
    let mut size: usize = 0;
    for &b in &text[..digits] {
        let d = (b as char).to_digit(16).ok_or(ChunkError::BadSize)? as usize;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(d))
            .ok_or(ChunkError::SizeOverflow)?;
    }
    Ok(Some((at + len + 2, size)))
}

/// The trailer section at the front of `input` (after the last chunk's
/// header): field lines, then an empty line. Returns its length, or `None`
/// while incomplete. The fields are skipped.
pub(crate) fn trailers(input: &[u8]) -> Result<Option<usize>, ChunkError> {
    let mut at = 0;
    // Bounded: each line consumes at least 2 bytes of at most MAX_TRAILERS.
    while at < MAX_TRAILERS {
        let max = MAX_TRAILERS - at;
        let len = match line(&input[at..], max) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(ChunkError::SizeLineTooLong) => return Err(ChunkError::TrailersTooLong),
            Err(e) => return Err(e),
        };
        at += len + 2;
        if len == 0 {
            return Ok(Some(at));
        }
    }
    Err(ChunkError::TrailersTooLong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn chunk_heads() {
        assert_eq!(chunk_head(b"1a\r\nxyz", false), Ok(Some((4, 26))));
        assert_eq!(chunk_head(b"\r\n0\r\n\r\n", true), Ok(Some((5, 0))));
        assert_eq!(chunk_head(b"FF;name=\"v\"\r\n", false), Ok(Some((13, 255))));
        assert_eq!(chunk_head(b"10 ;x\r\n", false), Ok(Some((7, 16))));
        assert_eq!(chunk_head(b"000\r\n", false), Ok(Some((5, 0))));
    }

    #[test]
    fn incomplete_chunk_heads_need_more() {
        for part in [&b""[..], b"1", b"1a", b"1a\r", b"1a;ext"] {
            assert_eq!(chunk_head(part, false), Ok(None), "{part:?}");
        }
        for part in [&b""[..], b"\r", b"\r\n", b"\r\n5", b"\r\n5\r"] {
            assert_eq!(chunk_head(part, true), Ok(None), "{part:?}");
        }
    }

    #[test]
    fn bad_chunk_heads() {
        assert_eq!(chunk_head(b"\r\n", false), Err(ChunkError::BadSize));
        assert_eq!(chunk_head(b"g\r\n", false), Err(ChunkError::BadSize));
        assert_eq!(chunk_head(b"-1\r\n", false), Err(ChunkError::BadSize));
        assert_eq!(chunk_head(b"1 2\r\n", false), Err(ChunkError::BadSize));
        assert_eq!(chunk_head(b"0x10\r\n", false), Err(ChunkError::BadSize));
        assert_eq!(chunk_head(b"1\n", false), Err(ChunkError::BadLine));
        assert_eq!(chunk_head(b"1\rx", false), Err(ChunkError::BadLine));
        assert_eq!(chunk_head(b"xy5\r\n", true), Err(ChunkError::MissingCrlf));
        assert_eq!(
            chunk_head(b"11111111111111111111111111\r\n", false),
            Err(ChunkError::SizeOverflow)
        );
        let long = [b'0'; MAX_SIZE_LINE];
        assert_eq!(chunk_head(&long, false), Err(ChunkError::SizeLineTooLong));
        // Just under the bound: still waiting for the CRLF.
        assert_eq!(chunk_head(&long[..MAX_SIZE_LINE - 2], false), Ok(None));
    }

    #[test]
    fn trailer_sections() {
        assert_eq!(trailers(b"\r\n"), Ok(Some(2)));
        assert_eq!(trailers(b"\r\nHTTP/1.1 200"), Ok(Some(2)));
        assert_eq!(trailers(b"X-A: 1\r\nX-B: 2\r\n\r\n"), Ok(Some(18)));
        assert_eq!(trailers(b""), Ok(None));
        assert_eq!(trailers(b"X-A: 1\r\n"), Ok(None));
        assert_eq!(trailers(b"X-A: 1\n\r\n"), Err(ChunkError::BadLine));
        let mut many = Vec::new();
        while many.len() < MAX_TRAILERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert_eq!(trailers(&many), Err(ChunkError::TrailersTooLong));
        let long = [b'a'; MAX_TRAILERS + 1];
        assert_eq!(trailers(&long), Err(ChunkError::TrailersTooLong));
    }
}
