//! Walking a directory: a directory in; its files, in byte order of names and hidden
//! entries skipped, and every entry that is not read, with the reason, out.
//!
//! Links are followed. An entry that cannot be looked at (a dangling link, a link loop, a
//! directory without permission) is an error for that entry alone: under
//! `ErrorPolicy::Stop` it ends the run, otherwise it is reported and the walk goes on. A
//! FIFO, socket or device inside a directory is skipped, never opened: reading it could
//! block for ever or never end. Named directly, such a file is read like any other.
//!
//! Invariant: the walk never enters a directory that is already being walked above it, so
//! it ends on any tree of links.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::ErrorPolicy;

/// Why an input was not read, or not to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputProblem {
    /// A symbolic link whose target does not exist.
    DanglingLink,
    /// A link that leads back into a directory being walked, or that the system gave up
    /// following.
    LinkLoop,
    /// The system refused to open or list it (permission, I/O error).
    Unreadable,
    /// It was read in part: the stream is truncated or corrupt, or reading failed.
    Truncated,
    /// It was recognised as a format it cannot be read as (a Parquet file from a pipe, a
    /// named column missing or not of strings, a corrupt footer): nothing was read.
    Unusable,
    /// A FIFO (named pipe) inside a directory: skipped.
    Fifo,
    /// A socket inside a directory: skipped.
    Socket,
    /// A block or character device inside a directory: skipped.
    Device,
}

impl InputProblem {
    /// The name used in `summary.json`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            InputProblem::DanglingLink => "dangling_link",
            InputProblem::LinkLoop => "link_loop",
            InputProblem::Unreadable => "unreadable",
            InputProblem::Truncated => "truncated",
            InputProblem::Unusable => "unusable",
            InputProblem::Fifo => "fifo",
            InputProblem::Socket => "socket",
            InputProblem::Device => "device",
        }
    }

    /// An error (counted under `input_errors`, subject to `--on-error`) rather than an
    /// entry skipped by design (counted under `inputs_skipped`).
    #[must_use]
    pub fn is_error(self) -> bool {
        !matches!(
            self,
            InputProblem::Fifo | InputProblem::Socket | InputProblem::Device
        )
    }
}

/// A directory entry that was not read, for `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadInput {
    /// The entry's path (see `crate::paths` for one that is not UTF-8).
    #[serde(with = "crate::paths::as_text")]
    pub path: PathBuf,
    /// The path's exact bytes, for a path that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Why it was not read.
    pub reason: InputProblem,
    /// The message, as a warning shows it.
    pub message: String,
}

impl UnreadInput {
    fn new(path: PathBuf, reason: InputProblem, message: String) -> Self {
        UnreadInput {
            path_hex: crate::paths::hex(&path),
            path,
            reason,
            message,
        }
    }
}

/// The identity of a file or directory, the same through every link to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg(not(unix))]
    Canonical(PathBuf),
}

impl FileId {
    /// The identity of `path`, whose metadata (links followed) is `meta`. Pipes and
    /// sockets have one too, so `/dev/stdin` named twice is read once.
    #[cfg(unix)]
    #[allow(clippy::unnecessary_wraps)] // the same signature as elsewhere, where it can fail
    pub(super) fn of(_path: &Path, meta: &Metadata) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        Ok(FileId::Inode(meta.dev(), meta.ino()))
    }

    /// The identity of `path`, whose metadata (links followed) is `meta`.
    #[cfg(not(unix))]
    pub(super) fn of(path: &Path, _meta: &Metadata) -> io::Result<Self> {
        path.canonicalize().map(FileId::Canonical)
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// Regular files (or links to them), in walk order.
    pub files: Vec<(PathBuf, Metadata)>,
    /// Entries not read.
    pub unread: Vec<UnreadInput>,
}

