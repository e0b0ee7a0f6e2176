//! The `shopd` binary: parse the command line, then hand over to the library.
//! `main` owns the exit policy: errors print their whole chain and exit 1.

use anyhow::Context;
use clap::Parser;
use shopd::catalog::import::{ImportOptions, sources_from_dir};
use shopd::cli::{Cli, Command};
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
