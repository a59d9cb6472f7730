//! Images: thumbnails of uploaded files and people's pictures, made by the server, and location
//! data removed before anyone else sees a photo.
//!
//! A thumbnail is decoded under limits: the size an image claims is read from its header first
//! and refused past [`MAX_PIXELS`] (a "decompression bomb" of a few KiB that unpacks to
//! gigabytes never gets decoded), and the decoder may allocate at most [`MAX_ALLOC`] anyway.
//! Thumbnails are re-encoded pixels, so they carry no metadata at all.
//!
//! The original is served as uploaded, except that a JPEG's EXIF GPS block (where phones write
//! where a photo was taken) is emptied as the upload streams ([`JpegScrubber`]); the rest of
//! the EXIF (the orientation, so photos stay the right way up) is kept.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The longest side of a thumbnail, in pixels (Slack's `thumb_360`).
pub const THUMB_SIZE: u32 = 360;

/// The most pixels an image may have to be opened (50 megapixels: any phone's photo).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The most the decoder may allocate for one image.
pub const MAX_ALLOC: u64 = 512 * 1024 * 1024;
/// The longest side an image may have.
pub const MAX_SIDE: u32 = 20_000;

/// A thumbnail: JPEG for opaque images, PNG where there is transparency.
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    /// The original's size in pixels, upright.
    pub width: u32,
    pub height: u32,
}

/// Why an image cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum ImageRefusal {
    #[error(
        "That image is too large to open ({width} × {height} pixels); the most is 50 megapixels."
    )]
    TooLarge { width: u32, height: u32 },
    #[error("That image cannot be read: {0}")]
    Unreadable(String),
}

/// Reads the image's header and refuses it if it claims too many pixels. Cheap: nothing is
/// decoded.
pub fn check_size(bytes: &[u8]) -> Result<(u32, u32), ImageRefusal> {
    // Read without limits: the header's claim is what is judged here, not refused as
    // "unreadable" by the decoder's own limits.
    let (width, height) = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageRefusal::Unreadable(e.to_string()))?
        .into_dimensions()
        .map_err(|e| ImageRefusal::Unreadable(e.to_string()))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageRefusal::TooLarge { width, height });
    }
    Ok((width, height))
}

/// A thumbnail at most [`THUMB_SIZE`] a side, turned the way the photo's EXIF says.
/// CPU-bound: call it from `spawn_blocking`.
pub fn thumbnail(bytes: &[u8]) -> Result<Thumbnail, ImageRefusal> {
    let image = upright(bytes)?;
    let (width, height) = (image.width(), image.height());
    Ok(Thumbnail {
        bytes: encode(&image.thumbnail(THUMB_SIZE, THUMB_SIZE))?,
        width,
        height,
    })
}

