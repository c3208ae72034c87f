//! Operator commands against a deployment (or the local stack): the infrastructure scan and the
//! audit chain check. Configuration comes from the same environment variables as the functions
//! (`TABLE_NAME`, `KMS_KEY_ID`, and `AWS_ENDPOINT_URL` locally).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onboarding_app::usecases::{admin, scan};
use onboarding_app::Services;

#[derive(Parser)]
#[command(
    name = "onboarding-ops",
    about = "Operator commands for the onboarding control plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lists every provisioning artifact and reports those no live tenant owns; exits 1 if any.
    Scan,
    /// Verifies the hash chain of a tenant's audit trail; exits 1 if it is broken.
    VerifyAudit {
        /// The tenant id, `tnt_...`.
        tenant_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(clean) if clean => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<bool> {
    let services = Services::from_env().await?;
    match command {
        Command::Scan => {
            let report = scan::scan(&services).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(report.is_clean())
        }
        Command::VerifyAudit { tenant_id } => {
            let view = admin::audit_trail(&services, &tenant_id)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!(
                "{}",
                serde_json::json!({
                    "tenant_id": view.tenant_id,
                    "entries": view.entries.len(),
                    "chain_valid": view.chain_valid,
                    "chain_error": view.chain_error,
                })
            );
            Ok(view.chain_valid)
        }
    }
}
