//! Creation of the template's DynamoDB tables, SQS queues, KMS keys and aliases and SES identities
//! in moto, and the physical ids of every resource for `Ref` and `Fn::GetAtt`.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use crate::moto::{MotoClient, MotoError, Service};
use crate::resolve::{scalar_to_string, Physical, ResolveError, Resolver};
use crate::template::{Resource, Template};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("resource {logical_id}: {source}")]
    Resolve {
        logical_id: String,
        source: ResolveError,
    },
    #[error("resource {logical_id}: {source}")]
    Moto {
        logical_id: String,
        source: MotoError,
    },
    #[error("resource {logical_id}: {reason}")]
    Invalid { logical_id: String, reason: String },
    #[error("parameter {name} has no Default; set LOCAL_PARAM_{name}")]
    MissingParameter { name: String },
    #[error("resources {pending:?} reference each other or a resource that cannot be created")]
    Unresolvable { pending: Vec<String> },
}

/// Stack-wide values that every resource name and ARN uses.
#[derive(Debug, Clone)]
pub struct StackContext {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    pub api_port: u16,
}

impl StackContext {
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:aws:{service}:{}:{}:{resource}",
            self.region, self.account_id
        )
    }

    fn default_name(&self, logical_id: &str) -> String {
        format!("{}-{logical_id}", self.stack_name)
    }
}

