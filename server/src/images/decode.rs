//! Untrusted image bytes → the JPEG we store and serve (DESIGN.md "Trust boundaries").
//!
//! The format is sniffed from the bytes (never the Content-Type or a file name) and must be
//! JPEG, PNG or WebP; the decoder reads the header first, and an image whose sides, pixel count
//! or decoded size exceed the limits is refused before a pixel is decoded, so a small file
//! declaring a huge picture (a decompression bomb) costs nothing. EXIF orientation is applied;
//! the output is re-encoded (no metadata survives: no location, no camera serial, no ICC
//! payload), resized to the shape's size, never upscaled.
//!
//! Blocking and CPU-bound: callers run it on a blocking thread (`images::prepare`).

use std::io::Cursor;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

/// The largest image file accepted (request bodies are cut here: 413).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 8000;
/// The most memory the decoded picture may take.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// JPEG quality of what we store.
const JPEG_QUALITY: u8 = 85;

/// What an image becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A talk's poster: fits in 1280×720, its aspect ratio kept.
    Poster,
    /// A speaker's photo: a 400×400 square cut from the middle.
    Photo,
}

impl Shape {
    pub const POSTER_BOX: (u32, u32) = (1280, 720);
    pub const PHOTO_SIDE: u32 = 400;

    fn fit(self, image: DynamicImage) -> DynamicImage {
        let (width, height) = (image.width(), image.height());
        match self {
            Shape::Poster => {
                let (max_w, max_h) = Shape::POSTER_BOX;
                if width <= max_w && height <= max_h {
                    image
                } else {
                    image.resize(max_w, max_h, FilterType::CatmullRom)
                }
            }
            Shape::Photo => {
                let side = width.min(height);
                let square = image.crop_imm((width - side) / 2, (height - side) / 2, side, side);
                if side <= Shape::PHOTO_SIDE {
                    square
                } else {
                    square.resize_exact(
                        Shape::PHOTO_SIDE,
                        Shape::PHOTO_SIDE,
                        FilterType::CatmullRom,
                    )
                }
            }
        }
    }
}

/// Why an image was refused. Messages are fixed text: nothing from the file is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageRejected {
    #[error("this is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the image is damaged or incomplete")]
    Damaged,
    #[error("the image is too large: at most {MAX_SIDE}×{MAX_SIDE} pixels")]
    TooManyPixels,
    #[error("the file is too large: at most 20 MB")]
    TooManyBytes,
}

impl ImageRejected {
    /// The stable code clients and the pages' `?error=` read.
    pub fn code(self) -> &'static str {
        match self {
            ImageRejected::NotAnImage | ImageRejected::Damaged => "invalid_image",
            ImageRejected::TooManyPixels | ImageRejected::TooManyBytes => "image_too_large",
        }
    }
}

/// A re-encoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jpeg {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Decodes, orients, resizes and re-encodes `bytes` as `shape`.
pub fn process(bytes: &[u8], shape: Shape) -> Result<Jpeg, ImageRejected> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImageRejected::TooManyBytes);
    }
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => format,
        _ => return Err(ImageRejected::NotAnImage),
    };
    // zune-jpeg fills a cut-off scan with grey instead of failing: refuse it here.
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        return Err(ImageRejected::Damaged);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    // Reads the header only, checking the declared size against the limits.
    let mut decoder = reader.into_decoder().map_err(rejection)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageRejected::Damaged);
    }
    if width > MAX_SIDE || height > MAX_SIDE || decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(ImageRejected::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(rejection)?;
    image.apply_orientation(orientation);
    let fitted = shape.fit(image);
    let rgb = flatten_on_white(fitted);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|err| {
            tracing::error!(%err, "encoding a JPEG failed");
            ImageRejected::Damaged
        })?;
    Ok(Jpeg {
        bytes: out,
        width: rgb.width(),
        height: rgb.height(),
    })
}

fn rejection(err: ImageError) -> ImageRejected {
    match err {
        ImageError::Limits(_) => ImageRejected::TooManyPixels,
        ImageError::Unsupported(_) => ImageRejected::NotAnImage,
        _ => ImageRejected::Damaged,
    }
}

/// Whether a JPEG's last scan is followed by its end marker. Inside entropy-coded data every
/// 0xFF byte is followed by 0x00 or a restart marker, so an `FF D9` after the last
/// start-of-scan (`FF DA`) is the real end; a file cut short has none.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let Some(last_scan) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[last_scan + 2..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// 8-bit RGB, transparent parts laid on white (JPEG has no alpha; dropping it would show
/// whatever colour transparent pixels happen to hold, often black).
fn flatten_on_white(image: DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    image::RgbImage::from_fn(width, height, |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u32::from(c), u32::from(a));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    fn decoded(jpeg: &Jpeg) -> DynamicImage {
        image::load_from_memory_with_format(&jpeg.bytes, ImageFormat::Jpeg).unwrap()
    }

    #[test]
    fn posters_fit_the_box_and_photos_become_centred_squares() {
        let big = encoded(&gradient(3000, 1000), ImageFormat::Png);
        let poster = process(&big, Shape::Poster).unwrap();
        assert_eq!((poster.width, poster.height), (1280, 427));
        assert_eq!(decoded(&poster).width(), 1280);
        let photo = process(&big, Shape::Photo).unwrap();
        assert_eq!((photo.width, photo.height), (400, 400));
        // Small images are never enlarged.
        let small = encoded(&gradient(300, 200), ImageFormat::Jpeg);
        let poster = process(&small, Shape::Poster).unwrap();
        assert_eq!((poster.width, poster.height), (300, 200));
        let photo = process(&small, Shape::Photo).unwrap();
        assert_eq!((photo.width, photo.height), (200, 200));
    }

    #[test]
    fn the_format_comes_from_the_bytes() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let bytes = encoded(&gradient(64, 48), format);
            assert!(process(&bytes, Shape::Poster).is_ok(), "{format:?}");
        }
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        for junk in [
            &gif[..],
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            b"<!doctype html><p>hi",
            b"",
        ] {
            assert_eq!(process(junk, Shape::Photo), Err(ImageRejected::NotAnImage));
        }
    }

    #[test]
    fn truncated_files_are_damaged() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let bytes = encoded(&gradient(256, 256), format);
            let cut = &bytes[..bytes.len() / 2];
            assert_eq!(
                process(cut, Shape::Poster),
                Err(ImageRejected::Damaged),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_huge_declared_size_is_refused_from_the_header() {
        // A valid 1×1 PNG whose header claims 100000×100000 (its CRC fixed up).
        let mut png = encoded(&gradient(1, 1), ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            process(&png, Shape::Photo),
            Err(ImageRejected::TooManyPixels)
        );
    }

    #[test]
    fn transparency_is_laid_on_white() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 8, Rgba([0, 0, 0, 0])));
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(clear.as_bytes(), 8, 8, image::ExtendedColorType::Rgba8)
            .unwrap();
        let out = decoded(&process(&bytes, Shape::Poster).unwrap()).into_rgb8();
        assert!(
            out.get_pixel(4, 4).0.iter().all(|c| *c > 245),
            "{:?}",
            out.get_pixel(4, 4)
        );
    }

    /// CRC-32 (IEEE), for patching PNG chunks.
    pub fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
