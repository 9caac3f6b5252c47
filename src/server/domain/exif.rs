//! Strips EXIF and XMP metadata (where a photo was taken, the camera, its serial number)
//! from JPEG and PNG uploads while they stream to storage. The pixels are untouched:
//! only metadata segments go.
//!
//! JPEG: the `APP1` (EXIF, XMP) and `APP13` (IPTC) segments among the segments before
//! the image data (`SOS`). PNG: the `eXIf` chunks and the XMP text chunk (`iTXt` keyword
//! `XML:com.adobe.xmp`) before the first `IDAT`. Not stripped (known gaps): metadata a
//! PNG carries after its image data or in other text chunks (ImageMagick's "Raw
//! profile"), data after a JPEG's end (a motion photo's video), WebP's `EXIF`/`XMP `
//! chunks (its container size would change mid-stream), other formats. Dropping XMP
//! also drops what some formats keep there (Ultra HDR's gain map description). Anything that
//! does not parse passes through unchanged. Memory is bounded: at most one segment
//! (JPEG: 64 KiB; PNG: [`MAX_PNG_CHUNK`]) is held; time is linear in the upload (a
//! cursor walks the held bytes, which are compacted once per chunk), and stripping
//! stops after `limit` bytes in (what is stripped counts against no size limit).
//!
//! One tag survives: the orientation (a phone's photo is stored sideways with a tag that
//! says so; browsers and the thumbnailer turn it upright). An EXIF block that has one is
//! replaced by a minimal block holding only that tag.

/// Longest PNG chunk held while looking for `eXIf` before `IDAT`; a longer one ends the
/// search (its bytes pass through as they are).
pub const MAX_PNG_CHUNK: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading the first bytes: which format is it?
    Start,
    /// JPEG, before the image data: at a segment's start.
    JpegSegments,
    /// PNG, before the first `IDAT`: at a chunk's start.
    PngChunks,
    /// Everything from here on passes as it is.
    Through,
}

/// The filter's state between chunks of the stream.
pub struct Strip {
    state: State,
    /// Bytes not yet decided on, from `pos`.
    held: Vec<u8>,
    pos: usize,
    /// Bytes taken in so far, and how many may be looked at before all pass.
    seen: u64,
    limit: u64,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

impl Strip {
    /// A filter that strips within the first `limit` bytes of the upload.
    pub fn new(limit: u64) -> Self {
        Strip {
            state: State::Start,
            held: Vec::new(),
            pos: 0,
            seen: 0,
            limit,
        }
    }

    /// The bytes not decided on yet.
    fn rest(&self) -> &[u8] {
        &self.held[self.pos..]
    }

    /// Moves `n` held bytes to `out` (`keep`) or drops them.
    fn take(&mut self, n: usize, keep: bool, out: &mut Vec<u8>) {
        if keep {
            out.extend_from_slice(&self.held[self.pos..self.pos + n]);
        }
        self.pos += n;
    }

    /// Takes the next bytes of the upload; appends what may be stored to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.seen = self.seen.saturating_add(bytes.len() as u64);
        if self.seen > self.limit && self.state != State::Through {
            self.state = State::Through;
        }
        if self.state == State::Through && self.rest().is_empty() {
            out.extend_from_slice(bytes);
            return;
        }
        self.held.extend_from_slice(bytes);
        self.steps(out);
        // Compacted once per chunk, not once per segment.
        self.held.drain(..self.pos);
        self.pos = 0;
    }

    fn steps(&mut self, out: &mut Vec<u8>) {
        loop {
            let progressed = match self.state {
                State::Start => self.start(out),
                State::JpegSegments => self.jpeg_segment(out),
                State::PngChunks => self.png_chunk(out),
                State::Through => {
                    let n = self.rest().len();
                    self.take(n, true, out);
                    false
                }
            };
            if !progressed {
                return;
            }
        }
    }

    /// Whether every byte from now on passes as it is (nothing is held).
    pub fn is_through(&self) -> bool {
        self.state == State::Through && self.rest().is_empty()
    }

