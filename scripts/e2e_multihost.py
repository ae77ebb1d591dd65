#!/usr/bin/python3
"""The two-host phase of the end-to-end suite (issue 18, mail flow): two mail
hosts in network namespaces, each with its own Postfix, Dovecot, Rspamd and
Galera node, built from one repo (tests/fixtures/valid/two-hosts with test
passwords).

The network: host A (mx1) and host B (mx2) are two network namespaces joined
by one veth pair, 10.20.1.11/16 and 10.20.1.12/16, the fixture's private
addresses; inside each, 127.0.0.1 is its own, so the suite's fixed ports do
not clash. The routing database: a 2-node MariaDB Galera cluster, one node
per namespace (client port 3306 on the namespace's own loopback, as the
generated configs read it; group communication, IST and SST on the
namespace's private address, Galera's default ports), bootstrapped on A as
e2e_galera.py does. Each node starts from the Galera settings `mailops install
--host <its name>` wrote into its host's install root
(etc/mysql/mariadb.conf.d/60-mailops-galera.cnf), followed by the test-only
lines of `NODE_OVERRIDES` (its own data dir, socket, pid and log files, small
buffers). So the script first builds the repo and installs both hosts, then
starts the cluster, then applies through A's node.
`mailops apply` writes through A's node; each host's services read their own.

The script switches its own network namespace (setns(2) on its one thread)
to start each host's services and to talk to them, so `e2e.Stack` works
unchanged with a work dir per host; the test-only overrides are e2e.py's
(on the installed copies), plus per host: Dovecot listens on every address
of its namespace (LMTP from the other host, proxied IMAPS), and its Maildirs
are under the host's own folder (both hosts install the same vmail_root,
which on one machine would be one folder).

Each host is installed with `mailops install --host <its name>`: its own
hostname and certificate paths in Postfix's and Dovecot's configs.
The platform serves POP3 (`[mail_host] pop3`, set here on the fixture).

Checks, one `ok`/`FAIL` line each:
  - each host's Galera node runs from the settings install wrote for it (the
    cluster of both, each node under its host's name);
  - mail sent to A for a mailbox homed on B lands in B's Maildir (not A's);
  - mail sent to B for a mailbox homed on B is delivered locally;
  - an IMAP login at A for a B-homed mailbox reaches B's mailbox (Dovecot's
    proxy: the message delivered above, fetched through A);
  - the same with the mailbox's app password (the app password passdbs);
  - submission at A for a B-homed mailbox is accepted (AUTH + send);
  - each host greets and HELOs with its own hostname (SMTP banner and EHLO
    on 25; the LMTP hop A → B: A's LHLO name and B's Dovecot hostname in
    the Received header B's Dovecot adds);
  - mail submitted at B is DKIM-signed by B's Rspamd (an A-homed mailbox
    submits at B to a B-homed one; the copy B delivers carries a signature
    d=acme.example that verifies against the repo's public key);
  - a POP3 login at A for a B-homed mailbox reaches B's mailbox (Dovecot's
    proxy to B's POP3S);
  - an SRS address B's postsrsd makes is reversed by A's (the shared secret
    install writes first in each host's /etc/postsrsd/secrets);
  - with A's Postfix and Dovecot stopped, mail sent to B for an A-homed
    mailbox waits in B's queue, and is delivered when A is back;
  - last (they change a home): moving the B-homed mailbox to A shows the
    move's steps in the plan and apply refuses without a flag; `apply
    --move-mail` on A copies its messages to A before the switch, a login at
    B is proxied to A and fetches them, and B no longer holds them; a new
    message sent to B lands on A, and so does one handed straight to B's
    LMTP (a route resolved before the move: lmtp_proxy); `mailops move-mail` run again after the
    clean up loses none of the moved mail.

Run it as a phase of the suite (in the default run, or alone:
`flock /tmp/mailops-e2e.lock env MAILOPS_E2E_DIR=/tmp/e2e-<name> scripts/e2e multihost`).
Everything it started is stopped and both namespaces deleted, on failure too.
"""

