//! Decoding an uploaded picture safely, and making small JPEGs of it: the thumbnails of
//! shared images (`files`) and avatars (`profiles`).
//!
//! Decoding is bounded before a pixel is read: the declared size ([`MAX_IMAGE_PIXELS`];
//! a decompression bomb is a small file that claims a huge picture) and the decoder's
//! memory ([`MAX_DECODE_BYTES`]). The caller bounds the time and how many decode at once.
//! Re-encoding keeps only pixels: no EXIF, XMP or ICC data survives into what is made
//! (the EXIF orientation is applied first, so a phone's photo stands upright).

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Pictures decoded at once on this node, thumbnails and avatars together (CPU and
/// memory bound: a progressive JPEG near the pixel cap can take several hundred MB
/// while it decodes, beyond the decoder's own limits).
static DECODING: Semaphore = Semaphore::const_new(1);

/// A turn to decode, waited for at most `wait` (`None`: others' pictures are in the
/// way). The turn goes with the decoding: hand it to the blocking task and drop it
/// there, so a decode past its time still holds it until it ends.
pub async fn decode_slot(wait: Duration) -> Option<SemaphorePermit<'static>> {
    tokio::time::timeout(wait, DECODING.acquire())
        .await
        .ok()?
        .ok()
}

/// An image with more pixels than this is not decoded.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Memory the decoder may allocate for one image; the decoded picture itself may take
/// at most half of it (turning it upright makes a second copy).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// The formats whose decoders natter trusts with uploads, told from the bytes.
pub fn safe_format(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) => {
            Some(f)
        }
        _ => None,
    }
}

/// The picture in `bytes`, upright; `None` when it has more than `max_pixels` or does
/// not decode.
pub fn decode_upright(bytes: &[u8], format: ImageFormat, max_pixels: u64) -> Option<DynamicImage> {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().ok()?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > max_pixels.min(MAX_IMAGE_PIXELS) {
        return None;
    }
    // The limits again on the decoder itself (`into_decoder` leaves them with the
    // reader), and the picture at most half of them: upright, it is copied once.
    decoder.set_limits(limits).ok()?;
    if decoder.total_bytes() > MAX_DECODE_BYTES / 2 {
        return None;
    }
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).ok()?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Some(image)
}

/// `image` as a JPEG of `quality`. JPEG has no alpha: transparent pixels are shown on
/// white, as a page would.
pub fn jpeg_on_white(image: &DynamicImage, quality: u8) -> Option<Vec<u8>> {
    let rgba = image.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (x, y, p) in rgba.enumerate_pixels() {
        let a = u16::from(p[3]);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        rgb.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
    }
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality);
    rgb.write_with_encoder(encoder).ok()?;
    Some(jpeg)
}

/// The largest centred square of `image`, scaled to `side` (never up).
pub fn square(image: &DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    let edge = w.min(h);
    let cropped = image.crop_imm((w - edge) / 2, (h - edge) / 2, edge, edge);
    if edge <= side {
        cropped
    } else {
        cropped.resize_exact(side, side, image::imageops::FilterType::Triangle)
    }
}
