//! Start-up: template → moto resources → functions → state machines → routes, pollers and schedules.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{JwtAuthorizer, TokenIssuer};
use crate::config::Config;
use crate::functions::{function_specs, EventSource, FunctionError, RuntimeEnvironment};
use crate::http_api::{Cors, HttpApi, Route, TrustedHeaders};
use crate::lambda_pool::{LambdaService, PoolSettings};
use crate::mailbox::Mailbox;
use crate::moto::{MotoClient, MotoError};
use crate::resolve::{scalar_to_string, Resolver};
use crate::resources::{self, ProvisionError, StackContext};
use crate::schedules::{Schedule, ScheduleError};
use crate::server::{Running, Shared};
use crate::sqs_source::SqsMapping;
use crate::stepfunctions::{self, StateMachineError};
use crate::template::{Template, TemplateError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Function(#[from] FunctionError),
    #[error(transparent)]
    StateMachine(#[from] StateMachineError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("function {function}: event {event}: {reason}")]
    Event {
        function: String,
        event: String,
        reason: String,
    },
}

/// A started runtime; dropping it does not stop it, call [`Runtime::shutdown`].
pub struct Runtime {
    pub api_address: SocketAddr,
    pub sfn_address: SocketAddr,
    lambda: Option<Arc<LambdaService>>,
    stop: watch::Sender<bool>,
}

impl Runtime {
    /// Stops pollers and schedules and kills every worker process.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        if let Some(lambda) = &self.lambda {
            lambda.shutdown().await;
        }
        tracing::info!("local runtime stopped");
    }
}

async fn bind(port: u16) -> Result<TcpListener, StartError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| StartError::Bind { port, source })
}

/// Starts the runtime. Until start-up has finished, `/_local/health` returns 503.
pub async fn start(
    config: Config,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Runtime, StartError> {
    let api_listener = bind(config.api_port).await?;
    let api_address = api_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            port: config.api_port,
            source,
        })?;
    let sfn_listener = bind(config.sfn_port).await?;
    let sfn_address = sfn_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            port: config.sfn_port,
            source,
        })?;
    let shared = Arc::new(Shared::default());
    let app = crate::server::router(Arc::clone(&shared));
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(api_listener, service).await {
            tracing::error!(error = %error, "HTTP API server failed");
        }
    });
    tracing::info!(address = %api_address, "HTTP API listening");

    let (stop, _) = watch::channel(false);
    let mut runtime = Runtime {
        api_address,
        sfn_address,
        lambda: None,
        stop,
    };
    match prepare(
        &config,
        environment,
        api_address,
        sfn_address,
        &runtime.stop,
    )
    .await
    {
        Ok((running, sfn_router)) => {
            runtime.lambda = Some(Arc::clone(&running.lambda));
            if let Some(router) = sfn_router {
                tokio::spawn(async move {
                    if let Err(error) = axum::serve(sfn_listener, router).await {
                        tracing::error!(error = %error, "Step Functions endpoint failed");
                    }
                });
                tracing::info!(address = %sfn_address, "Step Functions endpoint listening");
            }
            let _ = shared.ready.set(Arc::new(running));
            tracing::info!(api = %api_address, "local runtime ready");
            Ok(runtime)
        }
        Err(error) => {
            runtime.shutdown().await;
            Err(error)
        }
    }
}