/// The image decoded under the limits and turned the way its EXIF says.
fn upright(bytes: &[u8]) -> Result<DynamicImage, ImageRefusal> {
    check_size(bytes)?;
    let mut decoder = reader(bytes)?.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Re-encoded pixels: JPEG for opaque images, PNG where there is transparency.
fn encode(image: &DynamicImage) -> Result<Vec<u8>, ImageRefusal> {
    let mut out = Vec::new();
    if image.color().has_alpha() {
        image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
    }
    .map_err(unreadable)?;
    Ok(out)
}

fn unreadable(e: image::ImageError) -> ImageRefusal {
    ImageRefusal::Unreadable(e.to_string())
}

/// A square the person chose on their picture, in its upright pixels.
#[derive(Clone, Copy, Debug)]
pub struct Square {
    pub x: u32,
    pub y: u32,
    pub size: u32,
}

/// An avatar: the chosen square of the picture (or the middle one), turned upright and scaled
/// to `side` pixels; JPEG, or PNG where there is transparency. CPU-bound: call it from
/// `spawn_blocking`.
pub fn avatar(bytes: &[u8], square: Option<Square>, side: u32) -> Result<Thumbnail, ImageRefusal> {
    let image = upright(bytes)?;
    let (width, height) = (image.width(), image.height());
    let shorter = width.min(height);
    // A square that does not fit the picture is moved and shrunk until it does, rather than
    // refused: the person's drag was approximate anyway.
    let Square { x, y, size } = square.unwrap_or(Square {
        x: (width - shorter) / 2,
        y: (height - shorter) / 2,
        size: shorter,
    });
    let size = size.clamp(1, shorter);
    let (x, y) = (x.min(width - size), y.min(height - size));
    let cropped = image.crop_imm(x, y, size, size);
    let small = if size > side {
        cropped.resize_exact(side, side, image::imageops::FilterType::Lanczos3)
    } else {
        cropped
    };
    Ok(Thumbnail {
        bytes: encode(&small)?,
        width,
        height,
    })
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, ImageRefusal> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageRefusal::Unreadable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// The thumbnail's type, from the extension its key was given ([`Thumbnail::extension`]).
pub fn thumb_type(key: &str) -> &'static str {
    if key.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

impl Thumbnail {
    /// `png` or `jpg`, as encoded.
    pub fn extension(&self) -> &'static str {
        if self.bytes.starts_with(b"\x89PNG") {
            "png"
        } else {
            "jpg"
        }
    }
}

/// Empties the EXIF GPS block of a JPEG as it streams. The segments before the image data
/// (a few KiB; at most 1 MiB is held) are kept back until they are complete, an `APP1 Exif`
/// segment among them is cleaned in place (same length, so nothing else moves), and from the
/// image data on, bytes pass straight through.
#[derive(Default)]
pub struct JpegScrubber {
    held: Vec<u8>,
    /// Where the next segment starts in `held`.
    next: usize,
    passing: bool,
}

const MAX_HELD: usize = 1024 * 1024;

impl JpegScrubber {
    /// Takes the next bytes of the upload; returns what may be written now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.passing {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        if self.next == 0 {
            if self.held.len() < 2 {
                return Vec::new();
            }
            if !self.held.starts_with(&[0xFF, 0xD8]) {
                return self.pass();
            }
            self.next = 2;
        }
        loop {
            let h = &self.held;
            let at = self.next;
            if h.len() < at + 4 {
                break;
            }
            // Anything but a marker, or the start of the image data: the header is over.
            if h[at] != 0xFF || h[at + 1] == 0xDA || h[at + 1] == 0xD9 {
                return self.pass();
            }
            let length = usize::from(u16::from_be_bytes([h[at + 2], h[at + 3]]));
            if h.len() < at + 2 + length {
                break;
            }
            if h[at + 1] == 0xE1 && length >= 8 && h[at + 4..].starts_with(b"Exif\0\0") {
                scrub_gps(&mut self.held[at + 10..at + 2 + length]);
            }
            self.next = at + 2 + length;
        }
        if self.held.len() > MAX_HELD {
            return self.pass();
        }
        Vec::new()
    }

    /// The end of the upload: whatever is still held.
    pub fn finish(&mut self) -> Vec<u8> {
        self.pass()
    }

    fn pass(&mut self) -> Vec<u8> {
        self.passing = true;
        std::mem::take(&mut self.held)
    }
}

