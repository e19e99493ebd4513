//! Atomic output folders, one writer each: results are written into a staging folder beside the
//! destination and renamed into place only when complete. An interrupted or failed run removes its
//! staging folder, and a crash leaves only a folder named `.NAME.partial-PID`, never one that
//! looks complete.
//!
//! A run owns its destination through a lock on `.NAME.peergrid-lock` beside it, held from before it checks
//! whether the destination exists until its results are in place; a second run into the same
//! destination finds the lock held and stops ([`busy`]). Each staging folder is itself locked by
//! the process writing it, so one whose lock is free belongs to a dead run: the next run into the
//! same parent folder removes it, as does `peergrid clean` ([`remove_stale`]).

use std::fs::File;
use std::path::{Path, PathBuf};

/// A staging folder that is removed unless [`Staging::commit`] succeeds.
pub struct Staging {
    path: PathBuf,
    dest: PathBuf,
    committed: bool,
    /// Held (locked) while this exists: the destination's claim and the staging folder's own.
    claim: Claim,
    _folder: File,
}

/// The lock on `.NAME.peergrid-lock`; the file is removed when the claim ends.
struct Claim {
    path: PathBuf,
    file: File,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Removed while still locked: a run that opened it meanwhile finds, once it holds the
        // lock, that the path is no longer its file, and opens the new one (see `claim`).
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
        forget(&self.path);
    }
}

/// Staging folders and lock files of this process now, for [`remove_live`].
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn forget(path: &Path) {
    live().retain(|p| p != path);
}

/// Removes this process's staging folders and lock files, for a process about to exit without
/// unwinding (a signal the run did not answer in time). Retries a few times, as a thread may
/// still be adding files.
pub fn remove_live() {
    let paths = live().clone();
    for path in paths {
        for _ in 0..20 {
            let gone = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            if gone.is_ok() || !path.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// The end of a destination's lock file's name: `.NAME.peergrid-lock`.
const LOCK_SUFFIX: &str = ".peergrid-lock";

/// The error of a destination another live run is writing: its kind is `ResourceBusy`.
pub fn busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ResourceBusy
}

/// Takes the lock `path`, or says that another process holds it.
fn claim(path: &Path, dest: &Path) -> std::io::Result<Claim> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..8 {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ResourceBusy,
                    format!("another run is writing {} now (it holds {}); wait for it to finish, or choose another --out", dest.display(), path.display()),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        // The lock counts only if `path` is still this file (its last owner removes it).
        let same = std::fs::metadata(path).is_ok_and(|m| file.metadata().is_ok_and(|f| (f.dev(), f.ino()) == (m.dev(), m.ino())));
        if same {
            live().push(path.to_path_buf());
            return Ok(Claim { path: path.to_path_buf(), file });
        }
    }
    Err(std::io::Error::other(format!("cannot take the lock {}: it keeps being replaced", path.display())))
}

/// Removes the staging folders (`.NAME.partial-PID`, `.NAME.old-PID`) and lock files in `dir`
/// that belong to no live run, and returns what it removed.
pub fn remove_stale(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix('.') else { continue };
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        // Only names this module makes: `.NAME.partial-PID`, `.NAME.old-PID`, `.NAME.LOCK_SUFFIX`.
        let staged = [".partial-", ".old-"].iter().find_map(|tag| rest.rsplit_once(tag).filter(|(d, pid)| !d.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).map(|(d, _)| (*tag, d)));
        if let (true, Some((tag, dest))) = (is_dir, staged) {
            // A live run holds its staging folder's lock; an `.old-` folder is only ever there
            // while its run holds the destination's lock.
            let Ok(folder) = File::open(&path) else { continue };
            if folder.try_lock().is_err() {
                continue;
            }
            if tag == ".old-" && File::open(dir.join(format!(".{dest}{LOCK_SUFFIX}"))).is_ok_and(|f| f.try_lock().is_err()) {
                continue;
            }
            std::fs::remove_dir_all(&path)?;
            removed.push(path);
        } else if let (false, Some(dest)) = (is_dir, rest.strip_suffix(LOCK_SUFFIX).filter(|d| !d.is_empty()))
            && let Ok(claim) = claim(&path, &dir.join(dest))
        {
            drop(claim); // removes the file
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

impl Staging {
    /// Claims `dest` and creates the staging folder beside it (creating `dest`'s parent if
    /// needed), first removing stale staging folders of dead runs there. Another live run
    /// writing `dest` is an error for which [`busy`] is true.
    pub fn create(dest: &Path) -> std::io::Result<Staging> {
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let claim = claim(&parent.join(format!(".{name}{LOCK_SUFFIX}")), dest)?;
        let _ = remove_stale(parent);
        let path = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir(&path)?;
        live().push(path.clone());
        let folder = File::open(&path)?;
        folder.lock()?;
        Ok(Staging { path, dest: dest.to_path_buf(), committed: false, claim, _folder: folder })
    }

    /// The destination this staging folder is for.
    pub fn dest(&self) -> &Path {
        &self.dest
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
        let _ = &self.claim; // held until the old results are gone
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
        forget(&self.path);
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
            forget(&self.path);
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
