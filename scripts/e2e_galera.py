#!/usr/bin/python3
"""The Galera phase of the end-to-end suite (issue 18, database part): a
3-node MariaDB Galera cluster on loopback, and `mailops plan` / `apply`
against its nodes.

The cluster: Debian's `galera-4` (installed with apt when missing) and the
installed `mariadbd`, three instances run as the `mysql` user with their own
data folders under $MAILOPS_E2E_DIR/galera/node<N>, client ports
13306/13307/13308 on 127.0.0.1, Galera ports 14567/14577/14587 (IST +1, SST
+2). Node 1 is made with `mariadb-install-db` and bootstrapped with
`--wsrep-new-cluster`; nodes 2 and 3 join it and get its data by rsync SST.

Checks, each through the real `mailops` binary (a repo made by `mailops
init` with two tenants), one `ok`/`FAIL` line each:

  - an apply on node 1 is visible on nodes 2 and 3 (rows read back on each);
  - a plan on node 2 right after an apply on node 1 shows no changes, while
    node 2 is held behind (`FLUSH TABLES WITH READ LOCK` pauses its applier,
    and a read without `wsrep_sync_wait` there still misses the apply):
    mailops's reads wait for the node to catch up;
  - two applies of different tenant changes at once on nodes 1 and 2: the
    first is held open just before its COMMIT (the debug-build hook
    `MAILOPS_TEST_PAUSE_BEFORE_COMMIT_MS`) while the second runs on node 2
    and commits; the first is refused at commit with exit 3 and "another
    apply committed first…", and every node holds exactly the winner's
    rows, one new apply log row, one more lock generation;
  - a node killed (SIGKILL) while an apply against it waits before COMMIT:
    the survivors hold none of its rows, and agree with each other;
  - the survivors keep serving: cluster size 2, an apply on node 2 and a
    plan on node 1 that sees it.

Run it as a phase of the suite (`scripts/e2e galera`) or alone
(`scripts/e2e_galera.py`, after `cargo build`). Every mariadbd it started is
stopped at the end, on failure too.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

NODES = 3
CLIENT_PORT = 13306  # node N: 13306 + N - 1
GALERA_PORT = 14567  # node N: 14567 + 10 (N - 1): group communication; +1 IST; +2 SST
PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
DATABASE = "mailops_galera"
USER = "mailops"  # @127.0.0.1, no password: a test cluster on loopback
HOSTNAME = "mx.galera-e2e.example"
FIRST = "first.example"
SECOND = "second.example"
PAUSE_HOOK = "MAILOPS_TEST_PAUSE_BEFORE_COMMIT_MS"
CONFLICT = ("another apply committed first on another node of the cluster; "
            "nothing of this apply was written. Run `mailops plan` again")

def write_node_config(folder, *, port, cluster, members, name, address, galera_port, sst_port):
    """my.cnf of one Galera node in `folder` (data in folder/data, client on
    127.0.0.1:`port`, group communication on `address`:`galera_port`, IST on
    the port after it, SST on `sst_port`), owned by mysql."""
    data = folder / "data"
    data.mkdir(parents=True)
    (folder / "my.cnf").write_text(f"""[mysqld]
