//! `mailops move-mail ADDRESS --from HOST`: steps 3 and 4 of a move (the
//! final two-way sync and the clean up on the old host) for a mailbox whose
//! row already names its new home: how an operator finishes a move that
//! `apply --move-mail` could not finish, or one applied with
//! `--no-move-mail` once the mail was copied by other means.
//!
//! The hosts come from the database, never from the files: the mailbox's
//! home as its row has it now, and both hosts' private addresses from
//! `mail_hosts`. A row that still names `--from` as its home is refused: the
//! clean up would expunge the mailbox's only copy.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::{EXIT_OK, Error, Result};
use crate::db::connection::{Conn, DbError, failed, on_conn};
use crate::db::{self, url};
use crate::mail_move::Doveadm;
use crate::plan::moves::{HostAt, Move};

pub(crate) fn run(
    dir: &Path,
    database: Option<&str>,
    address: &str,
    from: &str,
    doveadm: Doveadm,
) -> Result<ExitCode> {
    // The repo names the database (as for apply); its files play no other part.
    let target = super::prepare(dir, database, "nothing was moved")?.target;
    let m =
        db::connection::runtime().and_then(|rt| rt.block_on(read_move(&target, address, from)))?;
    let m = match m {
        Ok(m) => m,
        Err(refusal) => return Err(Error::refused(refusal)),
    };
    let done = doveadm.finish(&m).map_err(|e| {
        Error::Operational(format!(
            "{e}\nnothing more was done; once the cause is fixed, run this again"
        ))
    })?;
    eprintln!(
        "moved the mail of {} to {}: {} messages there; {} expunged on {}",
        m.address, m.to.name, done.messages, done.expunged, m.from.name
    );
    Ok(EXIT_OK)
}

/// The move as the database has it, or why there is none to finish.
async fn read_move(
    target: &url::Target,
    address: &str,
    from: &str,
) -> std::result::Result<std::result::Result<Move, String>, DbError> {
    let mut conn = db::open(target).await?;
    let read = read_rows(&mut conn, address, from).await;
    conn.close().await;
    let (home, from_ip) = read?;
    let Some((home, home_ip)) = home else {
        return Ok(Err(format!(
            "{address} has no row with a home host in {}: nothing to move",
            target.shown()
        )));
    };
    if home == from {
        return Ok(Err(format!(
            "{address}'s home is still {from}: its mail there is the only copy; apply the move first (`mailops apply --move-mail`)"
        )));
    }
    if from_ip.is_none() {
        return Ok(Err(format!(
            "no host {from} in mail_hosts: name the host the mailbox moved from"
        )));
    }
    Ok(Ok(Move {
        address: address.to_string(),
        from: HostAt {
            name: from.to_string(),
            private_ip: from_ip,
        },
        to: HostAt {
            name: home,
            private_ip: home_ip,
        },
    }))
}

/// The mailbox's home and its address, and the old host's address.
type HomeRows = (Option<(String, Option<String>)>, Option<String>);

async fn read_rows(
    conn: &mut Conn,
    address: &str,
    from: &str,
) -> std::result::Result<HomeRows, DbError> {
    let home: Option<(Option<String>, Option<String>)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT u.home, h.private_ip FROM virtual_users u \
         LEFT JOIN mail_hosts h ON h.name = u.home WHERE u.email = ?",
    )
    .bind(address)
    .fetch_optional(&mut *c)
    .await
    .map_err(failed("reading the mailbox's home"))?);
    let from_ip: Option<(String,)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT private_ip FROM mail_hosts WHERE name = ?",
    )
    .bind(from)
    .fetch_optional(&mut *c)
    .await
    .map_err(failed("reading the host rows"))?);
    let home = home.and_then(|(home, ip)| home.map(|h| (h, ip)));
    Ok((home, from_ip.map(|(ip,)| ip)))
}
