//! Product images: making every variant of 12-megapixel photos with
//! shopd's code against `vipsthumbnail` (libvips, Debian's `libvips-tools`,
//! installed here when missing) making the same sizes and formats from the
//! same files, side by side in one run; then serving a cached 480 px WebP
//! over HTTP.
//!
//! ```sh
//! cargo bench --bench media     # writes target/bench-data/media-results.md
//! ```
//! `MEDIA_ROUNDS` (default 3) rounds, alternating the two tools; medians and
//! ranges. Each job runs in a process of its own (this binary, re-run as a
//! worker, or vipsthumbnail), so its peak RSS is its own (`wait4`'s
//! `ru_maxrss`). Both sides on one core: shopd's encoders are single-
//! threaded; vipsthumbnail gets `VIPS_CONCURRENCY=1`.
//!
//! What is compared: shopd decodes the photo once and makes every size from
//! it (its `media_variants` job); vipsthumbnail makes one size per run and
//! decodes with shrink-on-load each time (JPEG's DCT scaling: it never
//! decodes the full 12 MP). vipsthumbnail's times include its process
//! start (a few ms), shopd's worker reports its own time without its start.

#[path = "common/mod.rs"]
mod common;

use common::load::{Scenario, Server, Start, Warm, free_port, wrk};
use common::median_range;
use image::{DynamicImage, RgbImage};
use shopd::domain::media::{Encoding, SIZES};
use shopd::media::codec;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PHOTOS: usize = 3;
const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const TOKEN: &str = "media-bench-admin-token-0123456789abcdef";

/// A photo-like 12 MP test image: smooth gradients, soft shapes and
/// sensor-like noise (pure gradients would flatter every encoder).
fn photo(seed: u32) -> RgbImage {
    let mut state = 0x9E37_79B9u32.wrapping_mul(seed + 1);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 23) as i32 - 11
    };
    RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let fx = x as f32 / WIDTH as f32;
        let fy = y as f32 / HEIGHT as f32;
        let blob = ((fx * 9.0 + seed as f32).sin() * (fy * 7.0).cos() * 60.0) as i32;
        let base = [
            (90.0 + 120.0 * fx) as i32 + blob,
            (60.0 + 140.0 * fy) as i32 - blob / 2,
            (150.0 - 80.0 * fx * fy) as i32 + blob / 3,
        ];
        let n = noise();
        image::Rgb(base.map(|c| (c + n).clamp(0, 255) as u8))
    })
}

fn photos(dir: &Path) -> Vec<PathBuf> {
    (0..PHOTOS)
        .map(|i| {
            let path = dir.join(format!("photo-{i}.jpg"));
            if !path.exists() {
                let img = DynamicImage::ImageRgb8(photo(i as u32));
                let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                    .encode_image(&img)
                    .unwrap();
            }
            path
        })
        .collect()
}

fn ensure_vips() {
    let found = Command::new("vipsthumbnail").arg("--vips-version").output();
    if found.is_ok_and(|o| o.status.success()) {
        return;
    }
    eprintln!("installing libvips-tools (vipsthumbnail) from Debian's packages");
    let ok = Command::new("bash")
        .arg("-c")
        .arg("DEBIAN_FRONTEND=noninteractive apt-get install -y -q libvips-tools >/dev/null || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libvips-tools >/dev/null)")
        .status()
        .expect("apt-get runs");
    assert!(ok.success(), "could not install libvips-tools");
}

/// Runs `cmd` to its end; its wall time, peak RSS (bytes) and output, or
/// `None` when it fails.
fn run_measured(cmd: &mut Command) -> Option<(Duration, u64, String)> {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("process starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let output = {
        // Read the pipes before reaping (a full pipe would block it).
        use std::io::Read;
        let mut out = String::new();
        let mut child = child;
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        // SAFETY: waits for our own child and fills `usage`.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(r, pid, "wait4");
        std::mem::forget(child);
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            eprintln!("{cmd:?} failed: {err}");
            return None;
        }
        out
    };
    Some((start.elapsed(), usage.ru_maxrss as u64 * 1024, output))
}

