//! Atomic output folders, one writer each: results are written into a staging folder beside the
//! destination and renamed into place only when complete. An interrupted or failed run removes its
//! staging folder, and a crash leaves only a folder named `.NAME.partial-PID`, never one that
//! looks complete.
//!
//! A run owns its destination through a lock (`File::try_lock`) on `.NAME.peergrid-lock` beside it,
//! held from before it checks whether the destination exists until its results are in place; a
//! second run into the same destination finds the lock held and stops ([`busy`]). The lock file
//! names its owner (`PID HOST`) and is removed when the run ends, so a lock file left behind with
//! its lock free, of this host and of a process that no longer exists, marks a run killed
//! outright: the next run into the same parent folder removes that run's staging folders (and
//! puts back results it had moved aside), as does `peergrid clean` ([`remove_stale`]). Folders
//! without such a lock file are never touched, whatever their names.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A staging folder that is removed unless [`Staging::commit`] succeeds.
pub struct Staging {
    path: PathBuf,
    dest: PathBuf,
    committed: bool,
    /// Held while this exists: the destination's claim.
    claim: Claim,
}

/// The lock on `.NAME.peergrid-lock`; the file is removed when the claim ends (unless kept).
struct Claim {
    path: PathBuf,
    file: File,
    keep_file: bool,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Removed while still locked: a run that opened it meanwhile finds, once it holds the
        // lock, that the path is no longer its file, and opens the new one (see `claim`).
        if !self.keep_file {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
        forget(&self.path);
    }
}

/// Staging folders and lock files of this process now, for [`abandon`]; held while results are
/// moved into place, so the two never interleave.
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
/// Set once a command's results are in place.
static COMMITTED: AtomicBool = AtomicBool::new(false);

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn forget(path: &Path) {
    live().retain(|p| p != path);
}

/// For a process about to exit on a signal it did not answer in time: unless its results are
/// already in place (then `false`: let it finish), removes its staging folders and lock files and
/// returns `true`, keeping any commit from starting until the process has exited.
pub fn abandon() -> bool {
    let guard = live();
    if COMMITTED.load(Ordering::SeqCst) {
        return false;
    }
    // Staging folders before lock files (registered after them): a lock file left alone would
    // still lead a later run to the folder.
    for path in guard.iter().rev() {
        for _ in 0..20 {
            // A thread may still be adding files: retry until the folder is gone.
            let gone = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
            if gone.is_ok() || !path.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    std::mem::forget(guard);
    true
}

/// The end of a destination's lock file's name: `.NAME.peergrid-lock`.
const LOCK_SUFFIX: &str = ".peergrid-lock";

/// The error of a destination another live run is writing: its kind is `ResourceBusy`.
pub fn busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ResourceBusy
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// Whether a lock file's owner line (`PID HOST`) names a process that may still run: one on
/// another host (its processes cannot be seen from here), or a live one on this host.
fn owner_may_live(owner: &str) -> bool {
    let mut words = owner.split_whitespace();
    let (Some(pid), host) = (words.next().and_then(|p| p.parse::<u32>().ok()), words.next().unwrap_or("")) else { return false };
    if host != hostname() {
        return true;
    }
    pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists()
}

/// File systems without locks (some network mounts): the lock file's owner line decides alone.
fn locks_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(37 | 38 | 95)) // ENOLCK, ENOSYS, EOPNOTSUPP
}

/// Why a lock file cannot be taken now.
enum Taken {
    /// Another process holds its lock, or its owner line names one that may still run.
    Busy(String),
}

/// Whether `path` is a lock file this module may open: a regular file, not a link to one
/// elsewhere (writing the owner line through a link would overwrite its target).
fn plain_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Takes the lock `path`: `Err(Taken)` when another process holds it or its owner may still run.
fn try_claim(path: &Path) -> std::io::Result<Result<Claim, Taken>> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..8 {
        if std::fs::symlink_metadata(path).is_ok() && !plain_file(path) {
            return Err(std::io::Error::other(format!("{} is not a plain file: remove it", path.display())));
        }
        let mut file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Err(Taken::Busy(String::new()))),
            Err(std::fs::TryLockError::Error(e)) if locks_unsupported(&e) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        // Free, but naming a process that may still run: another host's (whose locks this host
        // may not see) or a live one here. Its own `clean`, or removing the file, settles it.
        let mut owner = String::new();
        let _ = file.read_to_string(&mut owner);
        if owner_may_live(&owner) {
            let _ = file.unlock();
            return Ok(Err(Taken::Busy(owner.trim().to_string())));
        }
        // The lock counts only if `path` is still this file (its last owner removes it).
        let same = std::fs::metadata(path).is_ok_and(|m| file.metadata().is_ok_and(|f| (f.dev(), f.ino()) == (m.dev(), m.ino())));
        if same {
            file.set_len(0)?;
            std::io::Seek::rewind(&mut file)?;
            file.write_all(format!("{} {}\n", std::process::id(), hostname()).as_bytes())?;
            live().push(path.to_path_buf());
            return Ok(Ok(Claim { path: path.to_path_buf(), file, keep_file: false }));
        }
    }
    Err(std::io::Error::other(format!("cannot take the lock {}: it keeps being replaced", path.display())))
}

