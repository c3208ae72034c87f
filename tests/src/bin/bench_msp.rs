//! Measures MSP license allocation latency with 10 and with 10,000 customers of one provider.
//!
//! Starts one local stack, creates a provider on the msp plan through the API, grants it a pool
//! of basic licenses and creates 10 customers through the API. It then sends N sequential
//! allocation changes (default 200, set by `BENCH_ALLOCATIONS`) and times each HTTP request.
//! Next it writes 9,990 more customers directly in the table with the product's item mapping
//! functions, because provisioning 10,000 tenants through the state machine takes hours on the
//! local stack, and measures again. It also times the first page of the customer list at both
//! sizes. The report replaces the part of `docs/benchmarks.md` from [`SECTION_MARKER`] to the
//! end of the file.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use end_to_end_tests::machine::{load_average, machine_description};
use end_to_end_tests::{repository_root, signup_body, TestStack};
use futures::{StreamExt, TryStreamExt};
use onboarding_app::aws::dynamo::{audit_item, first_audit, tenant_item, DynamoStore};
use onboarding_app::aws::items::{format_time, s, Item};
use onboarding_app::keys;
use onboarding_app::records::TenantRecord;
use onboarding_app::Services;
use onboarding_domain::audit::Actor;
use onboarding_domain::ids::TenantId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::{CompanyName, EmailAddress, Plan, UseCase, ValidSignup};
use onboarding_domain::trial::TimeZone;
use reqwest::Method;
use serde_json::{json, Value};
use time::OffsetDateTime;

const DEFAULT_ALLOCATIONS: usize = 200;
/// Customers created through the API and provisioned by the state machine.
const API_CUSTOMERS: usize = 10;
const TOTAL_CUSTOMERS: usize = 10_000;
/// Basic licenses granted to the provider's pool, enough for every allocation of the run.
const POOL_SIZE: u64 = 1_000_000;
/// Requests sent before each measured run and left out of its numbers, because the first
/// requests start the function's worker process.
const WARM_UP_REQUESTS: usize = 10;
const LIST_REQUESTS: usize = 20;
const LIST_PAGE_SIZE: usize = 50;
/// Step between the customers picked at 10,000 customers. It is prime, so it shares no factor
/// with 10,000 and the first 10,000 picks are all different customers.
const PICK_STRIDE: usize = 7919;
/// A seeded customer is 4 items and a DynamoDB transaction takes at most 100.
const CUSTOMERS_PER_TRANSACTION: usize = 25;
const TRANSACTIONS_IN_FLIGHT: usize = 4;
const TRANSACTION_ATTEMPTS: u32 = 5;
/// The allowed growth of allocation latency from 10 to 10,000 customers.
const MAX_RATIO: f64 = 1.5;
/// First line of this benchmark's part of `docs/benchmarks.md`. The provisioning benchmark
/// keeps everything from this line on when it rewrites the file.
const SECTION_MARKER: &str = "<!-- License allocation benchmark: written by tests/src/bin/bench_msp.rs from this line to the end of the file. -->";

/// The provider whose customers receive the licenses.
struct Provider {
    tenant_id: String,
    token: String,
}

/// A customer and its current number of basic licenses.
struct Customer {
    tenant_id: String,
    basic_licenses: u32,
}

/// Request latencies of one kind at one customer count, sorted ascending.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    /// Returns the nearest-rank percentile.
    fn percentile(&self, percent: usize) -> Duration {
        let rank = (percent * self.0.len()).div_ceil(100).max(1);
        self.0[rank.min(self.0.len()) - 1]
    }

    fn mean(&self) -> Duration {
        let total: Duration = self.0.iter().sum();
        total / u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }
}

/// Measurements at one customer count.
struct Run {
    customers: usize,
    allocations: Latencies,
    listing: Latencies,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let allocations = allocation_count()?;
    let load_before = load_average()?;
    eprintln!("bench_msp: starting the local stack");
    let stack = TestStack::start().await?;
    let services = stack.services().await?;

