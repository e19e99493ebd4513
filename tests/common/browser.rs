//! Headless Chromium for the page tests (`report.html`, `replay.html`): `.ci/run` installs it.

use super::stderr;
use std::path::Path;
use std::process::Command;

/// The browser's command, or `None` outside CI when it is not installed.
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium (see .ci/run)");
        eprintln!("skipped: chromium is not installed");
    }
    found
}

/// Chromium's flags for a closed, headless machine.
pub fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The DOM Chromium built from the page.
pub fn dom(browser: &str, page: &Path, profile: &Path) -> String {
    let out = headless(browser, profile).arg("--dump-dom").arg(format!("file://{}", page.display())).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An RGB image read from a PNG.
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Rgb {
    pub fn read(path: &Path) -> Rgb {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        buf.truncate(frame.buffer_size());
        Rgb { width: frame.width as usize, height: frame.height as usize, channels: frame.line_size / frame.width as usize, pixels: buf }
    }

    pub fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}