/// Builds parameter values: `LOCAL_PARAM_<Name>` from the environment, then `local_defaults`, then the template's `Default`.
pub fn parameter_values(
    template: &Template,
    context: &StackContext,
    local_defaults: &BTreeMap<String, String>,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, Value>, ProvisionError> {
    let mut values = BTreeMap::new();
    for (name, declaration) in &template.parameters {
        let text = environment(&format!("LOCAL_PARAM_{name}"))
            .or_else(|| local_defaults.get(name).cloned())
            .or_else(|| declaration.get("Default").map(scalar_to_string))
            .ok_or_else(|| ProvisionError::MissingParameter { name: name.clone() })?;
        let is_list = declaration
            .get("Type")
            .and_then(Value::as_str)
            .is_some_and(|t| t == "CommaDelimitedList" || t.starts_with("List<"));
        let value = if is_list {
            Value::Array(
                text.split(',')
                    .map(|s| Value::String(s.trim().to_string()))
                    .collect(),
            )
        } else {
            Value::String(text)
        };
        values.insert(name.clone(), value);
    }
    let pseudo = [
        ("AWS::Region", context.region.clone()),
        ("AWS::AccountId", context.account_id.clone()),
        ("AWS::Partition", "aws".to_string()),
        ("AWS::URLSuffix", "amazonaws.com".to_string()),
        ("AWS::StackName", context.stack_name.clone()),
        (
            "AWS::StackId",
            context.arn(
                "cloudformation",
                &format!("stack/{}/local", context.stack_name),
            ),
        ),
    ];
    for (name, value) in pseudo {
        values.insert(name.to_string(), Value::String(value));
    }
    Ok(values)
}

/// Returns whether the resource's `Condition` (if any) holds.
pub fn is_enabled(resource: &Resource, resolver: &Resolver) -> Result<bool, ProvisionError> {
    match &resource.condition {
        Some(name) => resolver
            .condition(name)
            .map_err(|source| ProvisionError::Resolve {
                logical_id: resource.logical_id.clone(),
                source,
            }),
        None => Ok(true),
    }
}

/// Creates every supported resource in dependency order and records all physical ids in `resolver`.
pub async fn provision_all(
    template: &Template,
    resolver: &mut Resolver,
    moto: &MotoClient,
    context: &StackContext,
) -> Result<(), ProvisionError> {
    let mut pending: Vec<&Resource> = Vec::new();
    for resource in template.resources.values() {
        if is_enabled(resource, resolver)? {
            pending.push(resource);
        }
    }
    let mut skipped_logged = HashSet::new();
    while !pending.is_empty() {
        let mut still_pending = Vec::new();
        for resource in pending.iter().copied() {
            match provision(resource, resolver, moto, context, &mut skipped_logged).await {
                Ok(physical) => resolver.set_physical(&resource.logical_id, physical),
                Err(ProvisionError::Resolve {
                    source: ResolveError::Pending(_),
                    ..
                }) => still_pending.push(resource),
                Err(error) => return Err(error),
            }
        }
        if still_pending.len() == pending.len() {
            return Err(ProvisionError::Unresolvable {
                pending: still_pending.iter().map(|r| r.logical_id.clone()).collect(),
            });
        }
        pending = still_pending;
    }
    if !resolver.all_physical().contains_key("ServerlessHttpApi") {
        resolver.set_physical("ServerlessHttpApi", http_api_physical(context));
    }
    Ok(())
}

fn http_api_physical(context: &StackContext) -> Physical {
    Physical::new("localapi01").with(
        "ApiEndpoint",
        format!("http://127.0.0.1:{}", context.api_port),
    )
}

async fn provision(
    resource: &Resource,
    resolver: &Resolver,
    moto: &MotoClient,
    context: &StackContext,
    skipped_logged: &mut HashSet<String>,
) -> Result<Physical, ProvisionError> {
    let id = resource.logical_id.as_str();
    let property = |name: &str| -> Result<Option<String>, ProvisionError> {
        match resource.properties.get(name) {
            Some(value) => resolver
                .resolve_string(value)
                .map(Some)
                .map_err(|source| resolve_error(id, source)),
            None => Ok(None),
        }
    };
    match resource.kind.as_str() {
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
            let name = property("FunctionName")?.unwrap_or_else(|| context.default_name(id));
            let arn = context.arn("lambda", &format!("function:{name}"));
            Ok(Physical::new(name).with("Arn", arn))
        }
        "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
            let name = property("Name")?
                .or(property("StateMachineName")?)
                .unwrap_or_else(|| context.default_name(id));
            let arn = context.arn("states", &format!("stateMachine:{name}"));
            Ok(Physical::new(arn.clone())
                .with("Arn", arn)
                .with("Name", name))
        }
        "AWS::Serverless::HttpApi" => Ok(http_api_physical(context)),
        "AWS::DynamoDB::Table" => create_table(resource, resolver, moto, context).await,
        "AWS::SQS::Queue" => create_queue(resource, resolver, moto, context).await,
        "AWS::KMS::Key" => create_key(resource, moto, context).await,
        "AWS::KMS::Alias" => create_alias(resource, resolver, moto, context).await,
        "AWS::SES::EmailIdentity" => {
            let identity = property("EmailIdentity")?.ok_or_else(|| ProvisionError::Invalid {
                logical_id: id.to_string(),
                reason: "EmailIdentity is missing".to_string(),
            })?;
            create_email_identity(moto, &identity)
                .await
                .map_err(|source| moto_error(id, source))?;
            tracing::info!(logical_id = id, identity = %identity, "email identity ready");
            Ok(Physical::new(identity))
        }
        other => {
            if skipped_logged.insert(other.to_string()) {
                tracing::debug!(
                    logical_id = id,
                    kind = other,
                    "resource type is not created locally"
                );
            }
            let name = context.default_name(id);
            let arn = context.arn("local", &name);
            Ok(Physical::new(name).with("Arn", arn))
        }
    }
}

/// Creates an SES v2 email identity; moto treats every created identity as verified for sending.
pub async fn create_email_identity(moto: &MotoClient, identity: &str) -> Result<(), MotoError> {
    match moto
        .sesv2_post(
            "/v2/email/identities",
            &json!({ "EmailIdentity": identity }),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("AlreadyExistsException") => Ok(()),
        Err(error) => Err(error),
    }
}

fn resolve_error(logical_id: &str, source: ResolveError) -> ProvisionError {
    ProvisionError::Resolve {
        logical_id: logical_id.to_string(),
        source,
    }
}

fn moto_error(logical_id: &str, source: MotoError) -> ProvisionError {
    ProvisionError::Moto {
        logical_id: logical_id.to_string(),
        source,
    }
}

fn resolved_properties(
    resource: &Resource,
    resolver: &Resolver,
) -> Result<Map<String, Value>, ProvisionError> {
    match resolver.resolve(&resource.properties) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Ok(Map::new()),
        Err(source) => Err(resolve_error(&resource.logical_id, source)),
    }
}

