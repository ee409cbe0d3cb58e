//! Run artifacts in the file store: where a run's artifacts live (also after the store moved), and copying
//! files in and out without following links out of the store.

use super::*;

impl FileStore {
    /// The run's artifact folder. A default-layout URI (`.../<exp>/<run>/artifacts`) always resolves inside
    /// this store, so a moved or copied store keeps working; a custom location is used as given.
    pub(super) fn artifacts_dir(&self, loc: &RunLocation, info: &RunInfo) -> PathBuf {
        let in_store = loc.dir.join("artifacts");
        let default_suffix = format!("/{}/{}/artifacts", info.experiment_id, info.run_id);
        match file_uri_to_path(&info.artifact_uri) {
            Some(p)
                if !info
                    .artifact_uri
                    .trim_end_matches('/')
                    .ends_with(&default_suffix) =>
            {
                p
            }
            _ => in_store,
        }
    }

    /// The real path of artifact `file` (under the artifact folder `base`) if it is safe to read: a regular
    /// file (a FIFO or device would block a reader or never end) whose real path, symlinks followed, stays
    /// inside this store or `base`. Whoever can write the store could otherwise plant a link to
    /// `/etc/passwd` or `~/.ssh/id_rsa` and have `mlx ui` serve it or `mlx sync` upload it.
    pub(super) fn check_artifact(&self, base: &Path, file: &Path) -> Result<PathBuf> {
        let real = fs::canonicalize(file).map_err(|e| StoreError::io(file, e))?;
        let inside = [&self.root, base]
            .into_iter()
            .filter_map(|r| fs::canonicalize(r).ok())
            .any(|r| real.starts_with(r));
        if !inside {
            return Err(StoreError::Refused {
                path: file.to_path_buf(),
                why: "a symbolic link out of the store; mlx does not read artifacts outside the store"
                    .into(),
            });
        }
        let md = fs::metadata(&real).map_err(|e| StoreError::io(&real, e))?;
        if !md.is_file() && !md.is_dir() {
            return Err(not_regular(file));
        }
        Ok(real)
    }

    /// Copy a run's artifact folder `from` (under `base`) to `to`, every file checked by
    /// [`FileStore::check_artifact`].
    pub(super) fn copy_artifacts(&self, base: &Path, from: &Path, to: &Path) -> Result<()> {
        fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| StoreError::io(from, e))? {
            let entry = entry.map_err(|e| StoreError::io(from, e))?;
            let path = entry.path();
            let real = self.check_artifact(base, &path)?;
            let target = to.join(entry.file_name());
            if real.is_dir() {
                // A link to a folder is followed once it is known to stay inside.
                self.copy_artifacts(base, &path, &target)?;
            } else {
                copy_file(&real, &target)?;
            }
        }
        Ok(())
    }
}
/// The entries of `base/prefix` (a run's artifact folder, or a folder in it), sorted by path, each path
/// relative to `base`; a missing folder lists nothing. Shared by the stores that keep artifacts locally.
pub(in crate::store) fn list_artifact_dir(base: &Path, prefix: &str) -> Result<Vec<ArtifactEntry>> {
    let dir = if prefix.is_empty() {
        base.to_path_buf()
    } else {
        base.join(prefix)
    };
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let md = entry
            .metadata()
            .map_err(|e| StoreError::io(&entry.path(), e))?;
        out.push(ArtifactEntry {
            path: rel,
            is_dir: md.is_dir(),
            file_size: (!md.is_dir()).then_some(md.len()),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub(in crate::store) fn copy_file(from: &Path, to: &Path) -> Result<()> {
    create_parent(to)?;
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = super::atomic::temp_file_in(dir).map_err(|e| StoreError::io(dir, e))?;
    fs::copy(from, tmp.path()).map_err(|e| StoreError::io(from, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| StoreError::io(to, e))?;
    tmp.persist(to).map_err(|e| StoreError::io(to, e.error))?;
    Ok(())
}

pub(in crate::store) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| StoreError::io(from, e))? {
        let entry = entry.map_err(|e| StoreError::io(from, e))?;
        let ft = entry
            .file_type()
            .map_err(|e| StoreError::io(&entry.path(), e))?;
        let target = to.join(entry.file_name());
        if ft.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ft.is_file() || ft.is_symlink() {
            copy_file(&entry.path(), &target)?;
        }
    }
    Ok(())
}