    /// The upload ended: whatever is held goes out as it is.
    pub fn finish(self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.rest());
    }

    fn through(&mut self) -> bool {
        self.state = State::Through;
        true
    }

    fn start(&mut self, out: &mut Vec<u8>) -> bool {
        let h = self.rest();
        if h.starts_with(&[0xFF, 0xD8]) {
            self.take(2, true, out);
            self.state = State::JpegSegments;
            return true;
        }
        if h.starts_with(PNG_SIGNATURE) {
            self.take(PNG_SIGNATURE.len(), true, out);
            self.state = State::PngChunks;
            return true;
        }
        // Not enough to tell yet, unless it already differs from both formats.
        let could_be_jpeg = h.len() < 2 && h.iter().zip([0xFF, 0xD8]).all(|(a, b)| *a == b);
        let could_be_png =
            h.len() < PNG_SIGNATURE.len() && h.iter().zip(PNG_SIGNATURE).all(|(a, b)| a == b);
        if could_be_jpeg || could_be_png {
            false
        } else {
            self.through()
        }
    }

    /// One JPEG segment, if whole: kept, or dropped when it is EXIF.
    fn jpeg_segment(&mut self, out: &mut Vec<u8>) -> bool {
        let h = self.rest();
        if h.len() < 2 {
            return false;
        }
        if h[0] != 0xFF {
            return self.through();
        }
        let marker = h[1];
        // Fill bytes, and markers without a length (RSTn, TEM): keep and go on.
        if marker == 0xFF {
            self.take(1, true, out);
            return true;
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            self.take(2, true, out);
            return true;
        }
        // Start of scan (image data follows), or end of image: nothing more to strip.
        if matches!(marker, 0xDA | 0xD9) {
            return self.through();
        }
        if h.len() < 4 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if len < 2 {
            return self.through();
        }
        let whole = 2 + len;
        if h.len() < whole {
            return false;
        }
        // APP13 (Photoshop's IPTC block, which may hold a copy of the EXIF): dropped.
        if marker == 0xED {
            self.take(whole, false, out);
            return true;
        }
        // APP1: EXIF or XMP. Only an EXIF orientation is kept (rewritten alone).
        if marker == 0xE1 {
            if h[4..whole].starts_with(b"Exif\0\0") {
                if let Some(tiff) = orientation_only(&h[10..whole]) {
                    out.extend_from_slice(&[0xFF, 0xE1]);
                    out.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
                    out.extend_from_slice(b"Exif\0\0");
                    out.extend_from_slice(&tiff);
                }
            }
            self.take(whole, false, out);
        } else {
            self.take(whole, true, out);
        }
        true
    }

    /// One PNG chunk, if whole: kept, or dropped when it is `eXIf`; at `IDAT`, done.
    fn png_chunk(&mut self, out: &mut Vec<u8>) -> bool {
        let h = self.rest();
        if h.len() < 8 {
            return false;
        }
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = [h[4], h[5], h[6], h[7]];
        if &kind == b"IDAT" || len > MAX_PNG_CHUNK {
            return self.through();
        }
        let whole = 12 + len; // length, type, data, CRC
        if h.len() < whole {
            return false;
        }
        if &kind == b"eXIf" {
            if let Some(tiff) = orientation_only(&h[8..8 + len]) {
                out.extend_from_slice(&(tiff.len() as u32).to_be_bytes());
                let mut typed = b"eXIf".to_vec();
                typed.extend_from_slice(&tiff);
                out.extend_from_slice(&typed);
                // PNG's chunk checksum (CRC-32, ISO 3309), over the chunk's type and data.
                out.extend_from_slice(&crc32fast::hash(&typed).to_be_bytes());
            }
            self.take(whole, false, out);
        } else {
            let xmp = &kind == b"iTXt" && h[8..8 + len].starts_with(b"XML:com.adobe.xmp\0");
            self.take(whole, !xmp, out);
        }
        true
    }
}

/// A minimal EXIF block (TIFF, big-endian, one entry) that keeps `tiff`'s orientation,
/// when it has one other than "as stored"; `None` when nothing is worth keeping.
fn orientation_only(tiff: &[u8]) -> Option<Vec<u8>> {
    let value = image::metadata::Orientation::from_exif_chunk(tiff)?.to_exif();
    if value == 1 {
        return None;
    }
    let mut out = b"MM\0*".to_vec();
    out.extend_from_slice(&8u32.to_be_bytes()); // the first directory follows
    out.extend_from_slice(&1u16.to_be_bytes()); // one entry:
    out.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation,
    out.extend_from_slice(&3u16.to_be_bytes()); // a SHORT,
    out.extend_from_slice(&1u32.to_be_bytes()); // one of them,
    out.extend_from_slice(&u16::from(value).to_be_bytes());
    out.extend_from_slice(&[0, 0]); // (padding to four bytes)
    out.extend_from_slice(&0u32.to_be_bytes()); // no further directory
    Some(out)
}

/// `source` with its EXIF stripped (see [`Strip`]), chunk by chunk.
pub fn stripped<'a, S, E>(
    source: S,
    limit: u64,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, E>> + Send + 'a>>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin + Send + 'a,
    E: Send + 'a,
{
    use futures::StreamExt;
    Box::pin(futures::stream::unfold(
        Some((source, Strip::new(limit))),
        |state| async move {
            let (mut source, mut strip) = state?;
            loop {
                match source.next().await {
                    Some(Ok(chunk)) if strip.is_through() => {
                        return Some((Ok(chunk), Some((source, strip))))
                    }
                    Some(Ok(chunk)) => {
                        let mut out = Vec::with_capacity(chunk.len());
                        strip.push(&chunk, &mut out);
                        if !out.is_empty() {
                            return Some((Ok(out.into()), Some((source, strip))));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), None)),
                    None => {
                        let mut out = Vec::new();
                        strip.finish(&mut out);
                        return (!out.is_empty()).then(|| (Ok(out.into()), None));
                    }
                }
            }
        },
    ))
}