import ctypes
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
HOSTS = {"mx1": "10.20.1.11", "mx2": "10.20.1.12"}
PREFIX = 16
DATABASE = "mailops_multihost"
ADMIN = "mailops"  # @127.0.0.1, no password: applies through A's node
SERVICE_USER = "mailops_e2e"  # what the installed configs read with
GALERA_FILE = Path("etc/mysql/mariadb.conf.d/60-mailops-galera.cnf")  # under an install root
# Test-only lines after the installed Galera settings: the node's own files
# (no Debian my.cnf here), small buffers. Nothing of the cluster's own.
NODE_OVERRIDES = """
[mysqld]
datadir={dir}/data
socket={dir}/mysqld.sock
pid-file={dir}/mysqld.pid
log-error={dir}/error.log
port=3306
user=mysql
skip-name-resolve
innodb_buffer_pool_size=32M
innodb_log_file_size=8M
innodb_flush_log_at_trx_commit=2
wsrep_provider_options=gcache.size=32M
"""
A_HOMED = "bob@acme.example"
B_HOMED = "alice@acme.example"
PASSWORD = {A_HOMED: "Bob-" + secrets.token_hex(6), B_HOMED: "Alice-" + secrets.token_hex(6)}
APP_PASSWORD = "Phone-" + secrets.token_hex(6)  # B_HOMED's app password "phone"
SENDER = "someone@outside-sender.example"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Namespaces:
    """The two hosts' namespaces, and `inside(name)` to run there."""

    def __init__(self, e2e):
        self.e2e = e2e
        self.names = {host: f"mailops-mh-{host}-{os.getpid()}" for host in HOSTS}
        self.root = os.open("/proc/self/ns/net", os.O_RDONLY)

    def create(self):
        run = self.e2e.run
        pid = os.getpid() % 100000
        ends = {"mx1": f"mha{pid}", "mx2": f"mhb{pid}"}
        for host in HOSTS:
            run("ip", "netns", "add", self.names[host])
        run("ip", "link", "add", ends["mx1"], "type", "veth", "peer", "name", ends["mx2"])
        for host, ip in HOSTS.items():
            ns = self.names[host]
            run("ip", "link", "set", ends[host], "netns", ns)
            run("ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX}", "dev", ends[host])
            run("ip", "-n", ns, "link", "set", ends[host], "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")

    @contextmanager
    def inside(self, host):
        fd = os.open(f"/run/netns/{self.names[host]}", os.O_RDONLY)
        try:
            _setns(fd)
            yield
        finally:
            _setns(self.root)
            os.close(fd)

    def delete(self):
        import e2e_dane
        for host in HOSTS:
            if Path(f"/run/netns/{self.names[host]}").exists():
                e2e_dane.stop_namespace(self.e2e, self.names[host])


class GaleraNode:
    """One Galera node in a host's namespace."""

    def __init__(self, base, host, ip):
        self.host = host
        self.ip = ip
        self.dir = base / host / "galera"
        self.socket = self.dir / "mysqld.sock"
        self.cnf = self.dir / "my.cnf"
        self.proc = None

    def write_config(self, install_root):
        """my.cnf: the Galera settings `mailops install` wrote for this host,
        then the test-only overrides."""
        installed = (install_root / GALERA_FILE).read_text()
        data = self.dir / "data"
        data.mkdir(parents=True)
        self.cnf.write_text(installed + NODE_OVERRIDES.format(dir=self.dir))
        shutil.chown(self.dir, "mysql", "mysql")
        shutil.chown(data, "mysql", "mysql")

    def start(self, new_cluster=False):
        from e2e_galera import start_node
        self.proc = start_node(self.dir, new_cluster)

    def admin(self, e2e, statement):
        return e2e.run("mariadb", f"--socket={self.socket}", "-u", "root", "-N", "-B",
                       "-e", statement).stdout

    def status(self, e2e, name):
        out = self.admin(e2e, f"SHOW STATUS LIKE '{name}'").split()
        return out[1] if len(out) > 1 else ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