datadir={data}
socket={folder}/mysqld.sock
pid-file={folder}/mysqld.pid
log-error={folder}/error.log
port={port}
bind-address=127.0.0.1
user=mysql
skip-name-resolve
skip-log-bin
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=32M
innodb_log_file_size=8M
innodb_flush_log_at_trx_commit=2
# Galera writes a binary log of its own: without SUPER, mailops's user may
# create migration 0002's triggers (dropped again by 0003) only with this.
log_bin_trust_function_creators=1
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name={cluster}
wsrep_cluster_address=gcomm://{members}
wsrep_node_name={name}
wsrep_node_address={address}:{galera_port}
wsrep_provider_options=base_port={galera_port};ist.recv_addr={address}:{galera_port + 1};gcache.size=32M
wsrep_sst_method=rsync
wsrep_sst_receive_address={address}:{sst_port}
""")
    shutil.chown(folder, "mysql", "mysql")
    shutil.chown(data, "mysql", "mysql")


def start_node(folder, new_cluster=False):
    """mariadbd with folder/my.cnf (`--wsrep-new-cluster` for the first node)."""
    args = ["mariadbd", f"--defaults-file={folder}/my.cnf"]
    if new_cluster:
        args.append("--wsrep-new-cluster")
    with open(folder / "stdout.log", "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


class Node:
    def __init__(self, base, index):
        self.index = index
        self.dir = base / f"node{index}"
        self.socket = self.dir / "mysqld.sock"
        self.cnf = self.dir / "my.cnf"
        self.port = CLIENT_PORT + index - 1
        self.galera = GALERA_PORT + 10 * (index - 1)
        self.proc = None

    @property
    def url(self):
        return f"mysql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def write_config(self):
        members = ",".join(f"127.0.0.1:{GALERA_PORT + 10 * i}" for i in range(NODES))
        write_node_config(self.dir, port=self.port, cluster="mailops-e2e-galera", members=members,
                          name=f"node{self.index}", address="127.0.0.1", galera_port=self.galera,
                          sst_port=self.galera + 2)

    def start(self, new_cluster=False):
        self.proc = start_node(self.dir, new_cluster)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: the node dies as a crashed host would, mid-transaction."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        if not self.alive():
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def admin(self, e2e, statement, database=None):
        """As root over the node's socket (tab-separated, no headers)."""
        args = ["mariadb", f"--socket={self.socket}", "-u", "root", "-N", "-B"]
        if database:
            args.append(database)
        return e2e.run(*args, "-e", statement).stdout

    def sql(self, e2e, statement, sync=True):
        """Read mailops's database; `sync`: after the node has applied
        every write set committed in the cluster (wsrep_sync_wait)."""
        return self.admin(e2e, f"SET SESSION wsrep_sync_wait = {1 if sync else 0}; {statement}", DATABASE)

    def status(self, e2e, name):
        out = self.admin(e2e, f"SHOW STATUS LIKE '{name}'").split()
        return out[1] if len(out) > 1 else ""


