#!/usr/bin/python3
"""End-to-end suite: the generated configuration and applied rows on real
Postfix, Dovecot, Rspamd and MariaDB (or SQLite), on loopback only.

Run through `scripts/e2e`, which installs the packages and builds mailops.
For each backend (mysql, then sqlite) it:

  1. copies the example tenants into a work repo with a test platform file
     (work-dir paths, a test database) and fresh DKIM keys;
  2. `mailops build`, `mailops apply`, `mailops install --root ROOT`;
  3. layers test-only overrides on the *installed* files, never on generated/:
     paths under ROOT instead of /etc, listeners on 127.0.0.1, no relaying out,
     Rspamd's resolver on 127.0.0.1 and its network modules off;
  4. starts Postfix, Dovecot and Rspamd without systemd and runs every check.

Then the GitOps phase (scripts/e2e_gitops.py, issue 12): `mailops init` → push to
a bare repo → `mailops reconcile --once` on a host tree, and the loop's checks.
Then the DANE phase (scripts/e2e_dane.py, issue 20): a Postfix with the generated
main.cf's client settings delivers through a validating unbound to a test MX
named in a zone Knot signs, in a network namespace of its own.
Then the MTA-STS phase (scripts/e2e_mtasts.py, issue 17): the generated nginx
config serves the tenants' MTA-STS policies and autoconfig files with test-CA
certificates; checkdmarc validates them through a test DNS server.
Then the Galera phase (scripts/e2e_galera.py, issue 18): a 3-node MariaDB Galera
cluster on loopback; applies and plans on different nodes, two applies racing,
a node killed during an apply.
Then the two-host phase (scripts/e2e_multihost.py, issue 18): two mail hosts in
network namespaces on a Galera node each (started from the settings `mailops
install --host` wrote for that host); mail to any host lands on the
mailbox's home host over LMTP, logins anywhere are proxied there by Dovecot,
and mail for a host that is down waits in the other's queue.

Prints `ok <check>` / `FAIL <check>: why` per check and `N passed, M failed`;
exits 1 on any failure after printing the tail of each service's log. Stops
everything it started. Safe to run twice.
"""

import base64
import email
import email.message
import email.utils
import imaplib
import json
import os
import poplib
import re
import secrets
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import dkim  # python3-dkim

REPO = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("MAILOPS_BIN", REPO / "target" / "debug" / "mailops"))
WORK = Path(os.environ.get("MAILOPS_E2E_DIR", "/tmp/mailops-e2e"))
PASSWORDS = tomllib.loads((REPO / "tests" / "fixtures" / "example-passwords.toml").read_text())
HOST = "127.0.0.1"
OUTSIDE_SENDER = "someone@outside-sender.example"
# The over-quota mailbox: 40 KiB, and the platform's default grace of 10 %.
QUOTA_USER = "quota-test@webhizzy.in"
QUOTA = "40 KiB"
QUOTA_PASSWORD = "Quota-" + secrets.token_hex(6)
# A mailbox adopted from a PostfixAdmin database by `mailops import` (issue 13).
IMPORTED_USER = "imported@pfa-import.example"
IMPORTED_PASSWORD = "Imported-" + secrets.token_hex(6)
# And one still on PostfixAdmin's default hash (`encrypt = 'md5crypt'`: a bare MD5 crypt
# hash), imported with `--allow-scheme MD5-CRYPT` as a legacy scheme.
IMPORTED_MD5_USER = "legacy@pfa-import.example"
IMPORTED_MD5_PASSWORD = "Legacy-" + secrets.token_hex(6)
RSPAMD_VARS = None  # set per backend

results = []
timings = []


def log(message):
    print(message, flush=True)


@contextmanager
def phase(name):
    start = time.monotonic()
    try:
        yield
    finally:
        timings.append((name, time.monotonic() - start))


def check(name, fn):
    """Run one check; record ok or FAIL with the reason."""
    try:
        detail = fn()
        results.append((name, True))
        log(f"ok {name}" + (f" ({detail})" if detail else ""))
    except Exception as error:  # noqa: BLE001 - every failure is a FAIL line
        results.append((name, False))
        reason = str(error).strip().replace("\n", " | ")
        log(f"FAIL {name}: {reason[:600]}")


