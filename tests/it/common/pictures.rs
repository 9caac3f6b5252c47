//! Pictures the upload tests send: a JPEG whose EXIF block gives a location, and a
//! decompression bomb (a small PNG whose header claims 100 000 × 100 000 pixels).

/// A `w` × `h` JPEG, and the same with an EXIF block (no orientation) carrying a
/// location right after the start marker: (plain, with the location).
pub fn jpeg_with_location(w: u32, h: u32) -> (Vec<u8>, Vec<u8>) {
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([9, 99, 199])))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let payload = [
        &b"Exif\0\0"[..],
        b"MM\0*\0\0\0\x08\0\0\0\0\0\0GPS 51.5074N 0.1278W",
    ]
    .concat();
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&payload);
    let photo = [&jpeg[..2], &segment, &jpeg[2..]].concat();
    (jpeg, photo)
}

/// A small file whose PNG header claims 100 000 × 100 000 pixels: never to be decoded.
pub fn png_bomb() -> Vec<u8> {
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    bomb.extend_from_slice(&13u32.to_be_bytes());
    bomb.extend_from_slice(&ihdr);
    bomb.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
    bomb.extend_from_slice(&[0u8; 4096]);
    bomb
}
