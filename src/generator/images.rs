//! Generated product photos for demo and benchmark catalogues (`shopd gen
//! --images N`): N deterministic JPEGs under `images/`, each a soft
//! gradient backdrop with a lit object, and every product's first image
//! pointing at one of them (products share them round-robin, as a shop's
//! variants share a photo). `shopd import` stores them as images.

use image::{DynamicImage, Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::io;
use std::path::Path;

/// The longer side of a generated photo by default: room for every
/// variant size.
pub const SIDE: u32 = 1600;

/// One photo: a vertical gradient, a floor, and an ellipse or a box with a
/// highlight, in colours from `rng`; mild noise, as a camera adds.
fn photo(rng: &mut ChaCha8Rng, side: u32) -> RgbImage {
    let (w, h) = (side, side * 3 / 4);
    let top: [f32; 3] = [
        rng.random_range(150.0..250.0),
        rng.random_range(150.0..250.0),
        rng.random_range(150.0..250.0),
    ];
    let bottom: [f32; 3] = top.map(|c| c * 0.55);
    let object: [f32; 3] = [
        rng.random_range(20.0..230.0),
        rng.random_range(20.0..230.0),
        rng.random_range(20.0..230.0),
    ];
    let (cx, cy) = (
        w as f32 * rng.random_range(0.35..0.65),
        h as f32 * rng.random_range(0.4..0.6),
    );
    let (rx, ry) = (
        w as f32 * rng.random_range(0.12..0.25),
        h as f32 * rng.random_range(0.15..0.3),
    );
    let boxy = rng.random_bool(0.5);
    let seed: u32 = rng.random();
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let t = fy / h as f32;
        let mut c: [f32; 3] = std::array::from_fn(|i| top[i] * (1.0 - t) + bottom[i] * t);
        let (dx, dy) = ((fx - cx) / rx, (fy - cy) / ry);
        let inside = if boxy {
            dx.abs() < 1.0 && dy.abs() < 1.0
        } else {
            dx * dx + dy * dy < 1.0
        };
        if inside {
            let light = 1.25 - 0.5 * ((dx + 0.4).powi(2) + (dy + 0.5).powi(2)).sqrt();
            c = object.map(|o| o * light.clamp(0.4, 1.3));
        }
        let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729) ^ seed) % 9;
        Rgb(c.map(|v| (v + n as f32 - 4.0).clamp(0.0, 255.0) as u8))
    })
}

/// Writes `n` photos (`side` pixels wide, 4:3) into `dir/images/` and
/// points each product of `dir/products.jsonl` at one (its first image);
/// returns the files written.
pub fn write_images(dir: &Path, n: u32, seed: u64, side: u32) -> io::Result<u64> {
    if n == 0 {
        return Ok(0);
    }
    let images = dir.join("images");
    std::fs::create_dir_all(&images)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1_a9e5);
    for i in 0..n {
        let img = DynamicImage::ImageRgb8(photo(&mut rng, side.max(8)));
        let mut out = io::BufWriter::new(std::fs::File::create(
            images.join(format!("gen-{i:04}.jpg")),
        )?);
        image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out,
            if side > 1000 { 85 } else { 80 },
        )
        .encode_image(&img)
        .map_err(io::Error::other)?;
    }
    let products = dir.join("products.jsonl");
    let text = std::fs::read_to_string(&products)?;
    let mut out = String::with_capacity(text.len());
    for (k, line) in text.lines().enumerate() {
        let mut m: Map<String, Value> = serde_json::from_str(line).map_err(io::Error::other)?;
        let file = Value::String(format!("images/gen-{:04}.jpg", k as u32 % n));
        match m.get_mut("images") {
            Some(Value::Array(a)) if !a.is_empty() => a[0] = file,
            _ => {
                m.insert("images".into(), Value::Array(vec![file]));
            }
        }
        out.push_str(&Value::Object(m).to_string());
        out.push('\n');
    }
    std::fs::write(&products, out)?;
    Ok(n as u64)
}
