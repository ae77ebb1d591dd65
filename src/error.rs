//! The error a command ends with: the words the user reads, and what kind of
//! failure it was, which decides the exit code.
//!
//! Commands return `Err(Error)` instead of printing a message and returning an
//! exit number; `lib.rs` `main()` prints `error: {message}` once and exits with
//! [`Error::exit_code`]. The kinds are the README's exit codes: 1 for a
//! problem the user must resolve (in the input, or a refused plan or apply),
//! 2 for an operational failure (I/O, the lock, the database), 3 for an
//! apply that lost to a concurrent one (nothing written; plan again).

use std::fmt;
use std::io;
use std::process::ExitCode;

/// The exit code of an apply that another apply beat to the commit.
pub(crate) const EXIT_CONFLICT: u8 = 3;

#[derive(Debug)]
pub(crate) enum Error {
    /// A problem in what the user gave: an argument, a file's contents, a
    /// secret that is missing or not private: exit 1.
    User(String),
    /// A plan or apply refused: a stale or edited plan file, the delete
    /// guard, a database migrated by a newer mailops: exit 1.
    Refused(String),
    /// I/O, the lock, the system: exit 2.
    Operational(String),
    /// The database failed (connection, statement): exit 2.
    Database(String),
    /// An apply that another apply beat to the commit (on a Galera cluster,
    /// on another node): nothing was written, and the plan it would have
    /// written is stale: exit 3, so that automation can tell "plan again"
    /// from a failed database. Never retried by mailops itself: the plan
    /// someone reviewed is no longer the plan.
    Conflict(String),
}

impl Error {
    pub(crate) fn user(message: impl Into<String>) -> Self {
        Error::User(message.into())
    }

    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Error::Refused(message.into())
    }

    pub(crate) fn operational(message: impl Into<String>) -> Self {
        Error::Operational(message.into())
    }

    /// The message, without the `error: ` that `main` puts before it.
    pub(crate) fn message(&self) -> &str {
        match self {
            Error::User(m)
            | Error::Refused(m)
            | Error::Operational(m)
            | Error::Database(m)
            | Error::Conflict(m) => m,
        }
    }

    /// 1 for what the user must resolve, 2 for an operational failure, 3
    /// for an apply that lost to a concurrent one.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Error::User(_) | Error::Refused(_) => ExitCode::FAILURE,
            Error::Operational(_) | Error::Database(_) => ExitCode::from(2),
            Error::Conflict(_) => ExitCode::from(EXIT_CONFLICT),
        }
    }

    /// The same kind of error with `line` on a line of its own after the
    /// message (what the failure left undone, say).
    pub(crate) fn followed_by(self, line: impl fmt::Display) -> Self {
        let add = |m: String| format!("{m}\n{line}");
        match self {
            Error::User(m) => Error::User(add(m)),
            Error::Refused(m) => Error::Refused(add(m)),
            Error::Operational(m) => Error::Operational(add(m)),
            Error::Database(m) => Error::Database(add(m)),
            Error::Conflict(m) => Error::Conflict(add(m)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// An I/O failure is operational; its message is the I/O error's (which
/// `fsutil` and `load` make name the path).
impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Operational(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::connection::DbError;

    #[test]
    fn what_the_user_must_resolve_exits_1_and_operational_failures_2() {
        for (error, code) in [
            (Error::user("u"), ExitCode::FAILURE),
            (Error::refused("r"), ExitCode::FAILURE),
            (Error::operational("o"), ExitCode::from(2)),
            (Error::Database("d".into()), ExitCode::from(2)),
            (io::Error::other("disk").into(), ExitCode::from(2)),
            (DbError::Refused("stale".into()).into(), ExitCode::FAILURE),
            (DbError::Locked("busy".into()).into(), ExitCode::from(2)),
            (
                DbError::Operational("gone".into()).into(),
                ExitCode::from(2),
            ),
            (Error::Conflict("plan again".into()), ExitCode::from(3)),
            (
                DbError::Conflict("deadlock".into()).into(),
                ExitCode::from(3),
            ),
        ] {
            assert_eq!(error.exit_code(), code, "{error:?}");
        }
    }

    #[test]
    fn the_message_is_shown_as_given() {
        let error = Error::from(io::Error::new(io::ErrorKind::NotFound, "plan.json: gone"));
        assert_eq!(error.to_string(), "plan.json: gone");
        let error = Error::operational("no key").followed_by("nothing was installed");
        assert_eq!(error.to_string(), "no key\nnothing was installed");
        assert_eq!(error.exit_code(), ExitCode::from(2));
    }
}
