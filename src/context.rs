//! Facts about where mlx runs that MLflow records as system tags: the user, the git commit and branch.
//! Git is read from `.git` directly (no `git` process), so starting a run stays fast.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The user name, as Python's `getpass.getuser()` finds it.
pub fn user() -> String {
    crate::settings::env::first(&["LOGNAME", "USER", "LNAME", "USERNAME"])
        .map(|(_, v)| v)
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".into())
}

/// getpass's fallback: the passwd entry of our uid.
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_string())
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct GitInfo {
    pub commit: String,
    pub branch: Option<String>,
}

/// The commit checked out in the git work tree containing `start`, if any.
pub fn git_info(start: &Path) -> Option<GitInfo> {
    let git_dir = find_git_dir(start)?;
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    if let Some(reference) = head.strip_prefix("ref: ") {
        let commit = resolve_ref(&git_dir, reference)?;
        Some(GitInfo {
            commit,
            branch: reference.strip_prefix("refs/heads/").map(str::to_string),
        })
    } else if head.len() >= 40 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(GitInfo {
            commit: head.to_string(),
            branch: None,
        })
    } else {
        None
    }
}

fn find_git_dir(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            // a worktree or submodule: "gitdir: <path>"
            let text = fs::read_to_string(&dot_git).ok()?;
            let target = text.trim().strip_prefix("gitdir: ")?;
            return Some(dir.join(target));
        }
    }
    None
}

fn resolve_ref(git_dir: &Path, reference: &str) -> Option<String> {
    // Worktrees keep shared refs in the common dir.
    let common = fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.to_path_buf());
    for dir in [git_dir, common.as_path()] {
        if let Ok(text) = fs::read_to_string(dir.join(reference)) {
            return Some(text.trim().to_string());
        }
    }
    let packed = fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|l| {
        let (hash, name) = l.split_once(' ')?;
        (name == reference).then(|| hash.to_string())
    })
}

/// The system tags MLflow sets on a new run started from a local process.
pub fn system_tags(source_name: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert("mlflow.user".into(), user());
    tags.insert("mlflow.source.name".into(), source_name.into());
    tags.insert("mlflow.source.type".into(), "LOCAL".into());
    if let Some(git) = std::env::current_dir().ok().and_then(|d| git_info(&d)) {
        tags.insert("mlflow.source.git.commit".into(), git.commit);
        if let Some(b) = git.branch {
            tags.insert("mlflow.source.git.branch".into(), b);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_head_refs_and_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        fs::create_dir_all(git.join("refs/heads")).unwrap();
        fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(git_info(dir.path()), None, "unborn branch has no commit");
        let sha = "562f3332a6b816c5631e08d1bc4702316177b386";
        fs::write(
            git.join("packed-refs"),
            format!("# pack\n{sha} refs/heads/main\n"),
        )
        .unwrap();
        let sub = dir.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        let info = git_info(&sub).unwrap();
        assert_eq!(info.commit, sha);
        assert_eq!(info.branch.as_deref(), Some("main"));
        let loose = "1111111111111111111111111111111111111111";
        fs::write(git.join("refs/heads/main"), format!("{loose}\n")).unwrap();
        assert_eq!(git_info(dir.path()).unwrap().commit, loose);
        fs::write(git.join("HEAD"), format!("{sha}\n")).unwrap();
        assert_eq!(git_info(dir.path()).unwrap().branch, None);
    }
}
