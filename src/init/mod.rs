//! What `mailops init` writes into a new mail repo besides the example tenant
//! (which `mailops new` makes) and the files `schema` and `build` write: the
//! platform file, the operator README, `.gitignore`, `keys/`, and the CI
//! templates of both forges.
//!
//! A pure function of [`Scaffold`]: the same options give the same bytes. The
//! templates are embedded in the binary (`templates/`); only the platform file
//! and the README have values to fill (tera), and those values are checked
//! domain names in their A-label form, which need no escaping in TOML strings
//! or Markdown. The CI templates are written as they are: a test runs
//! `actionlint` on the workflow and parses the GitLab file.

/// The GitHub Actions workflow.
pub(crate) const GITHUB_WORKFLOW: &str = ".github/workflows/mailops.yml";
/// The GitLab CI file.
pub(crate) const GITLAB_CI: &str = ".gitlab-ci.yml";

const PLATFORM: &str = include_str!("templates/mailops.toml");
const README: &str = include_str!("templates/README.md");
const GITIGNORE: &str = include_str!("templates/gitignore");
const KEYS_README: &str = include_str!("templates/keys-README.md");
const WORKFLOW: &str = include_str!("templates/github-workflow.yml");
const GITLAB: &str = include_str!("templates/gitlab-ci.yml");

/// The names a new mail repo is made with, each already checked and in its
/// A-label form.
#[derive(Debug, Clone)]
pub(crate) struct Scaffold {
    /// The mail host, `mx.operator.example`.
    pub(crate) hostname: String,
    /// The DNS zone of the host's records: the host name's parent.
    pub(crate) zone: String,
    /// The example tenant's domain.
    pub(crate) domain: String,
}

impl Scaffold {
    /// Where each new tenant's postmaster@ and abuse@ forward.
    pub(crate) fn admin_email(&self) -> String {
        format!("postmaster@{}", self.zone)
    }

    /// Every file, as (path relative to the repo, contents), sorted by path.
    pub(crate) fn files(&self) -> Vec<(&'static str, String)> {
        let mut context = tera::Context::new();
        context.insert("hostname", &self.hostname);
        context.insert("zone", &self.zone);
        context.insert("admin_email", &self.admin_email());
        context.insert("domain", &self.domain);
        let render = |template: &str| {
            tera::Tera::one_off(template, &context, false)
                .unwrap_or_else(|e| panic!("the embedded init templates render: {e:?}"))
        };
        let mut files = vec![
            (GITHUB_WORKFLOW, WORKFLOW.to_string()),
            (".gitignore", GITIGNORE.to_string()),
            (GITLAB_CI, GITLAB.to_string()),
            ("README.md", render(README)),
            ("keys/README.md", KEYS_README.to_string()),
            ("mailops.toml", render(PLATFORM)),
        ];
        files.sort_by_key(|(path, _)| *path);
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaffold() -> Scaffold {
        Scaffold {
            hostname: "mx.operator.example".into(),
            zone: "operator.example".into(),
            domain: "acme.example".into(),
        }
    }

    #[test]
    fn the_platform_file_names_the_host_and_its_postmaster() {
        let files = scaffold().files();
        let (_, platform) = files
            .iter()
            .find(|(path, _)| *path == "mailops.toml")
            .expect("a platform file");
        let toml: toml::Table = platform.parse().expect("the platform file is TOML");
        assert_eq!(
            toml["mail_host"]["hostname"].as_str(),
            Some("mx.operator.example")
        );
        assert_eq!(
            toml["mail_host"]["admin_email"].as_str(),
            Some("postmaster@operator.example")
        );
        assert!(
            platform.contains("# [secrets]\n"),
            "a commented [secrets] block says where recipients go"
        );
    }

    #[test]
    fn every_template_value_is_filled_and_the_output_is_stable() {
        let files = scaffold().files();
        for (path, text) in &files {
            assert!(text.ends_with('\n'), "{path} ends with a newline");
            assert!(!text.contains("\r"), "{path} has \\n endings only");
            if *path != GITHUB_WORKFLOW {
                assert!(!text.contains("{{"), "{path} has an unfilled value");
            }
        }
        let (_, readme) = files
            .iter()
            .find(|(p, _)| *p == "README.md")
            .expect("a README");
        assert!(readme.contains("tenants/acme.example.toml"));
        assert_eq!(files, scaffold().files());
        let mut paths: Vec<_> = files.iter().map(|(p, _)| *p).collect();
        paths.dedup();
        assert_eq!(paths.len(), files.len(), "no path twice");
    }

    #[test]
    fn every_third_party_action_is_pinned_by_a_full_commit_sha() {
        for line in WORKFLOW.lines() {
            let Some((_, action)) = line.split_once("uses: ") else {
                continue;
            };
            let (reference, comment) = action.split_once('#').unwrap_or((action, ""));
            let (_, sha) = reference.trim().split_once('@').expect("an action@ref");
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "not pinned by a full SHA: {line}"
            );
            assert!(
                comment.trim().starts_with('v'),
                "the version is not in a comment: {line}"
            );
        }
    }

    #[test]
    fn the_gitignore_keeps_state_and_secrets_out() {
        for line in [
            "/.mailops/",
            ".terraform/",
            "*.tfstate",
            "*.tfvars",
            "*.key",
        ] {
            assert!(
                GITIGNORE.lines().any(|l| l == line),
                ".gitignore lacks {line}"
            );
        }
    }
}
