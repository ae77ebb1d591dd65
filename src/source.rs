//! The source map: every file the load stage read, by id, with its text.
//!
//! Diagnostics hold a `Location` (file id + byte span) rather than a path and
//! a line, so the line and column are computed only when a report is printed.

use std::ops::Range;
use std::path::PathBuf;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FileId(pub(crate) u32);

/// One loaded file.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// Path as shown to the user, relative to the mail repo (`tenants/acme.example.toml`).
    pub(crate) name: String,
    /// Absolute or repo-relative path on disk.
    pub(crate) path: PathBuf,
    pub(crate) text: String,
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
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 2^32 files"));
        self.files.push(SourceFile { name, path, text });
        id
    }

    pub(crate) fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        line_col(&self.file(id).text, offset)
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