class Host:
    """One mail host: its namespace, Galera node and e2e.Stack."""

    def __init__(self, e2e, base, name):
        self.e2e = e2e
        self.name = name
        self.ip = HOSTS[name]
        self.base = base / name
        self.stack = e2e.Stack(self.base, "mysql", pop3=True)
        self.node = GaleraNode(base, name, self.ip)

    def configure(self, shared_vmail):
        stack = self.stack
        stack.make_live()
        stack.configure_postfix()
        stack.configure_dovecot()
        stack.configure_rspamd()
        # Every address of the namespace: LMTP and proxied IMAPS from the other host.
        text = stack.dovecot_conf.read_text().replace("listen = 127.0.0.1\n", "listen = *\n")
        stack.dovecot_conf.write_text(text)
        conf = stack.live / "etc" / "dovecot" / "dovecot.conf"
        conf.write_text(conf.read_text().replace(str(shared_vmail), str(self.base / "vmail")))
        vmail = self.base / "vmail"
        vmail.mkdir(parents=True, exist_ok=True)
        os.chown(vmail, 5000, 5000)

    def start_dovecot(self):
        stack = self.stack
        with open(stack.logs / "dovecot.stdout", "ab") as out:
            subprocess.Popen(["dovecot", "-c", stack.dovecot_conf], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=out, start_new_session=True).wait()

    def stop_mail(self):
        """Postfix and Dovecot down, as a host that is stopped."""
        e2e = self.e2e
        e2e.run("postfix", "-c", self.stack.pf, "stop", check_rc=False)
        e2e.run("doveadm", "-c", self.stack.dovecot_conf, "stop", check_rc=False)
        e2e.wait_for(f"{self.name}'s 25 and 24 closed",
                     lambda: not e2e.port_open(25) and not e2e.port_open(24), timeout=30)

    def start_mail(self):
        e2e = self.e2e
        self.start_dovecot()
        e2e.run("postfix", "-c", self.stack.pf, "start")
        for port in (25, 24, 993, 995):
            e2e.wait_for(f"{self.name}'s port {port}", lambda p=port: e2e.port_open(p), timeout=30)

    def stop_all(self):
        e2e = self.e2e
        if (self.stack.pf / "main.cf").exists():
            e2e.run("postfix", "-c", self.stack.pf, "stop", check_rc=False)
        if self.stack.dovecot_conf.exists():
            e2e.run("doveadm", "-c", self.stack.dovecot_conf, "stop", check_rc=False)
        self.node.stop()
        # Rspamd, Redis, postsrsd and anything else: by pid, when the
        # namespace is deleted (e2e_dane.stop_namespace).


def make_repo(e2e, base):
    """The fixture with test passwords, test paths and a test database, and
    DKIM keys made here."""
    repo = base / "repo"
    shutil.copytree(e2e.REPO / "tests" / "fixtures" / "valid" / "two-hosts", repo,
                    ignore=shutil.ignore_patterns(".mailops"))
    platform = (repo / "mailops.toml").read_text()
    # POP3 (the proxied POP3 login): the mailboxes' protocols then include it.
    platform = platform.replace('admin_email = "postmaster@webhizzy.in"\n',
                                'admin_email = "postmaster@webhizzy.in"\npop3 = true\n', 1)
    assert "pop3 = true" in platform
    platform += f"""
[database]
driver = "mysql"
host = "127.0.0.1"
port = 3306
name = "{DATABASE}"
user = "{SERVICE_USER}"

[paths]
vmail_root = "{base}/vmail"
dkim_key_dir = "/var/lib/rspamd/dkim"
key_store = ".mailops/keys"

[tls]
cert = "{e2e.WORK}/tls/cert.pem"
key = "{e2e.WORK}/tls/key.pem"
"""
    (repo / "mailops.toml").write_text(platform)
    tenant = repo / "tenants" / "acme.example.toml"
    text = tenant.read_text()
    lines = text.split("\n")
    for address, password in PASSWORD.items():
        user = address.split("@")[0]
        hashed = e2e.mailops(repo, "hash-password", input_text=password + "\n").stdout.strip()
        at = lines.index(f'user = "{user}"')
        assert lines[at + 1].startswith("password = "), lines[at + 1]
        lines[at + 1] = f'password = "{hashed}"'
    # An app password of the B-homed mailbox (its own passdb, proxied too).
    hashed = e2e.mailops(repo, "hash-password", input_text=APP_PASSWORD + "\n").stdout.strip()
    at = lines.index(f'user = "{B_HOMED.split("@")[0]}"') + 2
    lines[at:at] = ["", "[[mailbox.app_password]]", 'name = "phone"', f'password = "{hashed}"',
                    'protocols = ["imap", "smtp"]', ""]
    tenant.write_text("\n".join(lines))
    e2e.mailops(repo, "dkim", "keygen", "acme.example", "--selector", "dkim", "--algorithm", "rsa2048", "--force")
    e2e.mailops(repo, "build")
    return repo


def maildir_has(host, address, token):
    return bool(host.e2e.messages_with(host.base, address, token))


