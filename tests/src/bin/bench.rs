//! Measures verification-to-Active time under concurrency on the local stack.
//!
//! Creates N signups (default 50, set by the first argument or `BENCH_TENANTS`), reads their
//! verification tokens from the local mailbox, posts all N tokens to `POST /v1/verify` at once
//! and waits until every tenant is active. Each tenant's time comes from its own audit trail:
//! the `at` of `provisioning.activate.succeeded` minus the `at` of `signup.verified`. The report
//! is printed and written to `docs/benchmarks.md`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use end_to_end_tests::machine::{load_average, machine_description};
use end_to_end_tests::{link_in, repository_root, signup_body, TestStack};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const DEFAULT_TENANTS: usize = 50;
const VERIFIED_ACTION: &str = "signup.verified";
const ACTIVATED_ACTION: &str = "provisioning.activate.succeeded";
/// First line of the license allocation benchmark's part of `docs/benchmarks.md`, written by
/// `bench_msp.rs`. This benchmark keeps that part when it rewrites the file.
const MSP_SECTION_MARKER: &str = "<!-- License allocation benchmark: written by tests/src/bin/bench_msp.rs from this line to the end of the file. -->";

/// One signup created by the benchmark.
struct Signup {
    signup_id: String,
    tenant_id: String,
    email: String,
}

/// Measured times of one run.
struct Results {
    tenants: usize,
    /// Verification-to-Active time of each tenant, sorted ascending.
    per_tenant: Vec<Duration>,
    /// From sending the first verify request to the latest activation audit entry.
    wall: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tenants = tenant_count()?;
    let load_before = load_average()?;
    eprintln!("bench: starting the local stack");
    let stack = TestStack::start().await?;

    eprintln!("bench: creating {tenants} signups");
    let signups = create_signups(&stack, tenants).await?;
    let tokens = collect_tokens(&stack, &signups, Duration::from_secs(120)).await?;

    eprintln!("bench: verifying {tenants} signups concurrently");
    let first_verify_at = verify_all(&stack, &tokens).await?;
    let active_timeout = Duration::from_secs(60 + 6 * u64::try_from(tenants)?);
    wait_until_all_active(&stack, &signups, active_timeout).await?;

    let results = measure(&stack, &signups, first_verify_at).await?;
    let machine = machine_description(&load_before, &load_average()?)?;
    let report = render_report(&results, &machine);
    println!("{report}");
    let path = repository_root().join("docs/benchmarks.md");
    let msp_section = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| Some(text[text.find(MSP_SECTION_MARKER)?..].to_owned()));
    let text = match msp_section {
        Some(section) => format!("{report}\n{section}"),
        None => report,
    };
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

/// Reads the number of tenants from the first argument, else `BENCH_TENANTS`, else the default.
fn tenant_count() -> anyhow::Result<usize> {
    let text = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_TENANTS").ok());
    let Some(text) = text else {
        return Ok(DEFAULT_TENANTS);
    };
    let count: usize = text.trim().parse().with_context(|| {
        format!("invalid tenant count {text:?}; pass a whole number such as 50")
    })?;
    ensure!(count > 0, "invalid tenant count 0; pass at least 1");
    Ok(count)
}

/// Posts one signup per tenant, each from its own client address so the per-IP
/// signup limit does not apply.
async fn create_signups(stack: &TestStack, tenants: usize) -> anyhow::Result<Vec<Signup>> {
    let mut signups = Vec::with_capacity(tenants);
    for index in 0..tenants {
        let body = signup_body(&format!("bench{index}"));
        // RFC 2544 reserves 198.18.0.0/15 for benchmark tests.
        let ip = format!("198.18.{}.{}", index / 250, index % 250 + 1);
        let response = stack.post_signup(&body, &ip).await;
        let status = response.status();
        let accepted: Value = response
            .json()
            .await
            .context("reading the signup response")?;
        ensure!(
            status.as_u16() == 202,
            "signup {index} failed with status {status}: {accepted}"
        );
        signups.push(Signup {
            signup_id: string_field(&accepted, "signup_id")?,
            tenant_id: string_field(&accepted, "tenant_id")?,
            email: string_field(&body, "email")?,
        });
    }
    Ok(signups)
}

fn string_field(value: &Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("missing string field {name:?} in {value}"))
}

