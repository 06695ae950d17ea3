//! Frame masking (RFC 6455 section 5.3).
//!
//! Masking XORs the payload with a 4-byte key repeated. It runs over every byte a
//! server receives, so it is written to let the compiler use wide registers:
//! 32-byte blocks, then 8-byte words, then single bytes. Long buffers go 32
//! bytes at a time through AVX2 first where the CPU has it (`crate::simd`, the
//! crate's one module with `unsafe`).

/// XORs `buf` with `key` in place, as if `buf` started `offset` bytes into a
/// masked payload. Applying it twice restores the input.
///
/// ```
/// let mut data = *b"Hello";
/// sockwire::ws::apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // Unmasking in two pieces gives the same result as in one.
/// let (a, b) = data.split_at_mut(2);
/// sockwire::ws::apply_mask(a, [0x37, 0xfa, 0x21, 0x3d], 0);
/// sockwire::ws::apply_mask(b, [0x37, 0xfa, 0x21, 0x3d], 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let r = offset % 4;
    let key = [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]];
    if buf.len() >= 32 {
        return mask_long(buf, key);
    }
    // Short buffers (most client frames), inline at the call site: 4-byte
    // words, no block key. (Measured at 16 and 20 bytes: about 0.7x the time
    // of the out-of-line loop below.)
    let k = u32::from_ne_bytes(key);
    let (words, tail) = buf.as_chunks_mut::<4>();
    for w in words {
        *w = (u32::from_ne_bytes(*w) ^ k).to_ne_bytes();
    }
    for (b, k) in tail.iter_mut().zip(key) {
        *b ^= k;
    }
}

/// [`apply_mask`] for 32 bytes and more, with `key[0]` on `buf[0]`.
#[inline(never)]
fn mask_long(buf: &mut [u8], key: [u8; 4]) {
    // AVX2 where the CPU has it, for buffers that fit in a level-1 data cache.
    // Past that masking is bound by memory bandwidth, and the 16-byte loop
    // below measured 1-4% faster than AVX2 at 64 KiB and 1 MiB.
    if (128..=32 * 1024).contains(&buf.len()) && crate::simd::mask(buf, key) {
        return;
    }
    // 32-byte blocks of plain byte XORs: the compiler turns each into a few
    // 16-byte vector operations on targets that have them. (Measured: building
    // the block key unconditionally, as here, is faster at 1 KiB than skipping
    // it when there are no blocks.)
    let mut block_key = [0u8; 32];
    for (i, k) in block_key.iter_mut().enumerate() {
        *k = key[i % 4];
    }
    let (blocks, rest) = buf.as_chunks_mut::<32>();
    for block in blocks {
        for (b, k) in block.iter_mut().zip(block_key) {
            *b ^= k;
        }
    }
    // Blocks are a multiple of 4 bytes long, so the rest starts at key index 0.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let (words, tail) = rest.as_chunks_mut::<8>();
    for w in words {
        *w = (u64::from_ne_bytes(*w) ^ wide).to_ne_bytes();
    }
    for (i, b) in tail.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Copies `src` into the start of `dst` and masks it on the way, in one pass:
/// `dst[i] = src[i] ^ key[(offset + i) % 4]`. `dst` must be at least as long as
/// `src`.
#[inline]
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let key = u32::from_le_bytes(key)
        .rotate_right(8 * (offset % 4) as u32)
        .to_le_bytes();
    let dst = &mut dst[..src.len()];
    let (dblocks, drest) = dst.as_chunks_mut::<32>();
    let (sblocks, srest) = src.as_chunks::<32>();
    if !dblocks.is_empty() {
        let block_key: [u8; 32] = core::array::from_fn(|i| key[i % 4]);
        for (d, s) in dblocks.iter_mut().zip(sblocks) {
            for i in 0..32 {
                d[i] = s[i] ^ block_key[i];
            }
        }
    }
    for (i, (d, s)) in drest.iter_mut().zip(srest).enumerate() {
        *d = s ^ key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn copy_masked_matches_copy_then_mask() {
        let key = [0x9a, 0x01, 0xff, 0x42];
        for len in (0..140).filter(|l| !cfg!(miri) || *l <= 40 || *l % 32 < 2) {
            for offset in 0..8 {
                let src: [u8; 140] = core::array::from_fn(|i| (i as u8).wrapping_mul(13));
                let mut a = [0u8; 150];
                let mut b = a;
                super::copy_masked(&mut a, &src[..len], key, offset);
                b[..len].copy_from_slice(&src[..len]);
                apply_mask(&mut b[..len], key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn matches_bytewise_for_all_lengths_and_offsets() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in (0..140).filter(|l| !cfg!(miri) || *l <= 40 || *l % 32 < 2) {
            for offset in 0..8 {
                let mut a: [u8; 140] = core::array::from_fn(|i| (i as u8).wrapping_mul(7));
                let mut b = a;
                apply_mask(&mut a[..len], key, offset);
                naive(&mut b[..len], key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }
}