/// Walks `dir` (whose metadata is `meta`). Under `ErrorPolicy::Stop` the first entry in
/// error ends the walk with that error; skipped entries are never errors.
pub(super) fn walk(dir: &Path, meta: &Metadata, on_error: ErrorPolicy) -> Result<Walk> {
    let mut out = Walk::default();
    let id = FileId::of(dir, meta).map_err(|e| Error::io(dir, e))?;
    let mut above = vec![(id, dir.to_path_buf())];
    // the directory named by the user must be listable: it is not an entry of another
    let entries = list(dir).map_err(|e| Error::io(dir, e))?;
    walk_entries(dir, entries, &mut above, on_error, &mut out)?;
    Ok(out)
}

/// The entries of `dir` that are not hidden, sorted by name, or why it cannot be listed.
fn list(dir: &Path) -> io::Result<Vec<(PathBuf, Option<io::Error>)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        match entry {
            Ok(e) => {
                let name = e.file_name();
                if !name.as_encoded_bytes().starts_with(b".") {
                    entries.push((name, None));
                }
            }
            // an entry that cannot be read is reported under the directory's name
            Err(e) => entries.push((std::ffi::OsString::new(), Some(e))),
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|(name, e)| (dir.join(name), e))
        .collect())
}

fn walk_entries(
    dir: &Path,
    entries: Vec<(PathBuf, Option<io::Error>)>,
    above: &mut Vec<(FileId, PathBuf)>,
    on_error: ErrorPolicy,
    out: &mut Walk,
) -> Result<()> {
    for (path, listing_error) in entries {
        if let Some(e) = listing_error {
            problem(
                out,
                on_error,
                dir.to_path_buf(),
                InputProblem::Unreadable,
                &e,
            )?;
            continue;
        }
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                let reason = link_problem(&path, &e);
                let target = std::fs::read_link(&path).ok();
                match target.filter(|_| reason == InputProblem::DanglingLink) {
                    Some(t) => {
                        let cause = format!("{} does not exist", t.display());
                        problem(out, on_error, path, reason, &cause)?;
                    }
                    None => problem(out, on_error, path, reason, &e)?,
                }
                continue;
            }
        };
        let file_type = meta.file_type();
        if meta.is_dir() {
            let id = FileId::of(&path, &meta).map_err(|e| Error::io(&path, e))?;
            if let Some((_, ancestor)) = above.iter().find(|(a, _)| *a == id) {
                let cause = format!("it leads back to {}", ancestor.display());
                problem(out, on_error, path, InputProblem::LinkLoop, &cause)?;
                continue;
            }
            let entries = match list(&path) {
                Ok(entries) => entries,
                Err(e) => {
                    problem(out, on_error, path, InputProblem::Unreadable, &e)?;
                    continue;
                }
            };
            above.push((id, path.clone()));
            walk_entries(&path, entries, above, on_error, out)?;
            above.pop();
        } else if meta.is_file() {
            out.files.push((path, meta));
        } else {
            let (reason, what) = special_kind(file_type);
            let message = format!(
                "{}: {what} inside a directory is not read (name it directly to read it)",
                path.display()
            );
            out.unread.push(UnreadInput::new(path, reason, message));
        }
    }
    Ok(())
}

/// Records an entry in error, or ends the walk with it under `ErrorPolicy::Stop`.
fn problem(
    out: &mut Walk,
    on_error: ErrorPolicy,
    path: PathBuf,
    reason: InputProblem,
    cause: &dyn std::fmt::Display,
) -> Result<()> {
    let words = match reason {
        InputProblem::DanglingLink => "a dangling symbolic link",
        InputProblem::LinkLoop => "a symbolic link loop",
        _ => "cannot be read",
    };
    if on_error == ErrorPolicy::Stop {
        return Err(Error::Input {
            path,
            message: format!("{words}: {cause}"),
        });
    }
    let message = format!("{}: {words}: {cause}", path.display());
    out.unread.push(UnreadInput::new(path, reason, message));
    Ok(())
}