/// CloudFormation table properties that the CreateTable API does not take.
const TABLE_PROPERTIES_NOT_IN_API: &[&str] = &[
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
    "SSESpecification",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "ImportSourceSpecification",
    "DeletionProtectionEnabled",
    "ResourcePolicy",
    "TableClass",
    "OnDemandThroughput",
    "WarmThroughput",
];

async fn create_table(
    resource: &Resource,
    resolver: &Resolver,
    moto: &MotoClient,
    context: &StackContext,
) -> Result<Physical, ProvisionError> {
    let id = resource.logical_id.as_str();
    let mut properties = resolved_properties(resource, resolver)?;
    let name = properties
        .get("TableName")
        .map(scalar_to_string)
        .unwrap_or_else(|| context.default_name(id));
    let ttl = properties.get("TimeToLiveSpecification").cloned();
    let exists = match moto
        .call(
            Service::DynamoDb,
            "DescribeTable",
            &json!({ "TableName": name }),
        )
        .await
    {
        Ok(_) => true,
        Err(error) if error.code() == Some("ResourceNotFoundException") => false,
        Err(error) => return Err(moto_error(id, error)),
    };
    if !exists {
        // NOTE: SSESpecification is left out, so local tables use moto's default encryption and not the template's KMS key.
        for key in TABLE_PROPERTIES_NOT_IN_API {
            properties.remove(*key);
        }
        if let Some(Value::Array(indexes)) = properties.get_mut("GlobalSecondaryIndexes") {
            for index in indexes.iter_mut().filter_map(Value::as_object_mut) {
                index.remove("ContributorInsightsSpecification");
                index.remove("OnDemandThroughput");
                index.remove("WarmThroughput");
            }
        }
        if let Some(Value::Object(stream)) = properties.get_mut("StreamSpecification") {
            stream.insert("StreamEnabled".to_string(), Value::Bool(true));
        }
        properties.insert("TableName".to_string(), Value::String(name.clone()));
        moto.call(Service::DynamoDb, "CreateTable", &Value::Object(properties))
            .await
            .map_err(|e| moto_error(id, e))?;
        tracing::info!(logical_id = id, table = %name, "table created");
    } else {
        tracing::info!(logical_id = id, table = %name, "table exists; reusing it");
    }
    if let Some(ttl) = ttl {
        let enabled = ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(true);
        if enabled {
            let request = json!({ "TableName": name, "TimeToLiveSpecification": ttl });
            if let Err(error) = moto
                .call(Service::DynamoDb, "UpdateTimeToLive", &request)
                .await
            {
                // moto rejects enabling TTL a second time, which is expected when the table is reused.
                tracing::debug!(logical_id = id, error = %error, "UpdateTimeToLive not applied");
            }
        }
    }
    let arn = context.arn("dynamodb", &format!("table/{name}"));
    Ok(Physical::new(name.clone())
        .with("Arn", arn.clone())
        .with("StreamArn", format!("{arn}/stream/local")))
}

async fn create_queue(
    resource: &Resource,
    resolver: &Resolver,
    moto: &MotoClient,
    context: &StackContext,
) -> Result<Physical, ProvisionError> {
    let id = resource.logical_id.as_str();
    let properties = resolved_properties(resource, resolver)?;
    let fifo = properties
        .get("FifoQueue")
        .is_some_and(|v| scalar_to_string(v) == "true");
    let name = match properties.get("QueueName") {
        Some(v) => scalar_to_string(v),
        None if fifo => format!("{}.fifo", context.default_name(id)),
        None => context.default_name(id),
    };
    let mut attributes = Map::new();
    for (key, value) in &properties {
        if key == "QueueName" || key == "Tags" {
            continue;
        }
        let text = match value {
            Value::Object(_) => value.to_string(),
            other => scalar_to_string(other),
        };
        attributes.insert(key.clone(), Value::String(text));
    }
    let url = match moto
        .call(Service::Sqs, "GetQueueUrl", &json!({ "QueueName": name }))
        .await
    {
        Ok(found) => {
            let url = found
                .get("QueueUrl")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            attributes.remove("FifoQueue");
            moto.call(
                Service::Sqs,
                "SetQueueAttributes",
                &json!({ "QueueUrl": url, "Attributes": attributes }),
            )
            .await
            .map_err(|e| moto_error(id, e))?;
            tracing::info!(logical_id = id, queue = %name, "queue exists; attributes updated");
            url
        }
        Err(error) if error.code() == Some("QueueDoesNotExist") => {
            let created = moto
                .call(
                    Service::Sqs,
                    "CreateQueue",
                    &json!({ "QueueName": name, "Attributes": attributes }),
                )
                .await
                .map_err(|e| moto_error(id, e))?;
            tracing::info!(logical_id = id, queue = %name, "queue created");
            created
                .get("QueueUrl")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        }
        Err(error) => return Err(moto_error(id, error)),
    };
    let arn = context.arn("sqs", &name);
    Ok(Physical::new(url.clone())
        .with("Arn", arn)
        .with("QueueName", name)
        .with("QueueUrl", url))
}

