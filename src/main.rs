//! The `shopd` binary: parse the command line, then hand over to the library.
//! `main` owns the exit policy: errors print their whole chain and exit 1.

use anyhow::Context;
use clap::Parser;
use shopd::catalog::import::{ImportOptions, sources_from_dir};
use shopd::cli::{AdminCommand, AdminCreateArgs, Cli, Command};
use shopd::configuration::Config;
use shopd::startup::{Application, open_catalog};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod progress;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(cli.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    shopd::telemetry::init(config.log_format, &config.log_level);
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
            let sources = sources_from_dir(&args.dir)?;
            if sources.is_empty() {
                anyhow::bail!("{} holds none of the import files", args.dir.display());
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
            Ok(())
        }
        Command::Export(args) => {
            let catalog = open_catalog(&config)?;
            let report = catalog.export(&args.dir)?;
            for (file, n) in report.files {
                println!("{n:>9}  {}", args.dir.join(file).display());
            }
            Ok(())
        }
        Command::Reindex => {
            let catalog = open_catalog(&config)?;
            let total = catalog.product_count()?;
            let bar = progress::bar(total, "products");
            let started = std::time::Instant::now();
            let n = catalog.reindex(&config.search_dir(), &|done, _| bar.set_position(done))?;
            bar.finish_and_clear();
            println!(
                "indexed {n} product(s) into {} in {:.1} s",
                config.search_dir().display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
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
            Ok(())
        }
    }
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
    let store = shopd::store::Store::open(&config.database_path())
        .with_context(|| format!("opening {}", config.database_path().display()))?;
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
