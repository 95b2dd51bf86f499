//! A private PostgreSQL cluster in a temporary folder, on a port of its own, that a test may
//! stop and start at will without disturbing the shared server other tests use.
//!
//! The server binaries come from `HEADWATER_PG_BIN`, else the folder of `initdb` on `PATH`,
//! else `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin` (Debian's layout).
//! None found fails the test: it is never skipped. PostgreSQL refuses to run as root, so as
//! root the binaries run as the `postgres` user, through `runuser`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ScratchDir, free_ports};

/// A cluster, stopped (immediately) and removed when dropped.
pub struct Cluster {
    bin: PathBuf,
    dir: ScratchDir,
    pub port: u16,
    /// Run the binaries as this user (`postgres` when the test runs as root).
    user: Option<String>,
}

impl Cluster {
    /// Creates and starts a cluster with trust authentication for `postgres`, extra server
    /// settings given as `name=value`.
    pub fn start(settings: &[&str]) -> Cluster {
        let bin = server_binaries();
        let dir = ScratchDir::new("hw-pg");
        let running_as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let user = running_as_root.then(|| "postgres".to_owned());
        if let Some(user) = &user {
            give_to(&dir.0, user);
        }
        let [port] = free_ports::<1>();
        let cluster = Cluster {
            bin,
            dir,
            port,
            user,
        };
        let data = cluster.data().display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let mut conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            cluster.dir.0.display()
        );
        for setting in settings {
            conf.push_str(setting);
            conf.push('\n');
        }
        let conf_path = cluster.data().join("postgresql.auto.conf");
        std::fs::write(&conf_path, conf).expect("writing postgresql.auto.conf");
        cluster.start_again();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    /// Starts the stopped cluster and waits until it accepts connections.
    pub fn start_again(&self) {
        let data = self.data().display().to_string();
        let log = self.dir.0.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-t", "60", "start"],
        );
    }

    /// Stops the server the way a crash would: no checkpoint, connections cut at once.
    pub fn stop_immediately(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// The server's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("server.log")).unwrap_or_default()
    }

    /// A server binary, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed ({}):\n{}{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let program = self.bin.join("pg_ctl");
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

/// Hands a folder to `user`, so that the server running as that user can write in it.
fn give_to(dir: &Path, user: &str) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .expect("running id");
        assert!(
            out.status.success(),
            "no user `{user}` to run PostgreSQL as"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    std::os::unix::fs::chown(dir, Some(id("-u")), Some(id("-g"))).expect("chown");
}

/// The folder holding `initdb`, `pg_ctl` and `postgres`.
fn server_binaries() -> PathBuf {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let from_env = std::env::var_os("HEADWATER_PG_BIN").map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| has_initdb(dir));
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| version_of(p));
    let candidates = from_env
        .into_iter()
        .chain(on_path)
        .chain(from_pg_config)
        .chain(debian.into_iter().rev());
    for dir in candidates {
        if has_initdb(&dir) {
            return dir;
        }
    }
    panic!(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: install the server package \
         (e.g. postgresql) or set HEADWATER_PG_BIN to their folder"
    );
}

/// The major version in `/usr/lib/postgresql/<major>/bin`.
fn version_of(bin: &Path) -> u32 {
    let major = bin.parent().and_then(Path::file_name);
    major.and_then(|m| m.to_str()?.parse().ok()).unwrap_or(0)
}