/// Returns the alias the runtime gives each key it creates, so that a restart against the same moto finds the key again.
fn lookup_alias(context: &StackContext, logical_id: &str) -> String {
    format!("alias/local-runtime/{}/{logical_id}", context.stack_name)
}

async fn create_key(
    resource: &Resource,
    moto: &MotoClient,
    context: &StackContext,
) -> Result<Physical, ProvisionError> {
    let id = resource.logical_id.as_str();
    let alias = lookup_alias(context, id);
    let metadata = match moto
        .call(Service::Kms, "DescribeKey", &json!({ "KeyId": alias }))
        .await
    {
        Ok(found) => {
            tracing::info!(logical_id = id, "key exists; reusing it");
            found
        }
        Err(error) if error.code() == Some("NotFoundException") => {
            let mut request = Map::new();
            for key in ["Description", "KeyUsage", "KeySpec"] {
                if let Some(Value::String(value)) = resource.properties.get(key) {
                    request.insert(key.to_string(), Value::String(value.clone()));
                }
            }
            let created = moto
                .call(Service::Kms, "CreateKey", &Value::Object(request))
                .await
                .map_err(|e| moto_error(id, e))?;
            let key_id = key_field(&created, "KeyId");
            moto.call(
                Service::Kms,
                "CreateAlias",
                &json!({ "AliasName": alias, "TargetKeyId": key_id }),
            )
            .await
            .map_err(|e| moto_error(id, e))?;
            tracing::info!(logical_id = id, key_id = %key_id, "key created");
            created
        }
        Err(error) => return Err(moto_error(id, error)),
    };
    let key_id = key_field(&metadata, "KeyId");
    let arn = key_field(&metadata, "Arn");
    Ok(Physical::new(key_id.clone())
        .with("Arn", arn)
        .with("KeyId", key_id))
}

fn key_field(response: &Value, field: &str) -> String {
    response
        .get("KeyMetadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn create_alias(
    resource: &Resource,
    resolver: &Resolver,
    moto: &MotoClient,
    context: &StackContext,
) -> Result<Physical, ProvisionError> {
    let id = resource.logical_id.as_str();
    let properties = resolved_properties(resource, resolver)?;
    let alias = properties
        .get("AliasName")
        .map(scalar_to_string)
        .ok_or_else(|| ProvisionError::Invalid {
            logical_id: id.to_string(),
            reason: "AliasName is missing".to_string(),
        })?;
    let target = properties
        .get("TargetKeyId")
        .map(scalar_to_string)
        .unwrap_or_default();
    let request = json!({ "AliasName": alias, "TargetKeyId": target });
    match moto.call(Service::Kms, "CreateAlias", &request).await {
        Ok(_) => tracing::info!(logical_id = id, alias = %alias, "alias created"),
        Err(error) if error.code() == Some("AlreadyExistsException") => {
            moto.call(Service::Kms, "UpdateAlias", &request)
                .await
                .map_err(|e| moto_error(id, e))?;
            tracing::info!(logical_id = id, alias = %alias, "alias exists; target updated");
        }
        Err(error) => return Err(moto_error(id, error)),
    }
    let arn = context.arn("kms", &alias);
    Ok(Physical::new(alias).with("Arn", arn))
}