/// Empties the GPS IFD of a TIFF structure (an EXIF block after its `Exif\0\0`): every entry's
/// value and the data it points to become zeros, and the IFD's entry count zero. Malformed
/// offsets are left alone (bounds are checked at each step).
pub fn scrub_gps(tiff: &mut [u8]) {
    let big = match tiff.get(..2) {
        Some(b"MM") => true,
        Some(b"II") => false,
        _ => return,
    };
    let u16_at = |t: &[u8], at: usize| -> Option<usize> {
        let b = t.get(at..at + 2)?;
        Some(usize::from(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }))
    };
    let u32_at = |t: &[u8], at: usize| -> Option<usize> {
        let b: [u8; 4] = t.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize)
    };
    let Some(ifd0) = u32_at(tiff, 4) else { return };
    let Some(count) = u16_at(tiff, ifd0) else {
        return;
    };
    let gps = (0..count)
        .map(|i| ifd0 + 2 + 12 * i)
        .find(|&entry| u16_at(tiff, entry) == Some(0x8825))
        .and_then(|entry| u32_at(tiff, entry + 8));
    let Some(gps) = gps else { return };
    let Some(entries) = u16_at(tiff, gps) else {
        return;
    };
    for i in 0..entries {
        let entry = gps + 2 + 12 * i;
        let (Some(kind), Some(n)) = (u16_at(tiff, entry + 2), u32_at(tiff, entry + 4)) else {
            return;
        };
        let unit = match kind {
            3 | 8 => 2,
            4 | 9 | 11 => 4,
            5 | 10 | 12 => 8,
            _ => 1,
        };
        let size = unit * n;
        if size > 4
            && let Some(offset) = u32_at(tiff, entry + 8)
            && let Some(data) = tiff.get_mut(offset..offset.saturating_add(size))
        {
            data.fill(0);
        }
        if let Some(e) = tiff.get_mut(entry..entry + 12) {
            e.fill(0);
        }
    }
    if let Some(c) = tiff.get_mut(gps..gps + 2) {
        c.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian EXIF block: IFD0 with one entry (the GPS pointer), and a GPS IFD with a
    /// latitude (three rationals, stored out of line).
    fn exif_with_gps() -> Vec<u8> {
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        // IFD0 at 8: one entry, GPS pointer → 26.
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&26u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(t.len(), 26);
        // GPS IFD at 26: one entry, GPSLatitude, 3 rationals at 44.
        t.extend_from_slice(&1u16.to_le_bytes());
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&5u16.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(&44u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(t.len(), 44);
        for v in [51u32, 1, 30, 1, 2625, 100] {
            t.extend_from_slice(&v.to_le_bytes());
        }
        t
    }

    fn jpeg_with(exif: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
        j.extend_from_slice(&((exif.len() + 8) as u16).to_be_bytes());
        j.extend_from_slice(b"Exif\0\0");
        j.extend_from_slice(exif);
        j.extend_from_slice(&[0xFF, 0xDA, 0, 2, 1, 2, 3, 0xFF, 0xD9]);
        j
    }

    #[test]
    fn gps_is_emptied_in_any_chunking_and_nothing_else_moves() {
        let original = jpeg_with(&exif_with_gps());
        for chunk in [1, 3, 7, 64, 4096] {
            let mut scrubber = JpegScrubber::default();
            let mut out = Vec::new();
            for part in original.chunks(chunk) {
                out.extend(scrubber.feed(part));
            }
            out.extend(scrubber.finish());
            assert_eq!(out.len(), original.len());
            // 2625 (the latitude's seconds) was in the original, and is not in what is kept.
            let has = |bytes: &[u8]| bytes.windows(4).any(|w| w == 2625u32.to_le_bytes());
            assert!(has(&original));
            assert!(!has(&out), "chunks of {chunk}");
            // The image data after the header is untouched.
            assert!(out.ends_with(&[0xFF, 0xDA, 0, 2, 1, 2, 3, 0xFF, 0xD9]));
        }
    }

    #[test]
    fn other_files_pass_through_unchanged() {
        let png = b"\x89PNG\r\n\x1a\n rest of it".to_vec();
        let mut scrubber = JpegScrubber::default();
        let mut out = scrubber.feed(&png);
        out.extend(scrubber.finish());
        assert_eq!(out, png);
    }

    #[test]
    fn a_bomb_is_refused_before_it_is_decoded() {
        // A real 1 × 1 PNG whose header is made to claim 100,000 × 100,000 pixels (with the
        // header's checksum made right, as a bomb's is).
        let mut png = Vec::new();
        DynamicImage::new_rgb8(1, 1)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let mut crc = !0u32;
        for &b in &png[12..29] {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        png[29..33].copy_from_slice(&(!crc).to_be_bytes());
        assert!(matches!(
            check_size(&png),
            Err(ImageRefusal::TooLarge {
                width: 100_000,
                height: 100_000
            })
        ));
        assert!(thumbnail(&png).is_err());
    }

    #[test]
    fn a_thumbnail_is_small_and_keeps_the_shape() {
        let image = DynamicImage::new_rgb8(1200, 600);
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let thumb = thumbnail(&png).unwrap();
        assert_eq!((thumb.width, thumb.height), (1200, 600));
        let small = image::load_from_memory(&thumb.bytes).unwrap();
        assert_eq!((small.width(), small.height()), (360, 180));
        assert_eq!(thumb.extension(), "jpg");
    }

    #[test]
    fn avatars_are_square_and_small() {
        let wide = DynamicImage::new_rgb8(900, 300);
        let mut png = Vec::new();
        wide.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let middle = avatar(&png, None, 256).unwrap();
        let out = image::load_from_memory(&middle.bytes).unwrap();
        assert_eq!((out.width(), out.height()), (256, 256));
        assert_eq!((middle.width, middle.height), (900, 300));
        // A square past the edge is moved inside the picture, not refused.
        let chosen = avatar(
            &png,
            Some(Square {
                x: 800,
                y: 50,
                size: 200,
            }),
            256,
        )
        .unwrap();
        let out = image::load_from_memory(&chosen.bytes).unwrap();
        assert_eq!((out.width(), out.height()), (200, 200));
        assert!(matches!(
            avatar(b"not an image", None, 256),
            Err(ImageRefusal::Unreadable(_))
        ));
    }
}
