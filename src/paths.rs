//! Paths in the outputs: a path in, the text the JSON outputs write for it out, and back.
//!
//! A path is any sequence of bytes (an `OsStr`); JSON strings are Unicode. A path that is
//! valid UTF-8 is written as it is. Any other path is written as its valid UTF-8 runs
//! with every byte outside them as `\xNN` (two uppercase hex digits): `caf\xE9.txt` for
//! the Latin-1 name `café.txt`. Distinct names stay distinct and readable, and writing a
//! path never fails. The text alone cannot say whether a name held a literal `\x`, so
//! where a path must be opened again (a run's inputs, in `summary.json`) the exact bytes
//! go beside it as hex (`bytes`), only for such a path.
//!
//! Invariant: for a UTF-8 path, `text` is the path itself and `hex` is `None`, so outputs
//! of UTF-8 paths are what they always were.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The text a JSON output writes for `path` (see the module documentation).
#[must_use]
pub fn text(path: &Path) -> Cow<'_, str> {
    os_text(path.as_os_str())
}

/// `text` for one name or any `OsStr`.
#[must_use]
pub fn os_text(name: &OsStr) -> Cow<'_, str> {
    if let Some(s) = name.to_str() {
        return Cow::Borrowed(s);
    }
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            write!(out, "\\x{b:02X}").expect("writing to a String does not fail");
        }
    }
    Cow::Owned(out)
}

/// The exact bytes of a path that is not UTF-8, as lowercase hex; `None` for a UTF-8 path,
/// whose `text` is exact already.
#[must_use]
pub fn hex(path: &Path) -> Option<String> {
    if path.to_str().is_some() {
        return None;
    }
    let mut out = String::with_capacity(path.as_os_str().len() * 2);
    for b in path.as_os_str().as_encoded_bytes() {
        write!(out, "{b:02x}").expect("writing to a String does not fail");
    }
    Some(out)
}

/// The path an output names by `text` and, for a path that is not UTF-8, `hex`. Without
/// usable bytes (absent, not hex, or from a system that spells paths otherwise) the text
/// stands for the path, which then may not open.
#[must_use]
pub fn from_output(text: &str, hex: Option<&str>) -> PathBuf {
    hex.and_then(from_hex)
        .unwrap_or_else(|| PathBuf::from(text))
}

fn from_hex(hex: &str) -> Option<PathBuf> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    os_from_bytes(bytes).map(PathBuf::from)
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // the same signature as elsewhere, where it can fail
fn os_from_bytes(bytes: Vec<u8>) -> Option<OsString> {
    use std::os::unix::ffi::OsStringExt;
    Some(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn os_from_bytes(bytes: Vec<u8>) -> Option<OsString> {
    // elsewhere an OsStr's bytes are not a public encoding: only UTF-8 comes back
    String::from_utf8(bytes).ok().map(OsString::from)
}

/// Serde for a path field written as its `text` (and read back from it).
pub mod as_text {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `path` as `super::text(path)`.
    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::text(path))
    }

    /// Reads a path written by `serialize`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        String::deserialize(d).map(PathBuf::from)
    }
}

/// Serde for an optional path field written as its `text`.
pub mod as_text_opt {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(path)` as `super::text(path)`, `None` as null.
    #[allow(clippy::ref_option)] // serde's `with` hands the field by reference
    pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match path {
            Some(p) => s.serialize_str(&super::text(p)),
            None => s.serialize_none(),
        }
    }

    /// Reads a path written by `serialize`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Option::<String>::deserialize(d).map(|s| s.map(PathBuf::from))
    }
}

/// `path` made absolute with every symbolic link resolved, as far as it exists: a part
/// that does not exist yet (an output directory still to be created) is appended to its
/// nearest existing ancestor, resolved, with `.` dropped and `..` applied. Two spellings
/// of one place (`./d`, `d/../d`, an absolute path, a link to `d`) give one answer, so
/// `Path::starts_with` on the results says whether one lies inside the other. Names stay
/// `OsStr`s throughout: a name that is not UTF-8 is compared byte for byte.
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut out) => {
                for part in missing.into_iter().rev() {
                    match part {
                        Component::ParentDir => {
                            out.pop();
                        }
                        Component::Normal(name) => out.push(name),
                        _ => {}
                    }
                }
                return Ok(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (Some(parent), Some(last)) =
                    (existing.parent(), existing.components().next_back())
                else {
                    return Err(e);
                };
                missing.push(last);
                existing = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_paths_are_themselves() {
        let p = Path::new("dir/café \\x41.txt");
        assert_eq!(text(p), "dir/café \\x41.txt");
        assert!(matches!(text(p), Cow::Borrowed(_)));
        assert_eq!(hex(p), None);
        assert_eq!(
            from_output("dir/café.txt", None),
            PathBuf::from("dir/café.txt")
        );
    }

    #[cfg(unix)]
    #[test]
    fn other_paths_escape_their_bad_bytes_and_keep_them_in_hex() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"d/caf\xe9 \xff\xfe.txt"));
        assert_eq!(text(p), "d/caf\\xE9 \\xFF\\xFE.txt");
        let bytes = hex(p).unwrap();
        assert_eq!(bytes, "642f636166e920fffe2e747874");
        assert_eq!(from_output(&text(p), Some(&bytes)), p);
        // no usable bytes: the text stands in
        assert_eq!(from_output("x", Some("zz")), PathBuf::from("x"));
        assert_eq!(from_output("x", Some("abc")), PathBuf::from("x"));
        // two names differing in one bad byte stay apart
        let q = Path::new(OsStr::from_bytes(b"d/caf\xe8 \xff\xfe.txt"));
        assert_ne!(text(p), text(q));
    }

    #[cfg(unix)]
    #[test]
    fn canonical_paths_agree_however_spelled() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let latin1 = OsStr::from_bytes(b"caf\xe9");
        std::fs::create_dir_all(root.join(latin1).join("d")).unwrap();
        std::os::unix::fs::symlink(root.join(latin1), root.join("link")).unwrap();
        let real = root.join(latin1).join("d");
        for spelled in [
            root.join(latin1).join("d"),
            root.join(latin1).join("./d/"),
            root.join("link/d"),
            root.join("link/../link/d"),
        ] {
            assert_eq!(canonical(&spelled).unwrap(), real, "{spelled:?}");
        }
        // a directory still to be created: its existing ancestor resolved, the rest added
        assert_eq!(
            canonical(&root.join("link/new/./x/../y")).unwrap(),
            root.join(latin1).join("new/y")
        );
        assert!(
            canonical(&root.join("link/new"))
                .unwrap()
                .starts_with(root.join(latin1))
        );
    }
}
