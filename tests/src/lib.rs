//! Starts a whole local stack for one test: a moto server and the local runtime running the
//! template's functions, each on a free 127.0.0.1 port, both stopped when the stack is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

pub mod machine;
pub mod stripe;

/// Root of the repository (the workspace).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the repository root")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target"))
        .join("debug")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One running local stack.
pub struct TestStack {
    pub api_url: String,
    pub aws_url: String,
    pub client: reqwest::Client,
    resources: Value,
    // Dropped last-declared-first: runtime before moto.
    _runtime: Guard,
    _moto: Guard,
}

/// Settings of a stack: environment variables for the runtime (and through it, the functions).
#[derive(Default, Clone)]
pub struct StackOptions {
    pub env: Vec<(String, String)>,
}

impl StackOptions {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl TestStack {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> anyhow::Result<Self> {
        let root = repository_root();
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            bail!(
                "{} not found; run scripts/test or scripts/dev once to create the venv",
                python.display()
            );
        }
        let runtime_bin = target_dir().join("local-runtime");
        if !runtime_bin.exists() {
            bail!(
                "{} not found; run cargo build --workspace",
                runtime_bin.display()
            );
        }
        let aws_port = free_port();
        let moto = Guard(
            Command::new(&python)
                .arg(root.join("scripts/moto_server.py"))
                .args(["-H", "127.0.0.1", "-p", &aws_port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting moto_server")?,
        );
        let aws_url = format!("http://127.0.0.1:{aws_port}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        wait_until(
            &client,
            &format!("{aws_url}/moto-api/"),
            Duration::from_secs(30),
        )
        .await?;

        let api_port = free_port();
        let log_dir = std::env::temp_dir().join(format!("onboarding-stack-{api_port}"));
        std::fs::create_dir_all(&log_dir)?;
        let mut command = Command::new(&runtime_bin);
        command
            .current_dir(&root)
            .env("LOCAL_API_PORT", api_port.to_string())
            .env("LOCAL_AWS_PORT", aws_port.to_string())
            .env("LOCAL_TEMPLATE", root.join("template.yaml"))
            .env("LOCAL_FUNCTIONS_DIR", target_dir())
            .env("LOCAL_TRUST_FORWARDED_FOR", "1")
            .env("LOCAL_LOG_DIR", &log_dir)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("LOCAL_FAIL_STEP")
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(log_dir.join("local-runtime.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        for (name, value) in &options.env {
            command.env(name, value);
        }
        let runtime = Guard(command.spawn().context("starting local-runtime")?);
        let api_url = format!("http://127.0.0.1:{api_port}");
        wait_until(
            &client,
            &format!("{api_url}/_local/health"),
            Duration::from_secs(60),
        )
        .await
        .with_context(|| {
            format!(
                "the local runtime did not become ready; see {}",
                log_dir.display()
            )
        })?;
        let resources = client
            .get(format!("{api_url}/_local/resources"))
            .send()
            .await?
            .json()
            .await?;
        Ok(Self {
            api_url,
            aws_url,
            client,
            resources,
            _runtime: runtime,
            _moto: moto,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    /// Physical ids of the template's resources, as the runtime reports them.
    pub fn resources(&self) -> &Value {
        &self.resources
    }

    /// Posts a signup from the client address `ip`.
    pub async fn post_signup(&self, body: &Value, ip: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/signups"))
            .header("x-forwarded-for", ip)
            .json(body)
            .send()
            .await
            .expect("the API answers")
    }

    /// Signs up, verifies with the token from the email and waits until the tenant is active.
    /// `at` sets the signup's request time (needs `LOCAL_TRUST_TIME_HEADER=1`).
    pub async fn active_tenant(
        &self,
        body: &Value,
        at: Option<&str>,
    ) -> anyhow::Result<ActiveTenant> {
        let mut request = self
            .client
            .post(self.url("/v1/signups"))
            .header("x-forwarded-for", "192.0.2.200")
            .json(body);
        if let Some(at) = at {
            request = request.header("x-local-time", at);
        }
        let response = request.send().await?;
        if response.status() != 202 {
            bail!(
                "signup returned {}: {}",
                response.status(),
                response.text().await?
            );
        }
        let accepted: Value = response.json().await?;
        let email = body["email"]
            .as_str()
            .context("body has an email")?
            .to_owned();
        let verification = self
            .wait_for_email(&email, "Confirm", Duration::from_secs(60))
            .await?;
        let link =
            link_in(&verification, &self.url("/v1/verify?token=")).context("verification link")?;
        let token = link
            .split("token=")
            .nth(1)
            .context("token in link")?
            .to_owned();
        let verified = self
            .client
            .post(self.url("/v1/verify"))
            .json(&json!({ "token": token }))
            .send()
            .await?;
        if verified.status() != 200 {
            bail!("verification returned {}", verified.status());
        }
        let signup_id = accepted["signup_id"]
            .as_str()
            .context("signup_id")?
            .to_owned();
        self.wait_for_state(&signup_id, &["active"], Duration::from_secs(60))
            .await?;
        Ok(ActiveTenant {
            tenant_id: accepted["tenant_id"]
                .as_str()
                .context("tenant_id")?
                .to_owned(),
            signup_id,
            email,
        })
    }

    /// Issues a tenant admin token for `tenant_id`.
    pub async fn tenant_token(&self, tenant_id: &str) -> String {
        let response: Value = self
            .client
            .post(self.url("/_local/tokens"))
            .json(&json!({ "sub": format!("admin@{tenant_id}.example.com"), "roles": ["tenant_admin"], "tenant_id": tenant_id }))
            .send()
            .await
            .expect("the token endpoint answers")
            .json()
            .await
            .expect("the token endpoint returns JSON");
        response["token"].as_str().expect("a token").to_owned()
    }

    /// Reads a tenant's entitlements with a platform admin token.
    pub async fn entitlements(&self, tenant_id: &str) -> Value {
        let token = self.admin_token().await;
        self.get_as(&format!("/v1/tenants/{tenant_id}/entitlements"), &token)
            .await
    }

    /// Fires one run of a scheduled function with the event time `at` and returns its output.
    pub async fn run_schedule(&self, function: &str, at: &str) -> Value {
        let result: Value = self
            .client
            .post(self.url(&format!("/_local/schedules/{function}/run")))
            .json(&json!({ "time": at }))
            .send()
            .await
            .expect("the runtime answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            result["status"], "succeeded",
            "{function} at {at}: {result}"
        );
        result["output"].clone()
    }

    /// Emails sent to `to`, oldest first.
    pub async fn emails_to(&self, to: &str) -> Vec<Value> {
        self.mailbox()
            .await
            .into_iter()
            .filter(|email| {
                email["to"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|a| a == to))
            })
            .collect()
    }

    pub async fn mailbox(&self) -> Vec<Value> {
        self.client
            .get(self.url("/_local/mailbox"))
            .send()
            .await
            .expect("the mailbox answers")
            .json::<Vec<Value>>()
            .await
            .expect("the mailbox is a JSON array")
    }

    /// Waits for an email to `to` whose subject contains `subject`.
    pub async fn wait_for_email(
        &self,
        to: &str,
        subject: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            for email in self.mailbox().await {
                let to_matches = email["to"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|a| a == to));
                let subject_matches = email["subject"]
                    .as_str()
                    .is_some_and(|s| s.contains(subject));
                if to_matches && subject_matches {
                    return Ok(email);
                }
            }
            if Instant::now() > deadline {
                bail!("no email to {to} with subject containing {subject:?} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Issues a token from the local issuer.
    pub async fn token(&self, subject: &str, roles: &[&str]) -> String {
        let response: Value = self
            .client
            .post(self.url("/_local/tokens"))
            .json(&json!({ "sub": subject, "roles": roles }))
            .send()
            .await
            .expect("the token endpoint answers")
            .json()
            .await
            .expect("the token endpoint returns JSON");
        response["token"].as_str().expect("a token").to_owned()
    }

    /// Issues a platform admin token.
    pub async fn admin_token(&self) -> String {
        self.token("ops@example.com", &["platform_admin"]).await
    }

    /// Sends `GET path` with a bearer token and parses the JSON body.
    pub async fn get_as(&self, path: &str, token: &str) -> Value {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Reads a tenant's audit trail through the admin API.
    pub async fn audit(&self, tenant_id: &str) -> Value {
        let token = self.admin_token().await;
        self.get_as(&format!("/v1/admin/tenants/{tenant_id}/audit"), &token)
            .await
    }

    /// Polls the admin view of a tenant until its state is one of `states`.
    pub async fn wait_for_tenant_state(
        &self,
        tenant_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let token = self.admin_token().await;
        let deadline = Instant::now() + timeout;
        loop {
            let tenant = self
                .get_as(&format!("/v1/admin/tenants/{tenant_id}"), &token)
                .await;
            if states.iter().any(|s| tenant["state"] == *s) {
                return Ok(tenant);
            }
            if Instant::now() > deadline {
                bail!("tenant {tenant_id} did not reach {states:?} within {timeout:?}; last view {tenant}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn signup_status(&self, signup_id: &str) -> Value {
        self.client
            .get(self.url(&format!("/v1/signups/{signup_id}")))
            .send()
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("JSON status")
    }

    /// Polls the signup until its state is one of `states`.
    pub async fn wait_for_state(
        &self,
        signup_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.signup_status(signup_id).await;
            if states.iter().any(|s| status["state"] == *s) {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("signup {signup_id} did not reach {states:?} within {timeout:?}; last status {status}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Services wired to this stack, for reading the table and running the scan in-process.
    pub async fn services(&self) -> anyhow::Result<onboarding_app::Services> {
        let table = find_string(&self.resources, "TenantsTable")
            .context("the runtime reports no TenantsTable")?;
        let key = find_string(&self.resources, "EncryptionKeyAlias").unwrap_or_default();
        let config = onboarding_app::config::Config::from_lookup(|name| match name {
            "TABLE_NAME" => Some(table.clone()),
            "KMS_KEY_ID" => Some(key.clone()),
            _ => None,
        })?;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.aws_url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::for_tests())
            .load()
            .await;
        Ok(onboarding_app::Services::new(config, &sdk))
    }

    /// Runs the infrastructure scan against this stack.
    pub async fn scan(&self) -> anyhow::Result<onboarding_app::usecases::scan::ScanReport> {
        onboarding_app::usecases::scan::scan(&self.services().await?).await
    }
}

/// Looks up a resource's physical id in the runtime's report, whatever its nesting.
fn find_string(value: &Value, logical_id: &str) -> Option<String> {
    let entry = value
        .get(logical_id)
        .or_else(|| value.get("resources")?.get(logical_id))?;
    match entry {
        Value::String(text) => Some(text.clone()),
        Value::Object(map) => ["physical_id", "name", "ref", "Ref", "id"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    }
}

async fn wait_until(client: &reqwest::Client, url: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(response) = client.get(url).timeout(Duration::from_secs(2)).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{url} was not ready within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Builds a signup body with a unique subdomain and email.
pub fn signup_body(label: &str) -> Value {
    let unique = unique_suffix();
    json!({
        "email": format!("admin-{label}-{unique}@acme-{unique}.example.com"),
        "company_name": format!("Acme {label}"),
        "subdomain": format!("{label}-{unique}"),
        "region": "eu",
        "use_case": "itsm",
    })
}

pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{}",
        nanos % 0xfffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A tenant that finished provisioning.
#[derive(Debug, Clone)]
pub struct ActiveTenant {
    pub tenant_id: String,
    pub signup_id: String,
    pub email: String,
}

/// Lists the actions of an audit trail, oldest first.
pub fn audit_actions(audit: &Value) -> Vec<String> {
    audit["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|entry| entry["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Finds the first link in an email's text or HTML that starts with `prefix`.
pub fn link_in(email: &Value, prefix: &str) -> Option<String> {
    let text = [email["text"].as_str(), email["html"].as_str()]
        .into_iter()
        .flatten()
        .find(|body| body.contains(prefix))?;
    let start = text.find(prefix)?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<' && *c != '>')
        .collect();
    Some(link.replace("&amp;", "&"))
}
