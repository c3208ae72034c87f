use std::process::ExitCode;

use local_runtime::config::{Config, HELP};
use tracing_subscriber::EnvFilter;

fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping"),
        _ = terminate => tracing::info!("SIGTERM received; stopping"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    // The runtime's own filter is LOCAL_LOG, so that RUST_LOG can go to the functions unchanged.
    let filter = EnvFilter::try_from_env("LOCAL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let config = match Config::load(&environment, &arguments) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("local-runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match local_runtime::app::start(config, &environment).await {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(error = %error, "local runtime failed to start");
            eprintln!("local-runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    runtime.shutdown().await;
    ExitCode::SUCCESS
}
