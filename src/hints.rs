//! The line after an error that names the command to run next (issue 21):
//! `hint: …`, printed by `main` under `error: …`. One catalogue, so the
//! wording of every next step is in one place and the same everywhere.
//!
//! An error whose message already names a `mailops` command (many do: "run
//! `mailops build` and commit the result") gets no hint: it would repeat it.
//! Otherwise the situation decides: a database that failed, a plan that is
//! no longer valid, a lock held by another run, files that do not validate;
//! and every other error points at the command's own `--help`, whose
//! examples show how it is meant to be called.

use crate::error::Error;

/// The hint for `error`, which ended `mailops <command>` (the subcommand
/// path, such as `plan` or `dns check`); `None` when the message names the
/// next command itself.
pub(crate) fn next_command(command: &str, error: &Error) -> Option<String> {
    let message = error.message();
    if message.contains("`mailops ") {
        return None;
    }
    let again = format!("run `mailops {command}` again");
    Some(match error {
        Error::Database(_) => format!(
            "check the database URL (--database, MAILOPS_DATABASE_URL or [database] in mailops.toml), then {again}"
        ),
        Error::Refused(m) if m.contains("plan again") => {
            "run `mailops plan --out plan.json`, review it, then `mailops apply plan.json`"
                .to_string()
        }
        Error::Operational(m) if m.contains("another mailops") => {
            format!("another mailops run holds the lock: when it has finished, {again}")
        }
        Error::User(m) | Error::Refused(m) if m.contains("fix the problems above") => {
            format!("fix them, checking with `mailops validate`, then {again}")
        }
        _ => format!("`mailops {command} --help` shows its options and examples"),
    })
}

#[cfg(test)]
mod tests {
    use super::next_command;
    use crate::error::Error;

    #[test]
    fn a_message_that_names_a_command_gets_no_hint() {
        let error = Error::user("generated/ is not current; run `mailops build` and commit");
        assert_eq!(next_command("install", &error), None);
    }

    #[test]
    fn each_situation_names_its_next_command() {
        let cases = [
            (
                Error::Database("connecting to mysql://…: refused".into()),
                "plan",
                "check the database URL (--database, MAILOPS_DATABASE_URL or [database] in mailops.toml), then run `mailops plan` again",
            ),
            (
                Error::refused(
                    "the tenant or platform files changed since this plan was made; plan again",
                ),
                "apply",
                "run `mailops plan --out plan.json`, review it, then `mailops apply plan.json`",
            ),
            (
                Error::operational(
                    "another mailops apply is running on this database; waited 60 s",
                ),
                "apply",
                "another mailops run holds the lock: when it has finished, run `mailops apply` again",
            ),
            (
                Error::user("no plan: fix the problems above first"),
                "plan",
                "fix them, checking with `mailops validate`, then run `mailops plan` again",
            ),
            (
                Error::user("--concurrency and --timeout must be at least 1"),
                "dns check",
                "`mailops dns check --help` shows its options and examples",
            ),
        ];
        for (error, command, hint) in cases {
            assert_eq!(
                next_command(command, &error).as_deref(),
                Some(hint),
                "{error:?}"
            );
        }
    }
}