class Cluster:
    def __init__(self, e2e, base):
        self.e2e = e2e
        self.base = base
        self.nodes = [Node(base, i + 1) for i in range(NODES)]

    def node(self, index):
        return self.nodes[index - 1]

    def bootstrap(self):
        e2e = self.e2e
        for node in self.nodes:
            node.write_config()
        first = self.nodes[0]
        e2e.run("mariadb-install-db", f"--defaults-file={first.cnf}", "--skip-test-db")
        first.start(new_cluster=True)
        e2e.wait_for("node 1 to accept connections", lambda: first.status(e2e, "wsrep_ready") == "ON",
                     timeout=60)
        first.admin(e2e, f"CREATE DATABASE {DATABASE}; CREATE USER '{USER}'@'127.0.0.1'; "
                         f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1';")
        for node in self.nodes[1:]:
            node.start()
        self.wait_size([first], NODES, timeout=90)
        for node in self.nodes[1:]:
            e2e.wait_for(f"node {node.index} to be synced",
                         lambda node=node: node.status(e2e, "wsrep_local_state_comment") == "Synced",
                         timeout=60)

    def wait_size(self, nodes, size, timeout=30):
        for node in nodes:
            self.e2e.wait_for(f"wsrep_cluster_size = {size} on node {node.index}",
                              lambda node=node: node.status(self.e2e, "wsrep_cluster_size") == str(size),
                              timeout=timeout)

    def stop(self):
        for node in self.nodes:
            node.stop()

    def tails(self):
        import e2e_dane
        for node in self.nodes:
            e2e_dane.tail_logs(self.e2e, node.dir, ["error.log"], lines=15)


class Repo:
    """A mail repo (`mailops init`) and its copies, one per operator."""

    def __init__(self, e2e, path):
        self.e2e = e2e
        self.path = path

    def mailops(self, *args, **kwargs):
        return self.e2e.mailops(self.path, *args, **kwargs)

    def copy(self, path):
        if path.exists():
            shutil.rmtree(path)
        shutil.copytree(self.path, path, symlinks=True)
        return Repo(self.e2e, path)

    def tenant(self, domain):
        return self.path / "tenants" / f"{domain}.toml"

    def add_mailbox(self, domain, user):
        password = self.mailops("hash-password", input_text="Galera-e2e-1\n").stdout.strip()
        path = self.tenant(domain)
        path.write_text(path.read_text() + f'\n[[mailbox]]\nuser = "{user}"\npassword = "{password}"\n')

    def take_tenant(self, other, domain):
        """What `git pull` would bring: `other`'s file of `domain`."""
        shutil.copyfile(other.tenant(domain), self.tenant(domain))

    def apply(self, node, check_rc=True, env=None):
        return self.mailops("apply", "--yes", "--database", node.url, check_rc=check_rc, env=env)

    def plan(self, node):
        return self.mailops("plan", "--detailed-exitcode", "--database", node.url, check_rc=False)

    def spawn_apply(self, node, env):
        """`apply --yes` in the background; its stderr lines are collected,
        and `hooked` is set when the test hook says it is pausing."""
        full_env = dict(os.environ, **env)
        proc = subprocess.Popen([str(self.e2e.BIN), "-C", str(self.path), "apply", "--yes",
                                 "--database", node.url],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=full_env)
        proc.lines = []
        proc.hooked = threading.Event()

        def read():
            for line in proc.stderr:
                proc.lines.append(line)
                if line.startswith(f"test hook {PAUSE_HOOK}"):
                    proc.hooked.set()

        proc.reader = threading.Thread(target=read, daemon=True)
        proc.reader.start()
        return proc


def finish(proc, timeout=60):
    proc.wait(timeout=timeout)
    proc.reader.join(timeout=5)
    proc.stdout_text = proc.stdout.read()
    return "".join(proc.lines)


def mailboxes(e2e, node):
    return set(node.sql(e2e, "SELECT email FROM virtual_users").split())


def count(e2e, node, table):
    return int(node.sql(e2e, f"SELECT COUNT(*) FROM {table}").strip())


def state(e2e, node):
    """Every row mailops owns and its bookkeeping, as one text: equal on two
    nodes when they agree."""
    return node.sql(e2e, "SELECT name FROM virtual_domains ORDER BY name; "
                         "SELECT email, quota_bytes FROM virtual_users ORDER BY email; "
                         "SELECT source, destination FROM virtual_aliases ORDER BY source, destination; "
                         "SELECT id, plan_hash FROM mailops_apply_log ORDER BY id; "
                         "SELECT domain_id, digest, user_rows, user_changed FROM mailops_domain_state ORDER BY domain_id; "
                         "SELECT generation, holder FROM mailops_apply_lock")


def ensure_galera(e2e):
    if PROVIDER.exists() and shutil.which("rsync"):
        return
    e2e.run("apt-get", "install", "-y", "-q", "galera-4", "rsync",
            env={"DEBIAN_FRONTEND": "noninteractive"})


def run_galera(e2e):
    """The whole phase; every check is recorded through `e2e.check`."""
    base = e2e.WORK / "galera"
    stop_leftovers(base)
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    cluster = Cluster(e2e, base)
    try:
        with e2e.phase("galera: bootstrap a 3-node cluster"):
            ensure_galera(e2e)
            cluster.bootstrap()
        with e2e.phase("galera: checks"):
            checks(e2e, cluster, base)
    finally:
        if any(not ok for name, ok in e2e.results if name.startswith("galera")):
            cluster.tails()
        cluster.stop()


def stop_leftovers(base):
    """A previous run's nodes, if it was killed before its teardown: found by
    their pid files in our own folder, and only if the process is a mariadbd
    started with our config."""
    for pid_file in base.glob("node*/mysqld.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if "mariadbd" in cmdline and str(pid_file.parent / "my.cnf") in cmdline:
            os.kill(pid, signal.SIGKILL)


def checks(e2e, cluster, base):
    n1, n2, n3 = cluster.nodes
    main = Repo(e2e, base / "repo")
    e2e.run(e2e.BIN, "init", main.path, "--hostname", HOSTNAME, "--domain", FIRST)
    main.mailops("new", SECOND)
    main.add_mailbox(FIRST, "alice")
    main.add_mailbox(SECOND, "bob")

    def visible_everywhere():
        main.apply(n1)
        on_1 = mailboxes(e2e, n1)
        if not {f"alice@{FIRST}", f"bob@{SECOND}"} <= on_1:
            raise RuntimeError(f"node 1 holds {sorted(on_1)}")
        for node in (n2, n3):
            if mailboxes(e2e, node) != on_1 or state(e2e, node) != state(e2e, n1):
                raise RuntimeError(f"node {node.index} differs from node 1: {sorted(mailboxes(e2e, node))}")
        return f"{len(on_1)} mailboxes, the same rows and bookkeeping on all 3 nodes"
    e2e.check("galera: apply on node 1 is visible on nodes 2 and 3", visible_everywhere)

    def plan_sees_latest():
        main.add_mailbox(FIRST, "carol")
        carol = f"carol@{FIRST}"
        # Node 2's applier paused: it receives the apply's write set but does
        # not apply it until UNLOCK TABLES, 3 s from now.
        held = subprocess.Popen(["mariadb", f"--socket={n2.socket}", "-u", "root", "-e",
                                 "FLUSH TABLES WITH READ LOCK; SELECT SLEEP(3); UNLOCK TABLES;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            e2e.wait_for("node 2 to hold FLUSH TABLES WITH READ LOCK", lambda: "FLUSH TABLES WITH READ LOCK"
                         in n2.admin(e2e, "SHOW PROCESSLIST") or "SLEEP(3)" in n2.admin(e2e, "SHOW PROCESSLIST"),
                         timeout=10, interval=0.05)
            main.apply(n1)
            behind = carol not in mailboxes_unsynced(e2e, n2)
            started = time.monotonic()
            plan = main.plan(n2)
            waited = time.monotonic() - started
        finally:
            held.wait(timeout=30)
        if not behind:
            raise RuntimeError("node 2 was not behind (a read without sync wait already saw the apply): "
                               "nothing proven")
        if plan.returncode != 0:
            raise RuntimeError(f"plan on node 2 exited {plan.returncode}: {plan.stdout[-600:]} {plan.stderr[-400:]}")
        return (f"node 2 was behind (a read without wsrep_sync_wait missed {carol}); "
                f"mailops plan waited {waited:.1f} s and found no changes")
    e2e.check("galera: plan on node 2 right after an apply on node 1 shows no changes", plan_sees_latest)

    def concurrent_applies():
        a = main.copy(base / "repo-a")
        b = main.copy(base / "repo-b")
        a.add_mailbox(FIRST, "race-a")
        b.add_mailbox(SECOND, "race-b")
        before = {"log": count(e2e, n1, "mailops_apply_log"),
                  "generation": int(n1.sql(e2e, "SELECT generation FROM mailops_apply_lock").strip()),
                  "mailboxes": mailboxes(e2e, n1)}
        first = a.spawn_apply(n1, {PAUSE_HOOK: "4000"})
        if not first.hooked.wait(timeout=30):
            first.kill()
            raise RuntimeError(f"apply on node 1 never reached its COMMIT: {finish(first)}")
        second = b.apply(n2, check_rc=False)
        first_err = finish(first)
        if second.returncode != 0:
            raise RuntimeError(f"the apply on node 2 exited {second.returncode}: {second.stderr[-600:]}")
        if first.returncode != 3 or CONFLICT not in first_err:
            raise RuntimeError(f"the apply on node 1 exited {first.returncode} (wanted 3): {first_err[-800:]}")
        want = before["mailboxes"] | {f"race-b@{SECOND}"}
        for node in cluster.nodes:
            got = mailboxes(e2e, node)
            if got != want:
                raise RuntimeError(f"node {node.index}: {sorted(got ^ want)} differ from the winner's rows")
            if count(e2e, node, "mailops_apply_log") != before["log"] + 1:
                raise RuntimeError(f"node {node.index}: apply log has {count(e2e, node, 'mailops_apply_log')} rows, "
                                   f"not {before['log'] + 1}")
            generation = int(node.sql(e2e, "SELECT generation FROM mailops_apply_lock").strip())
            if generation != before["generation"] + 1:
                raise RuntimeError(f"node {node.index}: lock generation {generation}, not {before['generation'] + 1}")
        if len({state(e2e, node) for node in cluster.nodes}) != 1:
            raise RuntimeError("the nodes disagree after the race")
        # The loser does what it was told: pulls (the winner's tenant file), plans again, applies.
        a.take_tenant(b, SECOND)
        replan = a.plan(n1)
        rows = replan.stdout.partition("\ndatabase ")[2]
        if (replan.returncode != 2 or ": 1 to insert, 0 to update, 0 to delete" not in rows
                or f"+ mailbox race-a@{FIRST}" not in rows):
            raise RuntimeError(f"the plan again (exit {replan.returncode}): {replan.stdout[-600:]}")
        a.apply(n1)
        if mailboxes(e2e, n3) != want | {f"race-a@{FIRST}"}:
            raise RuntimeError(f"after planning again, node 3 holds {sorted(mailboxes(e2e, n3))}")
        return ("node 2's apply committed; node 1's exit 3 'another apply committed first…'; "
                "one new apply log row; planned again and applied")
    e2e.check("galera: concurrent applies on two nodes: exactly one commits, the other says plan again",
              concurrent_applies)

    survivor_repo = main.copy(base / "repo-c")

    def node_killed():
        # Where the race left the repo: both winners' changes.
        c = survivor_repo
        c.take_tenant(Repo(e2e, base / "repo-a"), FIRST)
        c.take_tenant(Repo(e2e, base / "repo-a"), SECOND)
        c.add_mailbox(FIRST, "doomed")
        doomed = f"doomed@{FIRST}"
        before = state(e2e, n1)
        apply = c.spawn_apply(n3, {PAUSE_HOOK: "3000"})
        if not apply.hooked.wait(timeout=30):
            apply.kill()
            raise RuntimeError(f"apply on node 3 never reached its COMMIT: {finish(apply)}")
        n3.kill()
        err = finish(apply)
        if apply.returncode == 0:
            raise RuntimeError(f"the apply on the killed node succeeded: {err[-400:]}")
        cluster.wait_size([n1, n2], NODES - 1)
        on = {node.index: (doomed in mailboxes(e2e, node), state(e2e, node)) for node in (n1, n2)}
        if on[1][1] != on[2][1]:
            raise RuntimeError("nodes 1 and 2 disagree after node 3 died")
        if on[1][0]:
            # Committed: then cluster-wide, which the equal states show.
            return "the apply committed before the kill, and both survivors hold it"
        if on[1][1] != before:
            raise RuntimeError("the survivors changed, but do not hold the apply's mailbox")
        return f"apply exit {apply.returncode}; neither survivor holds any of its rows; they agree"
    e2e.check("galera: node killed during an apply: committed cluster-wide or not at all", node_killed)

    def survivors_serve():
        if n3.alive():
            raise RuntimeError("node 3 is still running")
        size = n2.status(e2e, "wsrep_cluster_size")
        if size != "2":
            raise RuntimeError(f"cluster size {size}")
        survivor_repo.apply(n2)
        plan = survivor_repo.plan(n1)
        if plan.returncode != 0:
            raise RuntimeError(f"plan on node 1 exited {plan.returncode}: {plan.stdout[-600:]}")
        if f"doomed@{FIRST}" not in mailboxes(e2e, n1):
            raise RuntimeError("node 1 does not hold the apply made on node 2")
        return "cluster size 2; apply on node 2, plan on node 1: no changes"
    e2e.check("galera: survivors keep serving", survivors_serve)


def mailboxes_unsynced(e2e, node):
    return set(node.sql(e2e, "SELECT email FROM virtual_users", sync=False).split())


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import e2e
    e2e.WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(e2e.WORK, 0o755)
    start = time.monotonic()
    try:
        run_galera(e2e)
    except Exception as error:  # noqa: BLE001
        e2e.results.append(("galera: setup", False))
        e2e.log(f"FAIL galera: setup: {error}")
    e2e.log(f"timing total: {time.monotonic() - start:.1f} s")
    passed = sum(1 for _, ok in e2e.results if ok)
    failed = len(e2e.results) - passed
    e2e.log(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
