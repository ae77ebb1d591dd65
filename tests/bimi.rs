//! BIMI logos kept in the repo (`bimi/<domain>.svg`): checked on every
//! compile, the cached one included, and never read through a link.

mod support;

use support::Repo;

const LOGO: &str = "bimi/mehta-associates.example.svg";

#[test]
fn a_logo_edited_after_a_cached_build_is_checked_again() {
    let repo = Repo::example_built();
    let good = repo.read(LOGO);
    assert!(good.contains("baseProfile=\"tiny-ps\""), "{good}");

    // Only the logo changes: no tenant file does, so only the logo can
    // make the compile cache step aside.
    let bad = good.replace(
        "<title>Mehta &amp; Associates</title>",
        "<script>x()</script>",
    );
    std::fs::write(repo.path().join(LOGO), &bad).unwrap();
    for command in ["build", "check", "validate"] {
        repo.run(&[command])
            .exits(1)
            .stderr_has("mailops::bimi::svg")
            .stderr_has(&format!(
                "{LOGO}:3:3: `<script>` is not allowed in SVG Tiny PS"
            ))
            .stderr_has("needs a `<title>`");
    }

    std::fs::write(repo.path().join(LOGO), &good).unwrap();
    repo.ok(&["build"]);
    repo.ok(&["check"]);
}

#[test]
fn a_linked_logo_is_refused_not_followed() {
    let repo = Repo::example_built();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("logo.svg");
    std::fs::copy(repo.path().join(LOGO), &target).unwrap();
    std::fs::remove_file(repo.path().join(LOGO)).unwrap();
    std::os::unix::fs::symlink(&target, repo.path().join(LOGO)).unwrap();
    repo.run(&["validate"])
        .exits(2)
        .stderr_has("mehta-associates.example.svg is a symbolic link");
}

#[test]
fn the_record_is_published_for_dns_hosts_elsewhere_too() {
    let repo = Repo::example_built();
    repo.run(&["dns", "records", "mehta-associates.example"])
        .exits(0)
        .stdout_has("default._bimi.mehta-associates.example.")
        .stdout_has("\"v=BIMI1; l=https://mehta-associates.example/brand/bimi-logo.svg\"");
}