    eprintln!("bench_msp: creating the provider and granting {POOL_SIZE} basic licenses");
    let provider = create_provider(&stack).await?;
    grant_pool(&stack, &provider).await?;

    eprintln!("bench_msp: creating {API_CUSTOMERS} customers through the API");
    let mut customers = create_customers(&stack, &provider, API_CUSTOMERS).await?;
    wait_until_active(&stack, &provider, &customers, Duration::from_secs(300)).await?;

    eprintln!("bench_msp: measuring {allocations} allocations at {API_CUSTOMERS} customers");
    let small = measure(&stack, &provider, &mut customers, allocations, 1).await?;

    let seeded = TOTAL_CUSTOMERS - API_CUSTOMERS;
    eprintln!("bench_msp: writing {seeded} customers directly in the table");
    let seeding_started = Instant::now();
    customers.extend(seed_customers(&services, &provider.tenant_id, API_CUSTOMERS, seeded).await?);
    let seeding = seeding_started.elapsed();
    eprintln!("bench_msp: seeding took {:.1} s", seeding.as_secs_f64());

    eprintln!("bench_msp: measuring {allocations} allocations at {TOTAL_CUSTOMERS} customers");
    let large = measure(&stack, &provider, &mut customers, allocations, PICK_STRIDE).await?;

    let machine = machine_description(&load_before, &load_average()?)?;
    let section = render_section(&small, &large, seeding, &machine);
    println!("{section}");
    write_section(&section)
}

/// Reads the number of measured allocations per run from `BENCH_ALLOCATIONS`, else the default.
fn allocation_count() -> anyhow::Result<usize> {
    let Ok(text) = std::env::var("BENCH_ALLOCATIONS") else {
        return Ok(DEFAULT_ALLOCATIONS);
    };
    let count: usize = text.trim().parse().with_context(|| {
        format!("invalid BENCH_ALLOCATIONS {text:?}; set a whole number such as 200")
    })?;
    ensure!(count > 0, "invalid BENCH_ALLOCATIONS 0; set at least 1");
    Ok(count)
}