def run_multihost(e2e):
    import e2e_galera
    base = e2e.WORK / "multihost"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    (base / "vmail").mkdir()
    nets = Namespaces(e2e)
    hosts = {name: Host(e2e, base, name) for name in HOSTS}
    a, b = hosts["mx1"], hosts["mx2"]
    db_password = secrets.token_hex(16)
    try:
        with e2e.phase("multihost: namespaces, repo, install on both"):
            e2e_galera.ensure_galera(e2e)
            e2e.make_tls()
            nets.create()
            repo = make_repo(e2e, base)
            for host in hosts.values():
                e2e.mailops(repo, "install", "--root", host.stack.root, "--host", host.name,
                            env={"MAILOPS_DB_PASSWORD": db_password})
                host.configure(base / "vmail")
        with e2e.phase("multihost: a Galera node per host, from the settings install wrote"):
            for host in hosts.values():
                host.node.write_config(host.stack.root)
            with nets.inside("mx1"):
                e2e.run("mariadb-install-db", f"--defaults-file={a.node.cnf}", "--skip-test-db")
                a.node.start(new_cluster=True)
                e2e.wait_for("mx1's node ready", lambda: a.node.status(e2e, "wsrep_ready") == "ON", timeout=60)
                a.node.admin(e2e, f"CREATE DATABASE {DATABASE}; CREATE USER '{ADMIN}'@'127.0.0.1'; "
                                  f"GRANT ALL ON {DATABASE}.* TO '{ADMIN}'@'127.0.0.1'; "
                                  f"CREATE USER '{SERVICE_USER}'@'127.0.0.1' IDENTIFIED BY '{db_password}'; "
                                  f"GRANT SELECT ON {DATABASE}.* TO '{SERVICE_USER}'@'127.0.0.1';")
            with nets.inside("mx2"):
                b.node.start()
                e2e.wait_for("mx2's node synced",
                             lambda: b.node.status(e2e, "wsrep_local_state_comment") == "Synced", timeout=90)
        with e2e.phase("multihost: apply on mx1's node"):
            with nets.inside("mx1"):
                e2e.mailops(repo, "apply", "--database", f"mysql://{ADMIN}@127.0.0.1:3306/{DATABASE}", "--yes")
        with e2e.phase("multihost: start both hosts"):
            for name, host in hosts.items():
                with nets.inside(name):
                    host.stack.start()
        with e2e.phase("multihost: checks"):
            checks(e2e, nets, a, b)
    finally:
        failed = any(not ok for name, ok in e2e.results if name.startswith("two hosts"))
        for name, host in hosts.items():
            if failed:
                host.stack.log_tails()
            if Path(f"/run/netns/{nets.names[name]}").exists():
                with nets.inside(name):
                    host.stop_all()
        nets.delete()


