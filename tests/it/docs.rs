//! The documentation runs: every fenced block of README.md and docs/*.md whose info string is `sh run` is
//! executed, page by page in a fresh folder, with this build's `mlx` first on the PATH (a block whose info
//! string has `file=NAME` is written to NAME first). Every shell block must say `sh run` or `sh norun`, so a
//! new command cannot slip in untested; README's two set-up commands stay first and verbatim; every relative
//! link of README.md, docs/ and ARCHITECTURE.md points at an existing file (and heading).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// README's first two commands, which CI and newcomers read: they must stay its first lines, verbatim.
const SETUP_COMMANDS: [&str; 2] = [
    "cargo build --release && ./examples/titanic.sh   # build mlx, train the Titanic model into ./mlruns, list runs, predict",
    "bash scripts/test.sh                             # the whole suite: needs PostgreSQL, Chromium, Java and openssl installed (it says which are missing; .ci/run apt-installs them); installs mlflow 3.17.2 in a venv, starts a PostgreSQL-backed mlflow server",
];

/// Files copied into each page's folder before its blocks run (the docs' commands name them).
const PAGE_FILES: [&str; 3] = [
    "examples/titanic.csv",
    "examples/passengers.csv",
    "MLproject.toml",
];

/// How long one block may take before it counts as hung (a condition with a generous deadline).
const BLOCK_DEADLINE: Duration = Duration::from_secs(300);

/// Info strings that mark a shell block; each must be `sh run` or `sh norun`.
const SHELL_LANGUAGES: [&str; 6] = ["sh", "bash", "shell", "console", "zsh", "shell-session"];

/// A fenced code block of a Markdown page.
struct Block {
    info: String,
    /// 1-based line of the opening fence.
    line: usize,
    code: String,
}

