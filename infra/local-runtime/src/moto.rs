//! A small client for the AWS JSON protocols that moto serves (DynamoDB, SQS, KMS, SES v2).
//!
//! moto does not check signatures, so requests carry a fixed `Authorization` header whose only
//! job is to name the service and region in its credential scope.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("request {action} to moto at {endpoint} failed: {source}")]
    Transport {
        action: String,
        endpoint: String,
        source: reqwest::Error,
    },
    #[error("{action} failed with {code}: {message}")]
    Service {
        action: String,
        code: String,
        message: String,
    },
    #[error("moto at {endpoint} did not become ready within {seconds} s")]
    NotReady { endpoint: String, seconds: u64 },
}

impl MotoError {
    /// Returns the error code after the `#` of `__type`, such as `ResourceNotFoundException`.
    pub fn code(&self) -> Option<&str> {
        match self {
            MotoError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Service {
    DynamoDb,
    Sqs,
    Kms,
}

impl Service {
    fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::Sqs => "AmazonSQS",
            Service::Kms => "TrentService",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Service::DynamoDb | Service::Sqs => "application/x-amz-json-1.0",
            Service::Kms => "application/x-amz-json-1.1",
        }
    }

    fn signing_name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Sqs => "sqs",
            Service::Kms => "kms",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MotoClient {
    http: reqwest::Client,
    endpoint: String,
    region: String,
}

impl MotoClient {
    pub fn new(endpoint: String, region: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
            endpoint,
            region,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn authorization(&self, service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=test/20240101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        )
    }

    /// Waits until moto's data endpoint responds, retrying every 200 ms.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), MotoError> {
        let started = std::time::Instant::now();
        loop {
            let url = format!("{}/moto-api/data.json", self.endpoint);
            if let Ok(response) = self.http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                return Err(MotoError::NotReady {
                    endpoint: self.endpoint.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Calls one JSON-protocol action, such as `call(Service::Sqs, "CreateQueue", body)`.
    pub async fn call(
        &self,
        service: Service,
        action: &str,
        body: &Value,
    ) -> Result<Value, MotoError> {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("Authorization", self.authorization(service.signing_name()))
            .header(
                "X-Amz-Target",
                format!("{}.{action}", service.target_prefix()),
            )
            .header("Content-Type", service.content_type())
            .body(body.to_string())
            .send()
            .await
            .map_err(|source| self.transport(action, source))?;
        self.decode(action, response).await
    }

    /// Sends one SES v2 REST request (`POST /v2/email/...`).
    pub async fn sesv2_post(&self, path: &str, body: &Value) -> Result<Value, MotoError> {
        let response = self
            .http
            .post(format!("{}{path}", self.endpoint))
            .header("Authorization", self.authorization("ses"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|source| self.transport(path, source))?;
        self.decode(path, response).await
    }

    /// Reads moto's internal state dump (`GET /moto-api/data.json`).
    pub async fn data(&self) -> Result<Value, MotoError> {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| self.transport("data.json", source))?;
        self.decode("data.json", response).await
    }

    fn transport(&self, action: &str, source: reqwest::Error) -> MotoError {
        MotoError::Transport {
            action: action.to_string(),
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    async fn decode(&self, action: &str, response: reqwest::Response) -> Result<Value, MotoError> {
        let status = response.status();
        let header_code = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response
            .text()
            .await
            .map_err(|source| self.transport(action, source))?;
        let body: Value = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        let raw_code = body
            .get("__type")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(header_code)
            .unwrap_or_else(|| format!("HTTP {status}"));
        let code = raw_code
            .rsplit('#')
            .next()
            .unwrap_or(&raw_code)
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let message = body
            .get("message")
            .or_else(|| body.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        Err(MotoError::Service {
            action: action.to_string(),
            code,
            message,
        })
    }
}
