//! Dedicated tenant tables, created in the AWS region of the tenant's residency.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    SseSpecification, SseType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::service_error;
use crate::error::ServiceError;

/// Creates, inspects and deletes per-tenant tables in any region, through one SDK configuration.
#[derive(Clone)]
pub struct TenantTables {
    config: aws_config::SdkConfig,
}

fn build_failure(error: aws_sdk_dynamodb::error::BuildError) -> ServiceError {
    ServiceError {
        service: "DynamoDB",
        operation: "CreateTable",
        transient: false,
        code: None,
        source: Box::new(error),
    }
}

impl TenantTables {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    fn client(&self, region: &str) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.config)
            .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
            .build();
        Client::from_conf(config)
    }

    /// Creates the table encrypted with KMS; an existing table of that name counts as created.
    pub async fn create(
        &self,
        region: &str,
        name: &str,
        tenant_id: &str,
    ) -> Result<(), ServiceError> {
        let key = |attribute: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(kind)
                .build()
                .map_err(build_failure)
        };
        let attribute = |attribute: &str| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_failure)
        };
        let tag = aws_sdk_dynamodb::types::Tag::builder()
            .key("tenant_id")
            .value(tenant_id)
            .build()
            .map_err(build_failure)?;
        let result = self
            .client(region)
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("PK", KeyType::Hash)?)
            .key_schema(key("SK", KeyType::Range)?)
            .attribute_definitions(attribute("PK")?)
            .attribute_definitions(attribute("SK")?)
            .sse_specification(
                SseSpecification::builder()
                    .enabled(true)
                    .sse_type(SseType::Kms)
                    .build(),
            )
            .tags(tag)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(service_error("DynamoDB", "CreateTable", error)),
        }
    }

    /// Returns whether the table is ACTIVE, or `None` when it does not exist.
    pub async fn is_active(&self, region: &str, name: &str) -> Result<Option<bool>, ServiceError> {
        match self
            .client(region)
            .describe_table()
            .table_name(name)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output.table.and_then(|t| t.table_status) == Some(TableStatus::Active),
            )),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(service_error("DynamoDB", "DescribeTable", error)),
        }
    }

    /// Deletes the table; a missing table counts as deleted.
    pub async fn delete(&self, region: &str, name: &str) -> Result<(), ServiceError> {
        match self
            .client(region)
            .delete_table()
            .table_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(service_error("DynamoDB", "DeleteTable", error)),
        }
    }

    /// Lists tables whose names start with `prefix` in `region`.
    pub async fn list(&self, region: &str, prefix: &str) -> Result<Vec<String>, ServiceError> {
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .client(region)
                .list_tables()
                .set_exclusive_start_table_name(start)
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "ListTables", e))?;
            names.extend(
                output
                    .table_names
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|name| name.starts_with(prefix)),
            );
            start = output.last_evaluated_table_name;
            if start.is_none() {
                return Ok(names);
            }
        }
    }
}