/// Sends a request with the bearer token and returns the status and the JSON body, if any.
async fn send(
    stack: &TestStack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let mut request = stack
        .client
        .request(method.clone(), stack.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {path} failed"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("reading the response to {method} {path}"))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

/// Sends a request and fails unless the status is 2xx.
async fn send_ok(
    stack: &TestStack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let (status, response) = send(stack, method.clone(), path, token, body).await?;
    ensure!(
        status.is_success(),
        "{method} {path} returned {status}: {response}"
    );
    Ok(response)
}

async fn create_provider(stack: &TestStack) -> anyhow::Result<Provider> {
    let mut body = signup_body("benchmsp");
    body["use_case"] = json!("msp");
    let tenant = stack
        .active_tenant(&body, None)
        .await
        .context("creating the provider")?;
    let token = stack.tenant_token(&tenant.tenant_id).await;
    Ok(Provider {
        tenant_id: tenant.tenant_id,
        token,
    })
}

async fn grant_pool(stack: &TestStack, provider: &Provider) -> anyhow::Result<()> {
    let admin = stack.admin_token().await;
    let path = format!("/v1/admin/msp/{}/pool/grants", provider.tenant_id);
    let body = json!({ "tier": "basic", "quantity": POOL_SIZE, "reason": "benchmark" });
    send_ok(stack, Method::POST, &path, &admin, Some(&body)).await?;
    Ok(())
}

async fn create_customers(
    stack: &TestStack,
    provider: &Provider,
    count: usize,
) -> anyhow::Result<Vec<Customer>> {
    let path = format!("/v1/msp/{}/customers", provider.tenant_id);
    let mut customers = Vec::with_capacity(count);
    for index in 0..count {
        let slug = format!("api{index:05}");
        let body = json!({
            "slug": slug,
            "company_name": format!("Customer {slug}"),
            "admin_email": format!("it@{slug}.example.com"),
            "use_case": "itsm",
        });
        let created = send_ok(stack, Method::POST, &path, &provider.token, Some(&body)).await?;
        let tenant_id = created["customer_id"]
            .as_str()
            .with_context(|| format!("no customer_id in {created}"))?
            .to_owned();
        customers.push(Customer {
            tenant_id,
            basic_licenses: 0,
        });
    }
    Ok(customers)
}

/// Polls every customer until all are active, and fails as soon as one is deactivated.
async fn wait_until_active(
    stack: &TestStack,
    provider: &Provider,
    customers: &[Customer],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    for customer in customers {
        let path = format!(
            "/v1/msp/{}/customers/{}",
            provider.tenant_id, customer.tenant_id
        );
        loop {
            let view = send_ok(stack, Method::GET, &path, &provider.token, None).await?;
            match view["state"].as_str() {
                Some("active") => break,
                Some("deactivated") => bail!(
                    "customer {} was deactivated instead of activated: {view}",
                    customer.tenant_id
                ),
                _ if Instant::now() > deadline => bail!(
                    "customer {} was not active within {timeout:?}: {view}",
                    customer.tenant_id
                ),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    Ok(())
}

/// Times `allocations` sequential allocation changes after the warm-up requests, then the first
/// page of the customer list. Request `i` goes to customer `i * stride` modulo the number of
/// customers, and moves it to 1 basic license, or to 2 when it holds 1, so every request
/// changes the allocation.
async fn measure(
    stack: &TestStack,
    provider: &Provider,
    customers: &mut [Customer],
    allocations: usize,
    stride: usize,
) -> anyhow::Result<Run> {
    let count = customers.len();
    let mut samples = Vec::with_capacity(allocations);
    for request in 0..WARM_UP_REQUESTS + allocations {
        let customer = &mut customers[request * stride % count];
        let elapsed = change_allocation(stack, provider, customer).await?;
        if request >= WARM_UP_REQUESTS {
            samples.push(elapsed);
        }
    }
    Ok(Run {
        customers: count,
        allocations: Latencies::new(samples),
        listing: measure_listing(stack, provider, count).await?,
    })
}

/// Moves one customer between 1 and 2 basic licenses and returns the request's wall time.
async fn change_allocation(
    stack: &TestStack,
    provider: &Provider,
    customer: &mut Customer,
) -> anyhow::Result<Duration> {
    let requested = if customer.basic_licenses == 1 { 2 } else { 1 };
    let path = format!(
        "/v1/msp/{}/customers/{}/allocation",
        provider.tenant_id, customer.tenant_id
    );
    let body = json!({ "licenses": { "basic": requested } });
    let started = Instant::now();
    let (status, result) = send(stack, Method::PUT, &path, &provider.token, Some(&body)).await?;
    let elapsed = started.elapsed();
    ensure!(
        status == reqwest::StatusCode::OK,
        "allocating {requested} licenses to {} returned {status}: {result}",
        customer.tenant_id
    );
    ensure!(
        result["changed"] == true,
        "allocating {requested} licenses to {} changed nothing: {result}",
        customer.tenant_id
    );
    customer.basic_licenses = requested;
    Ok(elapsed)
}

/// Times `LIST_REQUESTS` reads of the first page of the customer list.
async fn measure_listing(
    stack: &TestStack,
    provider: &Provider,
    customers: usize,
) -> anyhow::Result<Latencies> {
    let path = format!(
        "/v1/msp/{}/customers?limit={LIST_PAGE_SIZE}",
        provider.tenant_id
    );
    let expected = customers.min(LIST_PAGE_SIZE);
    let mut samples = Vec::with_capacity(LIST_REQUESTS);
    for _ in 0..LIST_REQUESTS {
        let started = Instant::now();
        let page = send_ok(stack, Method::GET, &path, &provider.token, None).await?;
        samples.push(started.elapsed());
        let listed = page["customers"].as_array().map_or(0, Vec::len);
        ensure!(
            listed == expected,
            "the first page listed {listed} customers instead of {expected}"
        );
    }
    Ok(Latencies::new(samples))
}

/// Writes `count` active customers of the provider directly in the table, with the items that
/// `create_customer` writes: the tenant item, its first audit entry, the slug claim and the
/// provider's customer list entry.
async fn seed_customers(
    services: &Services,
    provider_id: &str,
    first_index: usize,
    count: usize,
) -> anyhow::Result<Vec<Customer>> {
    let store = &services.store;
    let provider = store
        .get_tenant(provider_id)
        .await?
        .with_context(|| format!("provider {provider_id} not found in the table"))?;
    let now = OffsetDateTime::now_utc();
    let mut customers = Vec::with_capacity(count);
    let mut transactions = Vec::new();
    let mut items = Vec::new();
    for index in first_index..first_index + count {
        let (tenant_id, customer_items) = seeded_customer_items(services, &provider, index, now)?;
        items.extend(customer_items);
        customers.push(Customer {
            tenant_id,
            basic_licenses: 0,
        });
        if items.len() == 4 * CUSTOMERS_PER_TRANSACTION {
            transactions.push(std::mem::take(&mut items));
        }
    }
    if !items.is_empty() {
        transactions.push(items);
    }

    futures::stream::iter(transactions)
        .map(|items| commit_with_retries(store, items))
        .buffer_unordered(TRANSACTIONS_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    Ok(customers)
}

/// Builds the four items of one seeded customer and returns them with its tenant id.
fn seeded_customer_items(
    services: &Services,
    provider: &TenantRecord,
    index: usize,
    now: OffsetDateTime,
) -> anyhow::Result<(String, Vec<Item>)> {
    let provider_id = provider.tenant_id.as_str();
    let slug = format!("seed{index:05}");
    let id = TenantId::generate();
    let tenant_id = id.as_str().to_owned();
    let signup = ValidSignup {
        email: EmailAddress::parse(&format!("it@{slug}.example.com"))?,
        company_name: CompanyName::parse(&format!("Customer {slug}"))?,
        subdomain: provider.subdomain.clone(),
        residency: provider.residency,
        use_case: UseCase::parse("itsm")?,
        plan: Plan::Basic,
        time_zone: TimeZone::parse(&provider.commercial.time_zone).unwrap_or_default(),
    };
    let created = first_audit(
        &id,
        Actor::system("bench-msp"),
        "tenant.created",
        &format!("customer {slug} of MSP {provider_id}, written directly in the table by the license allocation benchmark"),
        TenantState::Active,
        now,
    );
    let mut tenant = TenantRecord::new(
        &tenant_id,
        &signup,
        TenantState::Active,
        "written by the license allocation benchmark",
        &created,
        now,
    );
    tenant.commercial.parent_id = Some(provider_id.to_owned());
    tenant.commercial.customer_slug = Some(slug.clone());
    tenant.workspace_url = Some(tenant.workspace_url(&services.config.workspace_base_domain));

    let mut claim = DynamoStore::key(keys::slug_claim(provider_id, &slug), keys::CLAIM_SK);
    claim.insert("tenant_id".into(), s(&tenant_id));
    let mut entry = DynamoStore::key(
        keys::provider_customers(provider_id),
        keys::provider_customer(&slug),
    );
    entry.insert("tenant_id".into(), s(&tenant_id));
    entry.insert("slug".into(), s(&slug));
    entry.insert("company_name".into(), s(signup.company_name.as_str()));
    entry.insert("created_at".into(), s(format_time(now)));

    let items = vec![tenant_item(&tenant), audit_item(&created), claim, entry];
    Ok((tenant_id, items))
}

/// Puts `items` in one transaction, each only if it does not exist yet, and retries when moto
/// returns an error. The first item is a tenant item. When it exists after a failed attempt,
/// that attempt committed and only its response was lost.
async fn commit_with_retries(store: &DynamoStore, items: Vec<Item>) -> anyhow::Result<()> {
    let first_key = items
        .first()
        .and_then(|item| item.get(keys::PK))
        .and_then(|value| value.as_s().ok())
        .cloned()
        .context("a seeding transaction without items")?;
    let mut attempt = 1;
    loop {
        let writes = items
            .iter()
            .map(|item| store.put_new(item.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let Err(error) = store.transact(writes).await else {
            return Ok(());
        };
        if store
            .get(first_key.clone(), keys::TENANT_SK)
            .await?
            .is_some()
        {
            return Ok(());
        }
        ensure!(
            attempt < TRANSACTION_ATTEMPTS,
            "seeding transaction failed {TRANSACTION_ATTEMPTS} times, last with: {error}"
        );
        eprintln!("bench_msp: seeding transaction attempt {attempt} failed, retrying: {error}");
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Replaces this benchmark's part of `docs/benchmarks.md`, from the marker to the end of the
/// file, with `section`, and keeps everything before the marker.
fn write_section(section: &str) -> anyhow::Result<()> {
    let path = repository_root().join("docs/benchmarks.md");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => "# Benchmarks\n".to_owned(),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let before = existing
        .find(SECTION_MARKER)
        .map_or(existing.as_str(), |start| &existing[..start]);
    let text = format!("{}\n\n{SECTION_MARKER}\n\n{section}", before.trim_end());
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench_msp: wrote {}", path.display());
    Ok(())
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Formats one table row: customers, requests, p50, p95 and mean.
fn row(customers: usize, latencies: &Latencies) -> String {
    format!(
        "| {customers} | {} | {} | {} | {} |",
        latencies.0.len(),
        milliseconds(latencies.percentile(50)),
        milliseconds(latencies.percentile(95)),
        milliseconds(latencies.mean()),
    )
}

fn ratio(large: Duration, small: Duration) -> f64 {
    large.as_secs_f64() / small.as_secs_f64()
}

// NOTE: the section "Why listing grows on the local stack" describes moto 5.2.5 as
// scripts/moto_server.py runs it. Rewrite it when the moto version or that script changes.
fn render_section(small: &Run, large: &Run, seeding: Duration, machine: &str) -> String {
    let allocations = small.allocations.0.len();
    let seeded = large.customers - small.customers;
    let seeding = format!("{:.0} s", seeding.as_secs_f64());
    let p50_ratio = ratio(
        large.allocations.percentile(50),
        small.allocations.percentile(50),
    );
    let p95_ratio = ratio(
        large.allocations.percentile(95),
        small.allocations.percentile(95),
    );
    let verdict = if p95_ratio <= MAX_RATIO {
        format!("within the allowed {MAX_RATIO}x")
    } else {
        format!("above the allowed {MAX_RATIO}x on the local stack, see below")
    };
    let listing_p50_ratio = ratio(large.listing.percentile(50), small.listing.percentile(50));
    let allocation_small = row(small.customers, &small.allocations);
    let allocation_large = row(large.customers, &large.allocations);
    let listing_small = row(small.customers, &small.listing);
    let listing_large = row(large.customers, &large.listing);
    format!(
        "## License allocation and customer count\n\
         \n\
         The benchmark checks that changing a customer's licenses takes no longer when its \
         MSP provider has many customers: latency at 10,000 customers must stay within \
         {MAX_RATIO}x of latency at 10.\n\
         \n\
         It starts one local stack and creates a provider on the msp plan through the API. A \
         platform admin grants the provider {POOL_SIZE} basic licenses through \
         `POST /v1/admin/msp/{{provider_id}}/pool/grants`. The provider creates \
         {API_CUSTOMERS} customers through `POST /v1/msp/{{provider_id}}/customers`, and the \
         state machine provisions them. Then the benchmark sends {allocations} allocation \
         changes one after another, `PUT /v1/msp/{{provider_id}}/customers/{{customer_id}}/allocation` \
         with the provider's tenant admin token. Each request moves one customer to 1 basic \
         license, or to 2 when it holds 1, so every request changes the allocation. With \
         {API_CUSTOMERS} customers the requests go round-robin. With {TOTAL_CUSTOMERS} \
         customers request `i` goes to customer `i * {PICK_STRIDE} mod {TOTAL_CUSTOMERS}`, so \
         the picks spread over API-created and written customers. Before each run, \
         {WARM_UP_REQUESTS} more requests start the function's worker process and are not \
         counted. After each run the benchmark reads the first page of the customer list, \
         `GET /v1/msp/{{provider_id}}/customers?limit={LIST_PAGE_SIZE}`, {LIST_REQUESTS} \
         times.\n\
         \n\
         The other {seeded} customers are written directly in the table (in {seeding}), \
         because provisioning {TOTAL_CUSTOMERS} tenants through the state machine would take \
         hours on this machine. The benchmark builds their items with the product's own \
         mapping functions (`TenantRecord::new`, `tenant_item`, `first_audit`, `audit_item`). \
         Each customer gets the attributes that creating a customer writes: the active tenant \
         item with the provider as parent and the slug, its first audit entry, the slug claim \
         and the entry in the provider's customer list. It writes them with TransactWriteItems, \
         {CUSTOMERS_PER_TRANSACTION} customers (100 items) per call and \
         {TRANSACTIONS_IN_FLIGHT} calls in flight. These customers have no provisioning step \
         records, data store, configuration, modules, invitation or cell place, and the \
         provider's audit trail has no `msp.customer_created` entry for them. Neither \
         allocation nor listing reads any of those items.\n\
         \n\
         Latency is the client's wall time of one HTTP request: the local runtime's routing \
         and JWT authorizer, the `msp-api` function and its DynamoDB calls to moto. \
         Percentiles use the nearest-rank method.\n\
         \n\
         Command:\n\
         \n\
         ```sh\n\
         scripts/bench msp                         # {DEFAULT_ALLOCATIONS} allocations per run\n\
         BENCH_ALLOCATIONS=500 scripts/bench msp\n\
         ```\n\
         \n\
         ### Machine\n\
         \n\
         {machine}\
         \n\
         ### Results\n\
         \n\
         Allocation changes:\n\
         \n\
         | customers | allocations | p50 | p95 | mean |\n\
         |---|---|---|---|---|\n\
         {allocation_small}\n\
         {allocation_large}\n\
         \n\
         p95 at {TOTAL_CUSTOMERS} customers divided by p95 at {API_CUSTOMERS}: \
         {p95_ratio:.2} ({verdict}). The same ratio of p50: {p50_ratio:.2}.\n\
         \n\
         First page of the customer list ({LIST_PAGE_SIZE} customers):\n\
         \n\
         | customers | requests | p50 | p95 | mean |\n\
         |---|---|---|---|---|\n\
         {listing_small}\n\
         {listing_large}\n\
         \n\
         p50 at {TOTAL_CUSTOMERS} customers divided by p50 at {API_CUSTOMERS}: \
         {listing_p50_ratio:.2}.\n\
         \n\
         ### Why allocation does not depend on the customer count on DynamoDB\n\
         \n\
         An allocation reads the provider's and the customer's tenant items by key (GetItem) \
         and the provider's pool with a Query on the pool's own partition (one item per tier), \
         once before and once after its write. It writes both tenant items, an audit entry \
         for each and the pool counters in one transaction. The customer list is a Query on \
         the provider's customer partition with a page limit, continued by a cursor. No \
         request scans the table or the provider's customers. DynamoDB serves a GetItem or a \
         Query from the key's partition, so none of these costs grows with the number of \
         customers.\n\
         \n\
         ### Why listing grows on the local stack\n\
         \n\
         A list request is one GetItem and one Query on the provider's partition, which holds \
         one entry per customer. DynamoDB reads only the requested page of that partition. \
         The local stand-in, moto 5.2.5 behind `scripts/moto_server.py`, sorts the whole \
         partition on every Query before it returns the page, so on the local stack a list \
         request costs time in proportion to the number of customers. Allocation queries \
         only the pool's partition, one item per tier, so its cost does not depend on the \
         number of customers there either.\n\
         \n\
         ### Limits\n\
         \n\
         Moto stands in for DynamoDB and runs its requests one at a time. The scheduled \
         functions (watchdog, outbox relay, trial scheduler) keep running during the \
         measurement and share that queue. The numbers compare the two customer counts on one \
         machine. They do not predict latency on AWS.\n"
    )
}
