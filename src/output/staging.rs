//! Atomic output folders: results are written into a staging folder beside the destination and
//! renamed into place only when complete. An interrupted or failed run removes its staging folder,
//! and a crash leaves only a folder named `.NAME.partial-PID`, never one that looks complete.

use std::path::{Path, PathBuf};

/// A staging folder that is removed unless [`Staging::commit`] succeeds.
pub struct Staging {
    path: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates the staging folder beside `dest` (creating `dest`'s parent if needed).
    pub fn create(dest: &Path) -> std::io::Result<Staging> {
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let path = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir(&path)?;
        Ok(Staging { path, dest: dest.to_path_buf(), committed: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the staging folder to the destination, replacing an existing one (the caller has
    /// checked `--force`). The old folder is moved aside first and removed last, so the
    /// destination is always either the old complete results or the new ones.
    pub fn commit(mut self) -> std::io::Result<PathBuf> {
        let aside = self.path.with_file_name(format!(
            ".{}.old-{}",
            self.dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        let had_old = self.dest.exists();
        if had_old {
            std::fs::rename(&self.dest, &aside)?;
        }
        if let Err(e) = std::fs::rename(&self.path, &self.dest) {
            if had_old {
                let _ = std::fs::rename(&aside, &self.dest);
            }
            return Err(e);
        }
        self.committed = true;
        if had_old {
            std::fs::remove_dir_all(&aside)?;
        }
        Ok(self.dest.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes `bytes` to `dir/name`.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(dir.join(name), bytes)
}

/// Writes `bytes` to `dir/name`, readable and writable by the owner alone (secret keys).
pub fn write_secret_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(dir.join(name))?, bytes)
}

/// Writes `bytes` to `path` as the user named it (which may be a special file such as
/// `/dev/stdout`, or a symlink to write through).
pub fn write_to(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into place when
/// complete, so `path` is never half-written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?.to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