/// Why `path`'s metadata could not be read: a link that leads nowhere or in a circle, or
/// anything else the system refused.
fn link_problem(path: &Path, e: &io::Error) -> InputProblem {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && e.kind() == io::ErrorKind::NotFound {
        InputProblem::DanglingLink
    } else if ELOOP.is_some() && e.raw_os_error() == ELOOP {
        InputProblem::LinkLoop
    } else {
        InputProblem::Unreadable
    }
}

/// The system's "too many levels of symbolic links" error number.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ELOOP: Option<i32> = Some(40);
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
const ELOOP: Option<i32> = Some(62);
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
const ELOOP: Option<i32> = None;

/// The reason and the words for an entry that is neither a file nor a directory.
#[cfg(unix)]
fn special_kind(t: std::fs::FileType) -> (InputProblem, &'static str) {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        (InputProblem::Fifo, "a FIFO (named pipe)")
    } else if t.is_socket() {
        (InputProblem::Socket, "a socket")
    } else {
        (InputProblem::Device, "a device")
    }
}

/// The reason and the words for an entry that is neither a file nor a directory.
#[cfg(not(unix))]
fn special_kind(_t: std::fs::FileType) -> (InputProblem, &'static str) {
    (InputProblem::Device, "a special file")
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn walked(dir: &Path, on_error: ErrorPolicy) -> Result<Walk> {
        walk(dir, &std::fs::metadata(dir).unwrap(), on_error)
    }

    fn names(dir: &Path, paths: impl Iterator<Item = PathBuf>) -> Vec<String> {
        paths
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn bad_entries_are_reported_and_the_rest_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("a.txt"), "alpha").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/b.txt"), "beta").unwrap();
        symlink(".", d.join("sub/loop")).unwrap();
        symlink("/nonexistent/neardup", d.join("dangling")).unwrap();
        symlink("self", d.join("self")).unwrap();
        symlink("sub/b.txt", d.join("z-link.txt")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        let w = walked(d, ErrorPolicy::Skip).unwrap();
        assert_eq!(
            names(d, w.files.into_iter().map(|(p, _)| p)),
            ["a.txt", "sub/b.txt", "z-link.txt"]
        );
        let unread: Vec<_> = w
            .unread
            .iter()
            .map(|u| (u.reason, u.path.clone()))
            .collect();
        assert_eq!(
            unread,
            [
                (InputProblem::DanglingLink, d.join("dangling")),
                (InputProblem::Fifo, d.join("fifo")),
                (InputProblem::LinkLoop, d.join("self")),
                (InputProblem::Socket, d.join("sock")),
                (InputProblem::LinkLoop, d.join("sub/loop")),
            ]
        );
        let loop_message = &w.unread[4].message;
        assert!(
            loop_message.ends_with(&format!(
                "sub/loop: a symbolic link loop: it leads back to {}",
                d.join("sub").display()
            )),
            "{loop_message}"
        );
        assert!(
            w.unread[1].message.contains("FIFO"),
            "{}",
            w.unread[1].message
        );
        // under stop, the first entry in error ends the walk; skipped ones never do
        let err = walked(d, ErrorPolicy::Stop).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: a dangling symbolic link: /nonexistent/neardup does not exist",
                d.join("dangling").display()
            )
        );
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_an_entry_in_error() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let closed = d.join("closed");
        std::fs::create_dir(&closed).unwrap();
        std::fs::write(closed.join("x.txt"), "x").unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
        let listable = std::fs::read_dir(&closed).is_ok(); // root reads anything
        let w = walked(d, ErrorPolicy::Skip).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
        if listable {
            assert_eq!(w.files.len(), 1);
        } else {
            assert_eq!(w.unread.len(), 1);
            assert_eq!(w.unread[0].reason, InputProblem::Unreadable);
            assert!(
                w.unread[0]
                    .message
                    .contains("cannot be read: Permission denied")
            );
        }
    }
}
