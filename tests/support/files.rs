//! Folder trees read back, to compare what a command left on disk.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every file under `dir` (following no order; links to folders not entered).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect_files(dir, &mut out);
    out
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let entry = entry.expect("a dir entry");
        if entry.file_type().expect("a file type").is_dir() {
            collect_files(&entry.path(), out);
        } else {
            out.push(entry.path());
        }
    }
}

/// Every file under `dir`: path relative to `dir` → bytes (empty when there
/// is no such folder).
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    if !dir.is_dir() {
        return BTreeMap::new();
    }
    files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("under dir")
                .display()
                .to_string();
            let bytes = std::fs::read(&p).expect("a readable file");
            (rel, bytes)
        })
        .collect()
}

/// The entries of a folder, sorted.
pub fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a dir entry").path())
        .collect();
    files.sort();
    files
}

/// The permission bits of a file or folder (`0o640`).
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The DNS file of a tenant under `generated/`, with `shards` DNS roots:
/// `terraform/dns-<shard>/dns_<domain>.tf`, the shard being the first eight
/// octets of the SHA-256 of the domain, big-endian, modulo `shards` (as
/// `generated/terraform/README.md` documents it).
pub fn dns_file_in(domain: &str, shards: u16) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(domain.as_bytes());
    let first = u64::from_be_bytes(digest[..8].try_into().expect("eight octets"));
    let width = (shards - 1).to_string().len().max(2);
    format!(
        "terraform/dns-{:0width$}/dns_{domain}.tf",
        first % u64::from(shards)
    )
}

/// [`dns_file_in`] with the default 16 DNS roots.
pub fn dns_file(domain: &str) -> String {
    dns_file_in(domain, 16)
}