async fn prepare(
    config: &Config,
    environment: &dyn Fn(&str) -> Option<String>,
    api_address: SocketAddr,
    sfn_address: SocketAddr,
    stop: &watch::Sender<bool>,
) -> Result<(Running, Option<axum::Router>), StartError> {
    let template = Template::load(&config.template)?;
    let context = StackContext {
        stack_name: config.stack_name.clone(),
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        api_port: api_address.port(),
    };
    let issuer_url = format!("http://127.0.0.1:{}/_local", api_address.port());
    let local_defaults: BTreeMap<String, String> = [
        (
            "PublicApiUrl",
            format!("http://127.0.0.1:{}", api_address.port()),
        ),
        ("SenderEmail", "no-reply@onboarding.local".to_string()),
        ("JwtIssuer", issuer_url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let parameters =
        resources::parameter_values(&template, &context, &local_defaults, environment)?;
    let mut resolver = Resolver::new(&template, parameters);

    let moto = MotoClient::new(
        format!("http://127.0.0.1:{}", config.aws_port),
        config.region.clone(),
    );
    tracing::info!(endpoint = %moto.endpoint(), "waiting for moto");
    moto.wait_ready(Duration::from_secs(config.moto_wait_seconds))
        .await?;
    resources::provision_all(&template, &mut resolver, &moto, &context).await?;

    let runtime_environment = RuntimeEnvironment {
        moto_endpoint: moto.endpoint().to_string(),
        sfn_endpoint: format!("http://{sfn_address}"),
        region: config.region.clone(),
    };
    let specs = function_specs(
        &template,
        &resolver,
        &config.functions_dir,
        &runtime_environment,
        environment,
    )?;
    for sender in specs
        .iter()
        .filter_map(|s| s.environment.get("SENDER_EMAIL"))
        .collect::<std::collections::BTreeSet<_>>()
    {
        resources::create_email_identity(&moto, sender).await?;
        tracing::info!(identity = %sender, "sender address verified in moto");
    }
    if let Some(dir) = &config.log_dir {
        if let Err(error) = std::fs::create_dir_all(dir) {
            tracing::error!(path = %dir.display(), error = %error, "failed to create the log directory");
        }
    }
    let settings = PoolSettings {
        max_workers: config.max_workers,
        log_dir: config.log_dir.clone(),
    };
    let lambda = Arc::new(LambdaService::new(specs, &settings));

    let definitions = stepfunctions::load_definitions(&template, &resolver)?;
    let fault = stepfunctions::fault_injection(config.fail_step.as_deref(), &definitions)?;
    let (stepfunctions_service, machines, sfn_router) = if definitions.is_empty() {
        (None, Vec::new(), None)
    } else {
        let (service, machines) = stepfunctions::build_service(
            Arc::clone(&lambda),
            fault,
            &config.region,
            &config.account_id,
            definitions,
        )?;
        let router = stepfunctions::router(Arc::clone(&service));
        (Some(service), machines, Some(router))
    };

    let authorizers = http_api_authorizers(&template, &resolver)?;
    let audience = authorizers
        .values()
        .flat_map(|a| a.audience.first())
        .next()
        .cloned()
        .or_else(|| resolver.parameter("JwtAudience").map(scalar_to_string))
        .unwrap_or_else(|| "onboarding-local".to_string());
    let issuer = TokenIssuer::generate(issuer_url, audience);

    let mut routes = Vec::new();
    let mut schedules: HashMap<String, Vec<Schedule>> = HashMap::new();
    for pool in lambda.pools() {
        for (event_name, source) in &pool.spec.events {
            match source {
                EventSource::Http {
                    method,
                    path,
                    api,
                    authorizer,
                } => {
                    let authorizer = match authorizer.as_deref() {
                        Some("NONE") => None,
                        Some(name) => Some(authorizers.get(name).cloned().ok_or_else(|| {
                            StartError::Event {
                                function: pool.spec.logical_id.clone(),
                                event: event_name.clone(),
                                reason: format!("authorizer {name} is not declared on the HttpApi"),
                            }
                        })?),
                        None => default_authorizer(&template, &resolver, api, &authorizers),
                    };
                    routes.push(Route::new(method, path, api, Arc::clone(pool), authorizer));
                }
                EventSource::Sqs {
                    queue_arn,
                    batch_size,
                    report_batch_item_failures,
                } => {
                    let queue_url = queue_url_for_arn(&resolver, queue_arn).ok_or_else(|| {
                        StartError::Event {
                            function: pool.spec.logical_id.clone(),
                            event: event_name.clone(),
                            reason: format!("queue {queue_arn} is not a queue of this template"),
                        }
                    })?;
                    let mapping = SqsMapping {
                        function: Arc::clone(pool),
                        queue_url,
                        queue_arn: queue_arn.clone(),
                        batch_size: *batch_size,
                        report_batch_item_failures: *report_batch_item_failures,
                        region: config.region.clone(),
                    };
                    tokio::spawn(mapping.run(moto.clone(), stop.subscribe()));
                }
                EventSource::Schedule {
                    event_name,
                    expression,
                    enabled,
                } => {
                    let schedule = Schedule::new(
                        Arc::clone(pool),
                        event_name,
                        expression,
                        *enabled,
                        &config.account_id,
                        &config.region,
                    )?;
                    tokio::spawn(schedule.clone().run(stop.subscribe()));
                    schedules
                        .entry(pool.spec.logical_id.clone())
                        .or_default()
                        .push(schedule);
                }
            }
        }
    }

    let cors = http_api_cors(&template, &resolver)?;
    let api_id = resolver
        .physical("ServerlessHttpApi")
        .map(|p| p.reference.clone())
        .unwrap_or_else(|| "localapi01".to_string());
    let http_api = HttpApi::new(
        routes,
        cors,
        config.account_id.clone(),
        api_id,
        TrustedHeaders {
            forwarded_for: config.trust_forwarded_for,
            time: config.trust_time_header,
        },
    );
    for route in http_api.routes() {
        tracing::info!(route = %route.route_key(), function = %route.function.spec.logical_id, authorizer = route.authorizer.as_ref().map(|a| a.name.as_str()), "route");
    }

    let resources = resources_document(
        &template,
        &resolver,
        &lambda,
        &machines,
        &moto,
        api_address,
        sfn_address,
        config,
    );
    Ok((
        Running {
            http_api,
            issuer,
            lambda,
            stepfunctions: stepfunctions_service,
            machines,
            mailbox: Mailbox::default(),
            moto,
            schedules,
            resources,
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        },
        sfn_router,
    ))
}

/// Returns HttpApi properties merged over `Globals.HttpApi`, resolved.
fn http_api_properties(
    template: &Template,
    resolver: &Resolver,
    logical_id: &str,
) -> Result<Value, StartError> {
    let mut merged = template
        .globals
        .get("HttpApi")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(own)) = template.resources.get(logical_id).map(|r| &r.properties) {
        for (key, value) in own {
            merged.insert(key.clone(), value.clone());
        }
    }
    resolver.resolve(&Value::Object(merged)).map_err(|source| {
        StartError::Provision(ProvisionError::Resolve {
            logical_id: logical_id.to_string(),
            source,
        })
    })
}

fn http_api_ids(template: &Template) -> Vec<String> {
    let mut ids: Vec<String> = template
        .resources_of("AWS::Serverless::HttpApi")
        .map(|r| r.logical_id.clone())
        .collect();
    ids.push("ServerlessHttpApi".to_string());
    ids
}

fn http_api_authorizers(
    template: &Template,
    resolver: &Resolver,
) -> Result<BTreeMap<String, JwtAuthorizer>, StartError> {
    let mut authorizers = BTreeMap::new();
    for id in http_api_ids(template) {
        let properties = http_api_properties(template, resolver, &id)?;
        let Some(Value::Object(declared)) =
            properties.get("Auth").and_then(|a| a.get("Authorizers"))
        else {
            continue;
        };
        for (name, declaration) in declared {
            let Some(jwt) = declaration.get("JwtConfiguration") else {
                tracing::debug!(authorizer = %name, "authorizer is not a JWT authorizer; ignored locally");
                continue;
            };
            let audience = match jwt.get("audience").or_else(|| jwt.get("Audience")) {
                Some(Value::Array(items)) => items.iter().map(scalar_to_string).collect(),
                Some(other) => vec![scalar_to_string(other)],
                None => Vec::new(),
            };
            authorizers.insert(
                name.clone(),
                JwtAuthorizer {
                    name: name.clone(),
                    audience,
                },
            );
        }
    }
    Ok(authorizers)
}

fn default_authorizer(
    template: &Template,
    resolver: &Resolver,
    api: &str,
    authorizers: &BTreeMap<String, JwtAuthorizer>,
) -> Option<JwtAuthorizer> {
    let properties = http_api_properties(template, resolver, api).ok()?;
    let name = properties
        .get("Auth")
        .and_then(|a| a.get("DefaultAuthorizer"))
        .map(scalar_to_string)?;
    authorizers.get(&name).cloned()
}

fn http_api_cors(
    template: &Template,
    resolver: &Resolver,
) -> Result<BTreeMap<String, Cors>, StartError> {
    let mut cors = BTreeMap::new();
    for id in http_api_ids(template) {
        let properties = http_api_properties(template, resolver, &id)?;
        match properties.get("CorsConfiguration") {
            Some(Value::Object(configuration)) => {
                cors.insert(
                    id,
                    Cors::from_configuration(&Value::Object(configuration.clone())),
                );
            }
            // `CorsConfiguration: true` allows every origin, method and header.
            Some(Value::Bool(true)) => {
                cors.insert(
                    id,
                    Cors::from_configuration(&json!({
                        "AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]
                    })),
                );
            }
            _ => {}
        }
    }
    Ok(cors)
}

fn queue_url_for_arn(resolver: &Resolver, arn: &str) -> Option<String> {
    resolver
        .all_physical()
        .values()
        .find(|p| {
            p.attributes.get("Arn").map(String::as_str) == Some(arn)
                && p.attributes.contains_key("QueueUrl")
        })
        .map(|p| p.reference.clone())
}

#[allow(clippy::too_many_arguments)]
fn resources_document(
    template: &Template,
    resolver: &Resolver,
    lambda: &LambdaService,
    machines: &[stepfunctions::RegisteredMachine],
    moto: &MotoClient,
    api_address: SocketAddr,
    sfn_address: SocketAddr,
    config: &Config,
) -> Value {
    let mut by_kind: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut all = Map::new();
    for resource in template.resources.values() {
        let Some(physical) = resolver.physical(&resource.logical_id) else {
            continue;
        };
        all.insert(
            resource.logical_id.clone(),
            json!({ "type": resource.kind, "ref": physical.reference, "attributes": physical.attributes }),
        );
        let group = match resource.kind.as_str() {
            "AWS::DynamoDB::Table" => "tables",
            "AWS::SQS::Queue" => "queues",
            "AWS::KMS::Key" => "keys",
            "AWS::KMS::Alias" => "aliases",
            "AWS::SES::EmailIdentity" => "email_identities",
            _ => continue,
        };
        by_kind.entry(group).or_default().insert(
            resource.logical_id.clone(),
            Value::String(physical.reference.clone()),
        );
    }
    let functions: Map<String, Value> = lambda
        .pools()
        .iter()
        .map(|p| {
            (
                p.spec.logical_id.clone(),
                json!({ "name": p.spec.name, "arn": p.spec.arn, "timeout_seconds": p.spec.timeout.as_secs() }),
            )
        })
        .collect();
    let state_machines: Map<String, Value> = machines
        .iter()
        .map(|m| (m.logical_id.clone(), Value::String(m.arn.clone())))
        .collect();
    let mut document = json!({
        "stack_name": config.stack_name,
        "region": config.region,
        "account_id": config.account_id,
        "api_endpoint": format!("http://{api_address}"),
        "stepfunctions_endpoint": format!("http://{sfn_address}"),
        "moto_endpoint": moto.endpoint(),
        "functions": functions,
        "state_machines": state_machines,
        "resources": all,
    });
    for (group, values) in by_kind {
        document[group] = Value::Object(values);
    }
    document
}
