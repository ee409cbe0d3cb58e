//! Experiments of the file store: `<root>/<id>/meta.yaml`, ids, names kept unique under the root lock, and
//! the `.trash/` folder deleted experiments move to.

use super::*;

impl FileStore {
    /// `(dir, is_in_trash)` of an experiment.
    pub(super) fn experiment_dir(&self, id: &str) -> Result<(PathBuf, bool)> {
        validate::id("experiment", id).map_err(|_| StoreError::ExperimentNotFound(id.into()))?;
        if id == TRASH || id == REGISTRY_DIR {
            return Err(StoreError::ExperimentNotFound(id.into()));
        }
        let live = self.root.join(id);
        if live.join(META).is_file() {
            return Ok((live, false));
        }
        let trashed = self.root.join(TRASH).join(id);
        if trashed.join(META).is_file() {
            return Ok((trashed, true));
        }
        Err(StoreError::ExperimentNotFound(id.into()))
    }

    /// Every experiment folder (live ones, then trashed ones).
    pub(super) fn experiment_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for (base, skip_reserved) in [(self.root.clone(), true), (self.root.join(TRASH), false)] {
            let entries = match fs::read_dir(&base) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&base, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io(&base, e))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || (skip_reserved && name == REGISTRY_DIR) {
                    continue;
                }
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    dirs.push(entry.path());
                }
            }
        }
        Ok(dirs)
    }

    pub(super) fn read_experiment(&self, dir: &Path) -> Result<Experiment> {
        let path = dir.join(META);
        let m = meta::read(&path)?;
        let f = MetaFields {
            path: &path,
            meta: &m,
        };
        let id = f.string("experiment_id")?;
        let folder = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if folder.as_deref() != Some(id.as_str()) {
            return Err(StoreError::corrupt(
                &path,
                format!("experiment_id '{id}' does not match its folder name"),
            ));
        }
        let stage = f.string("lifecycle_stage")?;
        Ok(Experiment {
            experiment_id: id,
            name: f.string("name")?,
            artifact_location: f.string("artifact_location")?,
            lifecycle_stage: Lifecycle::parse(&stage).ok_or_else(|| {
                StoreError::corrupt(&path, format!("unknown lifecycle_stage '{stage}'"))
            })?,
            creation_time: f.opt_int("creation_time")?,
            last_update_time: f.opt_int("last_update_time")?,
            tags: read_kv_dir(&dir.join("tags"), &Fields::All)?,
        })
    }

    pub(super) fn all_experiments(&self) -> Result<Vec<Experiment>> {
        let (out, unreadable) = self.scan_experiments()?;
        unreadable.iter().for_each(|e| self.skipped(e));
        Ok(out)
    }

    /// Every readable experiment, and the errors of experiment folders whose `meta.yaml` exists but
    /// cannot be read (a folder with no `meta.yaml` at all is not an experiment).
    pub(super) fn scan_experiments(&self) -> Result<(Vec<Experiment>, Vec<StoreError>)> {
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        for dir in self.experiment_dirs()? {
            match self.read_experiment(&dir) {
                Ok(e) => out.push(e),
                Err(StoreError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound
                        && fs::symlink_metadata(dir.join(META)).is_err() => {}
                Err(e) => unreadable.push(e),
            }
        }
        Ok((out, unreadable))
    }

    /// The experiment named `name`, if any. An experiment whose `meta.yaml` cannot be read might be the
    /// one, so then the answer is an error naming that file — never "no such experiment", which would
    /// make `log start --experiment NAME` create a second experiment of the same name.
    pub(super) fn find_experiment_named(&self, name: &str) -> Result<Option<Experiment>> {
        Ok(self.experiments_named(name)?.into_iter().next())
    }

    /// Every experiment named `name` (see [`FileStore::find_experiment_named`]).
    pub(super) fn experiments_named(&self, name: &str) -> Result<Vec<Experiment>> {
        let (all, mut unreadable) = self.scan_experiments()?;
        let found: Vec<Experiment> = all.into_iter().filter(|e| e.name == name).collect();
        if found.is_empty() && !unreadable.is_empty() {
            return Err(StoreError::InvalidState(format!(
                "cannot tell whether experiment '{name}' exists: {}; fix or remove that file",
                unreadable.swap_remove(0)
            )));
        }
        Ok(found)
    }

    pub(super) fn write_new_experiment(
        &self,
        id: &str,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        let now = crate::store::now_ms();
        let location = match artifact_location {
            Some(l) => l.to_string(),
            None => format!("{}/{id}", self.root_uri()),
        };
        let mut m = Meta::new();
        m.insert("artifact_location".into(), meta::s(location));
        m.insert("creation_time".into(), meta::i(now));
        m.insert("experiment_id".into(), meta::s(id));
        m.insert("last_update_time".into(), meta::i(now));
        m.insert("lifecycle_stage".into(), meta::s("active"));
        m.insert("name".into(), meta::s(name));
        m.insert("workspace".into(), meta::s("default"));
        let staging = self.scratch_dir()?;
        let result = (|| {
            meta::write(&staging.join(META), &m)?;
            for (k, v) in tags {
                write_value_file(&staging.join("tags"), k, v)?;
            }
            let target = self.root.join(id);
            fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
            atomic::sync_dir(&self.root);
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }

    pub(super) fn check_name_free(&self, name: &str, except_id: Option<&str>) -> Result<()> {
        for e in self.experiments_named(name)? {
            if Some(e.experiment_id.as_str()) != except_id {
                return Err(StoreError::ExperimentExists(name.into()));
            }
        }
        Ok(())
    }
}

/// MLflow's `_generate_unique_integer_id`: 18 decimal digits from a uuid4, no leading zero.
pub(super) fn new_experiment_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    let digits = format!("{:018}", n % 1_000_000_000_000_000_000);
    let mut id = digits.into_bytes();
    if id[0] == b'0' {
        id[0] = b'1' + (n % 9) as u8;
    }
    String::from_utf8(id).expect("digits are ASCII")
}
