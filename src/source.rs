//! The source map: every file the load stage read, by id, with its text.
//!
//! Diagnostics hold a `Location` (file id + byte span) rather than a path and
//! a line, so the line and column are computed only when a report is printed.
//!
//! A file read from disk by the load stage may be held only while it is
//! parsed (`SourceMap::add_unread`): 10,000 tenant files are 200 MB of text,
//! which a compile needs again only for the files that have a diagnostic.
//! Such a file keeps the hash of the contents it was compiled from, so that
//! the text read again for a report is known to be that text (see
//! `load::LoadedRepo::restore_texts`).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::fsutil::Stat;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FileId(pub(crate) u32);

/// The BLAKE3 hash of a file's contents.
pub(crate) type Hash = [u8; 32];

/// The hash of a file's contents (that of the compile cache).
pub(crate) fn hash(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

/// One loaded file.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// Path as shown to the user, relative to the mail repo (`tenants/acme.example.toml`).
    pub(crate) name: String,
    /// Absolute or repo-relative path on disk.
    pub(crate) path: PathBuf,
    /// The text, when it is held (always, but for a file added unread
    /// that has not been kept or restored).
    text: OnceLock<String>,
    /// For a file added unread, once it was read: the hash of the contents
    /// compiled, and the file's stat taken before it was read.
    read: OnceLock<(Hash, Stat)>,
}

impl SourceFile {
    /// The file's text; empty for a file added unread whose text is not
    /// held (a compile holds the text of every file a diagnostic points into).
    pub(crate) fn text(&self) -> &str {
        self.text.get().map_or("", String::as_str)
    }

    /// Whether the text is held.
    pub(crate) fn is_held(&self) -> bool {
        self.text.get().is_some()
    }

    /// Hold the text of a file added unread (no-op when one is held).
    pub(crate) fn hold(&self, text: String) {
        let _ = self.text.set(text);
    }

    /// For a file added unread and read since: the hash of the contents
    /// compiled, and the stat taken before they were read.
    pub(crate) fn read_as(&self) -> Option<&(Hash, Stat)> {
        self.read.get()
    }

    /// Record what was read of a file added unread.
    pub(crate) fn set_read_as(&self, hash: Hash, stat: Stat) {
        let _ = self.read.set((hash, stat));
    }

    /// The hash of the contents compiled: recorded when read, else of the held text.
    pub(crate) fn content_hash(&self) -> Hash {
        match self.read.get() {
            Some((hash, _)) => *hash,
            None => hash(self.text().as_bytes()),
        }
    }
}

/// A place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: FileId,
    pub(crate) span: Range<usize>,
}

impl Location {
    pub(crate) fn new(file: FileId, span: Range<usize>) -> Self {
        Location { file, span }
    }
}

/// All files of one run.
#[derive(Debug, Default, Clone)]
pub(crate) struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub(crate) fn add(&mut self, name: String, path: PathBuf, text: String) -> FileId {
        let id = self.add_unread(name, path);
        self.files[id.0 as usize].hold(text);
        id
    }

    /// A file whose text is read later, by whoever parses it (`SourceFile::hold`).
    pub(crate) fn add_unread(&mut self, name: String, path: PathBuf) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 2^32 files"));
        self.files.push(SourceFile {
            name,
            path,
            text: OnceLock::new(),
            read: OnceLock::new(),
        });
        id
    }

    pub(crate) fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        line_col(self.file(id).text(), offset)
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // after "bé" (3 bytes) the column is 3 characters in
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 1000), (3, 1));
    }
}
