//! Command-line interface (clap). The settings' flags (and their `SHOPD_*`
//! variables) are declared by the configuration's sections (`config`), which
//! also read them from the TOML file; this module adds the commands and
//! their own arguments.

use crate::config::{CommonRaw, Raw, ServeRaw};
use clap::{Args, Parser, Subcommand};
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shopd",
    version,
    about = "One binary that runs a whole online shop's backend"
)]
pub struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, global = true, env = "SHOPD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonRaw,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Import JSONL files (brands, categories, users, products, reviews).
    Import(ImportArgs),
    /// Export the catalogue as JSONL files.
    Export(ExportArgs),
    /// Generate a deterministic synthetic catalogue as JSONL files.
    Gen(GenArgs),
    /// Rebuild the search index from the catalogue (offline).
    Reindex,
    /// Administer accounts on a stopped server's data dir.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Back up and restore the whole shop (a directory or S3).
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account with a role (bootstraps the first admin). The
    /// password is asked for on the terminal, or read from standard input
    /// with --password-stdin.
    Create(AdminCreateArgs),
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    #[arg(long)]
    pub email: String,
    /// customer, staff or admin.
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// Display name (default: the part of the email before '@').
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: ServeRaw,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write a backup of a stopped server's data dir (--data-dir), or of a
    /// running leader (--from URL with --replication-token), to DEST: a
    /// directory or s3://bucket/prefix (AWS_* variables give credentials,
    /// region and endpoint).
    Create(BackupCreateArgs),
    /// List the backups in DEST, newest last.
    List(BackupListArgs),
    /// Restore a backup (the newest, or --id) from SRC into an empty
    /// --data-dir, search index included.
    Restore(BackupRestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    pub dest: String,
    /// Take the backup from a running leader instead of a data dir.
    #[arg(long)]
    pub from: Option<String>,
    /// The leader's replication token (with --from).
    #[arg(long, env = "SHOPD_REPLICATION_TOKEN", hide_env_values = true)]
    pub replication_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackupListArgs {
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    pub src: String,
    /// Which backup (as `backup list` names it); default the newest.
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Directory holding the .jsonl files.
    pub dir: PathBuf,
    /// Abort with nothing written if any line is bad.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write the .jsonl files into.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of products.
    #[arg(long, default_value_t = 100_000)]
    pub products: u32,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of brands.
    #[arg(long, default_value_t = 1_000)]
    pub brands: u32,
    /// Approximate number of categories (two levels).
    #[arg(long, default_value_t = 200)]
    pub categories: u32,
    /// Number of users.
    #[arg(long, default_value_t = 20_000)]
    pub users: u32,
    /// Generated product photos (JPEG, 1600 × 1200) written to `images/`,
    /// shared round-robin as each product's first image (0: none).
    #[arg(long, default_value_t = 0)]
    pub images: u32,
    /// The generated photos' width in pixels (4:3).
    #[arg(long, default_value_t = 1600)]
    pub image_side: u32,
    /// Output directory.
    pub dir: PathBuf,
}

impl Cli {
    /// The settings this invocation gave (flags over variables); the
    /// configuration puts them over the file's.
    pub fn settings(&self) -> Raw {
        Raw {
            common: self.common.clone(),
            serve: match &self.command {
                Command::Serve(s) => s.settings.clone(),
                _ => ServeRaw::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "shopd",
            "--data-dir",
            "/tmp/x",
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:9",
            "--cache-ttl-list",
            "30",
        ])
        .unwrap();
        let raw = cli.settings();
        assert_eq!(raw.common.data_dir.as_deref(), Some(Path::new("/tmp/x")));
        assert!(raw.serve.demo);
        assert_eq!(raw.serve.http.listen.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(raw.serve.cache.cache_ttl_list, Some(30));
    }

    /// `docs/guide/configuration.md`'s reference table names every flag
    /// with its variable, and every file key, and nothing else.
    #[test]
    fn the_configuration_reference_lists_every_setting() {
        let doc = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide/configuration.md"),
        )
        .unwrap();
        let table = doc
            .split("<!-- config-reference:start -->")
            .nth(1)
            .and_then(|t| t.split("<!-- config-reference:end -->").next())
            .expect("the reference table's markers");
        // The first `code` of a cell, or "—".
        let code = |cell: &str| -> String { cell.split('`').nth(1).unwrap_or("—").to_string() };
        let mut documented_flags = std::collections::BTreeSet::new();
        let mut documented_keys = std::collections::BTreeSet::new();
        for row in table.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
            if cells.len() < 5 || cells[0].trim() == "Flag" {
                continue;
            }
            let flag = code(cells[0]);
            if flag != "—" {
                let name = flag.split_whitespace().next().unwrap().to_string();
                documented_flags.insert((name, code(cells[1])));
            }
            let key = code(cells[2]);
            if key != "—" {
                documented_keys.insert(key.split('.').next().unwrap().to_string());
            }
        }
        let mut flags = std::collections::BTreeSet::new();
        let command = Cli::command();
        let serve = command.find_subcommand("serve").unwrap();
        for arg in command.get_arguments().chain(serve.get_arguments()) {
            let Some(long) = arg.get_long() else {
                continue;
            };
            if ["help", "version"].contains(&long) {
                continue;
            }
            // A flag without a variable (`--accept-log-loss`) shows "—".
            let env = arg
                .get_env()
                .map_or("—".to_string(), |e| e.to_string_lossy().into_owned());
            flags.insert((format!("--{long}"), env));
        }
        assert_eq!(documented_flags, flags, "flags and variables");
        let keys: std::collections::BTreeSet<String> = crate::config::file_keys()
            .into_iter()
            .map(str::to_string)
            .collect();
        assert_eq!(documented_keys, keys, "file keys");
    }
}