impl Block {
    fn first_line(&self) -> &str {
        self.code.lines().next().unwrap_or("")
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then docs/*.md in name order.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![repo().join("README.md")];
    pages.extend(docs);
    pages
}

fn page_name(page: &Path) -> String {
    page.strip_prefix(repo())
        .unwrap_or(page)
        .display()
        .to_string()
}

/// The fenced blocks of a page (``` or ~~~ fences, possibly indented inside a list item) and the page's text
/// outside them.
fn split_page(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut open: Option<(String, usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                let fence: String = trimmed
                    .chars()
                    .take_while(|c| *c == '`' || *c == '~')
                    .collect();
                if fence.len() >= 3 && fence.chars().all(|c| c == fence.chars().next().unwrap()) {
                    let info = trimmed[fence.len()..].trim().to_string();
                    let block = Block {
                        info,
                        line: i + 1,
                        code: String::new(),
                    };
                    open = Some((fence, indent, block));
                } else {
                    prose.push_str(line);
                    prose.push('\n');
                }
            }
            Some((fence, fence_indent, block)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_end() == fence.as_str() {
                    blocks.push(open.take().unwrap().2);
                } else {
                    let strip = indent.min(*fence_indent);
                    block.code.push_str(&line[strip..]);
                    block.code.push('\n');
                }
            }
        }
    }
    if let Some((_, _, block)) = open {
        panic!("a fence opened at line {} is never closed", block.line);
    }
    (blocks, prose)
}

fn read(page: &Path) -> String {
    std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()))
}

#[test]
fn every_shell_block_says_run_or_norun() {
    let mut unmarked = Vec::new();
    for page in pages() {
        for block in split_page(&read(&page)).0 {
            let language = block.info.split_whitespace().next().unwrap_or("");
            let marked = block.info == "sh run" || block.info == "sh norun";
            if SHELL_LANGUAGES.contains(&language) && !marked {
                unmarked.push(format!(
                    "{}:{}: ```{} (say `sh run` or `sh norun`): {}",
                    page_name(&page),
                    block.line,
                    block.info,
                    block.first_line()
                ));
            }
        }
    }
    assert!(unmarked.is_empty(), "{}", unmarked.join("\n"));
}

#[test]
fn readme_starts_with_the_two_setup_commands() {
    let readme = read(&repo().join("README.md"));
    let (blocks, _) = split_page(&readme);
    let first = blocks.first().expect("README has a code block");
    let lines: Vec<&str> = first.code.lines().collect();
    assert_eq!(
        lines.get(..2),
        Some(&SETUP_COMMANDS[..]),
        "README's first block must start with the two set-up commands, verbatim"
    );
    // Only the title comes before them.
    let before: Vec<&str> = readme
        .lines()
        .take(first.line - 1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        before,
        ["# mlx"],
        "README's set-up commands must come first"
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let (_, prose) = split_page(&read(page));
    prose
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of the page's Markdown links `[text](target)` outside code blocks.
fn link_targets(prose: &str) -> Vec<String> {
    prose
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(t, _)| t.trim().to_string()))
        .collect()
}

#[test]
fn every_relative_link_points_at_an_existing_file() {
    let mut broken = Vec::new();
    let mut linking = pages();
    linking.push(repo().join("ARCHITECTURE.md"));
    for page in linking {
        let (_, prose) = split_page(&read(&page));
        for target in link_targets(&prose) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: ({target}): no such file", page_name(&page)));
            } else if !fragment.is_empty()
                && file.extension().is_some_and(|e| e == "md")
                && !anchors(&file).iter().any(|a| a == fragment)
            {
                broken.push(format!("{}: ({target}): no such heading", page_name(&page)));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// A fresh folder for one page: the files its commands name, and a scratch folder for the blocks' output.
fn page_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    for file in PAGE_FILES {
        std::fs::copy(repo().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// The PATH for a page's blocks: this build's `mlx` first, then the test Python (with mlflow) when the page
/// uses Python or MLflow, then the caller's.
fn page_path(blocks: &[&Block]) -> String {
    let mlx = assert_cmd::cargo::cargo_bin("mlx");
    let mut dirs = vec![mlx.parent().unwrap().to_path_buf()];
    if blocks
        .iter()
        .any(|b| b.code.contains("python") || b.code.contains("mlflow "))
    {
        dirs.push(crate::common::python().parent().unwrap().to_path_buf());
    }
    let rest = std::env::var_os("PATH").unwrap_or_default();
    dirs.extend(std::env::split_paths(&rest));
    std::env::join_paths(dirs)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Run one block with `bash -euo pipefail` in `cwd`, in a process group of its own that is killed when the
/// block ends (a server it left running goes with it). Err: the block's exit status, stderr and stdout.
fn run_block(block: &Block, cwd: &Path, path: &str, scratch: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let out_file = scratch.join(format!("{}.out", block.line));
    let err_file = scratch.join(format!("{}.err", block.line));
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &block.code])
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap());
    for (k, _) in std::env::vars() {
        if k.starts_with("MLX_") || k.starts_with("MLFLOW_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("PATH", path)
        .env("MLX_CONFIG", cwd.join(".no-config.toml"))
        .env("MLX_CACHE_DIR", scratch.join("cache"));
    let mut child = cmd.spawn().expect("start bash");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if started.elapsed() > BLOCK_DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let verdict = match status {
        Some(s) if s.success() => return Ok(()),
        Some(s) => format!("{s}"),
        None => format!("no end after {BLOCK_DEADLINE:?}"),
    };
    let tail = |f: &Path| {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    Err(format!(
        "{verdict}\n--- stderr:\n{}\n--- stdout (end):\n{}",
        tail(&err_file),
        tail(&out_file)
    ))
}

/// The file a block is written to before the page's next blocks run (`python file=train.py`).
fn block_file(block: &Block) -> Option<&str> {
    let name = block
        .info
        .split_whitespace()
        .find_map(|w| w.strip_prefix("file="))?;
    assert!(
        !name.contains('/') && !name.starts_with('.'),
        "file={name}: a plain file name"
    );
    Some(name)
}

/// Run a page's `sh run` blocks in order (writing its `file=NAME` blocks on the way) in one fresh folder; the first failing block ends the page.
fn run_page(page: &Path) -> Result<usize, String> {
    let (blocks, _) = split_page(&read(page));
    let runnable: Vec<&Block> = blocks.iter().filter(|b| b.info == "sh run").collect();
    if runnable.is_empty() {
        return Ok(0);
    }
    let folder = page_folder();
    let scratch = tempfile::tempdir().expect("temp dir");
    let path = page_path(&runnable);
    for block in &blocks {
        if let Some(name) = block_file(block) {
            std::fs::write(folder.path().join(name), &block.code).unwrap();
            continue;
        }
        if block.info != "sh run" {
            continue;
        }
        run_block(block, folder.path(), &path, scratch.path()).map_err(|e| {
            format!(
                "{}:{}: the block `{}` failed: {e}",
                page_name(page),
                block.line,
                block.first_line()
            )
        })?;
    }
    Ok(runnable.len())
}

#[test]
fn the_docs_commands_run() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in pages() {
        let started = Instant::now();
        let result = run_page(&page);
        eprintln!("{}: {:.1?}", page_name(&page), started.elapsed());
        match result {
            Ok(n) => ran += n,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran > 0, "no `sh run` block found");
}
