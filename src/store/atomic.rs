//! Crash-safe file writes and inter-process locks.
//!
//! Every file is written to a temp file in its own directory, fsynced and renamed over the target, so a reader
//! (or a crash) sees the old content or the new, never a torn file. Metric lines are appended with one
//! `write` call under an exclusive lock, so concurrent loggers interleave whole lines only.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// A temp file in `dir` (named `.mlx-tmp-*`, which readers skip) created with mode 0666 less the umask —
/// the mode a plain `create` gives — rather than tempfile's private 0600, so that once renamed into place
/// other users of a shared store can read it as they can read MLflow's own files.
pub fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(".mlx-tmp-")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// An error of writing `target` through a temp file in `dir`, naming `target` — tempfile's own errors name
/// its random `.mlx-tmp-*` file, which the user never asked for — and keeping the error kind.
pub fn for_target(target: &Path, dir: &Path, e: io::Error) -> io::Error {
    let why = match e.kind() {
        io::ErrorKind::NotFound => format!("the folder {} does not exist", dir.display()),
        io::ErrorKind::PermissionDenied => format!("permission denied in {}", dir.display()),
        io::ErrorKind::NotADirectory => format!("{} is not a folder", dir.display()),
        _ => {
            // tempfile wraps the OS error with the temp path: keep only the OS error.
            let inner = e
                .get_ref()
                .and_then(|inner| std::error::Error::source(inner))
                .map(ToString::to_string);
            inner.unwrap_or_else(|| e.to_string())
        }
    };
    io::Error::new(
        e.kind(),
        format!("cannot write {}: {why}", target.display()),
    )
}

/// Replace `path` with `contents` atomically (the temp file sits beside it).
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_via(path, contents, path.parent().unwrap_or(Path::new(".")))
}

/// Replace `path` atomically, with the temp file in `tmp_dir` (same filesystem). Key folders such as
/// `params/`, `tags/`, `metrics/` and `aliases/` are read whole by MLflow, so their temp files live one level
/// up, where MLflow never looks.
pub fn write_via(path: &Path, contents: &[u8], tmp_dir: &Path) -> io::Result<()> {
    let at = |e| for_target(path, tmp_dir, e);
    let mut tmp = temp_file_in(tmp_dir).map_err(at)?;
    tmp.write_all(contents).map_err(at)?;
    tmp.as_file().sync_all().map_err(at)?;
    let dir = path.parent().unwrap_or(tmp_dir);
    tmp.persist(path)
        .map_err(|e| for_target(path, dir, e.error))?;
    Ok(())
}

/// Create `path` with `contents` only if it does not exist yet (temp file in `tmp_dir`). Returns false when
/// it already existed.
pub fn write_new(path: &Path, contents: &[u8], tmp_dir: &Path) -> io::Result<bool> {
    let at = |e| for_target(path, tmp_dir, e);
    let mut tmp = temp_file_in(tmp_dir).map_err(at)?;
    tmp.write_all(contents).map_err(at)?;
    tmp.as_file().sync_all().map_err(at)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(for_target(path, path.parent().unwrap_or(tmp_dir), e.error)),
    }
}

/// Append `line` to `path` in one write, under an exclusive lock. A missing file is created whole with its
/// first line (temp file in `tmp_dir`, linked into place), so a crash never leaves an empty metric file,
/// which MLflow cannot read.
///
/// No fsync: an append cannot tear what is already there, and MLflow's own appends are not synced either;
/// syncing every metric point would cost more than everything else a log call does.
pub fn append(path: &Path, line: &[u8], tmp_dir: &Path) -> io::Result<()> {
    if !path.exists() && write_new(path, line, tmp_dir)? {
        return Ok(());
    }
    let mut file = OpenOptions::new().append(true).open(path)?;
    file.lock()?;
    let result = file.write_all(line);
    let _ = file.unlock();
    result
}

/// An exclusive advisory lock on a lock file, released on drop.
pub struct LockGuard {
    file: File,
}

impl LockGuard {
    /// Lock a directory itself (Linux `flock` works on a directory fd), leaving no lock file behind.
    pub fn on_dir(dir: &Path) -> io::Result<Self> {
        let file = File::open(dir)?;
        file.lock()?;
        Ok(LockGuard { file })
    }

    /// Lock a dedicated lock file, created if missing.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        file.lock()?;
        Ok(LockGuard { file })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// fsync a directory so a rename inside it is durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_does_not_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        assert!(write_new(&p, b"1", dir.path()).unwrap());
        assert!(!write_new(&p, b"2", dir.path()).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"1");
        write(&p, b"3").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"3");
        // no temp files left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_target_not_the_temp_file() {
        let e = write(Path::new("/nonexistent/dir/x.yaml"), b"1")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cannot write /nonexistent/dir/x.yaml: the folder /nonexistent/dir does not exist"
        );
        // The target's folder is a file: the rename fails, naming the target.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("params"), "").unwrap();
        let target = dir.path().join("params/k");
        let e = write_via(&target, b"1", dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("cannot write {}", target.display())),
            "{e}"
        );
        assert!(!e.contains(".mlx-tmp"), "{e}");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