/// Reads the verification token of every signup from the local mailbox, in signup order.
async fn collect_tokens(
    stack: &TestStack,
    signups: &[Signup],
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let prefix = stack.url("/v1/verify?token=");
    let deadline = Instant::now() + timeout;
    loop {
        let mut tokens_by_email = HashMap::new();
        for email in stack.mailbox().await {
            let is_verification = email["subject"]
                .as_str()
                .is_some_and(|subject| subject.contains("Confirm"));
            let Some(recipients) = email["to"].as_array() else {
                continue;
            };
            let Some(link) = link_in(&email, &prefix).filter(|_| is_verification) else {
                continue;
            };
            let token = link[prefix.len()..].to_owned();
            for recipient in recipients.iter().filter_map(Value::as_str) {
                tokens_by_email.insert(recipient.to_owned(), token.clone());
            }
        }

        let tokens: Vec<String> = signups
            .iter()
            .filter_map(|signup| tokens_by_email.get(&signup.email).cloned())
            .collect();
        if tokens.len() == signups.len() {
            return Ok(tokens);
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} verification emails arrived within {timeout:?}",
                tokens.len(),
                signups.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Posts every token at once and returns the time just before the first request was sent.
async fn verify_all(stack: &TestStack, tokens: &[String]) -> anyhow::Result<OffsetDateTime> {
    let requests = tokens.iter().map(|token| {
        stack
            .client
            .post(stack.url("/v1/verify"))
            .json(&json!({ "token": token }))
            .send()
    });
    let started_at = OffsetDateTime::now_utc();
    let responses = futures::future::join_all(requests).await;
    for (index, response) in responses.into_iter().enumerate() {
        let response = response.with_context(|| format!("verify request {index} failed"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("verify request {index} failed with status {status}: {body}");
        }
    }
    Ok(started_at)
}

/// Polls every signup until all are active, and fails as soon as one is deactivated.
async fn wait_until_all_active(
    stack: &TestStack,
    signups: &[Signup],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<&Signup> = signups.iter().collect();
    while !waiting.is_empty() {
        let statuses = futures::future::join_all(
            waiting
                .iter()
                .map(|signup| stack.signup_status(&signup.signup_id)),
        )
        .await;
        let mut still_waiting = Vec::new();
        for (signup, status) in waiting.into_iter().zip(statuses) {
            match status["state"].as_str() {
                Some("active") => {}
                Some("deactivated") => bail!(
                    "tenant {} was deactivated instead of activated: {status}",
                    signup.tenant_id
                ),
                _ => still_waiting.push(signup),
            }
        }
        waiting = still_waiting;
        if !waiting.is_empty() && Instant::now() > deadline {
            bail!(
                "{} of {} tenants were not active within {timeout:?}",
                waiting.len(),
                signups.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Reads each tenant's audit trail and computes the per-tenant and wall times.
async fn measure(
    stack: &TestStack,
    signups: &[Signup],
    first_verify_at: OffsetDateTime,
) -> anyhow::Result<Results> {
    let admin = stack.token("bench@example.com", &["platform_admin"]).await;
    let mut per_tenant = Vec::with_capacity(signups.len());
    let mut last_active_at = first_verify_at;
    for signup in signups {
        let url = stack.url(&format!("/v1/admin/tenants/{}/audit", signup.tenant_id));
        let audit: Value = stack
            .client
            .get(url)
            .bearer_auth(&admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let verified_at = audit_time(&audit, VERIFIED_ACTION)?;
        let active_at = audit_time(&audit, ACTIVATED_ACTION)?;
        let elapsed = Duration::try_from(active_at - verified_at).with_context(|| {
            format!(
                "tenant {}: {ACTIVATED_ACTION} is earlier than {VERIFIED_ACTION}",
                signup.tenant_id
            )
        })?;
        per_tenant.push(elapsed);
        last_active_at = last_active_at.max(active_at);
    }
    per_tenant.sort();
    let wall = Duration::try_from(last_active_at - first_verify_at)
        .context("the last activation is earlier than the first verify request")?;
    Ok(Results {
        tenants: signups.len(),
        per_tenant,
        wall,
    })
}

/// Finds the first audit entry with `action` and parses its `at` time.
fn audit_time(audit: &Value, action: &str) -> anyhow::Result<OffsetDateTime> {
    let tenant_id = audit["tenant_id"].as_str().unwrap_or("?");
    let entry = audit["entries"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["action"] == action))
        .with_context(|| format!("tenant {tenant_id} has no {action} audit entry"))?;
    let at = entry["at"]
        .as_str()
        .with_context(|| format!("the {action} entry of tenant {tenant_id} has no at time"))?;
    OffsetDateTime::parse(at, &Rfc3339)
        .with_context(|| format!("invalid RFC 3339 time {at:?} in the {action} entry"))
}

/// Returns the nearest-rank percentile of an ascending, non-empty list.
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

fn render_report(results: &Results, machine: &str) -> String {
    let tenants = results.tenants;
    let p50 = seconds(percentile(&results.per_tenant, 50));
    let p95 = seconds(percentile(&results.per_tenant, 95));
    let max = seconds(percentile(&results.per_tenant, 100));
    let wall = seconds(results.wall);
    format!(
        "# Benchmarks\n\
         \n\
         ## Concurrent verification to Active\n\
         \n\
         The benchmark starts one local stack (moto and the local runtime), creates {tenants} \
         signups from distinct client addresses and reads their verification tokens from the \
         local mailbox. It then posts all {tenants} tokens to `POST /v1/verify` at once and waits \
         until every tenant is active. It fails if any tenant ends deactivated.\n\
         \n\
         - **Verification-to-Active time** of a tenant: the `at` time of its \
         `{ACTIVATED_ACTION}` audit entry minus the `at` time of its `{VERIFIED_ACTION}` entry. \
         The server writes both entries, so client polling does not affect this time.\n\
         - **Wall time**: from just before the first verify request is sent to the latest \
         `{ACTIVATED_ACTION}` entry of the run. The client and the server read the same clock.\n\
         \n\
         Percentiles use the nearest-rank method.\n\
         \n\
         Command:\n\
         \n\
         ```sh\n\
         scripts/bench              # {DEFAULT_TENANTS} tenants\n\
         BENCH_TENANTS=20 scripts/bench\n\
         scripts/bench 20\n\
         ```\n\
         \n\
         ### Machine\n\
         \n\
         {machine}\
         \n\
         ### Results\n\
         \n\
         | tenants | p50 | p95 | max | wall time |\n\
         |---|---|---|---|---|\n\
         | {tenants} | {p50} | {p95} | {max} | {wall} |\n\
         \n\
         ### Limits\n\
         \n\
         The local stack is not AWS. Moto stands in for DynamoDB, SQS, SES and KMS, and the \
         local runtime runs one process per Lambda worker on this machine, together with the \
         state machine interpreter. The provisioning definition also waits 2 seconds before \
         each data store check. Under this load moto sometimes returns an HTML error page to \
         DynamoDB `TransactWriteItems`. The provisioner retries that as a transient error, and \
         a tenant whose retries all fail is rolled back, which fails the benchmark. These \
         numbers show that the orchestration works under \
         concurrency. They do not predict latency on AWS.\n"
    )
}