def checks(e2e, nets, a, b):
    def nodes_from_installed_settings():
        seen = []
        for host in (a, b):
            installed = (host.stack.root / GALERA_FILE).read_text()
            want = {
                "wsrep_node_name": host.name,
                "wsrep_node_address": host.ip,
                "wsrep_cluster_address": "gcomm://" + ",".join(HOSTS.values()),
            }
            for key, value in want.items():
                if f"\n{key} = {value}\n" not in installed:
                    raise RuntimeError(f"{host.name}'s installed {GALERA_FILE} lacks `{key} = {value}`")
            cluster_name = re.search(r"^wsrep_cluster_name = (\S+)$", installed, re.M).group(1)
            with nets.inside(host.name):
                size = host.node.status(e2e, "wsrep_cluster_size")
                state = host.node.status(e2e, "wsrep_local_state_comment")
                running = dict(line.split("\t", 1) for line in host.node.admin(
                    e2e, "SELECT 'name', @@wsrep_node_name UNION ALL SELECT 'address', @@wsrep_node_address "
                         "UNION ALL SELECT 'cluster', @@wsrep_cluster_name").strip().split("\n"))
            if size != "2" or state != "Synced":
                raise RuntimeError(f"{host.name}'s node: wsrep_cluster_size {size!r}, state {state!r}")
            if running != {"name": host.name, "address": host.ip, "cluster": cluster_name}:
                raise RuntimeError(f"{host.name}'s node runs with {running}, not the installed settings")
            seen.append(f"{host.name}: size {size}, node {running['name']} at {running['address']}")
        return f"cluster {cluster_name}; " + "; ".join(seen)
    e2e.check("two hosts: each host's Galera node runs from the settings mailops install wrote for it "
              "(cluster of 2, node names mx1 and mx2)", nodes_from_installed_settings)

    def send_at(host, recipient, sender=SENDER, port=25, login=None):
        token = f"mh-{uuid.uuid4().hex[:12]}"
        with nets.inside(host.name):
            refused = e2e.smtp_send(sender, [recipient], token, port=port, login=login)
        if refused:
            raise RuntimeError(f"refused at {host.name}: {refused}")
        return token

    delivered = {}

    def a_to_b_homed():
        token = send_at(a, B_HOMED)
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx2", lambda: maildir_has(b, B_HOMED, token), timeout=30)
        if maildir_has(a, B_HOMED, token):
            raise RuntimeError("also in mx1's Maildir")
        delivered["via A"] = token
    e2e.check("two hosts: mail sent to A for a mailbox homed on B lands in B's Maildir (not A's)", a_to_b_homed)

    def b_local():
        token = send_at(b, B_HOMED)
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx2", lambda: maildir_has(b, B_HOMED, token), timeout=30)
        if maildir_has(a, B_HOMED, token):
            raise RuntimeError("also in mx1's Maildir")
        with nets.inside("mx2"):
            log = (b.stack.logs / "postfix.log").read_text(errors="replace")
        if not any(token_line for token_line in log.splitlines()
                   if f"to=<{B_HOMED}>" in token_line and "relay=10.20.1.12[10.20.1.12]:24" in token_line
                   and "status=sent" in token_line):
            raise RuntimeError("no LMTP delivery to 10.20.1.12:24 in mx2's Postfix log")
    e2e.check("two hosts: mail sent to B for a mailbox homed on B is delivered locally", b_local)

    def imap_through_a(password=PASSWORD[B_HOMED]):
        token = delivered.get("via A")
        if not token:
            raise RuntimeError("nothing was delivered to the B-homed mailbox through A")
        with nets.inside("mx1"):
            found = e2e.imap_fetch(B_HOMED, password, token)
        # mx1 proxied the login to mx2's private address, and mx2 logged it in
        # with the client's own address (login_trusted_networks) in the same session.
        a_log = (a.stack.logs / "dovecot.log").read_text(errors="replace")
        b_log = (b.stack.logs / "dovecot.log").read_text(errors="replace")
        proxied = re.findall(rf"proxy\({re.escape(B_HOMED)},10\.20\.1\.12:993\): Started proxying .*session=<([^>]+)>",
                             a_log)
        if not proxied:
            raise RuntimeError("mx1's Dovecot logged no proxying to 10.20.1.12:993")
        logged_in = f"imap-login: Info: Login: user=<{B_HOMED}>, method=PLAIN, rip=127.0.0.1, "
        if not any(logged_in in line and f"session=<{proxied[-1]}>" in line for line in b_log.splitlines()):
            raise RuntimeError(f"mx2's Dovecot logged no login of session {proxied[-1]} from the client's address")
        return f"{found} message(s) through mx1's proxy"
    e2e.check("two hosts: an IMAP login at A for a B-homed mailbox reaches B's mailbox", imap_through_a)
    e2e.check("two hosts: an app password login at A for a B-homed mailbox reaches B's mailbox",
              lambda: imap_through_a(APP_PASSWORD))

    def submission_at_a():
        token = send_at(a, A_HOMED, sender=B_HOMED, port=587, login=(B_HOMED, PASSWORD[B_HOMED]))
        e2e.wait_for(f"{token} in {A_HOMED}'s Maildir on mx1", lambda: maildir_has(a, A_HOMED, token), timeout=30)
    e2e.check("two hosts: submission at A for a B-homed mailbox is accepted", submission_at_a)

    def own_hostnames():
        seen = []
        for host in (a, b):
            hostname = f"{host.name}.webhizzy.in"
            with nets.inside(host.name):
                with e2e.smtplib.SMTP(timeout=20) as smtp:
                    _, banner = smtp.connect(e2e.HOST, 25)
                    banner = banner.decode(errors="replace")
                    code, ehlo = smtp.ehlo("client.e2e.invalid")
            if banner != f"{hostname} ESMTP":
                raise RuntimeError(f"{host.name}'s banner is {banner!r}, not {hostname} ESMTP")
            if code != 250 or ehlo.decode(errors="replace").split("\n")[0] != hostname:
                raise RuntimeError(f"{host.name}'s EHLO answer starts {ehlo[:40]!r}, not {hostname}")
            seen.append(f"{host.name}: 220 {banner}")
        # The LMTP hop of the message sent to A for the B-homed mailbox: A's
        # Postfix said LHLO with its name, B's Dovecot stamped its own.
        token = delivered.get("via A")
        if not token:
            raise RuntimeError("nothing was delivered to the B-homed mailbox through A")
        raw = b.e2e.messages_with(b.base, B_HOMED, token)[0]
        received = [" ".join(h.split()) for h in e2e.email.message_from_bytes(raw).get_all("Received", [])]
        lmtp = "from mx1.webhizzy.in ([10.20.1.11]) by mx2.webhizzy.in with LMTP"
        if not any(r.startswith(lmtp) for r in received):
            raise RuntimeError(f"no Received header {lmtp!r} in {received}")
        if not any("by mx1.webhizzy.in (Postfix) with ESMTP" in r for r in received):
            raise RuntimeError(f"no Received header by mx1.webhizzy.in (Postfix) in {received}")
        return "; ".join(seen) + "; LMTP A → B: " + lmtp
    e2e.check("two hosts: each host greets and HELOs with its own hostname", own_hostnames)

    def dkim_signed_at_b():
        token = send_at(b, B_HOMED, sender=A_HOMED, port=587, login=(A_HOMED, PASSWORD[A_HOMED]))
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx2", lambda: maildir_has(b, B_HOMED, token), timeout=30)
        raw = e2e.messages_with(b.base, B_HOMED, token)[0]
        tenants = e2e.Tenants(e2e.WORK / "multihost" / "repo" / "tenants")
        tags = e2e.verify_dkim(raw, tenants)
        if tags.get("d") != "acme.example" or tags.get("s") != "dkim":
            raise RuntimeError(f"signed d={tags.get('d')} s={tags.get('s')}, expected d=acme.example s=dkim")
        received = [" ".join(h.split()) for h in e2e.email.message_from_bytes(raw).get_all("Received", [])]
        if not any("by mx2.webhizzy.in (Postfix) with ESMTPSA" in r for r in received):
            raise RuntimeError(f"not submitted through mx2's Postfix: {received}")
        if any("by mx1.webhizzy.in (Postfix)" in r for r in received):
            raise RuntimeError(f"went through mx1's Postfix: {received}")
        rspamd_log = (b.stack.logs / "rspamd.log").read_text(errors="replace")
        if not any(token in line or f"<{token}@e2e.invalid>" in line for line in rspamd_log.splitlines()):
            raise RuntimeError("mx2's Rspamd logged nothing of the message")
        return f"d={tags['d']} s={tags['s']} verifies"
    e2e.check("two hosts: mail submitted at B is DKIM-signed by B's Rspamd", dkim_signed_at_b)

    def pop3_through_a():
        token = delivered.get("via A")
        if not token:
            raise RuntimeError("nothing was delivered to the B-homed mailbox through A")
        with nets.inside("mx1"):
            pop = e2e.pop3_login(B_HOMED, PASSWORD[B_HOMED])
            try:
                count, _ = pop.stat()
                found = [i for i in range(1, count + 1)
                         if token.encode() in b"\n".join(pop.retr(i)[1])]
            finally:
                pop.quit()
        if not found:
            raise RuntimeError(f"{count} message(s) over POP3 at mx1, none with {token}")
        a_log = (a.stack.logs / "dovecot.log").read_text(errors="replace")
        if not re.search(rf"pop3-login: .*proxy\({re.escape(B_HOMED)},10\.20\.1\.12:995\): Started proxying", a_log):
            raise RuntimeError("mx1's Dovecot logged no POP3 proxying to 10.20.1.12:995")
        return f"{count} message(s) through mx1's proxy to mx2's POP3S"
    e2e.check("two hosts: a POP3 login at A for a B-homed mailbox reaches B's mailbox", pop3_through_a)

    def srs_shared():
        # An SRS address made at B (a forward of outside mail) is reversed at
        # A, where a bounce to it arrives (the SRS domain is the primary's).
        import socket

        def ask(port, query):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(f"get {query}\n".encode())
                return conn.recv(1024).decode().strip()
        original = f"srs-{uuid.uuid4().hex[:8]}@outside-sender.example"
        with nets.inside("mx2"):
            forward = ask(10001, original)
        if not forward.startswith("200 SRS0="):
            raise RuntimeError(f"mx2's postsrsd forward table: {forward}")
        with nets.inside("mx1"):
            reverse = ask(10002, forward[4:])
        if reverse != f"200 {original}":
            raise RuntimeError(f"mx1's postsrsd reverse of {forward[4:]}: {reverse}")
        b_secrets = (b.stack.live / "etc" / "postsrsd" / "secrets").read_text().split()
        if len(b_secrets) < 1 or b_secrets[0] != (a.stack.live / "etc" / "postsrsd" / "secrets").read_text().split()[0]:
            raise RuntimeError("the hosts' postsrsd secrets files do not start with the same secret")
        return f"{forward[4:]} → {original}"
    e2e.check("two hosts: an SRS address made at B is reversed at A (one signing secret on every host)",
              srs_shared)

    def queued_while_a_is_down():
        with nets.inside("mx1"):
            a.stop_mail()
        try:
            token = send_at(b, A_HOMED)
            queued = ""

            def in_queue():
                nonlocal queued
                with nets.inside("mx2"):
                    queued = e2e.run("postqueue", "-c", b.stack.pf, "-p").stdout
                return A_HOMED in queued and ("Connection refused" in queued or "connect to" in queued)
            e2e.wait_for(f"{token} deferred in mx2's queue", in_queue, timeout=30)
            if maildir_has(a, A_HOMED, token):
                raise RuntimeError("delivered while mx1 was down")
        finally:
            with nets.inside("mx1"):
                a.start_mail()
        with nets.inside("mx2"):
            e2e.run("postqueue", "-c", b.stack.pf, "-f")
        e2e.wait_for(f"{token} in {A_HOMED}'s Maildir on mx1", lambda: maildir_has(a, A_HOMED, token), timeout=30)
    e2e.check("two hosts: with A stopped, mail sent to B for an A-homed mailbox waits in B's queue, "
              "and is delivered when A is back", queued_while_a_is_down)

    # Moving a mailbox's home (issue 18), last: it changes a home. The
    # B-homed mailbox moves to A, its mail with it (`apply --move-mail`,
    # run inside A's namespace, as on a mail host).
    repo = e2e.WORK / "multihost" / "repo"
    database = f"mysql://{ADMIN}@127.0.0.1:3306/{DATABASE}"
    on_b = [token for token in delivered.values()]

    def plan_shows_steps():
        tenant = repo / "tenants" / "acme.example.toml"
        lines = tenant.read_text().split("\n")
        at = lines.index(f'user = "{B_HOMED.split("@")[0]}"')
        lines.insert(at + 1, 'home = "mx1"')
        tenant.write_text("\n".join(lines))
        e2e.mailops(repo, "build")
        with nets.inside("mx1"):
            out = e2e.mailops(repo, "plan", "--database", database).stdout
        want = [
            f"~ mailbox {B_HOMED}: home mx2 → mx1 (move)",
            f"1. copy: doveadm backup {B_HOMED} from mx2 (10.20.1.12) to mx1 (10.20.1.11), mx2 still serving",
            "2. switch: home = mx1 (delivery and logins go to mx1)",
            "3. final sync: doveadm sync (two-way) again, for mail mx2 took before the switch",
            f"4. clean up: expunge {B_HOMED}'s mail on mx2, once mx1 holds at least as many messages",
        ]
        missing = [line for line in want if line not in out]
        if missing:
            raise RuntimeError(f"not in the plan: {missing} | plan: {out}")
        with nets.inside("mx1"):
            refused = e2e.mailops(repo, "apply", "--database", database, "--yes", check_rc=False)
        if refused.returncode != 1 or "--move-mail" not in refused.stderr:
            raise RuntimeError(f"apply without a flag: exit {refused.returncode}: {refused.stderr}")
    e2e.check("two hosts: moving a mailbox's home shows its steps in the plan, "
              "and apply refuses without --move-mail or --no-move-mail", plan_shows_steps)

    def apply_moves_mail():
        token = send_at(b, B_HOMED)
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx2", lambda: maildir_has(b, B_HOMED, token), timeout=30)
        on_b.append(token)
        if not on_b or not all(maildir_has(b, B_HOMED, token) for token in on_b):
            raise RuntimeError(f"the B-homed mailbox's messages {on_b} are not all on mx2 before the move")
        with nets.inside("mx1"):
            out = e2e.mailops(repo, "apply", "--database", database, "--yes", "--move-mail",
                              "--doveadm-config", str(a.stack.dovecot_conf))
        missing = [token for token in on_b if not maildir_has(a, B_HOMED, token)]
        if missing:
            raise RuntimeError(f"not in mx1's Maildir after the move: {missing} | {out.stderr}")
        with nets.inside("mx2"):
            # mx2 now proxies the login to mx1, where the messages are.
            found = e2e.imap_fetch(B_HOMED, PASSWORD[B_HOMED], on_b[0])
        a_log = (a.stack.logs / "dovecot.log").read_text(errors="replace")
        b_log = (b.stack.logs / "dovecot.log").read_text(errors="replace")
        if not re.search(rf"proxy\({re.escape(B_HOMED)},10\.20\.1\.11:993\): Started proxying", b_log):
            raise RuntimeError("mx2's Dovecot logged no proxying to 10.20.1.11:993")
        if f"Login: user=<{B_HOMED}>" not in a_log:
            raise RuntimeError(f"mx1's Dovecot logged no login of {B_HOMED}")
        left = [token for token in on_b if maildir_has(b, B_HOMED, token)]
        if left:
            raise RuntimeError(f"still on mx2 after the clean up: {left}")
        copied, applied = out.stderr.find(f"copied the mail of {B_HOMED}"), out.stderr.find("applied to ")
        if not 0 <= copied < applied or f"moved the mail of {B_HOMED}" not in out.stderr:
            raise RuntimeError(f"not copied before the switch, then synced and cleaned up: {out.stderr}")
        return f"{len(on_b)} message(s) moved; {found} fetched through mx2's proxy"
    e2e.check("two hosts: apply --move-mail copies the mailbox's mail to its new home before the switch, "
              "an IMAP login at the old home reaches it there, and the old home no longer holds it",
              apply_moves_mail)

    def new_mail_lands_on_new_home():
        # The same sender as before the move: Postfix's queue manager may
        # still hold its last resolution of this pair (the old home); mx2's
        # LMTP then passes the message on to mx1 (lmtp_proxy).
        token = send_at(b, B_HOMED)
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx1", lambda: maildir_has(a, B_HOMED, token), timeout=30)
        if maildir_has(b, B_HOMED, token):
            raise RuntimeError("also in mx2's Maildir")
    e2e.check("two hosts: after the move, mail sent to B for the moved mailbox lands on its new home",
              new_mail_lands_on_new_home)

    def old_home_lmtp_passes_on():
        # A delivery routed before the move reaches the old home's LMTP
        # itself: as a sender's Postfix would, straight to mx2's port 24.
        import smtplib
        passed_on = f"Sent message to <{B_HOMED}> at 10.20.1.11:24: 250 "

        def passed_on_count():
            return (b.stack.logs / "dovecot.log").read_text(errors="replace").count(passed_on)
        before = passed_on_count()
        token = f"mh-{uuid.uuid4().hex[:12]}"
        message = (f"From: <{SENDER}>\r\nTo: <{B_HOMED}>\r\nSubject: {token}\r\n"
                   f"Message-ID: <{token}@outside-sender.example>\r\n\r\n{token}\r\n")
        with nets.inside("mx2"):
            with smtplib.LMTP(HOSTS["mx2"], 24, timeout=30) as lmtp:
                refused = lmtp.sendmail(SENDER, [B_HOMED], message)
        if refused:
            raise RuntimeError(f"mx2's LMTP refused: {refused}")
        e2e.wait_for(f"{token} in {B_HOMED}'s Maildir on mx1", lambda: maildir_has(a, B_HOMED, token), timeout=30)
        if maildir_has(b, B_HOMED, token):
            raise RuntimeError("delivered into mx2's Maildir, not passed on")
        # mx2 logs the hand-over when mx1's 250 is back, which may be just
        # after mx1's Maildir has the message.
        e2e.wait_for(f"mx2's Dovecot to log a new '{passed_on}…'", lambda: passed_on_count() > before,
                     timeout=10)
    e2e.check("two hosts: a delivery that reaches the old home's LMTP after a move is passed on to the new home",
              old_home_lmtp_passes_on)

    def rerun_keeps_mail():
        with nets.inside("mx1"):
            out = e2e.mailops(repo, "move-mail", B_HOMED, "--from", "mx2", "--database", database,
                              env={"MAILOPS_DOVEADM_CONFIG": str(a.stack.dovecot_conf)}, check_rc=False)
        lost = [token for token in on_b if not maildir_has(a, B_HOMED, token)]
        if lost:
            raise RuntimeError(f"lost on mx1 by `move-mail` after the clean up: {lost} | {out.stderr}")
        return f"move-mail exit {out.returncode}"
    e2e.check("two hosts: `mailops move-mail` run again after the clean up loses none of the moved mail",
              rerun_keeps_mail)
