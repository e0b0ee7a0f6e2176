//! The `shopd` binary: parse the command line, then hand over to the library.
//! `main` owns the exit policy: errors print their whole chain and exit 1.

use anyhow::Context;
use clap::Parser;
use shopd::catalog::import::{ImportOptions, sources_from_dir};
use shopd::cli::{AdminCommand, AdminCreateArgs, BackupCommand, Cli, Command};
use shopd::config::Config;
use shopd::media::transfer;
use shopd::startup::{Application, open_catalog};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod progress;

fn main() -> ExitCode {
    // Everything shopd writes is for its owner only (see the function).
    shopd::startup::owner_only_files();
    let cli = Cli::parse();
    let config = match Config::resolve(cli.settings(), cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    shopd::telemetry::init(config.log.format, &config.log.level);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => serve(config),
        Command::Import(args) => {
            let catalog = open_catalog(&config)?;
            let mut sources = sources_from_dir(&args.dir)?;
            if sources.is_empty() {
                anyhow::bail!("{} holds none of the import files", args.dir.display());
            }
            // Image files first: products name them by path, and the
            // catalogue's transaction checks that every image it names exists.
            let images = import_images(&catalog, &config, &args.dir)?;
            if !images.by_path.is_empty() {
                for s in sources.iter_mut().filter(|s| s.file == "products.jsonl") {
                    let text = std::fs::read_to_string(args.dir.join(&s.file))?;
                    let rewritten: String =
                        text.lines().map(|l| images.rewrite(l) + "\n").collect();
                    s.len = rewritten.len() as u64;
                    s.reader = Box::new(std::io::Cursor::new(rewritten.into_bytes()));
                }
            }
            let bars = progress::Bars::new();
            let result = catalog.import(
                sources,
                ImportOptions {
                    strict: args.strict,
                },
                &bars,
            );
            bars.clear();
            let report = match result {
                Ok(r) => r,
                Err(shopd::catalog::import::ImportError::Rejected(report)) => {
                    progress::print_import(&report);
                    anyhow::bail!(
                        "{} bad line(s); nothing was imported (--strict)",
                        report.skipped()
                    );
                }
                Err(e) => return Err(e.into()),
            };
            progress::print_import(&report);
            // The search index is brought up to date now, so a server
            // started on this data dir can search from its first answer.
            reindex(&catalog, &config)
        }
        Command::Export(args) => {
            let catalog = open_catalog(&config)?;
            let report = catalog.export(&args.dir)?;
            for (file, n) in report.files {
                println!("{n:>9}  {}", args.dir.join(file).display());
            }
            let media = shopd::services::open_media(catalog.store(), &config)?;
            let n = runtime()?.block_on(transfer::export_images(&media, &args.dir))?;
            println!(
                "{n:>9}  {} (and their files in {})",
                args.dir.join(transfer::MEDIA_FILE).display(),
                args.dir.join(transfer::IMAGES_DIR).display()
            );
            Ok(())
        }
        Command::Reindex => reindex(&open_catalog(&config)?, &config),
        Command::Backup(command) => backup(command, &config),
        Command::Admin(AdminCommand::Create(args)) => admin_create(&config, args),
        Command::Gen(args) => {
            let spec = shopd::generator::Spec {
                products: args.products,
                brands: args.brands,
                categories: args.categories,
                users: args.users,
                seed: args.seed,
            };
            let counts = shopd::generator::write_dir(&spec, &args.dir)
                .with_context(|| format!("writing {}", args.dir.display()))?;
            for (file, n) in counts {
                println!("{n:>9}  {}", args.dir.join(file).display());
            }
            let images = shopd::generator::images::write_images(
                &args.dir,
                args.images,
                args.seed,
                args.image_side,
            )
            .with_context(|| format!("writing images into {}", args.dir.display()))?;
            if images > 0 {
                println!("{images:>9}  {}", args.dir.join("images").display());
            }
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Stores the image files `dir` names (`shopd import`), with a progress bar.
fn import_images(
    catalog: &shopd::catalog::Catalog,
    config: &Config,
    dir: &std::path::Path,
) -> anyhow::Result<transfer::ImportedImages> {
    let media = shopd::services::open_media(catalog.store(), config)?;
    let bar = progress::bar(0, "images");
    let images = runtime()?.block_on(transfer::import_images(&media, dir, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }))?;
    bar.finish_and_clear();
    if !images.by_path.is_empty() {
        println!(
            "{:>9}  image file(s) stored ({} new); their variants are made when a server starts",
            images.by_path.len(),
            images.created
        );
    }
    Ok(images)
}

/// Rebuilds the search index of `catalog` in the configured directory.
fn reindex(catalog: &shopd::catalog::Catalog, config: &Config) -> anyhow::Result<()> {
    let total = catalog.product_count()?;
    let bar = progress::bar(total, "products");
    let started = std::time::Instant::now();
    let n = catalog.reindex(&config.data.search(), &|done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    println!(
        "indexed {n} product(s) into {} in {:.1} s",
        config.data.search().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `shopd backup create|list|restore`.
fn backup(command: BackupCommand, config: &Config) -> anyhow::Result<()> {
    use shopd::config::backups::Target;
    use shopd::replication::backup;
    let target = |text: &str| Target::parse(text).map_err(|e| anyhow::anyhow!("{e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match command {
            BackupCommand::Create(args) => {
                let dest = target(&args.dest)?;
                let started = std::time::Instant::now();
                let made = match &args.from {
                    Some(url) => {
                        let token = args.replication_token.as_deref().ok_or_else(|| {
                            anyhow::anyhow!("--from needs the leader's --replication-token")
                        })?;
                        backup::create_from_leader(
                            url.trim_end_matches('/'),
                            token,
                            &std::env::temp_dir(),
                            &dest,
                        )
                        .await?
                    }
                    None => {
                        let path = config.data.database();
                        if !path.exists() {
                            anyhow::bail!(
                                "{} holds no database (use --data-dir, or --from a running leader)",
                                config.data.path().display()
                            );
                        }
                        let store = shopd::store::Store::open(&path).with_context(|| {
                            format!(
                                "opening {} (is a server running on it? use --from http://… then)",
                                path.display()
                            )
                        })?;
                        backup::create(&store, config.data.path(), &dest, Some(&config.media.store))
                            .await?
                    }
                };
                println!(
                    "backup {} (position {}, {} bytes) written to {} in {:.1} s",
                    made.id,
                    made.manifest.position,
                    made.manifest.bytes,
                    args.dest,
                    started.elapsed().as_secs_f64()
                );
            }
            BackupCommand::List(args) => {
                let all = backup::list(&target(&args.dest)?).await?;
                if all.is_empty() {
                    println!("no backups in {}", args.dest);
                }
                for b in all {
                    let products = b.manifest.rows.get("products").copied().unwrap_or(0);
                    println!(
                        "{}  position {:>10}  {:>12} bytes  {:>9} products  {}",
                        b.id,
                        b.manifest.position,
                        b.manifest.bytes,
                        products,
                        b.manifest.created_at
                    );
                }
            }
            BackupCommand::Restore(args) => {
                let started = std::time::Instant::now();
                let m = backup::restore(
                    &target(&args.src)?,
                    args.id.as_deref(),
                    config.data.path(),
                    &config.media.store,
                )
                .await?;
                println!(
                    "restored {} (position {}) into {} in {:.1} s; search index built",
                    m.id(),
                    m.position,
                    config.data.path().display(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    })
}

/// `shopd admin create`: the password comes from a prompt (not echoed) or
/// the first line of standard input; it is never printed.
fn admin_create(config: &Config, args: AdminCreateArgs) -> anyhow::Result<()> {
    use shopd::domain::account::{Email, Password, Role};
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let role = Role::parse(&args.role)
        .ok_or_else(|| anyhow::anyhow!("--role: must be one of customer, staff, admin"))?;
    let name = args.name.clone().unwrap_or_else(|| {
        email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string()
    });
    let typed = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != again {
            anyhow::bail!("the two passwords differ");
        }
        first
    };
    let password = Password::parse(&typed).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let store = shopd::store::Store::open(&config.data.database())
        .with_context(|| format!("opening {}", config.data.database().display()))?;
    let account = shopd::accounts::create_account_blocking(&store, email, name, role, &password)?;
    println!(
        "created {} {} ({})",
        account.role,
        account.email.as_str(),
        account.id
    );
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let app = Application::build(config).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}
