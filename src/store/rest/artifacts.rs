//! Artifacts through the server's artifact proxy: upload, list, open, download, and the local cache
//! models are downloaded into once (keyed by their immutable artifact location).

use super::json::*;
use super::{RestStore, not_found};
use crate::store::entities::*;
use crate::store::{Result, StoreError, validate};
use std::path::{Path, PathBuf};

impl RestStore {
    /// The artifact-proxy path of an `mlflow-artifacts:` URI.
    pub(super) fn proxy_path(&self, uri: &str) -> Result<String> {
        proxy_path(uri).ok_or_else(|| StoreError::InvalidState(format!(
            "artifact location '{uri}' is not served by the tracking server's artifact proxy; start `mlflow server` with artifact serving (the default) so mlx can upload and download artifacts"
        )))
    }

    pub(super) fn upload_dir(&self, local: &Path, dest: &str) -> Result<()> {
        let mut files = Vec::new();
        collect_files(local, "", &mut files)?;
        // A few uploads at a time: each is a round trip.
        let workers = 4.min(files.len().max(1));
        let chunks: Vec<Vec<(String, PathBuf)>> = (0..workers)
            .map(|w| files.iter().skip(w).step_by(workers).cloned().collect())
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    s.spawn(move || -> Result<()> {
                        for (rel, path) in chunk {
                            self.client.put_file(&format!("{dest}/{rel}"), &path)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("upload thread"))
        })
    }

    /// Download the artifact folder at proxy path `path` into `dest` (created).
    pub(super) fn download_dir(&self, path: &str, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|e| StoreError::io(dest, e))?;
        for (name, is_dir, _) in self.client.list_artifact_dir(path)? {
            // The proxy answers names relative to `path`; never let one climb out of `dest`.
            let name = name.rsplit('/').next().unwrap_or(&name).to_string();
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let target = dest.join(&name);
            let child = format!("{}/{name}", path.trim_end_matches('/'));
            if is_dir {
                self.download_dir(&child, &target)?;
            } else {
                self.client.download(&child, &target)?;
            }
        }
        Ok(())
    }

    /// A local copy of the artifact folder at `uri`, downloaded once into the cache.
    pub(super) fn cached_download(&self, uri: &str) -> Result<PathBuf> {
        let path = self.proxy_path(uri)?;
        validate::artifact_path(&path)?;
        let host = self
            .client
            .base()
            .split("://")
            .nth(1)
            .unwrap_or("server")
            .replace([':', '/'], "_");
        let root = cache_root().join(host);
        let target = root.join(&path);
        if target.join(".mlx-complete").is_file() {
            return Ok(target);
        }
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".mlx-download-")
            .tempdir_in(&root)
            .map_err(|e| StoreError::io(&root, e))?;
        let into = staging.path().join("m");
        self.download_dir(&path, &into)?;
        if !into.join("MLmodel").is_file() {
            return Err(StoreError::ModelNotFound(format!(
                "{uri}: no MLmodel file in that artifact folder"
            )));
        }
        std::fs::write(into.join(".mlx-complete"), b"").map_err(|e| StoreError::io(&into, e))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        match std::fs::rename(&into, &target) {
            Ok(()) => Ok(target),
            // Another process finished the same download first.
            Err(_) if target.join(".mlx-complete").is_file() => Ok(target),
            Err(e) => Err(StoreError::io(&target, e)),
        }
    }

    pub(super) fn log_artifact_impl(
        &self,
        run_id: &str,
        local: &Path,
        dest: Option<&str>,
    ) -> Result<()> {
        if let Some(d) = dest {
            validate::artifact_path(d)?;
        }
        let name = local.file_name().ok_or_else(|| StoreError::InvalidValue {
            what: format!("artifact '{}'", local.display()),
            why: "it has no file name".into(),
        })?;
        std::fs::metadata(local).map_err(|e| StoreError::io(local, e))?;
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let mut target = self.proxy_path(&info.artifact_uri)?;
        if let Some(d) = dest.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty()) {
            target = format!("{target}/{d}");
        }
        let target = format!("{target}/{}", name.to_string_lossy());
        self.upload_dir(local, &target)
    }

    pub(super) fn list_artifacts_impl(
        &self,
        run_id: &str,
        path: Option<&str>,
    ) -> Result<Vec<ArtifactEntry>> {
        let prefix = path.unwrap_or("").trim_matches('/');
        validate::artifact_path(prefix)?;
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let mut query = vec![("run_id", run_id)];
        if !prefix.is_empty() {
            query.push(("path", prefix));
        }
        let v = self
            .get("artifacts/list", &query)
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        let mut out: Vec<ArtifactEntry> = array(&v["files"])
            .iter()
            .map(|f| ArtifactEntry {
                path: str_of(&f["path"]),
                is_dir: f["is_dir"].as_bool().unwrap_or(false),
                file_size: number(&f["file_size"]).map(|n| n as u64),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    pub(super) fn open_artifact_impl(&self, run_id: &str, path: &str) -> Result<std::fs::File> {
        let path = path.trim_matches('/');
        validate::artifact_path(path)?;
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let base = self.proxy_path(&info.artifact_uri)?;
        let tmp =
            tempfile::NamedTempFile::new().map_err(|e| StoreError::io(&std::env::temp_dir(), e))?;
        self.client
            .download(&format!("{base}/{path}"), tmp.path())?;
        // The open handle outlives the temp file's name, which is removed when `tmp` drops.
        tmp.reopen().map_err(|e| StoreError::io(tmp.path(), e))
    }

    pub(super) fn download_artifacts_impl(&self, run_id: &str, dest: &Path) -> Result<()> {
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let path = self.proxy_path(&info.artifact_uri)?;
        self.download_dir(&path, dest)
    }
}

/// Where downloaded models are kept: `MLX_CACHE_DIR`, else the user cache dir.
fn cache_root() -> PathBuf {
    if let Some(d) = crate::settings::env::path("MLX_CACHE_DIR") {
        return d.join("artifacts");
    }
    directories::ProjectDirs::from("", "", "mlx")
        .map(|d| d.cache_dir().join("artifacts"))
        .unwrap_or_else(|| std::env::temp_dir().join("mlx-cache").join("artifacts"))
}

/// `mlflow-artifacts:/1/abc/artifacts` or `mlflow-artifacts://host:port/1/abc/artifacts` to `1/abc/artifacts`.
pub fn proxy_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_string())
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let md = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    if !md.is_dir() {
        out.push((prefix.to_string(), dir.to_path_buf()));
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        collect_files(&entry.path(), &rel, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths() {
        assert_eq!(
            proxy_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxy_path("mlflow-artifacts://host:5000/1/abc/artifacts/").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxy_path("file:///tmp/x"), None);
    }
}