def run(*args, check_rc=True, env=None, input_text=None, cwd=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input_text,
        cwd=cwd,
        stdin=None if input_text is not None else subprocess.DEVNULL,
    )
    if check_rc and proc.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(str(a) for a in args)}` exited {proc.returncode}: {proc.stderr.strip()[-1500:]} {proc.stdout.strip()[-500:]}"
        )
    return proc


def mailops(repo, *args, **kwargs):
    return run(BIN, "-C", repo, *args, **kwargs)


def wait_for(what, predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as error:  # noqa: BLE001
            last = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last})" if last else ""))


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


# ---------------------------------------------------------------- the tenants


class Tenants:
    """What the example tenant files declare, normalised as mailops does."""

    def __init__(self, tenants_dir):
        self.files = {}
        self.unicode_to_ascii = {}
        for path in sorted(tenants_dir.glob("*.toml")):
            data = tomllib.loads(path.read_text())
            ascii_name = path.stem.lower()
            self.files[ascii_name] = data
            self.unicode_to_ascii[data["domain"].lower()] = ascii_name
        self.mailboxes = {}
        self.aliases = {}
        # alias domain (A-label) → its tenant's domain
        self.alias_domains = {}
        for domain, data in self.files.items():
            for alias_domain in data.get("alias_domains", []):
                self.alias_domains[alias_domain.encode("idna").decode().lower()] = domain
            for mailbox in data.get("mailbox", []):
                self.mailboxes[f"{mailbox['user'].lower()}@{domain}"] = mailbox
            for alias in data.get("alias", []):
                local = alias["address"].lower()
                source = f"@{domain}" if local == "*" else f"{local}@{domain}"
                self.aliases[source] = [self.normalise(t, domain) for t in alias["to"]]

    def normalise(self, target, domain):
        if "@" not in target:
            return f"{target.lower()}@{domain}"
        local, dom = target.rsplit("@", 1)
        dom = self.unicode_to_ascii.get(dom.lower(), dom.lower())
        return f"{local.lower()}@{dom}"

    def domain_of(self, address):
        return address.rsplit("@", 1)[1]

    def resolve(self, address, seen=None):
        """Final local mailboxes mail to `address` reaches (external forwards dropped)."""
        seen = seen or set()
        if address in seen:
            return set()
        seen.add(address)
        if address in self.mailboxes:
            return {address}
        domain = self.domain_of(address)
        if domain not in self.files:
            return set()  # external
        targets = self.aliases.get(address) or self.aliases.get(f"@{domain}")
        out = set()
        for target in targets or []:
            out |= self.resolve(target, seen)
        return out

    def dkim_keys(self, domain):
        """[(selector, base64 SPKI)] in file order: `[dkim]` is one key, `[[dkim]]` several."""
        raw = self.files[domain]["dkim"]
        entries = raw if isinstance(raw, list) else [raw]
        return [(e.get("selector", "dkim"), e["public_key"]) for e in entries]

    def selectors(self, domain):
        return {selector for selector, _ in self.dkim_keys(domain)}

    def rsa_selector(self, domain):
        return next(s for s, key in self.dkim_keys(domain) if not is_ed25519(key))

    def dkim_txt(self, domain, selector):
        for s, key in self.dkim_keys(domain):
            if s == selector:
                spki = base64.b64decode(key)
                if is_ed25519(key):  # RFC 8463 publishes the raw 32-byte key
                    return f"v=DKIM1; k=ed25519; p={base64.b64encode(spki[-32:]).decode()}"
                return f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"
        return None


def is_ed25519(public_key):
    """An Ed25519 SPKI is 44 bytes: a 12-byte header and the 32-byte key."""
    return len(base64.b64decode(public_key)) == 44


# ------------------------------------------------------------- the work repo


def platform_file(backend, db_name, root):
    return f"""# test platform for the end-to-end suite (backend {backend})
[mail_host]
hostname = "mx.webhizzy.in"
admin_email = "postmaster@webhizzy.in"
pop3 = true

[database]
driver = "{backend}"
host = "127.0.0.1"
port = 3306
name = "{db_name}"
user = "mailops_e2e"
path = "{WORK}/{backend}/mail.sqlite"

[paths]
vmail_root = "{WORK}/{backend}/vmail"
dkim_key_dir = "/var/lib/rspamd/dkim"
key_store = ".mailops/keys"

[tls]
cert = "{WORK}/tls/cert.pem"
key = "{WORK}/tls/key.pem"
"""


def make_tls():
    tls = WORK / "tls"
    # v2: the certificate names the host in subjectAltName (what verifiers read, and
    # `dns check --smtp` checks) and is no CA.
    if (tls / "cert.pem").exists() and (tls / "v2").exists():
        return
    tls.mkdir(parents=True, exist_ok=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        "-subj", "/CN=mx.webhizzy.in", "-addext", "subjectAltName=DNS:mx.webhizzy.in",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-keyout", tls / "key.pem", "-out", tls / "cert.pem")
    (tls / "v2").write_text("")
    os.chmod(tls / "key.pem", 0o644)  # a throwaway test key, read by postfix and dovecot


def make_repo(base, backend, db_name):
    repo = base / "repo"
    shutil.copytree(REPO / "tenants", repo / "tenants")
    (repo / "mailops.toml").write_text(platform_file(backend, db_name, base / "root"))
    # A mailbox with a tiny quota, for the over-quota checks (its password is
    # made here, as the examples' are in tests/fixtures/example-passwords.toml).
    hashed = mailops(repo, "hash-password", input_text=QUOTA_PASSWORD + "\n").stdout.strip()
    operator = repo / "tenants" / "webhizzy.in.toml"
    operator.write_text(
        operator.read_text()
        + f'\n[[mailbox]]\nuser = "{QUOTA_USER.split("@")[0]}"\npassword = "{hashed}"\nquota = "{QUOTA}"\n'
    )
    PASSWORDS[QUOTA_USER] = QUOTA_PASSWORD
    # An alias domain (issue 15): the company's old name. Added here, not in the
    # examples, which the incremental-compile tests use (a repo with alias
    # domains always compiles in full).
    sharma = repo / "tenants" / "sharma-textiles.example.toml"
    sharma.write_text(sharma.read_text().replace(
        'domain = "sharma-textiles.example"\n',
        'domain = "sharma-textiles.example"\nalias_domains = ["sharma-old.example"]\n', 1))
    import_postfixadmin(repo, base)
    tenants = Tenants(repo / "tenants")
    for domain in tenants.files:
        for selector, key in tenants.dkim_keys(domain):
            algorithm = "ed25519" if is_ed25519(key) else "rsa2048"
            mailops(repo, "dkim", "keygen", domain, "--selector", selector, "--algorithm", algorithm, "--force")
    mailops(repo, "build")
    return repo


def import_postfixadmin(repo, base):
    """A PostfixAdmin-layout database with one domain, whose mailbox has a
    password set there (a Dovecot hash, as PostfixAdmin's `dovecot:` encrypt
    setting stores it), imported into the repo by `mailops import`."""
    hashed = mailops(repo, "hash-password", input_text=IMPORTED_PASSWORD + "\n").stdout.strip()
    domain = IMPORTED_USER.split("@")[1]
    path = base / "postfixadmin.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE domain (domain TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', "
        "  maxquota BIGINT NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1);"
        "CREATE TABLE mailbox (username TEXT PRIMARY KEY, password TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', "
        "  quota BIGINT NOT NULL DEFAULT 0, local_part TEXT NOT NULL, domain TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);"
        "CREATE TABLE alias (address TEXT PRIMARY KEY, goto TEXT NOT NULL, domain TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);"
    )
    con.execute("INSERT INTO domain (domain, description) VALUES (?, 'Imported from PostfixAdmin')", (domain,))
    md5 = subprocess.run(["openssl", "passwd", "-1", "-stdin"], input=IMPORTED_MD5_PASSWORD + "\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    assert md5.startswith("$1$"), md5
    for user, password in ((IMPORTED_USER, hashed), (IMPORTED_MD5_USER, md5)):
        con.execute(
            "INSERT INTO mailbox (username, password, name, quota, local_part, domain) VALUES (?, ?, 'Imported', 104857600, ?, ?)",
            (user, password, user.split("@")[0], domain),
        )
    for address, goto in ((IMPORTED_USER, IMPORTED_USER),
                          (f"postmaster@{domain}", IMPORTED_USER),
                          (f"abuse@{domain}", IMPORTED_USER)):
        con.execute("INSERT INTO alias (address, goto, domain) VALUES (?, ?, ?)", (address, goto, domain))
    con.commit()
    con.close()
    mailops(repo, "import", "--database", f"sqlite://{path}", "--from", "postfixadmin",
            "--allow-scheme", "MD5-CRYPT")
    PASSWORDS[IMPORTED_USER] = IMPORTED_PASSWORD
    PASSWORDS[IMPORTED_MD5_USER] = IMPORTED_MD5_PASSWORD


# ------------------------------------------------------------------- services


class Stack:
    def __init__(self, base, backend, pop3=True):
        self.base = base
        self.backend = backend
        # POP3S on 995: the suite's platform file turns it on (`[mail_host] pop3`).
        self.pop3 = pop3
        self.root = base / "root"
        # The services run from a copy of the installed configs ("live"), with the
        # test-only overrides; ROOT stays exactly as `mailops install` wrote it, so
        # a second install shows whether anything would need a reload.
        self.live = base / "live"
        self.pf = self.live / "etc" / "postfix"
        self.dovecot_conf = base / "dovecot-e2e.conf"
        self.logs = base / "log"
        self.rspamd_vars = [
            f"--var=LOCAL_CONFDIR={self.live}/etc/rspamd",
            f"--var=RUNDIR={base}/run/rspamd",
            f"--var=DBDIR={base}/lib/rspamd",
            f"--var=LOGDIR={self.logs}",
        ]

    def make_live(self):
        """Copy the installed configs; point /etc/<service> at the copy and the key dir at ROOT's."""
        if self.live.exists():
            shutil.rmtree(self.live)
        shutil.copytree(self.root / "etc", self.live / "etc", symlinks=True)
        # The signing entries of multi-key domains (installed next to the keys)
        # name key paths too: the running copy reads a copy with ROOT's paths.
        signing = self.root / "var" / "lib" / "rspamd" / "dkim" / "signing-domains.conf"
        live_signing = self.live / "signing-domains.conf"
        if signing.exists():
            live_signing.write_text(signing.read_text().replace("/var/lib/rspamd/dkim", f"{self.root}/var/lib/rspamd/dkim"))
        mapping = {
            "/var/lib/rspamd/dkim/signing-domains.conf": str(live_signing),
            "/etc/postfix/": f"{self.live}/etc/postfix/",
            "/etc/dovecot/": f"{self.live}/etc/dovecot/",
            "/var/lib/rspamd/dkim": f"{self.root}/var/lib/rspamd/dkim",
        }
        for path in (self.live / "etc").rglob("*"):
            source = self.root / path.relative_to(self.live)
            info = source.stat()
            os.chown(path, info.st_uid, info.st_gid)  # copytree keeps modes, not owners
            if path.is_file():
                text = path.read_text()
                new = text
                for old, replacement in mapping.items():
                    new = new.replace(old, replacement)
                if new != text:
                    path.write_text(new)

    def configure_postfix(self):
        for d in ("spool", "data", "log"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base / "data", "postfix", "postfix")
        settings = {
            "queue_directory": f"{self.base}/spool",
            "data_directory": f"{self.base}/data",
            "maillog_file": f"{self.logs}/postfix.log",
            "maillog_file_prefixes": f"{self.logs}",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "default_transport": "error:end-to-end test: no mail leaves this machine",
            "relay_transport": "error:end-to-end test: no mail leaves this machine",
            "alias_maps": "",
            "alias_database": "",
            "smtp_tls_security_level": "none",
            # The forwarding checks (issue 22) present an Internet client's
            # address with XCLIENT: Rspamd treats loopback as local and
            # seals only mail from outside.
            "smtpd_authorized_xclient_hosts": HOST,
        }
        run("postconf", "-c", self.pf, "-e", *[f"{k}={v}" for k, v in settings.items()])
        run("postconf", "-c", self.pf, "-F", "*/*/chroot = n")

    def configure_dovecot(self):
        for d in ("run/dovecot", "lib/dovecot"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        self.dovecot_conf.write_text(
            f"!include {self.live}/etc/dovecot/dovecot.conf\n"
            f"base_dir = {self.base}/run/dovecot\n"
            f"state_dir = {self.base}/lib/dovecot\n"
            f"log_path = {self.logs}/dovecot.log\n"
            f"listen = 127.0.0.1\n"
        )

    def configure_rspamd(self):
        override = self.live / "etc" / "rspamd" / "override.d"
        override.mkdir(parents=True, exist_ok=True)
        # Maps re-read every 2 s instead of 5 min, so the suite sees a changed
        # send-limit or selector map without waiting (it is the same re-read).
        (override / "options.inc").write_text(
            # Nothing answers on 127.0.0.1:53: a lookup (SPF, DMARC of mail from an
            # Internet client) fails after 0.2 s instead of using up the task's 8 s,
            # after which Rspamd would neither seal nor sign.
            'dns { nameserver = ["127.0.0.1:53"]; timeout = 0.2s; retransmits = 1; }\n'
            'map_watch_interval = 2s;\n'
        )
        # The ratelimit module's buckets: the suite's own Redis.
        (override / "ratelimit.conf").write_text(f'servers = "127.0.0.1:{REDIS_PORT}";\n')
        (override / "logging.inc").write_text(
            f'type = "file";\nfilename = "{self.logs}/rspamd.log";\nlevel = "info";\n'
        )
        for module in ("rbl", "fuzzy_check", "phishing", "multimap", "whitelist", "asn",
                       "url_redirector", "emails", "spamassassin", "neural", "replies"):
            (override / f"{module}.conf").write_text("enabled = false;\n")
        for d in ("run/rspamd", "lib/rspamd"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
            shutil.chown(self.base / d, "_rspamd", "_rspamd")
        self.logs.mkdir(parents=True, exist_ok=True)
        os.chmod(self.logs, 0o777)

    def start(self):
        (self.base / "redis").mkdir(parents=True, exist_ok=True)
        with open(self.logs / "redis.log", "ab") as out:
            subprocess.Popen(
                ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.base / "redis"),
                 "--pidfile", str(self.base / "redis" / "redis.pid"), "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )
        wait_for(f"redis on {REDIS_PORT}", lambda: port_open(REDIS_PORT), timeout=20)
        with open(self.logs / "rspamd.stdout", "ab") as out:
            subprocess.Popen(
                ["rspamd", "-c", "/etc/rspamd/rspamd.conf", *self.rspamd_vars, "-u", "_rspamd", "-g", "_rspamd"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )
        with open(self.logs / "dovecot.stdout", "ab") as out:
            subprocess.Popen(["dovecot", "-c", self.dovecot_conf], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=out, start_new_session=True).wait()
        self.start_postsrsd()
        run("postfix", "-c", self.pf, "start")
        for port in (25, 587, 993, *((995,) if self.pop3 else ()), 24, 12345, 12340):
            wait_for(f"port {port}", lambda p=port: port_open(p), timeout=20)
        wait_for("rspamd /ping", rspamd_ping, timeout=90, interval=0.5)

    def srs_settings(self):
        """The installed /etc/default/postsrsd (`mailops install`), as a dict."""
        path = self.live / "etc" / "default" / "postsrsd"
        return dict(re.findall(r"(?m)^([A-Z_]+)=(.*)$", path.read_text())) if path.exists() else {}

    def start_postsrsd(self):
        """postsrsd with the installed settings and a secret of this run
        (Debian's package makes the host's own); its command line names the
        work dir, so `stop` finds it."""
        settings = self.srs_settings()
        if not settings:
            return
        # With several hosts, `mailops install` wrote the secrets every host
        # shares (its SRS_SECRET); otherwise the run makes one, as Debian does.
        secret = self.live / settings["SRS_SECRET"].lstrip("/")
        if not secret.exists():
            secret = self.base / "postsrsd.secret"
            secret.write_text(secrets.token_urlsafe(24) + "\n")
            os.chmod(secret, 0o600)
        (self.base / "run").mkdir(parents=True, exist_ok=True)
        with open(self.logs / "postsrsd.log", "ab") as out:
            subprocess.run(
                ["postsrsd", f"-s{secret}", f"-d{settings['SRS_DOMAIN']}",
                 f"-f{settings['SRS_FORWARD_PORT']}", f"-r{settings['SRS_REVERSE_PORT']}",
                 f"-l{settings['SRS_LISTEN_ADDR']}", "-4", f"-p{self.base}/run/postsrsd.pid", "-D"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True,
            )
        for key in ("SRS_FORWARD_PORT", "SRS_REVERSE_PORT"):
            wait_for(f"postsrsd on {settings[key]}", lambda p=int(settings[key]): port_open(p), timeout=20)

    def stop(self):
        if self.pf.exists():
            run("postfix", "-c", self.pf, "stop", check_rc=False)
        if self.dovecot_conf.exists():
            run("doveadm", "-c", self.dovecot_conf, "stop", check_rc=False)
        for pid_file in (self.base / "run" / "rspamd" / "rspamd.pid", self.base / "redis" / "redis.pid"):
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), 15)
                except (ValueError, ProcessLookupError):
                    pass
        # Anything left from this work dir (by command line), or still holding
        # one of the suite's ports (a run that was killed half-way).
        run("pkill", "-f", str(self.base), check_rc=False)
        time.sleep(0.5)
        for pid in leftover_pids():
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        wait_for("services to stop", lambda: not any(port_open(p) for p in SUITE_PORTS), timeout=20)

    def log_tails(self):
        for name in ("postfix.log", "dovecot.log", "rspamd.log", "rspamd.stdout", "dovecot.stdout",
                     "postsrsd.log"):
            path = self.logs / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-25:]
                log(f"--- tail of {path}")
                for line in lines:
                    log(f"    {line}")


# Redis for Rspamd's ratelimit module, on a port of the suite's own (not the
# machine's Redis on 6379, which other tests share).
REDIS_PORT = 16379
# postsrsd's two tables (the generated settings: Debian's ports).
SRS_PORTS = (10001, 10002)
SUITE_PORTS = (25, 587, 993, 995, 24, 12345, 12340, 11332, 11334, REDIS_PORT, *SRS_PORTS)

# Self-test of the suite: `MAILOPS_E2E_BREAK=<what> scripts/e2e` breaks one
# generated file (in the running copy) to show which checks catch it.
MAILOPS_E2E_BREAK = os.environ.get("MAILOPS_E2E_BREAK", "")


def break_something(stack, what):
    pf = stack.pf
    if not what:
        return
    if what == "query":
        path = pf / "virtual-mailboxes.cf"
        path.write_text(path.read_text().replace("FROM virtual_users", "FROM virtual_userz"))
    elif what == "sender-login":
        path = pf / "sender-login.cf"
        text = re.sub(r"(?m)^query = .*$", "query = SELECT email FROM virtual_users WHERE email='%s'",
                      path.read_text())
        path.write_text(text)
    elif what == "dkim-key":
        keys = sorted((stack.root / "var" / "lib" / "rspamd" / "dkim").glob("*.key"))
        keys[0].unlink()
    elif what == "catch-all-sender":  # the sender-login query before issue 19
        path = pf / "sender-login.cf"
        path.write_text(path.read_text().replace(" AND SUBSTR(source, 1, 1) <> '@'", ""))
    elif what == "quota-status":  # no policy check: LMTP refuses later, Postfix bounces
        path = pf / "main.cf"
        path.write_text(re.sub(r", check_policy_service \S+", "", path.read_text()))
    elif what == "dual-dkim":  # no signing entries: one key per domain
        (stack.live / "signing-domains.conf").write_text("")
    elif what == "arc-ed25519":  # the selector map names the Ed25519 key, as before issue 19
        path = stack.root / "var" / "lib" / "rspamd" / "dkim" / "selectors.map"
        path.write_text(path.read_text().replace("mail2026-rsa", "mail2026"))
    elif what == "mailbox-state":  # the password query before issue 14: no state, no protocols
        path = stack.live / "etc" / "dovecot" / "dovecot-sql.conf.ext"
        path.write_text(re.sub(r"(?m)^(password_query = .*?WHERE u\.email = '%u').*$", r"\1", path.read_text()))
    elif what == "tenant-state":  # the queries before issue 15: no tenant state at login or RCPT
        for path in (stack.live / "etc" / "dovecot").glob("dovecot-sql*.conf.ext"):
            path.write_text(path.read_text().replace(" AND d.state = 'active'", ""))
        path = pf / "recipient-state.cf"
        path.write_text(re.sub(r" UNION ALL SELECT [^\n]*FROM virtual_domains[^\n]*", "", path.read_text()))
    elif what == "rate-limit":  # the ratelimit module without mailops's keywords
        path = stack.live / "etc" / "rspamd" / "local.d" / "ratelimit.conf"
        path.write_text(re.sub(r"(?m)^custom_keywords = .*\n", "", path.read_text()))
    elif what == "recipient-state":  # no 550 5.2.1 for a disabled mailbox
        path = pf / "main.cf"
        path.write_text(re.sub(r" check_recipient_access \S+,", "", path.read_text()))
    elif what == "relay-transport":  # no transport map: relay domains go to relay_transport
        path = pf / "main.cf"
        path.write_text(re.sub(r"(?m)^transport_maps = .*\n", "", path.read_text()))
    elif what == "srs":  # no SRS: forwarded mail keeps the outside sender
        path = pf / "main.cf"
        path.write_text(re.sub(r"(?m)^(sender|recipient)_canonical_maps = .*\n", "", path.read_text()))
    elif what == "arc-inbound":  # ARC seals logged-in users' mail only, as before issue 22
        path = stack.live / "etc" / "rspamd" / "local.d" / "arc.conf"
        path.write_text(path.read_text().replace("sign_inbound = true;", "sign_inbound = false;"))
    elif what == "relay-recipients":  # no recipient map: every address of a relay domain accepted
        path = pf / "main.cf"
        path.write_text(re.sub(r"(?m)^relay_recipient_maps = .*\n", "", path.read_text()))
    else:
        raise RuntimeError(f"MAILOPS_E2E_BREAK={what}: expected query, sender-login, dkim-key, "
                           "catch-all-sender, quota-status, dual-dkim, arc-ed25519, "
                           "mailbox-state, recipient-state, tenant-state, rate-limit, relay-transport, "
                           "relay-recipients, srs or arc-inbound")
    log(f"(self-test: broke {what})")


def leftover_pids():
    """Postfix, Dovecot or Rspamd processes listening on the suite's ports."""
    out = run("ss", "-ltnpH", check_rc=False).stdout
    pids = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 6 or not any(fields[3].endswith(f":{p}") for p in SUITE_PORTS):
            continue
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', fields[-1]):
            if name in ("master", "dovecot", "rspamd", "smtpd", "imap-login", "lmtp", "auth", "quota-status",
                        "redis-server", "postsrsd"):
                pids.add(int(pid))
    return pids


def rspamd_ping():
    with urllib.request.urlopen(f"http://{HOST}:11334/ping", timeout=2) as response:
        return response.read().strip() == b"pong"


# ------------------------------------------------------------------- database


def mariadb(sql):
    run("mariadb", "--protocol=tcp", "-h", HOST, "-u", "root", "-e", sql)


def setup_database(backend, db_name, password):
    if backend == "sqlite":
        return f"sqlite://{WORK}/{backend}/mail.sqlite"
    mariadb(f"DROP DATABASE IF EXISTS `{db_name}`; CREATE DATABASE `{db_name}`;")
    for host in ("127.0.0.1", "localhost"):
        mariadb(f"DROP USER IF EXISTS 'mailops_e2e'@'{host}'; "
                f"CREATE USER 'mailops_e2e'@'{host}' IDENTIFIED BY '{password}'; "
                f"GRANT SELECT ON `{db_name}`.* TO 'mailops_e2e'@'{host}';")
    return f"mysql://root@{HOST}:3306/{db_name}"


# ---------------------------------------------------------------------- mail


def maildir(base, address):
    local, domain = address.split("@")
    return base / "vmail" / domain / local / "Maildir"


def messages_with(base, address, token):
    found = []
    directory = maildir(base, address)
    for sub in ("new", "cur"):
        d = directory / sub
        if d.is_dir():
            for path in d.iterdir():
                data = path.read_bytes()
                if token.encode() in data:
                    found.append(data)
    return found


def new_message(sender, recipients, token, subject="end-to-end"):
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"{subject} {token}"
    message["Message-ID"] = f"<{token}@e2e.invalid>"
    message["Date"] = email.utils.formatdate()
    message.set_content(f"token {token}\n")
    return message


def smtp_send(sender, recipients, token, port=25, login=None):
    """Send one message; returns the refused recipients (code, text)."""
    message = new_message(sender, recipients, token)
    with smtplib.SMTP(HOST, port, timeout=20) as smtp:
        smtp.ehlo("client.e2e.invalid")
        if login:
            smtp.starttls(context=insecure_tls())
            smtp.ehlo("client.e2e.invalid")
            smtp.login(*login)
        return smtp.send_message(message, from_addr=sender, to_addrs=recipients)


def insecure_tls():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test certificate is self-signed
    return context


def rcpt_code(recipient, sender=OUTSIDE_SENDER, port=25):
    with smtplib.SMTP(HOST, port, timeout=20) as smtp:
        smtp.ehlo("client.e2e.invalid")
        smtp.mail(sender)
        code, text = smtp.rcpt(recipient)
        return code, text.decode(errors="replace")


def wait_delivered(base, address, token, timeout=20):
    wait_for(f"{token} in {address}'s Maildir", lambda: messages_with(base, address, token), timeout=timeout)
    return messages_with(base, address, token)


def password_of(address):
    if address not in PASSWORDS:
        raise RuntimeError(f"no test password for {address} in tests/fixtures/example-passwords.toml")
    return PASSWORDS[address]


def imap_fetch(address, password, token):
    with imaplib.IMAP4_SSL(HOST, 993, ssl_context=insecure_tls(), timeout=20) as imap:
        imap.login(address, password)
        imap.select("INBOX")
        status, data = imap.search(None, "SUBJECT", token)
        if status != "OK" or not data[0].split():
            raise RuntimeError(f"{address}: no message with {token} over IMAP")
        return len(data[0].split())


def dkim_dns(tenants):
    def dns(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        selector, _, domain = name.rstrip(".").partition("._domainkey.")
        domain = tenants.alias_domains.get(domain, domain)  # an alias domain publishes its tenant's keys
        if domain in tenants.files:
            txt = tenants.dkim_txt(domain, selector)
            return txt.encode() if txt else None
        return None
    return dns


def header_tags(value):
    return dict(
        (k.strip(), v.strip())
        for k, v in (part.split("=", 1) for part in re.sub(r"\s+", "", value).split(";") if "=" in part)
    )


def verify_all_dkim(raw, tenants):
    """Tags of every DKIM-Signature, each verified (dkimpy) against the published keys."""
    message = email.message_from_bytes(raw)
    headers = message.get_all("DKIM-Signature") or []
    if not headers:
        raise RuntimeError("no DKIM-Signature header")
    verifier = dkim.DKIM(raw)
    out = []
    for idx, header in enumerate(headers):
        tags = header_tags(header)
        if not verifier.verify(idx=idx, dnsfunc=dkim_dns(tenants)):
            raise RuntimeError(f"DKIM-Signature d={tags.get('d')} s={tags.get('s')} a={tags.get('a')} does not verify")
        out.append(tags)
    return out


def verify_dkim(raw, tenants):
    """The tags of the first DKIM-Signature; every signature must verify."""
    return verify_all_dkim(raw, tenants)[0]


# --------------------------------------------------------------------- checks


def run_suite(backend):
    base = WORK / backend
    stack = Stack(base, backend)
    stack.stop()
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    db_name = f"mailops_e2e_{os.getpid()}"
    db_password = secrets.token_hex(16)

    with phase(f"{backend}: repo, keys, build"):
        make_tls()
        repo = make_repo(base, backend, db_name)
        tenants = Tenants(repo / "tenants")
    with phase(f"{backend}: database apply + install"):
        url = setup_database(backend, db_name, db_password)
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base, 0o755)
            os.chmod(base / "mail.sqlite", 0o644)
        mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
    with phase(f"{backend}: configure + start services"):
        stack.make_live()
        stack.configure_postfix()
        stack.configure_dovecot()
        stack.configure_rspamd()
        break_something(stack, MAILOPS_E2E_BREAK)
        vmail = base / "vmail"
        vmail.mkdir(parents=True, exist_ok=True)
        os.chown(vmail, 5000, 5000)
        try:
            stack.start()
        except Exception as error:
            check(f"{backend}: services start", lambda: (_ for _ in ()).throw(error))
            stack.log_tails()
            stack.stop()
            return
    try:
        with phase(f"{backend}: checks"):
            checks(backend, stack, repo, tenants, url, db_password)
    finally:
        if any(not ok for _, ok in results):
            stack.log_tails()
        stack.stop()
        if backend == "mysql":
            mariadb(f"DROP DATABASE IF EXISTS `{db_name}`; DROP USER IF EXISTS 'mailops_e2e'@'127.0.0.1'; "
                    f"DROP USER IF EXISTS 'mailops_e2e'@'localhost';")


def checks(backend, stack, repo, tenants, url, db_password):
    base = stack.base
    b = backend
    driver = "mysql" if backend == "mysql" else "sqlite"

    # 1. config tests
    def postfix_check():
        proc = run("postfix", "-c", stack.pf, "check")
        if proc.stderr.strip():
            raise RuntimeError(proc.stderr.strip())
    check(f"{b}: postfix check", postfix_check)
    check(f"{b}: doveconf -n", lambda: run("doveconf", "-c", stack.dovecot_conf, "-n") and None)
    check(f"{b}: rspamadm configtest",
          lambda: run("rspamadm", *stack.rspamd_vars, "configtest", "-c", "/etc/rspamd/rspamd.conf") and None)

    # 2. lookup maps
    def postmap(key, table):
        proc = run("postmap", "-c", stack.pf, "-q", key, f"{driver}:{stack.pf}/{table}", check_rc=False)
        return proc.stdout.strip()

    def maps():
        problems = []
        for domain in tenants.files:
            if not postmap(domain, "virtual-domains.cf"):
                problems.append(f"virtual-domains.cf has no {domain}")
        for domain in tenants.alias_domains:
            if not postmap(domain, "virtual-domains.cf"):
                problems.append(f"virtual-domains.cf has no alias domain {domain}")
        if postmap("not-a-tenant.example", "virtual-domains.cf"):
            problems.append("virtual-domains.cf answers for a non-tenant")
        for address in tenants.mailboxes:
            if postmap(address, "virtual-mailboxes.cf") == "":
                problems.append(f"virtual-mailboxes.cf has no {address}")
            if postmap(address, "virtual-mailbox-identity.cf") != address:
                problems.append(f"virtual-mailbox-identity.cf({address}) != itself")
            if address not in postmap(address, "sender-login.cf").split(","):
                problems.append(f"sender-login.cf({address}) does not list {address}")
        for source, targets in tenants.aliases.items():
            got = set(filter(None, postmap(source, "virtual-aliases.cf").split(",")))
            if got != set(targets):
                problems.append(f"virtual-aliases.cf({source}) = {sorted(got)}, expected {sorted(targets)}")
        if problems:
            raise RuntimeError("; ".join(problems))
        return f"{len(tenants.files)} domains, {len(tenants.mailboxes)} mailboxes, {len(tenants.aliases)} aliases"
    check(f"{b}: postmap -q on every lookup map", maps)

    # 3. SMTP on 25
    tokens = {}

    def deliver_all():
        for address in tenants.mailboxes:
            token = uuid.uuid4().hex
            tokens[address] = token
            refused = smtp_send(OUTSIDE_SENDER, [address], token)
            if refused:
                raise RuntimeError(f"{address} refused: {refused}")
        for address, token in tokens.items():
            wait_delivered(base, address, token)
        return f"{len(tokens)} mailboxes"
    check(f"{b}: SMTP 25 delivers to every mailbox", deliver_all)

    multi = next((s for s, t in tenants.aliases.items()
                  if not s.startswith("@") and len(tenants.resolve(s)) >= 2), None)

    def multi_alias():
        token = uuid.uuid4().hex
        smtp_send(OUTSIDE_SENDER, [multi], token)
        for target in sorted(tenants.resolve(multi)):
            wait_delivered(base, target, token)
        return f"{multi} → {', '.join(sorted(tenants.resolve(multi)))}"
    check(f"{b}: alias with several destinations reaches all", multi_alias)

    cross = next((s for s, t in tenants.aliases.items()
                  if any(tenants.domain_of(x) != tenants.domain_of(s) and tenants.domain_of(x) in tenants.files
                         for x in t)), None)

    def cross_tenant():
        token = uuid.uuid4().hex
        smtp_send(OUTSIDE_SENDER, [cross], token)
        others = {x for x in tenants.resolve(cross) if tenants.domain_of(x) != tenants.domain_of(cross)}
        for target in sorted(others):
            wait_delivered(base, target, token)
        return f"{cross} → {', '.join(sorted(others))}"
    check(f"{b}: cross-tenant alias", cross_tenant)

    catch_all = next(s for s in tenants.aliases if s.startswith("@"))
    catch_domain = catch_all[1:]

    def catch_all_check():
        token = uuid.uuid4().hex
        unknown = f"nobody-{token[:8]}@{catch_domain}"
        smtp_send(OUTSIDE_SENDER, [unknown], token)
        for target in tenants.resolve(unknown):
            wait_delivered(base, target, token)
        catchers = tenants.resolve(unknown)
        real = next(a for a in tenants.mailboxes if tenants.domain_of(a) == catch_domain and a not in catchers)
        token2 = uuid.uuid4().hex
        smtp_send(OUTSIDE_SENDER, [real], token2)
        wait_delivered(base, real, token2)
        time.sleep(1)
        for catcher in catchers:
            if messages_with(base, catcher, token2):
                raise RuntimeError(f"the catch-all swallowed mail for {real} (found at {catcher})")
        return f"{unknown} caught; {real} kept its own mail"
    check(f"{b}: catch-all catches unknown local parts but not real mailboxes", catch_all_check)

    no_catch = next(d for d in tenants.files if f"@{d}" not in tenants.aliases)

    def unknown_recipient():
        code, text = rcpt_code(f"nobody-here@{no_catch}")
        if code != 550 or "5.1.1" not in text:
            raise RuntimeError(f"RCPT to an unknown user: {code} {text}")
        return f"{code} {text[:40]}"
    check(f"{b}: unknown recipient → 550 5.1.1", unknown_recipient)

    def relay_denied():
        code, text = rcpt_code("someone@not-a-tenant.example")
        if code != 554 and not (500 <= code < 600 and "Relay access denied" in text):
            raise RuntimeError(f"RCPT to a non-tenant domain: {code} {text}")
        return f"{code} {text[:40]}"
    check(f"{b}: non-tenant domain → relay denied", relay_denied)

    def smtp_certificate():
        # Only the host's port 25 is looked at: no nameserver answers here (the
        # DNS records are unresolved, so the command exits 2), the address is given.
        out = mailops(repo, "dns", "check", "--smtp", "--smtp-ca", WORK / "tls" / "cert.pem",
                      "--cert-days", "7", "--expect-ip", "127.0.0.1", "--nameserver", "127.0.0.1:9",
                      "--timeout", "1", "--format", "json", check_rc=False)
        report = json.loads(out.stdout)
        found = {c["type"]: c for c in report["host"] if c["type"] in ("SMTP", "TLS")}
        if set(found) != {"SMTP", "TLS"} or any(c["state"] != "ok" for c in found.values()):
            raise RuntimeError(f"dns check --smtp: {json.dumps(list(found.values()))[:600]}")
        return f"{found['SMTP']['found'][0][:40]}; {found['TLS']['found'][0][:60]}"
    check(f"{b}: dns check --smtp: the banner names the host, STARTTLS offers a certificate for it",
          smtp_certificate)

    # 4. IMAP
    def imap_all():
        for address, token in tokens.items():
            imap_fetch(address, password_of(address), token)
        return f"{len(tokens)} logins"
    check(f"{b}: IMAP login and fetch for every mailbox", imap_all)

    def imported_mailbox():
        token = uuid.uuid4().hex
        refused = smtp_send(OUTSIDE_SENDER, [IMPORTED_USER], token)
        if refused:
            raise RuntimeError(f"{IMPORTED_USER} refused: {refused}")
        wait_delivered(base, IMPORTED_USER, token)
        imap_fetch(IMPORTED_USER, IMPORTED_PASSWORD, token)
        return f"{IMPORTED_USER}: delivered, and logged in with its PostfixAdmin password"
    check(f"{b}: a mailbox imported from PostfixAdmin receives mail and logs in with its original password",
          imported_mailbox)

    def imported_md5_mailbox():
        token = uuid.uuid4().hex
        refused = smtp_send(OUTSIDE_SENDER, [IMPORTED_MD5_USER], token)
        if refused:
            raise RuntimeError(f"{IMPORTED_MD5_USER} refused: {refused}")
        wait_delivered(base, IMPORTED_MD5_USER, token)
        imap_fetch(IMPORTED_MD5_USER, IMPORTED_MD5_PASSWORD, token)
        return f"{IMPORTED_MD5_USER}: {{MD5-CRYPT}} verified by Dovecot"
    check(f"{b}: a mailbox imported with PostfixAdmin's MD5 crypt hash logs in (legacy scheme, with a warning)",
          imported_md5_mailbox)

    some_user = sorted(tenants.mailboxes)[0]

    def imap_wrong_password():
        try:
            imap_fetch(some_user, "wrong-password", "x")
        except imaplib.IMAP4.error:
            return "refused"
        raise RuntimeError("a wrong password was accepted")
    check(f"{b}: IMAP wrong password refused", imap_wrong_password)

    # 5. Submission on 587
    def no_auth_before_starttls():
        with smtplib.SMTP(HOST, 587, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            if smtp.has_extn("auth"):
                raise RuntimeError("AUTH offered before STARTTLS")
            code, _ = smtp.docmd("AUTH", "PLAIN")
            if code != 530:
                raise RuntimeError(f"AUTH before STARTTLS answered {code}, expected 530")
        return "530 before STARTTLS"
    check(f"{b}: submission offers no AUTH before STARTTLS", no_auth_before_starttls)

    sender = next(a for a in sorted(tenants.mailboxes) if tenants.domain_of(a) != catch_domain)
    sender_password = password_of(sender)
    recipient = next(a for a in sorted(tenants.mailboxes) if a != sender)
    signed = {}

    def authenticated_send():
        token = uuid.uuid4().hex
        refused = smtp_send(sender, [recipient], token, port=587, login=(sender, sender_password))
        if refused:
            raise RuntimeError(f"refused {refused}")
        signed["raw"] = wait_delivered(base, recipient, token)[0]
        return f"{sender} → {recipient}"
    check(f"{b}: authenticated submission accepted", authenticated_send)

    other = next(a for a in sorted(tenants.mailboxes) if a != sender)

    def spoof_refused():
        try:
            smtp_send(other, [recipient], uuid.uuid4().hex, port=587, login=(sender, sender_password))
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if 553 in codes:
                return "553"
            raise RuntimeError(f"refused with {codes}, expected 553") from None
        except smtplib.SMTPSenderRefused as error:
            if error.smtp_code == 553:
                return "553"
            raise
        raise RuntimeError(f"{sender} could send as {other}")
    check(f"{b}: sending as another user's address → 553", spoof_refused)

    owned_alias = next((s for s, t in tenants.aliases.items()
                        if not s.startswith("@") and sender in tenants.resolve(s)), None)

    def alias_as_sender():
        if owned_alias is None:
            raise RuntimeError(f"the examples have no alias that {sender} receives")
        token = uuid.uuid4().hex
        refused = smtp_send(owned_alias, [recipient], token, port=587, login=(sender, sender_password))
        if refused:
            raise RuntimeError(f"refused {refused}")
        wait_delivered(base, recipient, token)
        return f"{sender} as {owned_alias}"
    check(f"{b}: sending as an alias the user receives → accepted", alias_as_sender)

    # 6. DKIM
    def dkim_signed():
        if "raw" not in signed:
            raise RuntimeError("no authenticated message was delivered")
        tags = verify_dkim(signed["raw"], tenants)
        domain = tenants.domain_of(sender)
        if tags.get("d") != domain or tags.get("s") not in tenants.selectors(domain):
            raise RuntimeError(f"signed d={tags.get('d')} s={tags.get('s')}, expected d={domain} s in {sorted(tenants.selectors(domain))}")
        return f"d={tags['d']} s={tags['s']} verifies"
    check(f"{b}: outbound mail is DKIM-signed and verifies", dkim_signed)

    # every tenant signs with its own selector (Ed25519 and RSA alike)
    def dkim_every_tenant():
        done = []
        for domain in tenants.files:
            user = next((a for a in sorted(tenants.mailboxes) if tenants.domain_of(a) == domain), None)
            if user is None:
                continue
            token = uuid.uuid4().hex
            smtp_send(user, [recipient if recipient != user else sender], token, port=587,
                      login=(user, password_of(user)))
            raw = wait_delivered(base, recipient if recipient != user else sender, token)[0]
            signatures = verify_all_dkim(raw, tenants)
            if any(t.get("d") != domain for t in signatures):
                raise RuntimeError(f"{user}: signed as d={[t.get('d') for t in signatures]}")
            selectors = {t.get("s") for t in signatures}
            if selectors != tenants.selectors(domain):
                raise RuntimeError(f"{user}: signed with {sorted(selectors)}, expected every key: {sorted(tenants.selectors(domain))}")
            done.append(f"{domain}/{'+'.join(sorted(selectors))}")
        return ", ".join(done)
    check(f"{b}: every tenant's outbound mail verifies with each of its keys", dkim_every_tenant)

    # An Ed25519 tenant signs with its Ed25519 key and its RSA key, and ARC
    # seals with the RSA key (Rspamd 3.4 seals only with RSA).
    ed_domain = next((d for d in tenants.files if any(is_ed25519(k) for _, k in tenants.dkim_keys(d))), None)
    ed_mail = {}

    def ed25519_dual_signed():
        if ed_domain is None:
            raise RuntimeError("no example tenant has an Ed25519 key")
        user = next(a for a in sorted(tenants.mailboxes) if tenants.domain_of(a) == ed_domain)
        to = sender if tenants.domain_of(sender) != ed_domain else recipient
        token = uuid.uuid4().hex
        smtp_send(user, [to], token, port=587, login=(user, password_of(user)))
        raw = wait_delivered(base, to, token)[0]
        ed_mail["raw"] = raw
        signatures = verify_all_dkim(raw, tenants)
        algorithms = sorted(t.get("a") for t in signatures)
        if algorithms != ["ed25519-sha256", "rsa-sha256"]:
            raise RuntimeError(f"signature algorithms {algorithms}, expected ed25519-sha256 and rsa-sha256")
        return ", ".join(f"{t['a']} s={t['s']}" for t in signatures) + " verify"
    check(f"{b}: Ed25519 tenant: mail carries Ed25519 and RSA DKIM signatures, both verify", ed25519_dual_signed)

    def ed25519_arc_sealed():
        if "raw" not in ed_mail:
            raise RuntimeError("no message from the Ed25519 tenant was delivered")
        message = email.message_from_bytes(ed_mail["raw"])
        seal = message.get("ARC-Seal")
        if not seal:
            raise RuntimeError("no ARC-Seal header")
        tags = header_tags(seal)
        if tags.get("d") != ed_domain or tags.get("s") != tenants.rsa_selector(ed_domain) or tags.get("a") != "rsa-sha256":
            raise RuntimeError(f"ARC-Seal d={tags.get('d')} s={tags.get('s')} a={tags.get('a')}, expected the RSA key s={tenants.rsa_selector(ed_domain)}")
        cv, results, comment = dkim.arc_verify(ed_mail["raw"], dnsfunc=dkim_dns(tenants))
        if cv != dkim.CV_Pass:
            raise RuntimeError(f"ARC chain {cv}: {comment} {results}")
        return f"ARC-Seal i={tags.get('i')} s={tags['s']} verifies (cv={cv.decode()})"
    check(f"{b}: Ed25519 tenant: ARC seal with its RSA key verifies", ed25519_arc_sealed)

    def no_private_key_errors():
        text = (stack.logs / "rspamd.log").read_text(errors="replace")
        bad = [line for line in text.splitlines() if "cannot load private key" in line or "cannot load dkim key" in line]
        if bad:
            raise RuntimeError(f"{len(bad)} lines, first: {bad[0][-300:]}")
        return "none"
    check(f"{b}: Rspamd logs no `cannot load private key`", no_private_key_errors)

    # Receiving a domain's stray mail grants no right to send as every address there.
    catcher = next(iter(sorted(tenants.resolve(f"nobody@{catch_domain}"))))

    def catch_all_target_cannot_send_as_unused_address():
        unused = f"unused-{uuid.uuid4().hex[:8]}@{catch_domain}"
        try:
            smtp_send(unused, [recipient], uuid.uuid4().hex, port=587, login=(catcher, password_of(catcher)))
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if 553 in codes:
                return f"{catcher} as {unused}: 553"
            raise RuntimeError(f"refused with {codes}, expected 553") from None
        except smtplib.SMTPSenderRefused as error:
            if error.smtp_code == 553:
                return f"{catcher} as {unused}: 553"
            raise
        raise RuntimeError(f"{catcher}, the catch-all target of {catch_domain}, could send as {unused}")
    check(f"{b}: catch-all target sending as an unused address of that domain → 553",
          catch_all_target_cannot_send_as_unused_address)

    # Over quota: refused at RCPT time, so nothing is queued and no bounce is sent.
    def queue_ids():
        listing = run("postqueue", "-c", stack.pf, "-p", check_rc=False).stdout
        return set(re.findall(r"^([0-9A-F]{6,})[*!]?\s", listing, re.M))

    def full_mailbox_refused_at_rcpt():
        filler = uuid.uuid4().hex
        big = new_message(OUTSIDE_SENDER, [QUOTA_USER], filler)
        # About 41 KiB: with what the mailbox holds already (under 1 KiB), past
        # its 40 KiB but within the 10 % grace, so this last one is accepted.
        big.set_content(f"token {filler}\n" + ("x" * 76 + "\n") * 530)
        with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            refused = smtp.send_message(big, from_addr=OUTSIDE_SENDER, to_addrs=[QUOTA_USER])
        if refused:
            raise RuntimeError(f"the last message within the grace was refused: {refused}")
        wait_delivered(base, QUOTA_USER, filler)
        run("doveadm", "-c", stack.dovecot_conf, "quota", "recalc", "-u", QUOTA_USER, check_rc=False)
        log_before = (stack.logs / "postfix.log").read_text(errors="replace")
        queued_before = queue_ids()
        with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            smtp.mail(OUTSIDE_SENDER)
            code, text = smtp.rcpt(QUOTA_USER)
            text = text.decode(errors="replace")
            if code != 552:
                raise RuntimeError(f"RCPT to the full mailbox: {code} {text}")
            data_code, _ = smtp.docmd("DATA")
            if data_code == 354:
                raise RuntimeError("DATA accepted with no valid recipient")
        time.sleep(2)
        queued = queue_ids() - queued_before
        if queued:
            raise RuntimeError(f"queued since the refusal: {sorted(queued)}")
        log_after = (stack.logs / "postfix.log").read_text(errors="replace")[len(log_before):]
        bounces = [line for line in log_after.splitlines()
                   if "status=bounced" in line or "sender non-delivery notification" in line]
        if bounces:
            raise RuntimeError(f"a bounce: {bounces[0]}")
        return f"{code} {text[:40]}; queue empty, no bounce"
    check(f"{b}: full mailbox: 552 at RCPT, no bounce queued", full_mailbox_refused_at_rcpt)

    def below_quota_still_receives():
        roomy = next(a for a in sorted(tenants.mailboxes) if a != QUOTA_USER)
        token = uuid.uuid4().hex
        with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            smtp.mail(OUTSIDE_SENDER)
            full_code, _ = smtp.rcpt(QUOTA_USER)
            code, text = smtp.rcpt(roomy)
            if code != 250:
                raise RuntimeError(f"RCPT to {roomy}: {code} {text.decode(errors='replace')}")
            smtp.data(new_message(OUTSIDE_SENDER, [roomy], token).as_bytes())
        if full_code != 552:
            raise RuntimeError(f"the full mailbox answered {full_code} in the same session")
        wait_delivered(base, roomy, token)
        return f"{roomy} receives while {QUOTA_USER} gets 552 in the same session"
    check(f"{b}: mailbox below quota still receives", below_quota_still_receives)

    # 7. Everyday mailbox operations (issue 14), before onboarding changes the repo.
    mailbox_operation_checks(backend, stack, repo, tenants, url, db_password)
    alias_domain_checks(backend, stack, tenants)

    # 8. Onboarding without reload
    new_domain = "onboarded-in-e2e.example"
    new_user = f"welcome@{new_domain}"
    new_password = "Onboard-" + secrets.token_hex(6)

    def pids():
        files = [base / "spool" / "pid" / "master.pid", base / "run" / "dovecot" / "master.pid",
                 base / "run" / "rspamd" / "rspamd.pid"]
        return {str(f): f.read_text().strip() if f.exists() else None for f in files}

    def onboarding():
        before = pids()
        mailops(repo, "new", new_domain, "--admin", sender)
        hashed = mailops(repo, "hash-password", input_text=new_password + "\n").stdout.strip()
        tenant_file = repo / "tenants" / f"{new_domain}.toml"
        tenant_file.write_text(
            tenant_file.read_text()
            + f'\n[[mailbox]]\nuser = "welcome"\npassword = "{hashed}"\n'
            + f'\n[[mailbox]]\nuser = "leaver"\npassword = "{hashed}"\n'
        )
        mailops(repo, "build")
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base / "mail.sqlite", 0o644)
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        if "reload: none" not in proc.stdout:
            raise RuntimeError(f"install asked for a reload: {proc.stdout.strip()}")
        nonlocal_tenants = Tenants(repo / "tenants")
        token = uuid.uuid4().hex
        refused = smtp_send(OUTSIDE_SENDER, [new_user], token)
        if refused:
            raise RuntimeError(f"refused {refused}")
        wait_delivered(base, new_user, token)
        token = uuid.uuid4().hex
        smtp_send(new_user, [sender], token, port=587, login=(new_user, new_password))
        raw = wait_delivered(base, sender, token)[0]
        tags = verify_dkim(raw, nonlocal_tenants)
        if tags.get("d") != new_domain:
            raise RuntimeError(f"new tenant's mail signed as d={tags.get('d')}")
        if pids() != before:
            raise RuntimeError("a service was restarted")
        return f"{new_user} receives and signs as d={new_domain}, no restart or reload"
    check(f"{b}: onboarding a tenant needs no reload", onboarding)

    # 9. Offboarding a mailbox
    def offboarding():
        leaver = f"leaver@{new_domain}"
        token = uuid.uuid4().hex
        smtp_send(OUTSIDE_SENDER, [leaver], token)
        wait_delivered(base, leaver, token)
        tenant_file = repo / "tenants" / f"{new_domain}.toml"
        text = tenant_file.read_text()
        block = re.search(r'\n\[\[mailbox\]\]\nuser = "leaver"\n[^\[]*', text)
        tenant_file.write_text(text.replace(block.group(0), "\n"))
        mailops(repo, "build")
        mailops(repo, "apply", "--database", url, "--yes")
        code, text = rcpt_code(leaver)
        if code != 550:
            raise RuntimeError(f"mail to a removed mailbox: {code} {text}")
        if not messages_with(base, leaver, token):
            raise RuntimeError("the removed mailbox's Maildir is gone")
        return f"550 for {leaver}; Maildir kept"
    check(f"{b}: offboarding a mailbox refuses new mail and keeps the Maildir", offboarding)

    # 10. Tenant states (issue 15), on the tenant onboarded above.
    tenant_state_checks(backend, stack, repo, url, db_password, new_domain, new_user, new_password)

    # 11. Outbound send limits (issue 15), on the same tenant.
    rate_limit_checks(backend, stack, repo, url, db_password, new_domain, new_user, new_password, sender)

    # 12. Relay domains and backup MX (issue 15).
    relay_checks(backend, stack, repo, url, db_password, sender)

    # 13. Forwarding off the platform: SRS and ARC (issue 22).
    srs_checks(backend, stack, tenants, sender)

    # 14. Required inbound TLS (issue 20): it reloads Postfix.
    inbound_tls_checks(backend, stack, repo, db_password, new_user)

    # 15. A mailbox that forwards, keeping a copy or not (issue 22): it routes an
    # outside domain to a sink in the running copy of main.cf, so it comes after
    # every check that remakes that copy.
    forward_copy_checks(backend, stack, repo, url, db_password)

    # 16. DKIM rotation staged in git (issue 17): it edits one tenant's keys,
    # so it comes last.
    dkim_rotation_checks(backend, stack, repo, db_password, sender)


# ------------------------------------------------------------ DKIM rotation

ROTATION_DOMAIN = "kaveri-foods.example"


def published_dkim(repo, domain):
    """dkimpy's DNS: the TXT records `mailops dns records` publishes (and
    Terraform declares) for `domain`, nothing else."""
    records = json.loads(mailops(repo, "dns", "records", domain, "--format", "json").stdout)
    txt = {r["name"].rstrip(".").lower(): r["value"] for r in records if r["type"] == "TXT"}

    def dns(name, timeout=5):
        name = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        value = txt.get(name)
        return value.encode() if value else None
    return dns, txt


def dkim_rotation_checks(backend, stack, repo, db_password, recipient):
    """Issue 17 on the real servers: mail signed with the old selector; rotate →
    the published key is in DNS and on the host but does not sign; promote is
    refused before TTL + margin; promote → new mail carries the new selector
    and verifies against the published records, mail signed before still
    verifies while the old key is retiring; retire → its record and host key
    are gone; purge deletes its private key from the key store."""
    base = stack.base
    b = backend
    d = ROTATION_DOMAIN
    tenant_file = repo / "tenants" / f"{d}.toml"
    key_dir = stack.root / "var" / "lib" / "rspamd" / "dkim"
    user = next(a for a in sorted(PASSWORDS) if a.endswith(f"@{d}"))
    state = {}

    def install():
        mailops(repo, "build")
        mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        # Rspamd re-reads the selector map by itself (map_watch_interval 2 s
        # in the suite, with jitter); key files are read per message.
        time.sleep(6)

    def send():
        token = uuid.uuid4().hex
        smtp_send(user, [recipient], token, port=587, login=(user, password_of(user)))
        return wait_delivered(base, recipient, token)[0]

    def signatures(raw, dns):
        """(selector, verifies) of each DKIM-Signature, verified by dkimpy with `dns`."""
        headers = email.message_from_bytes(raw).get_all("DKIM-Signature") or []
        verifier = dkim.DKIM(raw)
        return [(header_tags(h).get("s"), bool(verifier.verify(idx=i, dnsfunc=dns))) for i, h in enumerate(headers)]

    def old_selector_signs():
        state["old"] = "dkim"
        dns, _ = published_dkim(repo, d)
        raw = send()
        got = signatures(raw, dns)
        if got != [("dkim", True)]:
            raise RuntimeError(f"signatures (selector, verifies): {got}")
        state["raw_old"] = raw
        return f"{d}: s=dkim verifies"
    check(f"{b}: rotation: before it, mail is signed with the old selector", old_selector_signs)

    def published_key_does_not_sign():
        out = mailops(repo, "dkim", "rotate", d).stderr
        found = re.search(r"added key `([a-z0-9-]+)`", out)
        if not found:
            raise RuntimeError(f"no new selector in: {out}")
        new = state["new"] = found.group(1)
        install()
        dns, txt = published_dkim(repo, d)
        if f"{new}._domainkey.{d}" not in txt:
            raise RuntimeError(f"{new}._domainkey.{d} is not in `dns records`")
        if not (key_dir / f"{d}.{new}.key").exists():
            raise RuntimeError("the published key's private key is not on the host")
        got = signatures(send(), dns)
        if got != [("dkim", True)]:
            raise RuntimeError(f"signatures (selector, verifies): {got}")
        return f"{new} in DNS and on the host; mail still s=dkim only"
    check(f"{b}: rotation: a rotated key is published and installed but does not sign", published_key_does_not_sign)

    def promote_waits_for_ttl():
        proc = mailops(repo, "dkim", "promote", d, state["new"], check_rc=False)
        if proc.returncode != 1 or "promote it after" not in proc.stderr:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()}")
        return next(line for line in proc.stderr.splitlines() if line.startswith("error:"))[:140]
    check(f"{b}: rotation: promote is refused until the key was published longer than TTL + margin", promote_waits_for_ttl)

    def promoted_key_signs():
        # Two days pass: the key's record has been served longer than its TTL.
        text = tenant_file.read_text()
        earlier = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 86400))
        tenant_file.write_text(re.sub(r'published = "[^"]+"', f'published = "{earlier}"', text, count=1))
        mailops(repo, "dkim", "promote", d, state["new"])
        install()
        dns, _ = published_dkim(repo, d)
        got = signatures(send(), dns)
        if got != [(state["new"], True)]:
            raise RuntimeError(f"signatures (selector, verifies): {got}")
        return f"s={state['new']} verifies against `dns records`"
    check(f"{b}: rotation: after promotion new mail carries the new selector and verifies", promoted_key_signs)

    def retiring_key_still_verifies():
        dns, txt = published_dkim(repo, d)
        if f"dkim._domainkey.{d}" not in txt:
            raise RuntimeError("the retiring key's record is not published")
        got = signatures(state["raw_old"], dns)
        if got != [("dkim", True)]:
            raise RuntimeError(f"signatures (selector, verifies): {got}")
        return "the message signed before promotion: s=dkim verifies"
    check(f"{b}: rotation: mail signed before still verifies while the old key is retiring", retiring_key_still_verifies)

    def retire_refuses_the_active_key():
        proc = mailops(repo, "dkim", "retire", d, state["new"], check_rc=False)
        if proc.returncode != 1 or "is active" not in proc.stderr:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()}")
        return "exit 1"
    check(f"{b}: rotation: retiring the active key is refused", retire_refuses_the_active_key)

    def retire_waits_a_week():
        before = (repo / "tenants" / f"{d}.toml").read_text()
        proc = mailops(repo, "dkim", "retire", d, "dkim", check_rc=False)
        if proc.returncode != 1 or "stopped signing" not in proc.stderr or "--force" not in proc.stderr:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()}")
        if (repo / "tenants" / f"{d}.toml").read_text() != before:
            raise RuntimeError("the refused retirement changed the tenant file")
        return "exit 1, the tenant file unchanged"
    check(f"{b}: rotation: a key that stopped signing less than a week ago is not retired without --force",
          retire_waits_a_week)

    def retired_key_leaves_dns_and_host():
        mailops(repo, "dkim", "retire", d, "dkim", "--force")
        install()
        dns, txt = published_dkim(repo, d)
        if f"dkim._domainkey.{d}" in txt:
            raise RuntimeError("the retired key is still in `dns records`")
        tf = "".join(p.read_text() for p in (repo / "generated" / "terraform").rglob("*.tf"))
        if f'"dkim._domainkey.{d}"' in tf:
            raise RuntimeError("the retired key is still in the Terraform")
        if (key_dir / f"{d}.dkim.key").exists():
            raise RuntimeError("the retired key's private key is still in the host key folder")
        got = signatures(state["raw_old"], dns)
        if got != [("dkim", False)]:
            raise RuntimeError(f"old message (selector, verifies): {got}")
        got = signatures(send(), dns)
        if got != [(state["new"], True)]:
            raise RuntimeError(f"new mail (selector, verifies): {got}")
        return f"no dkim._domainkey record, host key archived; new mail s={state['new']} verifies"
    check(f"{b}: rotation: a retired key has no record and leaves the host", retired_key_leaves_dns_and_host)

    def purge_deletes_the_private_key():
        stored = repo / ".mailops" / "keys" / f"{d}.dkim.key"
        if not stored.exists():
            raise RuntimeError(f"{stored} is not there to purge")
        mailops(repo, "dkim", "purge", d)
        if stored.exists():
            raise RuntimeError(f"{stored} is still there")
        if not (repo / ".mailops" / "keys" / f"{d}.{state['new']}.key").exists():
            raise RuntimeError("purge deleted the active key")
        status = json.loads(mailops(repo, "dkim", "status", d, "--format", "json").stdout)
        states = {k["selector"]: k["state"] for k in status}
        if states != {"dkim": "retired", state["new"]: "active"}:
            raise RuntimeError(f"dkim status: {states}")
        mailops(repo, "check")
        return f"{stored.name} deleted; status {states}"
    check(f"{b}: rotation: purge deletes the retired private key only", purge_deletes_the_private_key)


# ------------------------------------------------- everyday mailbox operations

OPS_DOMAIN = "webhizzy.in"


def service_pids(base):
    files = [base / "spool" / "pid" / "master.pid", base / "run" / "dovecot" / "master.pid",
             base / "run" / "rspamd" / "rspamd.pid"]
    return {str(f): f.read_text().strip() if f.exists() else None for f in files}


def imap_login(address, password):
    """Log in over IMAPS and count the INBOX; raises imaplib.IMAP4.error when refused."""
    with imaplib.IMAP4_SSL(HOST, 993, ssl_context=insecure_tls(), timeout=20) as imap:
        imap.login(address, password)
        status, data = imap.select("INBOX")
        return int(data[0]) if status == "OK" else 0


def pop3_login(address, password):
    """Log in over POP3S (995); returns the connection (STAT, RETR); raises poplib.error_proto when refused."""
    pop = poplib.POP3_SSL(HOST, 995, context=insecure_tls(), timeout=20)
    try:
        pop.user(address)
        pop.pass_(password)
    except Exception:
        pop.close()
        raise
    return pop


def submission_login(address, password):
    """Log in on submission (587, STARTTLS); raises smtplib.SMTPAuthenticationError when refused."""
    with smtplib.SMTP(HOST, 587, timeout=20) as smtp:
        smtp.ehlo("client.e2e.invalid")
        smtp.starttls(context=insecure_tls())
        smtp.ehlo("client.e2e.invalid")
        smtp.login(address, password)


def refused(what, attempt, errors):
    """`attempt()` must fail with one of `errors` (the normal authentication failure)."""
    try:
        attempt()
    except errors as error:
        return f"refused: {str(error)[:60]}"
    raise RuntimeError(f"{what} was accepted")


def alias_domain_checks(backend, stack, tenants):
    """Issue 15: an example tenant's alias domain (tenants/sharma-textiles.example.toml)."""
    b = backend
    base = stack.base
    if not tenants.alias_domains:
        check(f"{b}: alias domain", lambda: (_ for _ in ()).throw(RuntimeError("no example tenant has alias_domains")))
        return
    alias_domain, primary = sorted(tenants.alias_domains.items())[0]
    user = next(a for a in sorted(tenants.mailboxes) if tenants.domain_of(a) == primary)
    local = user.split("@")[0]
    at_alias = f"{local}@{alias_domain}"
    other = next(a for a in sorted(tenants.mailboxes) if a != user)

    def delivered_to_tenant():
        token = uuid.uuid4().hex
        refused_rcpts = smtp_send(OUTSIDE_SENDER, [at_alias], token)
        if refused_rcpts:
            raise RuntimeError(f"refused {refused_rcpts}")
        wait_delivered(base, user, token)
        if maildir(base, at_alias).exists():
            raise RuntimeError(f"a Maildir was made for {at_alias}")
        return f"{at_alias} → {user}'s Maildir"
    check(f"{b}: alias domain: mail to a mailbox's address there lands in the tenant's mailbox", delivered_to_tenant)

    def unknown_refused():
        code, text = rcpt_code(f"no-such-user-{uuid.uuid4().hex[:8]}@{alias_domain}")
        if code != 550:
            raise RuntimeError(f"RCPT got {code} {text}, expected 550")
        return f"{code} {text.splitlines()[0]}"
    check(f"{b}: alias domain: an unknown recipient there is refused with 550 at RCPT", unknown_refused)

    def send_as_alias_domain():
        token = uuid.uuid4().hex
        refused_rcpts = smtp_send(at_alias, [other], token, port=587, login=(user, password_of(user)))
        if refused_rcpts:
            raise RuntimeError(f"refused {refused_rcpts}")
        raw = wait_delivered(base, other, token)[0]
        signatures = verify_all_dkim(raw, tenants)
        domains = sorted({t.get("d") for t in signatures})
        if domains != [alias_domain]:
            raise RuntimeError(f"signed d={domains}, expected d={alias_domain}")
        return f"{user} as {at_alias}: d={alias_domain} s={signatures[0].get('s')} verifies"
    check(f"{b}: alias domain: a mailbox sends as its name there, DKIM-signed for the alias domain", send_as_alias_domain)

    def other_name_refused():
        someone = next(a for a in sorted(tenants.mailboxes)
                       if tenants.domain_of(a) == primary and a != user)
        as_other = f"{someone.split('@')[0]}@{alias_domain}"
        try:
            smtp_send(as_other, [other], uuid.uuid4().hex, port=587, login=(user, password_of(user)))
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if 553 in codes:
                return f"{user} as {as_other}: 553"
            raise RuntimeError(f"refused with {codes}, expected 553") from None
        raise RuntimeError(f"{user} could send as {as_other}")
    check(f"{b}: alias domain: sending as another mailbox's name there → 553", other_name_refused)


def mailbox_operation_checks(backend, stack, repo, tenants, url, db_password):
    """Issue 14 on the real servers: locked and disabled mailboxes, send-as
    grants, app passwords, POP3S; every change is rows only (no reload)."""
    base = stack.base
    b = backend
    d = OPS_DOMAIN
    alice, bob, carol = f"ops-alice@{d}", f"ops-bob@{d}", f"ops-carol@{d}"
    sales, eve = f"ops-sales@{d}", f"ops-eve@{d}"
    # Another tenant's alias whose tenant grants it to alice (cross-tenant send-as).
    other = "kaveri-foods.example"
    orders = f"ops-orders@{other}"
    other_file = repo / "tenants" / f"{other}.toml"
    other_file.write_text(
        other_file.read_text()
        + f'\n[[alias]]\naddress = "ops-orders"\nto = ["lakshmi"]\nallow_send_as = ["{alice}"]\n'
    )
    pw = {a: "Ops-" + secrets.token_hex(6) for a in (alice, bob, carol, eve)}
    phone = "Phone-" + secrets.token_hex(6)
    hashed = {a: mailops(repo, "hash-password", input_text=p + "\n").stdout.strip() for a, p in pw.items()}
    phone_hash = mailops(repo, "hash-password", input_text=phone + "\n").stdout.strip()
    tenant_file = repo / "tenants" / f"{d}.toml"
    # Room for the mailboxes of these checks under the operator's own limit.
    original = re.sub(r"(?m)^max_mailboxes = \d+", "max_mailboxes = 20", tenant_file.read_text())
    before = service_pids(base)
    installs = []

    def tenant(bob_state="active", carol_state="active", app_password=True):
        """The operator tenant with the mailboxes of these checks, as the file would say."""
        text = original
        text += f'\n[[mailbox]]\nuser = "ops-bob"\npassword = "{hashed[bob]}"\nstate = "{bob_state}"\n'
        text += f'\n[[mailbox]]\nuser = "ops-carol"\npassword = "{hashed[carol]}"\nstate = "{carol_state}"\n'
        text += f'\n[[mailbox]]\nuser = "ops-eve"\npassword = "{hashed[eve]}"\n'
        text += f'\n[[alias]]\naddress = "ops-sales"\nto = ["ops-eve"]\n'
        text += (f'\n[[mailbox]]\nuser = "ops-alice"\npassword = "{hashed[alice]}"\n'
                 f'send_as = ["ops-sales", "{orders}"]\n')
        if app_password:
            text += (f'\n[[mailbox.app_password]]\nname = "phone"\npassword = "{phone_hash}"\n'
                     f'protocols = ["imap", "smtp"]\n')
        return text

    def apply(text):
        tenant_file.write_text(text)
        mailops(repo, "build")
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base / "mail.sqlite", 0o644)
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        installs.append(proc.stdout)

    def setup():
        apply(tenant())
        for address in (bob, carol):
            token = uuid.uuid4().hex
            smtp_send(OUTSIDE_SENDER, [address], token)
            wait_delivered(base, address, token)
        return "5 mailboxes and an alias applied; bob and carol receive"
    check(f"{b}: mailbox operations: setup", setup)

    # locked: delivery succeeds, every login fails with the normal failure
    apply(tenant(bob_state="locked"))

    def locked_delivery():
        token = uuid.uuid4().hex
        if smtp_send(OUTSIDE_SENDER, [bob], token):
            raise RuntimeError("refused")
        wait_delivered(base, bob, token)
        return "delivered"
    check(f"{b}: locked mailbox: delivery accepted", locked_delivery)
    check(f"{b}: locked mailbox: IMAP login refused",
          lambda: refused("IMAP login", lambda: imap_login(bob, pw[bob]), imaplib.IMAP4.error))
    check(f"{b}: locked mailbox: POP3 login refused",
          lambda: refused("POP3 login", lambda: pop3_login(bob, pw[bob]).quit(), poplib.error_proto))
    check(f"{b}: locked mailbox: submission login refused",
          lambda: refused("submission login", lambda: submission_login(bob, pw[bob]),
                          smtplib.SMTPAuthenticationError))

    # disabled: 550 5.2.1 at RCPT, logins refused, Maildir kept; re-enabled: the old mail is there
    carol_token = uuid.uuid4().hex
    smtp_send(OUTSIDE_SENDER, [carol], carol_token)
    wait_delivered(base, carol, carol_token)
    kept = sorted(p.name for sub in ("new", "cur") for p in (maildir(base, carol) / sub).glob("*"))
    apply(tenant(bob_state="locked", carol_state="disabled"))

    def disabled_rcpt():
        code, text = rcpt_code(carol)
        if code != 550 or "5.2.1" not in text:
            raise RuntimeError(f"RCPT to a disabled mailbox: {code} {text}")
        return f"{code} {text[:50]}"
    check(f"{b}: disabled mailbox: RCPT TO → 550 5.2.1", disabled_rcpt)
    check(f"{b}: disabled mailbox: IMAP login refused",
          lambda: refused("IMAP login", lambda: imap_login(carol, pw[carol]), imaplib.IMAP4.error))
    check(f"{b}: disabled mailbox: submission login refused",
          lambda: refused("submission login", lambda: submission_login(carol, pw[carol]),
                          smtplib.SMTPAuthenticationError))

    def maildir_kept():
        now = sorted(p.name for sub in ("new", "cur") for p in (maildir(base, carol) / sub).glob("*"))
        if now != kept or not kept:
            raise RuntimeError(f"the Maildir changed: {kept} → {now}")
        return f"{len(kept)} messages untouched"
    check(f"{b}: disabled mailbox: the Maildir is untouched", maildir_kept)

    def reenabled():
        apply(tenant(bob_state="locked"))
        imap_fetch(carol, pw[carol], carol_token)
        return "the old message is there over IMAP"
    check(f"{b}: re-enabled mailbox: logs in and finds its old mail", reenabled)

    # send-as: granted → accepted and DKIM-signed; not granted → 553
    def send_as_granted():
        token = uuid.uuid4().hex
        refused_rcpts = smtp_send(sales, [eve], token, port=587, login=(alice, pw[alice]))
        if refused_rcpts:
            raise RuntimeError(f"refused {refused_rcpts}")
        raw = wait_delivered(base, eve, token)[0]
        message = email.message_from_bytes(raw)
        if sales not in message["From"]:
            raise RuntimeError(f"From: {message['From']}")
        tags = verify_dkim(raw, Tenants(repo / "tenants"))
        if tags.get("d") != d:
            raise RuntimeError(f"signed d={tags.get('d')}, expected {d}")
        return f"{alice} as {sales}, d={tags['d']} s={tags['s']} verifies"
    check(f"{b}: send_as: MAIL FROM and From a granted alias → accepted and DKIM-signed", send_as_granted)

    def send_as_other_tenant():
        token = uuid.uuid4().hex
        refused_rcpts = smtp_send(orders, [eve], token, port=587, login=(alice, pw[alice]))
        if refused_rcpts:
            raise RuntimeError(f"refused {refused_rcpts}")
        raw = wait_delivered(base, eve, token)[0]
        tags = verify_dkim(raw, Tenants(repo / "tenants"))
        if tags.get("d") != other:
            raise RuntimeError(f"signed d={tags.get('d')}, expected {other}")
        return f"{alice} as {orders} (granted by {other}), d={tags['d']} verifies"
    check(f"{b}: send_as: another tenant's alias it grants → accepted and signed with that tenant's key",
          send_as_other_tenant)

    def send_as_not_granted():
        try:
            smtp_send(eve, [alice], uuid.uuid4().hex, port=587, login=(alice, pw[alice]))
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if 553 in codes:
                return "553"
            raise RuntimeError(f"refused with {codes}, expected 553") from None
        except smtplib.SMTPSenderRefused as error:
            if error.smtp_code == 553:
                return "553"
            raise
        raise RuntimeError(f"{alice} could send as {eve}")
    check(f"{b}: send_as: an address not granted → 553", send_as_not_granted)

    # app password: IMAP and submission; the mailbox password still works; POP3 (not its protocol) refused
    def app_password_logins():
        imap_login(alice, phone)
        token = uuid.uuid4().hex
        if smtp_send(alice, [eve], token, port=587, login=(alice, phone)):
            raise RuntimeError("submission with the app password refused a recipient")
        wait_delivered(base, eve, token)
        imap_login(alice, pw[alice])
        submission_login(alice, pw[alice])
        return "IMAP and submission with the app password; the mailbox password still works"
    check(f"{b}: app password: IMAP and submission log in, and so does the mailbox password", app_password_logins)
    check(f"{b}: app password: a protocol it lacks (POP3) is refused",
          lambda: refused("POP3 with the app password", lambda: pop3_login(alice, phone).quit(), poplib.error_proto))

    def app_password_revoked():
        apply(tenant(bob_state="locked", app_password=False))
        refused("IMAP with a removed app password", lambda: imap_login(alice, phone), imaplib.IMAP4.error)
        refused("submission with a removed app password", lambda: submission_login(alice, phone),
                smtplib.SMTPAuthenticationError)
        imap_login(alice, pw[alice])
        return "refused at the next login, no reload"
    check(f"{b}: app password: removed from the file and applied → revoked at once", app_password_revoked)

    # POP3S on 995: login, STAT and RETR of a delivered message; nothing on 110
    def pop3s():
        token = uuid.uuid4().hex
        smtp_send(OUTSIDE_SENDER, [alice], token)
        wait_delivered(base, alice, token)
        pop = pop3_login(alice, pw[alice])
        try:
            count, _size = pop.stat()
            found = [n for n in range(1, count + 1) if token.encode() in b"\n".join(pop.retr(n)[1])]
        finally:
            pop.quit()
        if not found:
            raise RuntimeError(f"STAT {count}, no message with {token}")
        return f"STAT {count}, RETR {found[0]} has the token"
    check(f"{b}: POP3S on 995: login, STAT and RETR of a delivered message", pop3s)

    def no_plain_pop3():
        if port_open(110):
            raise RuntimeError("something listens on 110")
        return "110 closed"
    check(f"{b}: POP3: nothing listens on 110", no_plain_pop3)

    check(f"{b}: mailbox operations: no change reloads a service (same PIDs)",
          lambda: no_reload_since(base, before, installs, f"{len(installs)} applies and installs, same PIDs"))


def no_reload_since(base, before, installs, done):
    """No install asked for a reload and every service still has the PID of
    `before`; `done` (what was done meanwhile) is the check's detail."""
    asked = [out.strip() for out in installs if "reload: none" not in out]
    if asked:
        raise RuntimeError(f"install asked for a reload: {asked[0]}")
    if service_pids(base) != before:
        raise RuntimeError("a service was restarted")
    return done


def tenant_state_checks(backend, stack, repo, url, db_password, domain, user, password):
    """Issue 15's tenant state on the real servers: suspended (mail delivered,
    every login refused), disabled (every address refused 550 5.2.1, the
    Maildir kept), active again; rows only, no reload."""
    base = stack.base
    b = backend
    tenant_file = repo / "tenants" / f"{domain}.toml"
    original = tenant_file.read_text()
    before = service_pids(base)
    installs = []
    plans = {}

    def set_state(state):
        text = re.sub(r'(?m)^state = "\w+"\n', "", original)
        text = text.replace(f'domain = "{domain}"\n', f'domain = "{domain}"\nstate = "{state}"\n', 1)
        tenant_file.write_text(text)
        mailops(repo, "build")
        plans[state] = mailops(repo, "plan", "--database", url).stdout
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base / "mail.sqlite", 0o644)
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        installs.append(proc.stdout)

    # Mail received while active, to find again after the tenant was disabled.
    kept_token = uuid.uuid4().hex
    smtp_send(OUTSIDE_SENDER, [user], kept_token)
    wait_delivered(base, user, kept_token)
    imap_login(user, password)

    set_state("suspended")

    def suspended_plan():
        plan = plans["suspended"]
        line = f"~ domain {domain}: state active → suspended"
        if line not in plan or "0 to insert, 1 to update, 0 to delete" not in plan:
            raise RuntimeError(f"the plan does not show `{line}` alone: {plan[-600:]}")
        return line
    check(f"{b}: suspended tenant: plan shows the domain row's state change", suspended_plan)

    def suspended_delivery():
        token = uuid.uuid4().hex
        if smtp_send(OUTSIDE_SENDER, [user], token):
            raise RuntimeError("refused")
        wait_delivered(base, user, token)
        return "delivered"
    check(f"{b}: suspended tenant: mail is still delivered", suspended_delivery)
    check(f"{b}: suspended tenant: IMAP login refused",
          lambda: refused("IMAP login", lambda: imap_login(user, password), imaplib.IMAP4.error))
    check(f"{b}: suspended tenant: submission login refused",
          lambda: refused("submission login", lambda: submission_login(user, password),
                          smtplib.SMTPAuthenticationError))

    kept = sorted(p.name for sub in ("new", "cur") for p in (maildir(base, user) / sub).glob("*"))
    set_state("disabled")

    def disabled_rcpt():
        answers = []
        # A mailbox, an alias, an unknown address: every address of the domain.
        for address in (user, f"postmaster@{domain}", f"nobody-{uuid.uuid4().hex[:8]}@{domain}"):
            code, text = rcpt_code(address)
            if code != 550 or "5.2.1" not in text:
                raise RuntimeError(f"RCPT to {address} of a disabled tenant: {code} {text}")
            answers.append(f"{address.split('@')[0]} {code}")
        return f"{', '.join(answers)} 5.2.1"
    check(f"{b}: disabled tenant: RCPT TO every address → 550 5.2.1", disabled_rcpt)
    check(f"{b}: disabled tenant: IMAP login refused",
          lambda: refused("IMAP login", lambda: imap_login(user, password), imaplib.IMAP4.error))

    def disabled_maildir_kept():
        now = sorted(p.name for sub in ("new", "cur") for p in (maildir(base, user) / sub).glob("*"))
        if now != kept or not kept:
            raise RuntimeError(f"the Maildir changed: {kept} → {now}")
        return f"{len(kept)} messages untouched"
    check(f"{b}: disabled tenant: the Maildir is untouched", disabled_maildir_kept)

    def reactivated():
        set_state("active")
        imap_fetch(user, password, kept_token)
        submission_login(user, password)
        # An address not probed while disabled (smtpd may remember the last answer).
        code, text = rcpt_code(f"abuse@{domain}")
        if code != 250:
            raise RuntimeError(f"RCPT to abuse@{domain} after re-activation: {code} {text}")
        return "logs in over IMAP and submission, finds its old mail, RCPT 250"
    check(f"{b}: active again: logins, old mail and delivery are back", reactivated)

    check(f"{b}: tenant states: no change reloads a service (same PIDs)",
          lambda: no_reload_since(base, before, installs, f"{len(installs)} applies and installs, same PIDs"))


def inbound_tls_checks(backend, stack, repo, db_password, recipient):
    """`[mail_host] inbound_tls = "require"`: built, installed (install asks
    Postfix to reload) and reloaded, port 25 answers a sender that did not
    start TLS with 530, and takes the same mail after STARTTLS; back to
    "offer", cleartext is accepted again."""
    b = backend
    platform = repo / "mailops.toml"
    original = platform.read_text()

    def switch(mode):
        text = original.replace("pop3 = true\n", f'pop3 = true\ninbound_tls = "{mode}"\n', 1)
        platform.write_text(text if mode == "require" else original)
        mailops(repo, "build")
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        if "postfix" not in proc.stdout.split("reload:")[-1]:
            raise RuntimeError(f"install did not ask Postfix to reload: {proc.stdout.strip()}")
        stack.make_live()
        stack.configure_postfix()
        run("postfix", "-c", stack.pf, "reload")
        time.sleep(1)

    def cleartext_mail_from():
        with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            return smtp.mail(OUTSIDE_SENDER)

    def required():
        switch("require")
        code, text = cleartext_mail_from()
        if code != 530:
            raise RuntimeError(f"MAIL FROM without STARTTLS: {code} {text.decode(errors='replace')}")
        with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
            smtp.ehlo("client.e2e.invalid")
            smtp.starttls(context=insecure_tls())
            smtp.ehlo("client.e2e.invalid")
            mail = smtp.mail(OUTSIDE_SENDER)
            rcpt = smtp.rcpt(recipient)
        if mail[0] != 250 or rcpt[0] != 250:
            raise RuntimeError(f"after STARTTLS: MAIL {mail}, RCPT {rcpt}")
        return f"cleartext MAIL FROM → 530 {text.decode(errors='replace')[:40]}; after STARTTLS → 250"
    check(f"{b}: inbound_tls = require: a sender without STARTTLS gets 530, with it 250", required)

    def offered_again():
        switch("offer")
        code, text = cleartext_mail_from()
        if code != 250:
            raise RuntimeError(f"MAIL FROM without STARTTLS after going back to offer: {code} {text}")
        return "cleartext MAIL FROM → 250"
    check(f"{b}: inbound_tls = offer (the default): cleartext is accepted again", offered_again)


def redis_cli(*args):
    return run("redis-cli", "-h", HOST, "-p", str(REDIS_PORT), *args).stdout.strip()


def rate_limit_checks(backend, stack, repo, url, db_password, domain, user, password, recipient):
    """Issue 15's send limits on the real servers: `send_per_hour = 3` and
    `domain_send_per_hour = 5` on one tenant; its mailbox's fourth submission
    is refused 4xx, another mailbox of it sends until the domain's fifth, a
    mailbox of another tenant is not limited; no reload."""
    base = stack.base
    b = backend
    tenant_file = repo / "tenants" / f"{domain}.toml"
    original = tenant_file.read_text()
    other = f"second@{domain}"
    before = service_pids(base)
    installs = []
    map_file = stack.root / "var" / "lib" / "rspamd" / "dkim" / "ratelimits.map"

    def install():
        mailops(repo, "build")
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        installs.append(proc.stdout)

    def submit(login, token):
        """Submit one message; (code, text) of a refusal, or None when accepted."""
        try:
            secret = password if login.endswith(f"@{domain}") else password_of(login)
            refused = smtp_send(login, [recipient], token, port=587, login=(login, secret))
        except smtplib.SMTPResponseException as error:
            return error.smtp_code, error.smtp_error.decode(errors="replace")
        if refused:
            return next(iter(refused.values()))
        return None

    hashed = mailops(repo, "hash-password", input_text=password + "\n").stdout.strip()
    text = original.replace("\n[limits]\n", "\n[limits]\nsend_per_hour = 3\ndomain_send_per_hour = 5\n", 1)
    if text == original:
        raise RuntimeError(f"{tenant_file} has no [limits] table")
    tenant_file.write_text(text + f'\n[[mailbox]]\nuser = "second"\npassword = "{hashed}"\n')
    mailops(repo, "build")
    mailops(repo, "apply", "--database", url, "--yes")
    if backend == "sqlite":
        os.chmod(base / "mail.sqlite", 0o644)
    install()
    redis_cli("FLUSHALL")
    # Rspamd re-reads the map by itself, at its map_watch_interval (2 s in the
    # suite, with jitter).
    time.sleep(6)

    def map_written():
        line = f"{domain} 3,5"
        if line not in map_file.read_text():
            raise RuntimeError(f"ratelimits.map lacks `{line}`: {map_file.read_text()[-300:]}")
        return f"`{line}`, no reload asked"
    check(f"{b}: send limits: install writes the limit map (Rspamd re-reads it)", map_written)

    def refused_after(login, accepted, bucket):
        """Submit accepted + 1 messages: the first `accepted` pass, the last is
        refused 4xx by the ratelimit keyword `bucket`; returns its code."""
        outcomes = [submit(login, uuid.uuid4().hex) for _ in range(accepted + 1)]
        if any(outcomes[:accepted]):
            raise RuntimeError(f"{login}: a submission within the limit was refused: {outcomes}")
        code, text = outcomes[accepted] or (None, "accepted")
        if code is None or not 400 <= code < 500 or bucket not in text:
            raise RuntimeError(f"{login}: submission {accepted + 1}: {code} {text}")
        return f"{accepted} accepted, then {code} {text.strip()[:60]}"
    check(f"{b}: send limit: a mailbox's fourth submission in the hour is refused 4xx",
          lambda: refused_after(user, 3, "mailops_mailbox"))
    # The domain has sent 3 of its 5: another mailbox sends 2, then is refused.
    check(f"{b}: send limit: another mailbox sends until the domain limit, then 4xx",
          lambda: f"{other}: " + refused_after(other, 2, "mailops_domain"))

    def other_tenant():
        outsider = recipient
        outcome = submit(outsider, uuid.uuid4().hex)
        if outcome:
            raise RuntimeError(f"{outsider} of another tenant was refused: {outcome}")
        return f"{outsider} still sends"
    check(f"{b}: send limit: mailboxes of other tenants are not limited", other_tenant)

    tenant_file.write_text(original)
    install()

    check(f"{b}: send limits: setting and lifting them reloads no service (same PIDs)",
          lambda: no_reload_since(base, before, installs, f"{len(installs)} installs, same PIDs"))


# ------------------------------------------------- relay domains and backup MX

class SmtpSink:
    """The client's own server: a minimal SMTP server on loopback that keeps
    every message's envelope (MAIL FROM, RCPT TO) and data. With `tls` (an
    `ssl.SSLContext` holding its certificate) it offers STARTTLS, and
    `encrypted[i]` says whether message i came over TLS."""

    def __init__(self, port, host=HOST, tls=None):
        self.port = port
        self.host = host
        self.tls = tls
        self.messages = []
        self.encrypted = []
        self.server = None
        self.thread = None

    def start(self):
        import socketserver
        import threading
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")
                    self.wfile.flush()
                say("220 sink.e2e.invalid ESMTP test sink")
                sender, rcpts, in_tls = None, [], False
                while True:
                    try:
                        line = self.rfile.readline()
                    except OSError:  # a TLS client that closed without close_notify
                        return
                    if not line:
                        return
                    command = line.decode(errors="replace").rstrip("\r\n")
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        if sink.tls and not in_tls and verb == "EHLO":
                            say("250-sink.e2e.invalid")
                            say("250 STARTTLS")
                        else:
                            say("250 sink.e2e.invalid")
                    elif command.upper() == "STARTTLS" and sink.tls and not in_tls:
                        say("220 2.0.0 ready to start TLS")
                        try:
                            conn = sink.tls.wrap_socket(self.request, server_side=True)
                        except OSError:  # the client gave up in the handshake
                            return
                        self.rfile, self.wfile = conn.makefile("rb"), conn.makefile("wb")
                        sender, rcpts, in_tls = None, [], True
                    elif verb == "MAIL":
                        sender, rcpts = re.search(r"<([^>]*)>", command).group(1), []
                        say("250 2.1.0 ok")
                    elif verb == "RCPT":
                        rcpts.append(re.search(r"<([^>]*)>", command).group(1))
                        say("250 2.1.5 ok")
                    elif verb == "DATA":
                        say("354 go ahead")
                        data = []
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data.append(chunk)
                        sink.messages.append((sender, rcpts, b"".join(data)))
                        sink.encrypted.append(in_tls)
                        say("250 2.0.0 queued")
                    elif verb == "RSET":
                        sender, rcpts = None, []
                        say("250 ok")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((self.host, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def with_token(self, token):
        return [m for m in self.messages if token.encode() in m[2]]


def smtp_from_outside(sender, recipients, token, client="192.0.2.25"):
    """Send one message on port 25 as an Internet client (XCLIENT: the e2e
    Postfix lets loopback name the client), so that Rspamd treats it as
    inbound mail, not local; returns the refused recipients."""
    message = new_message(sender, recipients, token)
    with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
        smtp.ehlo("client.e2e.invalid")
        code, text = smtp.docmd("XCLIENT", f"ADDR={client} NAME=[UNAVAILABLE]")
        if code != 220:
            raise RuntimeError(f"XCLIENT: {code} {text.decode(errors='replace')}")
        smtp.ehlo("outside.e2e.invalid")
        return smtp.send_message(message, from_addr=sender, to_addrs=recipients)


def srs_checks(backend, stack, tenants, local_user):
    """Issue 22 on the real servers: a tenant's forward of outside mail leaves
    with an SRS sender at the SRS domain and an ARC seal that verifies; a
    bounce to that address reaches the original sender; a forged SRS address
    is refused; a local user's own mail keeps its sender."""
    b = backend
    srs_domain = stack.srs_settings().get("SRS_DOMAIN", "(none installed)")
    outside = {OUTSIDE_SENDER.split("@")[1]}

    def is_outside(address):
        domain = tenants.domain_of(address)
        return domain not in tenants.files and domain not in tenants.alias_domains
    # The example tenants' forwards off the platform (kaveri-foods.example's
    # exports@ → the freight forwarder).
    forwards = sorted(
        (source, target) for source, targets in tenants.aliases.items() if not source.startswith("@")
        for target in targets if is_outside(target) and tenants.domain_of(target) not in outside
    )
    forward_sink, origin_sink = SmtpSink(free_port()), SmtpSink(free_port())
    forward_sink.start()
    origin_sink.start()
    # The outside world's servers: the forwards' destinations, and the outside
    # sender's own domain, where bounces of forwarded mail return.
    for domain in sorted({tenants.domain_of(t) for _, t in forwards}):
        route_to_sink(stack, domain, forward_sink)
    route_to_sink(stack, OUTSIDE_SENDER.split("@")[1], origin_sink)
    forwarded = {}
    try:
        def srs_sender():
            if not forwards:
                raise RuntimeError("no example alias forwards off the platform")
            source, target = forwards[0]
            sender, rcpts, data = sent_to_sink(forward_sink, OUTSIDE_SENDER, [source], uuid.uuid4().hex,
                                               send=smtp_from_outside)
            forwarded.update(sender=sender, data=data, source=source)
            user, domain = OUTSIDE_SENDER.split("@")
            if not re.fullmatch(rf"SRS0=[^=]+=[^=]+={re.escape(domain)}={re.escape(user)}@{re.escape(srs_domain)}",
                                sender, re.IGNORECASE):
                raise RuntimeError(f"MAIL FROM:<{sender}>, expected SRS0=…={domain}={user}@{srs_domain}")
            if rcpts != [target]:
                raise RuntimeError(f"RCPT TO {rcpts}, expected {target}")
            return f"{source} → {target}: MAIL FROM:<{sender}>"
        check(f"{b}: srs: a forward of outside mail leaves with an SRS0 sender at the SRS domain", srs_sender)

        def arc_sealed():
            if "data" not in forwarded:
                raise RuntimeError("no forwarded message")
            raw = forwarded["data"].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            message = email.message_from_bytes(raw)
            seal = message.get("ARC-Seal")
            if not seal:
                raise RuntimeError("no ARC-Seal header")
            tags = header_tags(seal)
            domain = tenants.domain_of(forwarded["source"])
            if tags.get("d") != domain or tags.get("i") != "1":
                raise RuntimeError(f"ARC-Seal d={tags.get('d')} i={tags.get('i')}, expected d={domain} i=1")
            cv, results, comment = dkim.arc_verify(raw, dnsfunc=dkim_dns(tenants))
            if cv != dkim.CV_Pass:
                raise RuntimeError(f"ARC chain {cv}: {comment} {results}")
            return f"ARC-Seal i=1 d={tags['d']} s={tags.get('s')} verifies (cv={cv.decode()})"
        check(f"{b}: arc: the forwarded message carries an ARC seal of the forwarding tenant that verifies",
              arc_sealed)

        def bounce_returns():
            if "sender" not in forwarded:
                raise RuntimeError("no SRS address to bounce to")
            token = uuid.uuid4().hex
            message = new_message(f"MAILER-DAEMON@{forwarded['sender'].split('@')[1]}",
                                  [forwarded["sender"]], token, subject="Undelivered Mail Returned to Sender")
            with smtplib.SMTP(HOST, 25, timeout=20) as smtp:
                smtp.ehlo("bounces.e2e.invalid")
                refused_now = smtp.send_message(message, from_addr="", to_addrs=[forwarded["sender"]])
            if refused_now:
                raise RuntimeError(f"refused {refused_now}")
            wait_for("the bounce at the original sender's server", lambda: origin_sink.with_token(token), timeout=30)
            sender, rcpts, _ = origin_sink.with_token(token)[0]
            if rcpts != [OUTSIDE_SENDER]:
                raise RuntimeError(f"the bounce went to {rcpts}, expected {OUTSIDE_SENDER}")
            return f"RCPT TO:<{forwarded['sender']}> reached RCPT TO:<{rcpts[0]}> (MAIL FROM:<{sender}>)"
        check(f"{b}: srs: a bounce to the SRS address reaches the original sender", bounce_returns)

        def forged_refused():
            user, domain = OUTSIDE_SENDER.split("@")
            forged = [f"SRS0=AAAA=AA={domain}={user}@{srs_domain}"]
            if "sender" in forwarded:
                # The real address with one character of its hash changed
                # (postsrsd compares hashes ignoring case: `b` is still `B`).
                real = forwarded["sender"]
                prefix, rest = real.split("=", 1)
                other = next(c for c in "BC" if c != rest[0].upper())
                flipped = other + rest[1:]
                forged.append(f"{prefix}={flipped}")
            codes = []
            for address in forged:
                code, text = rcpt_code(address, sender="")
                if code != 550:
                    raise RuntimeError(f"RCPT TO:<{address}>: {code} {text}")
                codes.append(f"{code}")
            return f"{len(forged)} forged addresses: {', '.join(codes)}"
        check(f"{b}: srs: a forged SRS0 address is refused with 550 at RCPT", forged_refused)

        def local_sender_kept():
            if not forwards:
                raise RuntimeError("no example alias forwards off the platform")
            target = forwards[0][1]
            sender, _, _ = sent_to_sink(forward_sink, local_user, [target], uuid.uuid4().hex,
                                        port=587, login=(local_user, password_of(local_user)))
            if sender != local_user:
                raise RuntimeError(f"MAIL FROM:<{sender}>, expected <{local_user}>")
            return f"{local_user} → {target}: MAIL FROM:<{sender}>"
        check(f"{b}: srs: a local user's mail to an outside address keeps its own envelope sender",
              local_sender_kept)
    finally:
        forward_sink.stop()
        origin_sink.stop()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def sent_to_sink(sink, sender, recipients, token, send=None, **kwargs):
    """Send one message with `send` (default `smtp_send`, which gets `kwargs`);
    once `sink` has it, its (MAIL FROM, RCPT TO list, data)."""
    refused_now = (send or smtp_send)(sender, recipients, token, **kwargs)
    if refused_now:
        raise RuntimeError(f"refused {refused_now}")
    wait_for(f"the message at the sink on {sink.port}", lambda: sink.with_token(token), timeout=30)
    return sink.with_token(token)[0]


def route_to_sink(stack, domain, sink):
    """Route mail for `domain`, a domain off the platform, to `sink` on loopback.

    The suite's Postfix has `default_transport = error:` so that nothing leaves the
    machine; this adds a test-only `texthash:` transport table (`domain
    smtp:[127.0.0.1]:<port>`) in front of the generated `transport_maps` of the
    running copy (never of ROOT or generated/), and reloads Postfix. Call it once per
    domain; a later `stack.make_live()` drops it (call it again then)."""
    table = stack.pf / "e2e-transport"
    entries = {}
    if table.exists():
        for line in table.read_text().splitlines():
            if line.strip():
                key, value = line.split(None, 1)
                entries[key] = value
    entries[domain] = f"smtp:[{HOST}]:{sink.port}"
    table.write_text("".join(f"{k} {v}\n" for k, v in sorted(entries.items())))
    ours = f"texthash:{table}"
    current = run("postconf", "-c", stack.pf, "-h", "transport_maps").stdout.strip()
    if not current.startswith(ours):
        maps = f"{ours}, {current}" if current else ours
        run("postconf", "-c", stack.pf, "-e", f"transport_maps = {maps}")
    run("postfix", "-c", stack.pf, "reload")
    wait_for("Postfix on port 25 after the reload", lambda: port_open(25), timeout=20)


def relay_checks(backend, stack, repo, url, db_password, admin):
    """Issue 15's relay domains on the real servers: a relay tenant's listed
    recipient is forwarded to the client's server (a sink on loopback) with
    the envelope intact, an unlisted one is refused 550 at RCPT; a backup MX
    queues while the client's server is down and delivers after a flush."""
    base = stack.base
    b = backend
    before = service_pids(base)
    relay_domain = "relay-client.example"
    backup_domain = "backup-client.example"
    sink = SmtpSink(free_port())
    backup_sink = SmtpSink(free_port())
    installs = []

    def relay_tenant(domain, relay):
        mailops(repo, "new", domain, "--admin", admin)
        tenant_file = repo / "tenants" / f"{domain}.toml"
        text = tenant_file.read_text()
        # A relay tenant has no mailboxes or aliases: its server holds them.
        cut = text.find("\n[[")
        tenant_file.write_text((text if cut < 0 else text[:cut + 1]) + "\n[relay]\n" + relay)

    def apply():
        mailops(repo, "build")
        plan = mailops(repo, "plan", "--database", url).stdout
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base / "mail.sqlite", 0o644)
        proc = mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        installs.append(proc.stdout)
        return plan

    def onboard():
        relay_tenant(relay_domain,
                     f'to = "[{HOST}]:{sink.port}"\nrecipients = ["alice", "postmaster", "abuse"]\n')
        relay_tenant(backup_domain,
                     f'to = "[{HOST}]:{backup_sink.port}"\nrecipients = ["*"]\nbackup_mx = true\n'
                     f'primary_mx = "mail.{backup_domain}"\n')
        plan = apply()
        for line in (f"+ relay {relay_domain} → [{HOST}]:{sink.port}",
                     f"+ relay recipient alice@{relay_domain}",
                     f"+ relay {backup_domain} → [{HOST}]:{backup_sink.port}"):
            if line not in plan:
                raise RuntimeError(f"the plan does not show `{line}`: {plan[-800:]}")
        return "the plan shows the relay and recipient rows; applied"
    check(f"{b}: relay: onboarding a relay and a backup MX tenant, plan shows the rows", onboard)

    sink.start()
    try:
        def forwarded():
            recipient = f"alice@{relay_domain}"
            sender, rcpts, _ = sent_to_sink(sink, OUTSIDE_SENDER, [recipient], uuid.uuid4().hex)
            if sender != OUTSIDE_SENDER or rcpts != [recipient]:
                raise RuntimeError(f"envelope changed: MAIL FROM {sender}, RCPT TO {rcpts}")
            return f"at the sink: MAIL FROM:<{sender}> RCPT TO:<{rcpts[0]}>"
        check(f"{b}: relay: a listed recipient is forwarded with the envelope intact", forwarded)
    finally:
        sink.stop()

    def unlisted():
        address = f"bob-{uuid.uuid4().hex[:8]}@{relay_domain}"
        code, text = rcpt_code(address)
        if code != 550:
            raise RuntimeError(f"RCPT to {address}: {code} {text}")
        return f"{code} {text[:60]}"
    check(f"{b}: relay: an unlisted recipient gets 550 at RCPT", unlisted)

    token = uuid.uuid4().hex
    recipient = f"anyone@{backup_domain}"

    def queued():
        refused_now = smtp_send(OUTSIDE_SENDER, [recipient], token)
        if refused_now:
            raise RuntimeError(f"refused {refused_now}")

        def log_lines(status):
            return [line for line in (stack.logs / "postfix.log").read_text().splitlines()
                    if f"to=<{recipient}>" in line and f"status={status}" in line]

        def in_queue():
            listing = run("postqueue", "-c", stack.pf, "-p", check_rc=False).stdout
            return recipient in listing and listing
        # Deferred (its delivery attempt over), not merely in the active queue.
        wait_for("the delivery attempt deferred", lambda: log_lines("deferred"), timeout=30)
        wait_for("the message in the deferred queue", in_queue, timeout=30)
        listing = in_queue() or ""
        bounced = log_lines("bounced")
        if bounced:
            raise RuntimeError(f"bounced: {bounced[0]}")
        return f"queued for {recipient}, no bounce ({len(listing.splitlines())} queue lines)"
    check(f"{b}: backup MX: with the client's server down the mail is queued, not bounced", queued)

    backup_sink.start()
    try:
        def delivered_after_flush():
            run("postqueue", "-c", stack.pf, "-f")
            # Flushed again while waiting: a flush that reaches the queue manager while
            # it still handles the message (or before the sink listens) does nothing.
            flushed = [time.monotonic()]

            def arrived():
                if time.monotonic() - flushed[0] > 5:
                    run("postqueue", "-c", stack.pf, "-f")
                    flushed[0] = time.monotonic()
                return backup_sink.with_token(token)
            wait_for("the queued message at the sink", arrived, timeout=60)
            sender, rcpts, _ = backup_sink.with_token(token)[0]
            if sender != OUTSIDE_SENDER or rcpts != [recipient]:
                raise RuntimeError(f"envelope changed: MAIL FROM {sender}, RCPT TO {rcpts}")
            return f"delivered after `postqueue -f`: RCPT TO:<{rcpts[0]}>"
        check(f"{b}: backup MX: once the server is back, postqueue -f delivers it", delivered_after_flush)
    finally:
        backup_sink.stop()

    def records():
        out = mailops(repo, "dns", "records", backup_domain).stdout
        if f"MX  10 mail.{backup_domain}." not in out or "MX  20 " not in out:
            raise RuntimeError(f"dns records: {out}")
        return "MX 10 their server, MX 20 the mail host"
    check(f"{b}: backup MX: dns records publishes their MX 10 and ours at 20", records)

    check(f"{b}: relay: onboarding relay tenants reloads no service",
          lambda: no_reload_since(base, before, installs, "same PIDs"))


def forward_copy_checks(backend, stack, repo, url, db_password):
    """Issue 22 on the real servers: a mailbox with `forward` (and `keep_copy`,
    the default) gets the message in its Maildir and over IMAP while the outside
    destination (a sink on loopback) gets the forward; with `keep_copy = false`
    only the sink gets it. The plan lists the new forwards off the platform, and
    the forward grants no send-as right to whoever it forwards to."""
    base = stack.base
    b = backend
    domain = "kaveri-foods.example"
    outside = "forward-sink.example"
    desk = f"desk@{outside}"
    copy, only = f"fwd-copy@{domain}", f"fwd-only@{domain}"
    colleague = f"lakshmi@{domain}"
    pw = {a: "Fwd-" + secrets.token_hex(6) for a in (copy, only)}
    hashed = {a: mailops(repo, "hash-password", input_text=p + "\n").stdout.strip() for a, p in pw.items()}
    tenant_file = repo / "tenants" / f"{domain}.toml"
    sink = SmtpSink(free_port())

    def setup():
        tenant_file.write_text(
            tenant_file.read_text()
            + f'\n[[mailbox]]\nuser = "fwd-copy"\npassword = "{hashed[copy]}"\n'
            + f'forward = ["{desk}", "lakshmi"]\n'
            + f'\n[[mailbox]]\nuser = "fwd-only"\npassword = "{hashed[only]}"\n'
            + f'forward = ["{desk}"]\nkeep_copy = false\n'
        )
        mailops(repo, "build")
        plan = mailops(repo, "plan", "--database", url).stdout
        for line in ("external forwards: 2 new, their mail leaves the platform:",
                     f"    + {copy} → {desk}\n", f"    + {only} → {desk}\n",
                     f"+ alias {copy} → {copy}"):
            if line not in plan:
                raise RuntimeError(f"the plan does not show `{line.strip()}`: {plan[-1200:]}")
        if f"+ {copy} → {colleague}" in plan or f"+ alias {only} → {only}" in plan:
            raise RuntimeError(f"the plan lists a forward on the platform, or a copy kept: {plan[-1200:]}")
        doc = json.loads(mailops(repo, "plan", "--database", url, "--format", "json").stdout)
        listed = doc["database"]["external_forwards"]
        want = [{"source": copy, "destination": desk}, {"source": only, "destination": desk}]
        if listed != want:
            raise RuntimeError(f"JSON external_forwards: {listed}")
        mailops(repo, "apply", "--database", url, "--yes")
        if backend == "sqlite":
            os.chmod(base / "mail.sqlite", 0o644)
        mailops(repo, "install", "--root", stack.root, env={"MAILOPS_DB_PASSWORD": db_password})
        sink.start()
        route_to_sink(stack, outside, sink)
        return f"the plan lists {copy} → {desk} and {only} → {desk} as new external forwards; applied"
    check(f"{b}: forward: the plan lists the new external forwards (human and JSON)", setup)

    def send_and_forwarded(address):
        """Mail from outside to `address`; its token once the sink has it, for `desk`."""
        token = uuid.uuid4().hex
        _, rcpts, _ = sent_to_sink(sink, OUTSIDE_SENDER, [address], token)
        if rcpts != [desk]:
            raise RuntimeError(f"the sink got RCPT TO {rcpts}, expected [{desk}]")
        return token

    try:
        def kept_and_forwarded():
            token = send_and_forwarded(copy)
            wait_delivered(base, copy, token)
            found = imap_fetch(copy, pw[copy], token)
            wait_delivered(base, colleague, token)
            return f"{copy}'s Maildir ({found} over IMAP), {colleague}'s, and the sink (RCPT TO:<{desk}>)"
        check(f"{b}: forward with keep_copy: the mailbox keeps the message and the sink gets the forward",
              kept_and_forwarded)

        def only_forwarded():
            token = send_and_forwarded(only)
            time.sleep(2)  # the forward and a copy would be delivered together
            log_lines = [line for line in (stack.logs / "postfix.log").read_text().splitlines()
                         if f" to=<{only}>" in line and "status=sent" in line]
            if messages_with(base, only, token):
                raise RuntimeError(f"{only} kept a copy")
            if log_lines:
                raise RuntimeError(f"delivered to {only}: {log_lines[0]}")
            try:
                imap_fetch(only, pw[only], token)
            except RuntimeError:
                pass  # logs in, and has no such message
            else:
                raise RuntimeError(f"{only} has the message over IMAP")
            return f"only the sink (RCPT TO:<{desk}>); {only} logs in and has nothing"
        check(f"{b}: forward with keep_copy = false: only the sink gets the message", only_forwarded)
    finally:
        sink.stop()

    def no_send_as():
        proc = run("postmap", "-c", stack.pf, "-q", copy,
                   f"{'mysql' if backend == 'mysql' else 'sqlite'}:{stack.pf}/sender-login.cf", check_rc=False)
        owners = sorted(filter(None, proc.stdout.strip().split(",")))
        if owners != [copy]:
            raise RuntimeError(f"sender-login.cf for {copy}: {owners} (exit {proc.returncode} {proc.stderr.strip()})")
        return f"{copy} is sent as by {owners[0]} only, not by {colleague} it forwards to"
    check(f"{b}: forward: the mailbox it forwards to may not send as the forwarding mailbox", no_send_as)

    def switched_off():
        # The same tenant with `[limits] external_forwards = false`: its forwards
        # off the platform are errors, and nothing is built or applied.
        text = tenant_file.read_text()
        limited = (text.replace("\n[limits]\n", "\n[limits]\nexternal_forwards = false\n", 1)
                   if "\n[limits]\n" in text else text + "\n[limits]\nexternal_forwards = false\n")
        tenant_file.write_text(limited)
        try:
            proc = mailops(repo, "validate", "--format", "json", check_rc=False)
            codes = {d["code"] for d in json.loads(proc.stdout)["diagnostics"]} if proc.stdout.strip() else set()
            if proc.returncode != 1 or "mailops::limits::external-forward" not in codes:
                raise RuntimeError(f"validate exit {proc.returncode}, codes {sorted(codes)}")
            built = mailops(repo, "build", check_rc=False)
            if built.returncode == 0:
                raise RuntimeError("build succeeded")
        finally:
            tenant_file.write_text(text)
        return f"validate exit 1 with mailops::limits::external-forward; build refused"
    check(f"{b}: forward: a tenant with external_forwards = false forwarding off the platform gets a diagnostic",
          switched_off)


def main():
    phases = ["mysql", "sqlite", "gitops", "dane", "mtasts", "galera", "multihost"]
    only = sys.argv[1:] or phases
    unknown = [name for name in only if name not in phases]
    if unknown:
        log(f"FAIL setup: unknown phase {' '.join(unknown)} (expected mysql, sqlite, gitops, dane, mtasts, galera "
            "or multihost)")
        return 1
    start = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(WORK, 0o755)
    if not BIN.exists():
        log(f"FAIL setup: {BIN} does not exist (run `cargo build`)")
        return 1
    for backend in only:
        log({"gitops": "=== the GitOps loop (MariaDB)",
             "dane": "=== outbound DANE (Knot, unbound, Postfix in a network namespace)",
             "mtasts": "=== MTA-STS, TLS-RPT and autoconfig (nginx, Knot, unbound, checkdmarc in a network namespace)",
             "galera": "=== a 3-node MariaDB Galera cluster on loopback: the cluster-wide apply lock",
             "multihost": "=== two mail hosts in network namespaces on a Galera node each: LMTP to the home host, "
                          "Dovecot's proxy"}
            .get(backend, f"=== backend {backend}"))
        try:
            if backend == "gitops":
                import e2e_gitops  # scripts/ is on the path: it is this script's folder
                e2e_gitops.run_gitops(sys.modules[__name__])
            elif backend == "dane":
                import e2e_dane
                e2e_dane.run_dane(sys.modules[__name__])
            elif backend == "mtasts":
                import e2e_mtasts
                e2e_mtasts.run_mtasts(sys.modules[__name__])
            elif backend == "galera":
                import e2e_galera
                e2e_galera.run_galera(sys.modules[__name__])
            elif backend == "multihost":
                import e2e_multihost
                e2e_multihost.run_multihost(sys.modules[__name__])
            else:
                run_suite(backend)
        except Exception as error:  # noqa: BLE001
            results.append((f"{backend}: setup", False))
            log(f"FAIL {backend}: setup: {error}")
    log("")
    for name, seconds in timings:
        log(f"timing {name}: {seconds:.1f} s")
    log(f"timing total: {time.monotonic() - start:.1f} s")
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    log(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