/// The worker: makes the variants of one photo as the `media_variants` job
/// does (decode once, sizes large to small, each resized from the last) and
/// prints the seconds it took. `phase`: `webp`, `jpeg` or `avif`.
fn worker(path: &Path, phase: &str) {
    let encoding = match phase {
        "webp" => Encoding::Webp,
        "jpeg" => Encoding::Jpeg,
        _ => Encoding::Avif,
    };
    let bytes = std::fs::read(path).unwrap();
    let start = Instant::now();
    let d = codec::decode(&bytes, 50_000_000).unwrap();
    let mut last: Option<codec::Pixels> = None;
    let mut total = 0;
    for size in (0..SIZES.len()).rev() {
        let px = codec::resize(&d, last.as_ref(), size).unwrap();
        total += codec::encode(&px, encoding).unwrap().len();
        last = Some(px);
    }
    println!("{} {total}", start.elapsed().as_secs_f64());
}

fn shopd_job(path: &Path, phase: &str) -> (f64, u64) {
    let exe = std::env::current_exe().unwrap();
    let (_, rss, out) = run_measured(
        Command::new(exe)
            .env("MEDIA_BENCH_WORKER", path)
            .env("MEDIA_BENCH_PHASE", phase),
    )
    .expect("the shopd worker runs");
    let secs: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    (secs, rss)
}

