"""The GitOps phase of the end-to-end suite (issue 12): the loop from a new
mail repo to the mail host, on the real Postfix, Dovecot, Rspamd and MariaDB.

A bare git repository stands in for the forge and a directory tree for the
host. As a new user would: `mailops init` → `[secrets]` names the host's age
recipient → `mailops keys import` → commit, push → `mailops reconcile --once`
on the host makes it (rows, configs, keys) → the services start from what it
installed. Then each step of the loop is one `ok`/`FAIL` line:

  - `mailops new` a tenant (its key encrypted to the host), commit, push;
    `plan --base` shows exactly that tenant's files and rows with no database;
    `reconcile --once` applies the rows, decrypts and installs the key; mail to
    the tenant is delivered, mail its user submits carries a DKIM signature
    that dkimpy verifies; no service was restarted or reloaded;
  - a commit that fails `check` is refused, the host stays on the last good
    commit and `mailops status` says why;
  - a row edited by hand is healed by the next run;
  - removing a tenant is refused without the `Mailops-Allow-Destroy` trailer
    and applied with it, its Maildir kept;
  - `git log -p` of the forge holds no private key in plaintext.

Called from scripts/e2e.py (`scripts/e2e gitops`), which passes itself as
`e2e`: its helpers (run, check, Stack, smtp_send …) are used as they are.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import uuid

OPERATOR_HOST = "mx.gitops-operator.example"
FIRST = "first-client.example"
NEW = "onboarded-by-git.example"
ALICE = f"alice@{FIRST}"
WELCOME = f"welcome@{NEW}"


def run_gitops(e2e):
    """The whole phase; every check is recorded through `e2e.check`."""
    base = e2e.WORK / "gitops"
    stack = e2e.Stack(base, "mysql", pop3=False)  # `mailops init`'s platform: no POP3
    stack.stop()
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    db_name = f"mailops_e2e_gitops_{os.getpid()}"
    loop = Loop(e2e, base, db_name)
    try:
        with e2e.phase("gitops: init, push, first reconcile"):
            e2e.make_tls()
            ready = loop.setup()
        if not ready:
            return
        with e2e.phase("gitops: start services from what reconcile installed"):
            stack.make_live()
            stack.configure_postfix()
            stack.configure_dovecot()
            stack.configure_rspamd()
            vmail = base / "vmail"
            vmail.mkdir(parents=True, exist_ok=True)
            os.chown(vmail, 5000, 5000)
            try:
                stack.start()
            except Exception as error:  # noqa: BLE001
                e2e.check("gitops: services start", lambda: (_ for _ in ()).throw(error))
                stack.log_tails()
                return
        with e2e.phase("gitops: checks"):
            loop.checks(stack)
    finally:
        if any(not ok for name, ok in e2e.results if name.startswith("gitops")):
            stack.log_tails()
            for name in ("reconcile.log",):
                path = base / name
                if path.exists():
                    e2e.log(f"--- tail of {path}")
                    for line in path.read_text(errors="replace").splitlines()[-30:]:
                        e2e.log(f"    {line}")
        stack.stop()
        e2e.mariadb(f"DROP DATABASE IF EXISTS `{db_name}`; DROP USER IF EXISTS 'mailops_e2e'@'127.0.0.1'; "
                    f"DROP USER IF EXISTS 'mailops_e2e'@'localhost'; DROP USER IF EXISTS 'mailops'@'localhost';")


class Loop:
    def __init__(self, e2e, base, db_name):
        self.e2e = e2e
        self.base = base
        self.db_name = db_name
        self.forge = base / "forge.git"
        self.repo = base / "repo"
        self.host = base / "host"
        self.identity = self.host / "etc" / "age-identity.txt"
        self.secrets = self.host / "etc" / "secrets.toml"
        self.config = self.host / "etc" / "host.toml"
        self.work_dir = self.host / "var" / "lib" / "mailops"
        self.status_file = self.work_dir / "status.json"
        self.reloads = base / "reloads.log"
        self.root = base / "root"
        self.db_password = secrets.token_hex(16)
        self.passwords = {}

    # ------------------------------------------------------------- helpers

    def mailops(self, *args, **kwargs):
        return self.e2e.mailops(self.repo, *args, **kwargs)

    def git(self, *args, cwd=None):
        return self.e2e.run("git", "-c", "user.name=Operator", "-c", "user.email=op@gitops.test",
                            "-c", "init.defaultBranch=main", *args, cwd=cwd or self.repo).stdout

    def commit_and_push(self, message, amend=False):
        self.git("add", "-A")
        self.git("commit", "--quiet", *(["--amend"] if amend else []), "-m", message)
        self.git("push", "--quiet", *(["--force"] if amend else []), "origin", "HEAD:main")
        return self.git("rev-parse", "HEAD").strip()

    def reconcile(self):
        """One `reconcile --once`; its output goes to reconcile.log too."""
        proc = self.e2e.run(self.e2e.BIN, "reconcile", "--once", "--config", self.config, check_rc=False)
        with open(self.base / "reconcile.log", "a") as out:
            out.write(f"$ mailops reconcile --once  (exit {proc.returncode})\n{proc.stderr}{proc.stdout}")
        return proc

    def reconcile_ok(self, what):
        proc = self.reconcile()
        if proc.returncode != 0:
            raise RuntimeError(f"{what}: reconcile exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
        return self.status()

    def status(self):
        proc = self.e2e.run(self.e2e.BIN, "status", "--config", self.config, "--format", "json")
        return json.loads(proc.stdout)

    def hash(self, password):
        return self.mailops("hash-password", input_text=password + "\n").stdout.strip()

    def add_mailbox(self, domain, user):
        password = "Git-" + secrets.token_hex(6)
        self.passwords[f"{user}@{domain}"] = password
        path = self.repo / "tenants" / f"{domain}.toml"
        path.write_text(path.read_text() + f'\n[[mailbox]]\nuser = "{user}"\npassword = "{self.hash(password)}"\n')

    def sql(self, statement):
        return self.e2e.run("mariadb", "--protocol=tcp", "-h", self.e2e.HOST, "-u", "root", "-N", "-B",
                            self.db_name, "-e", statement).stdout

    def reload_lines(self):
        return self.reloads.read_text().splitlines() if self.reloads.exists() else []

    # --------------------------------------------------------------- setup

    def setup(self):
        """Forge, repo, host; the first reconcile. False when it failed (reported)."""
        e2e = self.e2e
        ok = True

        def first_commit_applied():
            self.make_host_identity()
            self.make_repo()
            self.make_database()
            self.make_host_file()
            status = self.reconcile_ok("first run")
            head = self.git("rev-parse", "HEAD").strip()
            if status.get("outcome") != "applied" or status.get("commit") != head:
                raise RuntimeError(f"status after the first run: {status}")
            main_cf = self.root / "etc" / "postfix" / "main.cf"
            if not main_cf.is_file():
                raise RuntimeError(f"{main_cf} was not installed")
            if self.db_password not in (self.root / "etc" / "postfix" / "virtual-mailboxes.cf").read_text():
                raise RuntimeError("the services' password from the secrets file is not in the installed configs")
            keys = sorted(p.name for p in (self.root / "var" / "lib" / "rspamd" / "dkim").glob(f"{FIRST}.*.key"))
            if not keys:
                raise RuntimeError(f"no DKIM key of {FIRST} installed")
            count = self.sql(f"SELECT COUNT(*) FROM virtual_users WHERE email = '{ALICE}'").strip()
            if count != "1":
                raise RuntimeError(f"{ALICE} has {count} rows")
            return f"commit {head[:12]}: rows, configs and {', '.join(keys)} from an empty host"

        e2e.check("gitops: init, push, and the first reconcile makes the host", first_commit_applied)

        def writer_socket_only():
            # The agent wrote its rows through the socket (above); over TCP the
            # same account and password are refused.
            password = re.search(r"mysql://[^:]+:([^@]+)@", self.writer_url).group(1)
            tcp = e2e.run("mariadb", "--protocol=tcp", "-h", e2e.HOST, "-u", "mailops", f"-p{password}",
                          self.db_name, "-e", "SELECT 1", check_rc=False)
            if tcp.returncode == 0:
                raise RuntimeError("the writer account logs in over TCP")
            socket = e2e.run("mariadb", "--protocol=socket", "-u", "mailops", f"-p{password}",
                             self.db_name, "-N", "-e", "SELECT CURRENT_USER()")
            return f"socket: {socket.stdout.strip()}; TCP: {tcp.stderr.strip().split(':')[0]}"
        if all(good for name, good in e2e.results if name.startswith("gitops")):
            e2e.check("gitops: the first boot's writer account works through the socket only", writer_socket_only)
        ok = all(good for name, good in e2e.results if name.startswith("gitops"))
        return ok

    def make_host_identity(self):
        (self.host / "etc").mkdir(parents=True, exist_ok=True)
        # As the first boot makes it (firstboot.sh): age-keygen, 0600.
        old = os.umask(0o077)
        try:
            self.e2e.run("age-keygen", "-o", self.identity)
        finally:
            os.umask(old)
        self.recipient = self.e2e.run("age-keygen", "-y", self.identity).stdout.strip()

    def make_repo(self):
        e2e = self.e2e
        e2e.run("git", "init", "--quiet", "--bare", "--initial-branch=main", self.forge)
        e2e.run(e2e.BIN, "init", self.repo, "--hostname", OPERATOR_HOST, "--domain", FIRST)
        # What an operator edits after init: the host's database and paths,
        # the TLS files, and the recipients the DKIM keys are encrypted to.
        platform = self.repo / "mailops.toml"
        text = platform.read_text()
        text = re.sub(r'(?m)^name = "mailserver"$', f'name = "{self.db_name}"', text)
        text = re.sub(r'(?m)^user = "mailuser"$', 'user = "mailops_e2e"', text)
        text = re.sub(r'(?m)^vmail_root = .*$', f'vmail_root = "{self.base}/vmail"', text)
        text += (f'\n[tls]\ncert = "{e2e.WORK}/tls/cert.pem"\nkey = "{e2e.WORK}/tls/key.pem"\n'
                 f'\n[secrets]\nrecipients = ["{self.recipient}"]\n')
        platform.write_text(text)
        store = self.repo / ".mailops" / "keys"
        self.mailops("keys", "import", "--key-dir", store)
        shutil.rmtree(self.repo / ".mailops")
        self.add_mailbox(FIRST, "alice")
        self.mailops("build")
        self.mailops("check", "--identity", self.identity)
        self.git("init", "--quiet")
        self.git("remote", "add", "origin", self.forge)
        self.commit_and_push("mailops init")

    def make_database(self):
        """As the first boot does (firstboot.sh): the repo's bootstrap SQL, from its
        generated cloud-init user data, with the two passwords filled in. The
        writer's URL in the secrets file dials MariaDB's local socket."""
        import yaml  # python3-yaml, installed by scripts/install-mail-packages

        user_data = yaml.safe_load((self.repo / "generated" / "cloud-init" / "user-data.yaml").read_text())
        sql = next(f["content"] for f in user_data["write_files"] if f["path"] == "/etc/mailops/bootstrap-mariadb.sql")
        writer = secrets.token_hex(16)
        sql = sql.replace("@@MAILOPS_DB_PASSWORD@@", self.db_password).replace("@@MAILOPS_WRITER_PASSWORD@@", writer)
        self.e2e.run("mariadb", "--protocol=tcp", "-h", self.e2e.HOST, "-u", "root", input_text=sql)
        line = next(line for line in sql_lines(user_data) if line.startswith("printf '%s\\n' 'database_url = "))
        url = re.search(r'database_url = "([^"]+)"', line).group(1).replace("@@MAILOPS_WRITER_PASSWORD@@", writer)
        if "?socket=" not in url:
            raise RuntimeError(f"the writer's URL does not use the socket: {url.split('@')[-1]}")
        self.writer_url = url
        with open(os.open(self.secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(f'db_password = "{self.db_password}"\ndatabase_url = "{url}"\n')

    def make_host_file(self):
        # Reloads are recorded, not run: the suite's services read a copy of
        # the installed files (e2e.Stack), and the checks prove that the loop
        # needs no reload at all for what it does here.
        reload = ", ".join(f"{s} = \"echo {s} >> '{self.reloads}'\"" for s in ("postfix", "dovecot", "rspamd", "postsrsd", "nginx"))
        self.config.write_text(
            "version = 1\n"
            f'repo = "{self.forge}"\n'
            'branch = "main"\n'
            f'work_dir = "{self.work_dir}"\n'
            f'identity = "{self.identity}"\n'
            f'database = "{self.secrets}"\n'
            f'install_root = "{self.root}"\n'
            f"reload = {{ {reload} }}\n"
        )

    # -------------------------------------------------------------- checks

    def checks(self, stack):
        e2e = self.e2e
        base = self.base

        def pids():
            files = [base / "spool" / "pid" / "master.pid", base / "run" / "dovecot" / "master.pid",
                     base / "run" / "rspamd" / "rspamd.pid"]
            return {str(f): f.read_text().strip() if f.exists() else None for f in files}

        def first_tenant_receives():
            token = uuid.uuid4().hex
            refused = e2e.smtp_send(e2e.OUTSIDE_SENDER, [ALICE], token)
            if refused:
                raise RuntimeError(f"refused: {refused}")
            e2e.wait_delivered(base, ALICE, token)
            return f"{ALICE}, from the rows the agent wrote"
        e2e.check("gitops: the first commit's mailbox receives mail", first_tenant_receives)

        state = {}

        def pull_request_plan():
            good = self.git("rev-parse", "HEAD").strip()
            self.mailops("new", NEW, "--admin", ALICE)
            self.add_mailbox(NEW, "welcome")
            self.mailops("build")
            key_files = sorted(p.name for p in (self.repo / "keys").glob(f"{NEW}.*.key.age"))
            if not key_files:
                raise RuntimeError(f"`mailops new` wrote no encrypted key for {NEW} under keys/")
            for name in key_files:
                if not (self.repo / "keys" / name).read_bytes().startswith(b"age-encryption.org/v1"):
                    raise RuntimeError(f"keys/{name} is not an age file")
            self.git("add", "-A")
            # The pull request's plan, before the merge: no database anywhere.
            env = {"MAILOPS_DATABASE_URL": ""}
            proc = self.mailops("plan", "--base", good, "--format", "json", env=env)
            plan = json.loads(proc.stdout)
            state["plan"] = plan
            files = plan_file_paths(plan)
            if not files:
                raise RuntimeError(f"the plan shows no file: {proc.stdout[:600]}")
            strangers = [f for f in files if NEW not in f]
            if strangers:
                raise RuntimeError(f"the plan shows files of others: {strangers}")
            domains = plan_row_domains(plan)
            if domains != {NEW}:
                raise RuntimeError(f"the plan's rows are of {sorted(domains)}, expected only {NEW}")
            if plan.get("database", {}).get("url") is not None:
                raise RuntimeError(f"the plan names a database: {plan.get('database')}")
            state["good"] = good
            state["head"] = self.commit_and_push(f"Onboard {NEW}")
            return f"{len(files)} files, rows of {NEW} only, no database"
        e2e.check("gitops: plan --base shows exactly the new tenant's files and rows", pull_request_plan)

        def onboarding():
            before = pids()
            reloads = len(self.reload_lines())
            status = self.reconcile_ok("onboarding")
            if status.get("outcome") != "applied" or status.get("commit") != state["head"]:
                raise RuntimeError(f"status: {status}")
            installed = sorted((self.root / "var" / "lib" / "rspamd" / "dkim").glob(f"{NEW}.*.key"))
            if not installed:
                raise RuntimeError(f"no key of {NEW} installed")
            for key in installed:
                if b"PRIVATE KEY" not in key.read_bytes():
                    raise RuntimeError(f"{key} is not a decrypted private key")
                if key.stat().st_mode & 0o007:
                    raise RuntimeError(f"{key} is readable by others: {oct(key.stat().st_mode)}")
            token = uuid.uuid4().hex
            refused = e2e.smtp_send(e2e.OUTSIDE_SENDER, [WELCOME], token)
            if refused:
                raise RuntimeError(f"refused: {refused}")
            e2e.wait_delivered(base, WELCOME, token)
            token = uuid.uuid4().hex
            e2e.smtp_send(WELCOME, [ALICE], token, port=587, login=(WELCOME, self.passwords[WELCOME]))
            raw = e2e.wait_delivered(base, ALICE, token)[0]
            tags = e2e.verify_dkim(raw, e2e.Tenants(self.repo / "tenants"))
            if tags.get("d") != NEW:
                raise RuntimeError(f"signed as d={tags.get('d')}, expected {NEW}")
            if pids() != before:
                raise RuntimeError(f"a service was restarted: {before} → {pids()}")
            if len(self.reload_lines()) != reloads:
                raise RuntimeError(f"the agent reloaded: {self.reload_lines()[reloads:]}")
            # nginx's files for the new tenant: written, and no nginx reload (above).
            web = self.root / "var" / "www" / "mailops"
            policy = web / "mta-sts" / f"{NEW}.txt"
            if not policy.read_text().startswith("version: STSv1\n"):
                raise RuntimeError(f"{policy}: {policy.read_text()!r}")
            if f"\n{NEW} mta-sts.{NEW} autoconfig.{NEW}\n" not in (web / "certificates.list").read_text():
                raise RuntimeError(f"{NEW} not in the certificate list")
            return (f"{WELCOME} receives; its mail is signed d={NEW} s={tags.get('s')} and dkimpy verifies it; "
                    f"its MTA-STS policy and certificate names installed; same PIDs, no reload (nginx neither)")
        e2e.check("gitops: reconcile applies the merged tenant: delivered, DKIM-signed, no restart",
                  onboarding)

        def failing_commit_refused():
            good = self.git("rev-parse", "HEAD").strip()
            path = self.repo / "tenants" / f"{NEW}.toml"
            path.write_text(path.read_text() + '\n[[mailbox]]\nuser = "bad user"\npassword = "x"\n')
            bad = self.commit_and_push("A mailbox the compiler refuses")
            proc = self.reconcile()
            if proc.returncode != 1:
                raise RuntimeError(f"reconcile exited {proc.returncode}, expected 1: {proc.stderr.strip()[-600:]}")
            status = self.status()
            if status.get("outcome") != "refused" or status.get("commit") != good or status.get("tried") != bad:
                raise RuntimeError(f"status: {status}")
            human = e2e.run(e2e.BIN, "status", "--config", self.config, check_rc=False).stdout
            if "does not compile" not in (status.get("error") or "") or bad[:12] not in human:
                raise RuntimeError(f"status does not say why: {human.strip()[:600]}")
            code, text = e2e.rcpt_code(WELCOME)
            if code != 250:
                raise RuntimeError(f"the host left the last good commit: RCPT {WELCOME} → {code} {text}")
            # The next run still holds the host on the last good commit.
            again = self.reconcile()
            if self.status().get("commit") != good:
                raise RuntimeError(f"a second run moved the host: {self.status()}")
            self.git("revert", "--no-edit", "HEAD")
            self.git("push", "--quiet", "origin", "HEAD:main")
            fixed = self.reconcile_ok("the revert")
            if fixed.get("outcome") != "applied":
                raise RuntimeError(f"the revert was not applied: {fixed}")
            return (f"exit 1, host stays on {good[:12]}, status says `does not compile`; "
                    f"second run exit {again.returncode}; the revert applied")
        e2e.check("gitops: a commit failing check is refused; the host stays on the last good commit",
                  failing_commit_refused)

        def hand_edit_healed():
            self.sql(f"DELETE FROM virtual_users WHERE email = '{WELCOME}'")
            code, text = e2e.rcpt_code(WELCOME)
            if code < 500:
                raise RuntimeError(f"the hand edit did not take: RCPT {code} {text}")
            status = self.reconcile_ok("healing")
            if status.get("outcome") != "healed" or not status.get("drift_healed"):
                raise RuntimeError(f"status: {status}")
            code, text = e2e.rcpt_code(WELCOME)
            if code != 250:
                raise RuntimeError(f"after healing, RCPT {WELCOME} → {code} {text}")
            token = uuid.uuid4().hex
            e2e.smtp_send(e2e.OUTSIDE_SENDER, [WELCOME], token)
            e2e.wait_delivered(base, WELCOME, token)
            return f"deleted by hand, put back: {status['drift_healed'][0]}"
        e2e.check("gitops: a row deleted by hand is healed by the next run", hand_edit_healed)

        def removal_needs_trailer():
            (self.repo / "tenants" / f"{NEW}.toml").unlink()
            for key in (self.repo / "keys").glob(f"{NEW}.*.key.age"):
                key.unlink()
            self.mailops("build")
            self.commit_and_push(f"Offboard {NEW}")
            proc = self.reconcile()
            if proc.returncode != 1 or "Mailops-Allow-Destroy" not in proc.stderr:
                raise RuntimeError(f"without the trailer: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
            code, text = e2e.rcpt_code(WELCOME)
            if code != 250:
                raise RuntimeError(f"the refused removal took effect: RCPT {code} {text}")
            head = self.commit_and_push(f"Offboard {NEW}\n\nMailops-Allow-Destroy: {NEW}", amend=True)
            status = self.reconcile_ok("with the trailer")
            if status.get("outcome") != "applied" or status.get("commit") != head:
                raise RuntimeError(f"status: {status}")
            left = self.sql(f"SELECT COUNT(*) FROM virtual_domains WHERE name = '{NEW}'").strip()
            if left != "0":
                raise RuntimeError(f"{NEW} still has {left} domain rows")
            code, text = e2e.rcpt_code(WELCOME)
            if code < 500:
                raise RuntimeError(f"mail to the removed tenant: RCPT {code} {text}")
            kept = e2e.maildir(base, WELCOME)
            if not any((kept / sub).is_dir() and any((kept / sub).iterdir()) for sub in ("new", "cur")):
                raise RuntimeError(f"{kept} is gone or empty")
            return f"refused without the trailer (exit 1); with it RCPT → {code}; {kept} kept"
        e2e.check("gitops: removing a tenant is refused without the trailer and applied with it, Maildir kept",
                  removal_needs_trailer)

        def no_plaintext_key_in_git():
            history = e2e.run("git", "--git-dir", self.forge, "log", "-p", "--all", "--binary").stdout
            if "PRIVATE KEY" in history:
                raise RuntimeError("a PEM private key is in the forge's history")
            # Every key the host installed: no line of its body is in the history.
            bodies = 0
            for key in (self.root / "var" / "lib" / "rspamd" / "dkim").glob("*.key"):
                for line in key.read_text().splitlines():
                    if len(line) >= 40 and "-----" not in line:
                        bodies += 1
                        if line in history:
                            raise RuntimeError(f"a line of {key.name} is in the forge's history")
            if bodies == 0:
                raise RuntimeError("no installed key to compare with")
            ages = re.findall(r"^diff --git a/(keys/\S+\.key\.age) ", history, re.M)
            if not ages:
                raise RuntimeError("the history holds no encrypted key")
            return f"{len(set(ages))} age files in history, no PEM, no line of {bodies} key lines"
        e2e.check("gitops: git log -p of the forge holds no private key in plaintext", no_plaintext_key_in_git)


def sql_lines(user_data):
    """The lines of the first-boot script in the user data."""
    script = next(f["content"] for f in user_data["write_files"] if f["path"].endswith("mailops-firstboot"))
    return [line.strip() for line in script.splitlines()]


def plan_file_paths(plan):
    """Every generated path a JSON plan lists (added, changed or removed)."""
    return [entry["path"] for entry in plan["files"]["files"]]


def plan_row_domains(plan):
    """The domains of the row changes a JSON plan lists."""
    return {section["domain"] for section in plan["database"]["tenants"] if section.get("changes")}