/// The whole of `bytes` through a [`Strip`], fed `step` bytes at a time (tests).
#[cfg(test)]
fn strip_all(bytes: &[u8], step: usize) -> Vec<u8> {
    let mut strip = Strip::new(u64::MAX);
    let mut out = Vec::new();
    for chunk in bytes.chunks(step.max(1)) {
        strip.push(chunk, &mut out);
    }
    strip.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[1, 2, 3, 4]); // CRC: not checked here
        c
    }

    #[test]
    fn jpeg_exif_goes_and_everything_else_stays_whatever_the_chunking() {
        let app0 = segment(0xE0, b"JFIF\0rest");
        let exif = segment(0xE1, b"Exif\0\0GPS 51.5N 0.1W");
        let xmp = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x/>");
        let dqt = segment(0xDB, &[7; 64]);
        let sos = segment(0xDA, &[1, 2, 3]);
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9];
        let input = [&[0xFF, 0xD8][..], &app0, &exif, &xmp, &dqt, &sos, &data].concat();
        let expected = [&[0xFF, 0xD8][..], &app0, &dqt, &sos, &data].concat();
        for step in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(strip_all(&input, step), expected, "step {step}");
        }
    }

    #[test]
    fn only_the_orientation_survives() {
        // A little-endian EXIF block with the GPS pointer and orientation 6 (rotate 90°).
        let mut tiff = b"II*\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        for (tag, kind, value) in [(0x8825u16, 4u16, 999u32), (0x0112, 3, 6)] {
            tiff.extend_from_slice(&tag.to_le_bytes());
            tiff.extend_from_slice(&kind.to_le_bytes());
            tiff.extend_from_slice(&1u32.to_le_bytes());
            tiff.extend_from_slice(&value.to_le_bytes());
        }
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(b"GPS 51.5N 0.1W");
        let exif = segment(0xE1, &[&b"Exif\0\0"[..], &tiff].concat());
        let input = [&[0xFF, 0xD8][..], &exif, &segment(0xDA, &[1])].concat();
        let out = strip_all(&input, 5);
        assert!(!out.windows(3).any(|w| w == b"GPS"), "{out:?}");
        let kept = &out[2 + 4 + 6..];
        let minimal = orientation_only(&tiff).unwrap_or_default();
        assert!(kept.starts_with(&minimal));
        assert_eq!(
            image::metadata::Orientation::from_exif_chunk(&minimal),
            Some(image::metadata::Orientation::Rotate90)
        );
        // An orientation "as stored" keeps nothing at all.
        let mut upright = tiff.clone();
        upright[8 + 2 + 12 + 8] = 1;
        assert_eq!(orientation_only(&upright), None);
    }

    #[test]
    fn png_exif_goes_before_the_image_data_only() {
        let ihdr = chunk(b"IHDR", &[0; 13]);
        let exif = chunk(b"eXIf", b"MM\0*GPS");
        let idat = chunk(b"IDAT", &[9; 20]);
        let late = chunk(b"eXIf", b"after");
        let input = [PNG_SIGNATURE, &ihdr, &exif, &idat, &late].concat();
        let expected = [PNG_SIGNATURE, &ihdr, &idat, &late].concat();
        for step in [1, 5, 8, 13, 4096] {
            assert_eq!(strip_all(&input, step), expected, "step {step}");
        }
    }

    #[test]
    fn other_and_broken_files_pass_unchanged() {
        for input in [
            b"%PDF-1.7 whatever".to_vec(),
            b"\xFF".to_vec(),
            b"\xFF\xD8".to_vec(),
            b"\xFF\xD8\xFF\xE1\x00".to_vec(), // a segment cut short
            b"\xFF\xD8\x00\x01".to_vec(),     // not a marker
            PNG_SIGNATURE.to_vec(),
            [PNG_SIGNATURE, &[0, 0, 0]].concat(),
        ] {
            for step in [1, 3, 100] {
                assert_eq!(strip_all(&input, step), input, "{input:?} step {step}");
            }
        }
    }

    #[test]
    fn memory_stays_bounded_on_a_huge_png_chunk() {
        let mut input = PNG_SIGNATURE.to_vec();
        input.extend_from_slice(&((MAX_PNG_CHUNK as u32) + 1).to_be_bytes());
        input.extend_from_slice(b"tEXt");
        let mut strip = Strip::new(u64::MAX);
        let mut out = Vec::new();
        strip.push(&input, &mut out);
        strip.push(&[0; 1000], &mut out);
        assert!(strip.held.is_empty());
        assert_eq!(out.len(), input.len() + 1000);
    }

    #[test]
    fn a_megabyte_of_fill_bytes_takes_linear_time_and_the_limit_stops_stripping() {
        let mut input = vec![0xFF, 0xD8];
        input.extend(std::iter::repeat_n(0xFF, 1 << 20));
        let started = std::time::Instant::now();
        assert_eq!(strip_all(&input, 256 * 1024), input);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Past the limit, EXIF passes: what is stripped is bounded by the limit.
        let exif = segment(0xE1, b"Exif\0\0MM\0*");
        let photo = [&[0xFF, 0xD8][..], &exif].concat();
        let mut strip = Strip::new(3);
        let mut out = Vec::new();
        strip.push(&photo, &mut out);
        strip.finish(&mut out);
        assert_eq!(out, photo);
    }
}