/// vipsthumbnail making every size in `ext` (one run per size, as it
/// works); total seconds and the largest run's peak RSS.
fn vips_job(path: &Path, out: &Path, ext: &str) -> Option<(f64, u64)> {
    let mut secs = 0.0;
    let mut rss = 0;
    for size in SIZES {
        let target = out.join(format!("%s-{size}.{ext}[Q=82,strip]"));
        let mut cmd = Command::new("vipsthumbnail");
        cmd.arg(path)
            .arg("--size")
            .arg(size.to_string())
            .arg("-o")
            .arg(&target)
            .env("VIPS_CONCURRENCY", "1");
        let (took, r, _) = run_measured(&mut cmd)?;
        secs += took.as_secs_f64();
        rss = rss.max(r);
    }
    Some((secs, rss))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Serving: a real shopd on a loopback port, one uploaded photo, wrk at 64
/// connections on its 480 px WebP (kept in memory after the first read).
fn serving(dir: &Path, photo: &Path, rounds: usize) -> (Vec<f64>, Vec<f64>) {
    let data = dir.join("serve-data");
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port();
    let mut server = Server::spawn(
        "shopd",
        Path::new(env!("CARGO_BIN_EXE_shopd")),
        &[
            "--data-dir".into(),
            data.display().to_string(),
            "serve".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
        &[("SHOPD_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "warn")],
    );
    server.wait_for("/ready", Duration::from_secs(60));
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
        ])
        .args(["-H", "Content-Type: image/jpeg", "--data-binary"])
        .arg(format!("@{}", photo.display()))
        .arg(format!("http://127.0.0.1:{port}/api/v1/media"))
        .output()
        .expect("curl runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("upload answers JSON");
    let id = v["data"]["id"].as_str().expect("an id").to_string();
    let path = format!("/media/{id}/480.webp");
    server.wait_for(&path, Duration::from_secs(30));
    let paths = vec![path];
    let file = dir.join("serve.paths");
    std::fs::write(&file, format!("{}\n", paths[0])).unwrap();
    let scenario = Scenario {
        name: "media-480-webp",
        paths: &paths,
        connections: 64,
        warm: Warm::Time(Duration::ZERO),
        services: &[],
        measure: Duration::from_secs(10),
        threads: 2,
        think_ms: None,
        accept_encoding: None,
    };
    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    for round in 0..rounds {
        let r = wrk(
            port,
            &file,
            &scenario,
            common::load::env_secs("MEDIA_SERVE_SECS", 10),
            Start::Random { seed: round as u64 },
        );
        assert_eq!(r.errors(), 0, "errors while serving: {r:?}");
        rates.push(r.requests as f64 / (r.duration_us as f64 / 1e6));
        p99s.push(r.p99_us as f64 / 1000.0);
    }
    (rates, p99s)
}

fn main() {
    if let Some(path) = std::env::var_os("MEDIA_BENCH_WORKER") {
        let phase = std::env::var("MEDIA_BENCH_PHASE").unwrap();
        worker(Path::new(&path), &phase);
        return;
    }
    let rounds = common::rounds("MEDIA_ROUNDS");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/media");
    std::fs::create_dir_all(&dir).unwrap();
    ensure_vips();
    common::load::ensure_wrk();
    let photos = photos(&dir);
    let out = dir.join("vips-out");
    std::fs::create_dir_all(&out).unwrap();

    // (tool, format) → per-round seconds per photo, peak RSS.
    let rows = [
        ("shopd", "webp"),
        ("vipsthumbnail", "webp"),
        ("shopd", "jpeg"),
        ("vipsthumbnail", "jpg"),
        ("shopd", "avif"),
        ("vipsthumbnail", "avif"),
    ];
    let mut secs: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let mut rss: Vec<u64> = vec![0; rows.len()];
    let mut unavailable = vec![false; rows.len()];
    for round in 0..rounds {
        for (i, (tool, format)) in rows.iter().enumerate() {
            if unavailable[i] {
                continue;
            }
            let mut total = 0.0;
            for p in &photos {
                let measured = if *tool == "shopd" {
                    Some(shopd_job(p, format))
                } else {
                    vips_job(p, &out, format)
                };
                match measured {
                    Some((s, r)) => {
                        total += s;
                        rss[i] = rss[i].max(r);
                    }
                    None => {
                        unavailable[i] = true;
                        break;
                    }
                }
            }
            if !unavailable[i] {
                secs[i].push(total / photos.len() as f64);
            }
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    let (rates, p99s) = serving(&dir, &photos[0], rounds.min(3));

    let mut md = String::new();
    writeln!(
        md,
        "# Product images: variants of a 12 MP JPEG, shopd vs vipsthumbnail\n\n\
         {PHOTOS} photo-like {WIDTH}×{HEIGHT} JPEGs (q90); sizes {SIZES:?} (longer side), \
         quality 82 (AVIF: shopd 62 at speed 8). One core each (vipsthumbnail with \
         `VIPS_CONCURRENCY=1`). {rounds} rounds alternating the tools; medians (ranges) \
         of the seconds per photo for all three sizes.\n"
    )
    .unwrap();
    writeln!(
        md,
        "| tool | format | s per photo | peak RSS (MiB) | vs vipsthumbnail |"
    )
    .unwrap();
    writeln!(md, "|---|---|---|---|---|").unwrap();
    for (i, (tool, format)) in rows.iter().enumerate() {
        if unavailable[i] {
            writeln!(md, "| {tool} | {format} | not available | — | — |").unwrap();
            continue;
        }
        let (m, lo, hi) = median_range(secs[i].clone());
        let ratio = if *tool == "shopd" && !unavailable[i + 1] && !secs[i + 1].is_empty() {
            format!("{:.2}×", m / median_range(secs[i + 1].clone()).0)
        } else {
            String::new()
        };
        writeln!(
            md,
            "| {tool} | {format} | {m:.3} ({lo:.3}–{hi:.3}) | {:.0} | {ratio} |",
            mib(rss[i])
        )
        .unwrap();
    }
    let (r, rlo, rhi) = median_range(rates.clone());
    let (p, plo, phi) = median_range(p99s.clone());
    writeln!(
        md,
        "\n## Serving a cached 480 px WebP\n\nwrk, 64 connections, 2 threads, {} rounds of {} s: \
         **{r:.0} req/s** ({rlo:.0}–{rhi:.0}), p99 **{p:.2} ms** ({plo:.2}–{phi:.2}).",
        rates.len(),
        common::load::env_secs("MEDIA_SERVE_SECS", 10).as_secs()
    )
    .unwrap();
    print!("{md}");
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/media-results.md"),
        &md,
    )
    .unwrap();
}