/// Takes the lock `path` for `dest`, or says that another run is writing `dest`.
fn claim(path: &Path, dest: &Path) -> std::io::Result<Claim> {
    try_claim(path)?.map_err(|Taken::Busy(owner)| {
        let who = if owner.is_empty() { String::new() } else { format!(" (process {owner}; if it is gone, remove that file)") };
        std::io::Error::new(std::io::ErrorKind::ResourceBusy, format!("another run is writing {} now: it holds {}{who}; wait for it to finish, or choose another --out", dest.display(), path.display()))
    })
}

/// What [`remove_stale`] did with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleaned {
    Removed,
    /// A dead run's moved-aside results, put back under their name.
    PutBack,
}

/// How long a lock file without an owner line may be in the making (created, not yet written).
const NEW_LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// In `dir`, for each lock file left by a run killed outright (see the module's notes): removes
/// that run's staging folders `.NAME.partial-PID`, puts back `.NAME.old-PID` as `NAME` when `NAME`
/// is missing (the run was stopped between moving the old results aside and the new ones in),
/// else removes it, then removes the lock file. A lock file whose folders could not all be dealt
/// with stays, so a later try finds them again. Returns what it did.
pub fn remove_stale(dir: &Path) -> std::io::Result<Vec<(PathBuf, Cleaned)>> {
    let mut done = Vec::new();
    let mut first_error = None;
    let names: Vec<String> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    for lock in &names {
        let Some(dest) = lock.strip_prefix('.').and_then(|r| r.strip_suffix(LOCK_SUFFIX)).filter(|d| !d.is_empty()) else { continue };
        let lock_path = dir.join(lock);
        if !plain_file(&lock_path) {
            continue;
        }
        // The owner line first (`try_claim` rewrites it): only its own folders are the dead run's.
        let owner = std::fs::read_to_string(&lock_path).unwrap_or_default();
        let pid = owner.split_whitespace().next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let young = std::fs::metadata(&lock_path).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age < NEW_LOCK_GRACE));
        if owner_may_live(&owner) || (pid.is_none() && young) {
            continue; // a live run's, or one being taken right now
        }
        let Ok(Ok(mut claim)) = try_claim(&lock_path) else { continue };
        for tag in [".partial-", ".old-"] {
            let Some(pid) = pid else { break };
            let path = dir.join(format!(".{dest}{tag}{pid}"));
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let put_back = tag == ".old-" && std::fs::symlink_metadata(dir.join(dest)).is_err();
            let result = if put_back { std::fs::rename(&path, dir.join(dest)) } else { std::fs::remove_dir_all(&path) };
            match result {
                Ok(()) => done.push((path, if put_back { Cleaned::PutBack } else { Cleaned::Removed })),
                Err(e) => {
                    claim.keep_file = true;
                    first_error.get_or_insert(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())));
                }
            }
        }
        if !claim.keep_file {
            done.push((lock_path, Cleaned::Removed));
        }
        drop(claim); // removes the lock file unless kept
    }
    done.sort_by(|a, b| a.0.cmp(&b.0));
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

impl Staging {
    /// Claims `dest` and creates the staging folder beside it (creating `dest`'s parent if
    /// needed), first removing what runs killed outright left there. Another live run writing
    /// `dest` is an error for which [`busy`] is true.
    pub fn create(dest: &Path) -> std::io::Result<Staging> {
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} names no folder", dest.display())))?;
        let _ = remove_stale(parent);
        let claim = claim(&parent.join(format!(".{name}{LOCK_SUFFIX}")), dest)?;
        let path = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir(&path)?;
        live().push(path.clone());
        Ok(Staging { path, dest: dest.to_path_buf(), committed: false, claim })
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
        {
            // Not while a signal's handler is removing the staging folder (see `abandon`).
            let mut live = live();
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
            COMMITTED.store(true, Ordering::SeqCst);
            live.retain(|p| *p != self.path);
        }
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
